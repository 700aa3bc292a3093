//! Custom authentication: authenticator plugins loaded from the plugins directory and
//! named in `piston.toml` chains, beside the built-in schemes.

use super::auth::challenges;
use piston_tests::{Method, Reply, Server, ServerBuilder, Value, json, send};
use sha2::{Digest, Sha256};

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

async fn with_key(server: &Server, method: Method, path: &str, key: &str, body: Value) -> Reply {
    send(
        server
            .request(method, path)
            .header("x-api-key", key)
            .json(&body),
    )
    .await
}

#[tokio::test]
async fn the_api_key_plugin_authenticates_the_blog_beside_basic() {
    let config = format!(
        r#"
        [auth]
        authenticators = ["api-key", "basic"]
        realm = "Blog API"

        [plugins.blog.resources.post]
        scopes = {{ DELETE = ["posts:delete"] }}

        [plugins.api-key.config]
        keys = """
            ann:{ann}:posts:write
            bob:{bob}
        """
        "#,
        ann = sha256_hex("ann-secret-key"),
        bob = sha256_hex("bob-secret-key"),
    );
    let server = ServerBuilder::new()
        .example("blog")
        .example("api-key")
        .config(&config)
        .start();
    server.add_user("carl", "correct horse", "Carl");
    assert!(
        server.table().contains("(authenticator)"),
        "{}",
        server.table()
    );

    // No credentials: 401 with the plugin's challenge and Basic's, in chain order.
    let anonymous = server
        .send_json(Method::POST, "/posts", &json!({"title": "Nope"}))
        .await;
    anonymous.problem(401);
    assert_eq!(
        challenges(&anonymous),
        [
            r#"ApiKey header="X-Api-Key""#,
            r#"Basic realm="Blog API", charset="UTF-8""#
        ]
    );

    // A known key creates as its owner; the guest sees the plugin as the scheme.
    let created = with_key(
        &server,
        Method::POST,
        "/posts",
        "ann-secret-key",
        json!({"title": "Keyed"}),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(created.json()["author"]["username"], "ann");

    // An unknown key is a 401 naming what is wrong, with the challenges again.
    let unknown = with_key(
        &server,
        Method::POST,
        "/posts",
        "guessed-key",
        json!({"title": "Nope"}),
    )
    .await;
    let problem = unknown.problem(401);
    assert_eq!(problem["detail"], "unknown API key");
    assert_eq!(challenges(&unknown).len(), 2);

    // Scopes from the plugin are enforced by the host: ann's key may write, not
    // delete; bob's key has no scope limit.
    let denied = send(
        server
            .request(Method::DELETE, "/posts/keyed")
            .header("x-api-key", "ann-secret-key"),
    )
    .await;
    denied.problem(403);
    let by_bob = send(
        server
            .request(Method::DELETE, "/posts/keyed")
            .header("x-api-key", "bob-secret-key"),
    )
    .await;
    // Bob authenticated, but only the author may delete: the guest's own 403.
    by_bob.problem(403);

    // Basic, later in the chain, still works.
    let by_carl = send(
        server
            .request(Method::POST, "/posts")
            .basic_auth("carl", Some("correct horse"))
            .json(&json!({"title": "By Carl"})),
    )
    .await;
    assert_eq!(by_carl.status, 201, "{}", by_carl.text());
    assert_eq!(by_carl.json()["author"]["username"], "carl");
}

/// The echo fixture behind the rogue authenticator, with tight limits for it.
fn rogue_server() -> Server {
    ServerBuilder::new()
        .fixture("echo")
        .fixture("rogue-auth")
        .config(
            r#"
            [server]
            trusted_proxies = ["127.0.0.1"]
            [auth]
            authenticators = ["rogue-auth"]
            [auth.failures]
            max = 3
            window = "1h"
            [plugins.rogue-auth]
            timeout = "500ms"
            memory_mib = 16
            "#,
        )
        .start()
}

async fn rogue(server: &Server, order: &str) -> Reply {
    send(
        server
            .request(Method::GET, "/echo/seen?a=1")
            .header("x-rogue", order),
    )
    .await
}

#[tokio::test]
async fn an_authenticator_plugin_sees_the_request_head_and_cannot_pose_as_another_scheme() {
    let server = rogue_server();

    let echoed = rogue(&server, "echo").await;
    assert_eq!(echoed.status, 200, "{}", echoed.text());
    let principal = &echoed.json()["principal"];
    assert_eq!(principal["id"], "echoed");
    assert_eq!(principal["scheme"], "rogue-auth", "{principal}");
    let seen = &principal["claims"];
    assert_eq!(seen["method"], "GET");
    assert_eq!(seen["path"], "/echo/seen");
    assert_eq!(seen["query"], "a=1");
    assert_eq!(seen["client"], "127.0.0.1");
    assert!(
        seen["header-names"]
            .as_array()
            .unwrap()
            .contains(&json!("x-rogue")),
        "{seen}"
    );

    let scoped = send(
        server
            .request(Method::GET, "/echo")
            .header("x-rogue", "alice")
            .header("x-rogue-scopes", "read write"),
    )
    .await;
    let principal = &scoped.json()["principal"];
    assert_eq!(principal["id"], "alice");
    assert_eq!(principal["scopes"], json!(["read", "write"]));

    // No credentials for the only scheme: 401 with the plugin's challenge.
    let none = send(server.request(Method::GET, "/echo")).await;
    none.problem(401);
    assert_eq!(challenges(&none), [r#"Rogue realm="tests""#]);

    // Refusals keep to the contract: 401, 403, and anything else is a 401.
    let denied = rogue(&server, "deny").await;
    assert_eq!(denied.problem(401)["detail"], "rogue says no");
    assert_eq!(challenges(&denied), [r#"Rogue realm="tests""#]);
    assert_eq!(
        rogue(&server, "forbid").await.problem(403)["detail"],
        "rogue forbids this"
    );
    rogue(&server, "teapot").await.problem(401);
}

#[tokio::test]
async fn a_misbehaving_authenticator_refuses_the_request_and_recovers() {
    let server = rogue_server();

    // Malformed principals and failed calls never let a request through.
    for (order, status) in [
        ("bad-claims", 500),
        ("empty-id", 500),
        ("trap", 500),
        ("loop", 503),
        ("memory", 500),
    ] {
        let reply = rogue(&server, order).await;
        let problem = reply.problem(status);
        assert_eq!(problem["detail"], "the authenticator failed", "{order}");
        // After each, a fresh instance answers.
        assert_eq!(rogue(&server, "alice").await.status, 200, "after {order}");
    }
    let log = server.log();
    assert!(
        log.contains("rogue authenticator panics on purpose"),
        "{log}"
    );
    assert!(log.contains("claims that are not a JSON object"), "{log}");
}

#[tokio::test]
async fn failures_a_plugin_reports_count_towards_the_failed_login_limit() {
    let server = rogue_server();
    let from = |order: &'static str| {
        send(
            server
                .request(Method::GET, "/echo")
                .header("x-forwarded-for", "198.51.100.9")
                .header("x-rogue", order),
        )
    };
    for _ in 0..3 {
        from("deny").await.problem(401);
    }
    // Locked out even with credentials the plugin accepts; other clients are not.
    let locked = from("alice").await;
    locked.problem(429);
    assert!(locked.header("retry-after").is_some());
    assert_eq!(rogue(&server, "alice").await.status, 200);
}
