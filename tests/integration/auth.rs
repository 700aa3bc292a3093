//! Authentication with real clients: curl, Python `requests`, and the `piston users` and
//! `piston tokens` commands run beside a live server.

use piston_tests::{
    Method, Reply, Server, ServerBuilder, Value, curl, json, python, python_output, send,
};

const BASIC_AND_BEARER: &str = r#"
[auth]
authenticators = ["basic", "bearer"]
realm = "Blog API"

[plugins.blog.resources.post]
scopes = { DELETE = ["posts:delete"], PUT = ["posts:write"] }
"#;

/// The blog with Basic and Bearer auth, and users ann and bob.
fn blog_with_users(config: &str) -> Server {
    let server = ServerBuilder::new().example("blog").config(config).start();
    server.add_user("ann", "correct horse", "Ann");
    server.add_user("bob", "battery staple", "Bob");
    server
}

/// Runs a Python `requests` client (see `tests/python/auth_client.py`).
pub(crate) fn requests(args: &[&str]) -> Value {
    let (stdout, _) = python("auth_client.py", args, b"");
    serde_json::from_slice(&stdout).expect("auth_client.py prints JSON")
}

/// Every `WWW-Authenticate` challenge of a reply, in order.
pub(crate) fn challenges(reply: &Reply) -> Vec<String> {
    reply
        .headers
        .get_all("www-authenticate")
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .collect()
}

pub(crate) fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {encoded}")
}

async fn with_auth(server: &Server, method: Method, path: &str, authorization: &str) -> Reply {
    send(
        server
            .request(method, path)
            .header("authorization", authorization),
    )
    .await
}

fn token(server: &Server, args: &[&str]) -> String {
    let output = server.piston(&[&["tokens", "create"], args].concat(), "");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

#[tokio::test]
async fn the_blog_reads_anonymously_and_writes_as_its_author() {
    let server = blog_with_users(BASIC_AND_BEARER);
    let posts = server.url("/posts");

    // Anonymous read; anonymous create is refused with both challenges.
    assert_eq!(server.get("/posts").await.status, 200);
    let refused = server
        .send_json(Method::POST, "/posts", &json!({"title": "Nope"}))
        .await;
    let problem = refused.problem(401);
    assert_eq!(
        challenges(&refused),
        [
            r#"Basic realm="Blog API", charset="UTF-8""#,
            r#"Bearer realm="Blog API""#
        ]
    );
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("basic, bearer"),
        "{problem}"
    );

    // curl --basic creates as ann; the guest saw her principal and first name.
    let created = curl(&[
        "--basic",
        "--user",
        "ann:correct horse",
        "--json",
        r#"{"title": "Hello World"}"#,
        &posts,
    ]);
    assert_eq!(created.status, 201, "{}", created.body);
    let post: Value = serde_json::from_str(&created.body).unwrap();
    assert_eq!(
        post["author"],
        json!({"username": "ann", "first_name": "Ann"})
    );

    // Python requests updates as bob (any authenticated user may update)...
    let url = server.url("/posts/hello-world");
    let updated = requests(&[
        "basic",
        "PUT",
        &url,
        "bob",
        "battery staple",
        r#"{"content": "edited by bob"}"#,
    ]);
    assert_eq!(updated["status"], 200, "{updated}");

    // ...but only ann, the author, may delete: 403 for bob, 401 for nobody.
    let by_bob = requests(&["basic", "DELETE", &url, "bob", "battery staple"]);
    assert_eq!(by_bob["status"], 403, "{by_bob}");
    let anonymous = send(server.request(Method::DELETE, "/posts/hello-world")).await;
    anonymous.problem(401);
    let by_ann = requests(&["basic", "DELETE", &url, "ann", "correct horse"]);
    assert_eq!(by_ann["status"], 204, "{by_ann}");
}

#[tokio::test]
async fn wrong_or_malformed_basic_credentials_are_401_even_on_anonymous_methods() {
    let server = blog_with_users(BASIC_AND_BEARER);
    let wrong = curl(&["--basic", "--user", "ann:wrong", &server.url("/posts")]);
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    assert!(wrong.body.contains("wrong username or password"));
    let nobody = with_auth(&server, Method::GET, "/posts", &basic("zed", "x")).await;
    let problem = nobody.problem(401);
    assert_eq!(
        problem["detail"], "wrong username or password",
        "unknown users look like wrong passwords"
    );
    for malformed in ["Basic !!!notbase64", "Basic", "Basic Zm9v"] {
        let reply = with_auth(&server, Method::GET, "/posts", malformed).await;
        reply.problem(401);
    }
    let negotiate = with_auth(&server, Method::POST, "/posts", "Negotiate abc").await;
    let problem = negotiate.problem(401);
    assert!(
        problem["detail"].as_str().unwrap().contains("`Negotiate`"),
        "{problem}"
    );
    let log = server.log();
    assert!(
        !log.contains("correct horse") && !log.contains("Zm9v"),
        "{log}"
    );
}

#[tokio::test]
async fn password_changes_and_removals_take_effect_on_the_next_request() {
    let server = blog_with_users(BASIC_AND_BEARER);
    let as_ann = basic("ann", "correct horse");
    // Twice: the second is answered from the verified-credentials cache.
    for _ in 0..2 {
        let reply = with_auth(&server, Method::GET, "/posts", &as_ann).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
    }
    let changed = server.piston(&["users", "passwd", "ann"], "new password\n");
    assert!(
        changed.status.success(),
        "{}",
        String::from_utf8_lossy(&changed.stderr)
    );
    with_auth(&server, Method::GET, "/posts", &as_ann)
        .await
        .problem(401);
    let reply = with_auth(
        &server,
        Method::GET,
        "/posts",
        &basic("ann", "new password"),
    )
    .await;
    assert_eq!(reply.status, 200);

    let removed = server.piston(&["users", "remove", "bob"], "");
    assert!(
        removed.status.success(),
        "{}",
        String::from_utf8_lossy(&removed.stderr)
    );
    with_auth(
        &server,
        Method::GET,
        "/posts",
        &basic("bob", "battery staple"),
    )
    .await
    .problem(401);

    let listed = server.piston(&["users", "list"], "");
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.contains("ann") && !listed.contains("bob"),
        "{listed}"
    );
    assert!(
        !listed.contains("argon2"),
        "no hashes in the listing: {listed}"
    );
}

#[tokio::test]
async fn api_tokens_carry_scopes_expire_and_can_be_revoked() {
    let server = blog_with_users(BASIC_AND_BEARER);
    let as_ann = basic("ann", "correct horse");
    let created = with_auth(&server, Method::POST, "/posts", &as_ann).await;
    assert_eq!(created.status, 400, "a body is needed: {}", created.text());
    let created = send(
        server
            .request(Method::POST, "/posts")
            .header("authorization", &as_ann)
            .header("content-type", "application/json")
            .body(r#"{"title": "Scoped"}"#),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text());

    // A token limited to writing may update but not delete.
    let writer = token(&server, &["ann", "--scope", "posts:write"]);
    assert!(writer.starts_with("pst_"), "{writer}");
    let bearer = format!("Bearer {writer}");
    let update = send(
        server
            .request(Method::PUT, "/posts/scoped")
            .header("authorization", &bearer)
            .header("content-type", "application/json")
            .body(r#"{"content": "by token"}"#),
    )
    .await;
    assert_eq!(update.status, 200, "{}", update.text());
    let delete = with_auth(&server, Method::DELETE, "/posts/scoped", &bearer).await;
    delete.problem(403);
    assert_eq!(
        challenges(&delete),
        [r#"Bearer realm="Blog API", error="insufficient_scope", scope="posts:delete""#]
    );

    // An unscoped token may do what ann may: curl sends it.
    let full = token(&server, &["ann"]);
    let deleted = curl(&[
        "--request",
        "DELETE",
        "--oauth2-bearer",
        &full,
        &server.url("/posts/scoped"),
    ]);
    assert_eq!(deleted.status, 204, "{}", deleted.body);

    // Revoked and expired tokens are refused with invalid_token.
    let listed = server.piston(&["tokens", "list"], "");
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert!(!listed.contains(&writer), "tokens are never shown again");
    let id = listed
        .lines()
        .find(|line| line.contains("posts:write"))
        .and_then(|line| line.split_whitespace().next())
        .expect("the scoped token is listed")
        .to_owned();
    assert!(
        server
            .piston(&["tokens", "revoke", &id], "")
            .status
            .success()
    );
    let revoked = with_auth(&server, Method::GET, "/posts", &bearer).await;
    revoked.problem(401);
    let challenge = &challenges(&revoked)[1];
    assert!(
        challenge.starts_with(r#"Bearer realm="Blog API", error="invalid_token""#),
        "{challenge}"
    );
    let expired = token(&server, &["ann", "--expires", "0s"]);
    let reply = with_auth(&server, Method::GET, "/posts", &format!("Bearer {expired}")).await;
    assert_eq!(reply.problem(401)["detail"], "the token has expired");
    let unknown = with_auth(&server, Method::GET, "/posts", "Bearer pst_forged").await;
    unknown.problem(401);

    // No tokens for users who do not exist; tokens die with their user.
    let output = server.piston(&["tokens", "create", "nobody"], "");
    assert_eq!(output.status.code(), Some(1));
    let bobs = token(&server, &["bob"]);
    assert!(
        server
            .piston(&["users", "remove", "bob"], "")
            .status
            .success()
    );
    with_auth(&server, Method::GET, "/posts", &format!("Bearer {bobs}"))
        .await
        .problem(401);
}

#[tokio::test]
async fn repeated_failures_from_one_address_are_refused_for_a_while() {
    let server = blog_with_users(
        r#"
        [server]
        trusted_proxies = ["127.0.0.1"]
        [auth]
        authenticators = ["basic"]
        [auth.failures]
        max = 3
        window = "1h"
        "#,
    );
    let from = |address: &'static str, authorization: String| {
        send(
            server
                .request(Method::GET, "/posts")
                .header("x-forwarded-for", address)
                .header("authorization", authorization),
        )
    };
    for _ in 0..3 {
        from("198.51.100.1", basic("ann", "guess"))
            .await
            .problem(401);
    }
    // Locked out, even with the right password...
    let locked = from("198.51.100.1", basic("ann", "correct horse")).await;
    locked.problem(429);
    let retry: u64 = locked.header("retry-after").unwrap().parse().unwrap();
    assert!(retry > 3000 && retry <= 3600, "{retry}");
    // ...but anonymous reads still work, and other addresses are not affected.
    let anonymous = send(
        server
            .request(Method::GET, "/posts")
            .header("x-forwarded-for", "198.51.100.1"),
    )
    .await;
    assert_eq!(anonymous.status, 200);
    let other = from("198.51.100.2", basic("ann", "correct horse")).await;
    assert_eq!(other.status, 200, "{}", other.text());
}

/// A request from `address` (through the trusted proxy) with these credentials.
async fn from(server: &Server, address: &str, authorization: &str) -> Reply {
    send(
        server
            .request(Method::GET, "/posts")
            .header("x-forwarded-for", address)
            .header("authorization", authorization),
    )
    .await
}

/// The `Retry-After` of a 429, in seconds, and its detail.
fn locked(reply: &Reply) -> (u64, String) {
    let problem = reply.problem(429);
    let retry = reply
        .header("retry-after")
        .expect("a 429 says when to retry")
        .parse()
        .expect("whole seconds");
    (retry, problem["detail"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn failed_logins_lock_an_account_from_an_address_an_account_and_an_address_apart() {
    let server = blog_with_users(
        r#"
        [server]
        trusted_proxies = ["127.0.0.1"]
        [auth]
        authenticators = ["basic"]
        [auth.failures]
        max = 3
        account_max = 4
        address_max = 6
        window = "1h"
        "#,
    );
    let (ann, bob) = (
        basic("ann", "correct horse"),
        basic("bob", "battery staple"),
    );

    // Guessing ann's password from one address locks ann there, and only there: bob,
    // behind the same address, still logs in, and so does ann from elsewhere.
    for _ in 0..3 {
        from(&server, "198.51.100.1", &basic("ann", "guess"))
            .await
            .problem(401);
    }
    let (retry, detail) = locked(&from(&server, "198.51.100.1", &ann).await);
    assert!(retry > 3000 && retry <= 3600, "{retry}");
    assert!(
        detail.contains("for this account from this address"),
        "{detail}"
    );
    let reply = from(&server, "198.51.100.1", &bob).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let reply = from(&server, "198.51.100.2", &ann).await;
    assert_eq!(reply.status, 200, "{}", reply.text());

    // One more guess from another address makes four for ann: her account is locked
    // from everywhere, before the password is checked; bob is not.
    from(&server, "198.51.100.3", &basic("ann", "guess"))
        .await
        .problem(401);
    let (retry, detail) = locked(&from(&server, "198.51.100.4", &ann).await);
    assert!(retry > 3000 && retry <= 3600, "{retry}");
    assert!(detail.contains("for this account"), "{detail}");
    let reply = from(&server, "198.51.100.4", &bob).await;
    assert_eq!(reply.status, 200, "{}", reply.text());

    // One password tried on many accounts from one address locks the address.
    for index in 0..6 {
        from(
            &server,
            "198.51.100.5",
            &basic(&format!("user{index}"), "123456"),
        )
        .await
        .problem(401);
    }
    let (_, detail) = locked(&from(&server, "198.51.100.5", &bob).await);
    assert!(detail.contains("from this address"), "{detail}");
    let reply = from(&server, "198.51.100.6", &bob).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
}

#[tokio::test]
async fn chains_are_chosen_per_plugin_and_resource_and_fail_closed() {
    let server = blog_with_users(
        r#"
        [auth]
        authenticators = ["basic"]
        [plugins.blog]
        auth = ["bearer"]
        [plugins.blog.resources.posts]
        auth = ["api-key"]
        "#,
    );
    // `post` uses the plugin's chain: Bearer only, so Basic is not accepted.
    let reply = with_auth(
        &server,
        Method::DELETE,
        "/posts/x",
        &basic("ann", "correct horse"),
    )
    .await;
    reply.problem(401);
    assert_eq!(challenges(&reply), [r#"Bearer realm="piston""#]);
    // `posts` names an authenticator plugin that is not loaded: anonymous reads still
    // work; everything else is refused until it loads.
    assert_eq!(server.get("/posts").await.status, 200);
    let refused = server
        .send_json(Method::POST, "/posts", &json!({"title": "x"}))
        .await;
    refused.problem(503);
    assert!(server.log().contains("`api-key` is not loaded"));
}

#[test]
fn users_and_tokens_commands_check_their_input() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let run = |args: &[&str], input: &str| {
        let server_less = piston_tests::piston_with_input(dir.path(), args, input);
        (
            server_less.status.code(),
            String::from_utf8_lossy(&server_less.stderr).into_owned(),
        )
    };
    let (code, stderr) = run(&["users", "add", "ann:x", "--data", data], "pw\n");
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("`:`"), "{stderr}");
    let (code, stderr) = run(&["users", "add", "ann", "--data", data], "\n");
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("empty"), "{stderr}");
    let (code, _) = run(&["users", "add", "ann", "--data", data], "pw\n");
    assert_eq!(code, Some(0));
    let (code, stderr) = run(&["users", "add", "ann", "--data", data], "pw\n");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("already exists"), "{stderr}");
    let (code, stderr) = run(&["users", "passwd", "zed", "--data", data], "pw\n");
    assert_eq!(code, Some(1), "{stderr}");
    let (code, stderr) = run(
        &["tokens", "create", "ann", "--scope", "a b", "--data", data],
        "",
    );
    assert_eq!(code, Some(2), "{stderr}");
    let (code, stderr) = run(&["tokens", "revoke", "nope", "--data", data], "");
    assert_eq!(code, Some(1), "{stderr}");

    let config = dir.path().join("bad.toml");
    for (text, key) in [
        (
            "[auth]\nauthenticators = [\"Basic\"]\n",
            "auth.authenticators",
        ),
        ("[auth.failures]\nmax = 0\n", "auth.failures.max"),
        (
            "[auth.jwt]\nsecret = \"short\"\naudience = \"x\"\n",
            "auth.jwt.secret",
        ),
        (
            "[auth]\nauthenticators = [\"jwt\"]\n",
            "auth.authenticators",
        ),
        (
            "[auth.jwt]\npublic_key_file = \"missing.pem\"\naudience = \"x\"\n",
            "auth.jwt.public_key_file",
        ),
        ("[server]\ntrusted_proxies = [\"nope\"]\n", "bad.toml:2:19"),
        (
            "[plugins.blog.resources.post]\nscopes = { FETCH = [\"x\"] }\n",
            "plugins.blog.resources.post.scopes",
        ),
    ] {
        std::fs::write(&config, text).unwrap();
        let (code, stderr) = run(
            &[
                "users",
                "list",
                "--config",
                config.to_str().unwrap(),
                "--data",
                data,
            ],
            "",
        );
        assert_eq!(code, Some(2), "{text}: {stderr}");
        assert!(stderr.contains(key), "{text}: {stderr}");
    }
}

fn digest_server(algorithms: &str, nonce_lifetime: &str) -> Server {
    blog_with_users(&format!(
        r#"
        [auth]
        authenticators = ["basic", "digest"]
        realm = "Blog API"
        [auth.digest]
        algorithms = {algorithms}
        nonce_lifetime = "{nonce_lifetime}"
        "#
    ))
}

#[tokio::test]
async fn digest_works_with_curl_and_requests_in_both_algorithms() {
    for algorithm in ["SHA-256", "MD5"] {
        let server = digest_server(&format!("[\"{algorithm}\"]"), "5m");
        let challenge = server
            .send_json(Method::POST, "/posts", &json!({"title": "x"}))
            .await;
        challenge.problem(401);
        let offered = challenges(&challenge);
        assert_eq!(offered.len(), 2, "{offered:?}");
        assert!(offered[0].starts_with("Basic "), "{offered:?}");
        assert!(
            offered[1].starts_with(&format!(
                r#"Digest realm="Blog API", qop="auth", algorithm={algorithm}, nonce=""#
            )),
            "{offered:?}"
        );

        let created = curl(&[
            "--digest",
            "--user",
            "ann:correct horse",
            "--json",
            r#"{"title": "Digest"}"#,
            &server.url("/posts"),
        ]);
        assert_eq!(created.status, 201, "{algorithm}: {}", created.body);
        assert!(
            created.headers.contains("401 Unauthorized"),
            "curl met the challenge first"
        );
        let post: Value = serde_json::from_str(&created.body).unwrap();
        assert_eq!(post["author"]["username"], "ann");

        let url = server.url("/posts/digest");
        let updated = requests(&[
            "digest",
            "PUT",
            &url,
            "bob",
            "battery staple",
            r#"{"content": "by requests"}"#,
        ]);
        assert_eq!(updated["status"], 200, "{algorithm}: {updated}");
        assert_eq!(updated["history"][0]["status"], 401);
        let wrong = requests(&["digest", "DELETE", &url, "bob", "staple battery"]);
        assert_eq!(wrong["status"], 401, "{wrong}");
        assert!(
            wrong["body"]
                .as_str()
                .unwrap()
                .contains("wrong username or password")
        );
    }
}

#[tokio::test]
async fn digest_refuses_replays_other_targets_and_forged_nonces() {
    let server = digest_server("[\"SHA-256\", \"MD5\"]", "5m");
    // DELETE needs credentials; there is no such post, so an authenticated call is 404.
    let url = server.url("/posts/missing");
    let answers = requests(&[
        "digest-replay",
        "DELETE",
        &url,
        "ann",
        "correct horse",
        &server.url("/posts/other"),
    ]);
    assert_eq!(answers[0]["status"], 404, "{answers}");
    let by_curl = curl(&[
        "--digest",
        "--user",
        "ann:correct horse",
        "--request",
        "DELETE",
        &url,
    ]);
    assert_eq!(
        by_curl.status, 404,
        "both algorithms offered: {}",
        by_curl.body
    );
    assert_eq!(answers[1]["status"], 401, "a replay: {answers}");
    assert!(
        answers[1]["body"].as_str().unwrap().contains("replayed"),
        "{answers}"
    );
    assert_eq!(answers[2]["status"], 401, "another target: {answers}");
    assert!(
        answers[2]["body"].as_str().unwrap().contains("`uri`"),
        "{answers}"
    );

    let forged = with_auth(
        &server,
        Method::DELETE,
        "/posts/missing",
        r#"Digest username="ann", realm="Blog API", nonce="AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", uri="/posts/missing", response="00", qop=auth, nc=00000001, cnonce="x", algorithm=SHA-256"#,
    )
    .await;
    let problem = forged.problem(401);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("not issued by this server"),
        "{problem}"
    );
    for malformed in [
        "Digest",
        "Digest username=",
        r#"Digest username="ann", realm="Blog API""#,
    ] {
        with_auth(&server, Method::GET, "/posts", malformed)
            .await
            .problem(401);
    }
}

#[tokio::test]
async fn expired_digest_nonces_are_stale_and_clients_retry() {
    let server = digest_server("[\"SHA-256\"]", "1s");
    let url = server.url("/posts/missing");
    let answers = requests(&[
        "digest-stale",
        "DELETE",
        &url,
        "ann",
        "correct horse",
        "2.2",
    ]);
    assert_eq!(answers[0]["status"], 404, "{answers}");
    let second = &answers[1];
    assert_eq!(second["status"], 404, "the client retried: {answers}");
    let refused = &second["history"][0];
    assert_eq!(refused["status"], 401, "{answers}");
    let challenge = refused["headers"]["www-authenticate"].as_str().unwrap();
    assert!(challenge.contains("stale=true"), "{challenge}");
}

/// Waits until the server's log has `text` in it.
async fn logged(server: &Server, text: &str) {
    for _ in 0..400 {
        if server.log().contains(text) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("the server never logged {text:?}:\n{}", server.log());
}

/// A Digest `Authorization` (SHA-256, qop=auth, the first use of the nonce) for
/// `method` on `path`, answering the Digest challenge of `challenged`.
pub(crate) fn digest_authorization(
    challenged: &Reply,
    (user, password, realm): (&str, &str, &str),
    method: &str,
    path: &str,
) -> String {
    use sha2::{Digest, Sha256};
    let hash = |text: String| hex::encode(Sha256::digest(text.as_bytes()));
    let challenge = challenges(challenged)
        .into_iter()
        .find(|challenge| challenge.starts_with("Digest ") && challenge.contains("SHA-256"))
        .expect("a SHA-256 Digest challenge");
    let nonce = challenge
        .split("nonce=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the challenge's nonce")
        .to_owned();
    let ha1 = hash(format!("{user}:{realm}:{password}"));
    let ha2 = hash(format!("{method}:{path}"));
    let (nc, cnonce) = ("00000001", "0a4f113b");
    let response = hash(format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"));
    format!(
        r#"Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{path}", algorithm=SHA-256, qop=auth, nc={nc}, cnonce="{cnonce}", response="{response}""#
    )
}

fn reloadable_config(max: u32) -> String {
    format!(
        r#"
        [server]
        trusted_proxies = ["127.0.0.1"]
        [auth]
        authenticators = ["basic", "digest"]
        realm = "Blog API"
        [auth.failures]
        max = {max}
        window = "1h"
        "#
    )
}

#[tokio::test]
async fn a_reload_keeps_failed_logins_and_refuses_replayed_digest_requests() {
    let server = blog_with_users(&reloadable_config(5));
    // A Digest request that succeeded, captured.
    let challenged = send(server.request(Method::DELETE, "/posts/missing")).await;
    challenged.problem(401);
    let captured = digest_authorization(
        &challenged,
        ("ann", "correct horse", "Blog API"),
        "DELETE",
        "/posts/missing",
    );
    let first = with_auth(&server, Method::DELETE, "/posts/missing", &captured).await;
    assert_eq!(first.status, 404, "authenticated: {}", first.text());
    // Two guesses of ann's password from one address, under a limit of five.
    for _ in 0..2 {
        from(&server, "198.51.100.7", &basic("ann", "guess"))
            .await
            .problem(401);
    }

    // The limit becomes three, and the configuration is reloaded.
    std::fs::write(server.config_file(), reloadable_config(3)).unwrap();
    server.signal(libc::SIGHUP);
    logged(&server, "configuration reloaded").await;

    // The captured request, replayed byte for byte, is refused...
    let replayed = with_auth(&server, Method::DELETE, "/posts/missing", &captured).await;
    let problem = replayed.problem(401);
    assert!(
        problem["detail"].as_str().unwrap().contains("replayed"),
        "{problem}"
    );
    // ...and the guesses made before the reload count under the new limit: one more
    // locks ann at that address.
    from(&server, "198.51.100.7", &basic("ann", "guess"))
        .await
        .problem(401);
    let (retry, _) = locked(&from(&server, "198.51.100.7", &basic("ann", "correct horse")).await);
    assert!(retry > 3000 && retry <= 3600, "{retry}");
    // A fresh Digest request still works.
    let challenged = send(server.request(Method::DELETE, "/posts/missing")).await;
    let fresh = digest_authorization(
        &challenged,
        ("ann", "correct horse", "Blog API"),
        "DELETE",
        "/posts/missing",
    );
    let reply = with_auth(&server, Method::DELETE, "/posts/missing", &fresh).await;
    assert_eq!(reply.status, 404, "{}", reply.text());
}

#[tokio::test]
async fn oversized_credentials_are_refused_before_they_are_decoded() {
    let server = blog_with_users(&reloadable_config(100));
    use base64::Engine;
    let long =
        base64::engine::general_purpose::STANDARD.encode(format!("ann:{}", "x".repeat(12 * 1024)));
    for authorization in [
        format!("Basic {long}"),
        format!(r#"Digest username="{}""#, "a".repeat(16 * 1024)),
    ] {
        let reply = with_auth(&server, Method::GET, "/posts", &authorization).await;
        let problem = reply.problem(401);
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("longer than 8192 bytes"),
            "{problem}"
        );
    }
    let tokens = blog_with_users(BASIC_AND_BEARER);
    let long_token = format!("Bearer pst_{}", "a".repeat(16 * 1024));
    let reply = with_auth(&tokens, Method::GET, "/posts", &long_token).await;
    let problem = reply.problem(401);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("longer than 8192 bytes"),
        "{problem}"
    );
}

const JWT_SECRET: &str = "a shared secret of at least 32 bytes, for HS256";

/// A PyJWT-made token (see `jwt-make` in `tests/python/auth_client.py`).
fn pyjwt(algorithm: &str, key: &str, claims: Value, kid: Option<&str>) -> String {
    let claims = claims.to_string();
    let mut args = vec!["jwt-make", algorithm, key, &claims];
    args.extend(kid);
    let (stdout, _) = python("auth_client.py", &args, b"");
    String::from_utf8(stdout).unwrap().trim().to_owned()
}

async fn bearer_status(server: &Server, method: Method, path: &str, token: &str) -> Reply {
    with_auth(server, method, path, &format!("Bearer {token}")).await
}

#[tokio::test]
async fn jwts_from_pyjwt_are_checked_claim_by_claim() {
    let server = blog_with_users(&format!(
        r#"
        [auth]
        authenticators = ["bearer", "jwt"]
        [auth.jwt]
        secret = "{JWT_SECRET}"
        audience = "blog-api"
        issuer = "https://id.example"
        [plugins.blog.resources.post]
        scopes = {{ DELETE = ["posts:delete"] }}
        "#
    ));
    let make = |claims: Value| pyjwt("HS256", JWT_SECRET, claims, None);
    let claims = |overrides: Value| {
        let mut claims = json!({
            "sub": "carol",
            "aud": "blog-api",
            "iss": "https://id.example",
            "exp_in": 600,
            "first_name": "Carol",
            "scope": "posts:write posts:delete",
        });
        for (name, value) in overrides.as_object().unwrap() {
            claims[name] = value.clone();
        }
        claims
    };

    // A valid token: the guest sees the subject and the token's claims.
    let valid = make(claims(json!({})));
    let created = send(
        server
            .request(Method::POST, "/posts")
            .header("authorization", format!("Bearer {valid}"))
            .header("content-type", "application/json")
            .body(r#"{"title": "From a JWT"}"#),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(
        created.json()["author"],
        json!({"username": "carol", "first_name": "Carol"})
    );

    // Scopes: without posts:delete, 403 insufficient_scope; with it, the author deletes.
    let writer = make(claims(json!({"scope": "posts:write"})));
    let refused = bearer_status(&server, Method::DELETE, "/posts/from-a-jwt", &writer).await;
    refused.problem(403);
    assert!(challenges(&refused)[0].contains("insufficient_scope"));
    let deleted = bearer_status(&server, Method::DELETE, "/posts/from-a-jwt", &valid).await;
    assert_eq!(deleted.status, 204, "{}", deleted.text());

    // Each failed check is a 401 with invalid_token and its own reason.
    for (token, reason) in [
        (make(claims(json!({"exp_in": -120}))), "expired"),
        (make(claims(json!({"nbf_in": 3600}))), "not valid yet"),
        (make(claims(json!({"aud": "other-api"}))), "audience"),
        (
            make(claims(json!({"iss": "https://evil.example"}))),
            "issuer",
        ),
        (
            pyjwt(
                "HS256",
                "another secret of at least 32 bytes!!",
                claims(json!({})),
                None,
            ),
            "signature",
        ),
        (
            pyjwt("HS512", JWT_SECRET, claims(json!({})), None),
            "algorithm",
        ),
        ("eyJub3Q.a.jwt".to_owned(), "not a JWT"),
    ] {
        let reply = bearer_status(&server, Method::DELETE, "/posts/missing", &token).await;
        let problem = reply.problem(401);
        assert!(
            problem["detail"].as_str().unwrap().contains(reason),
            "{reason}: {problem}"
        );
        let challenge = challenges(&reply).join(" | ");
        assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    }
    let mut no_exp = claims(json!({}));
    no_exp.as_object_mut().unwrap().remove("exp_in");
    let reply = bearer_status(&server, Method::DELETE, "/posts/missing", &make(no_exp)).await;
    assert!(
        reply.problem(401)["detail"]
            .as_str()
            .unwrap()
            .contains("`exp`")
    );

    // API tokens still work beside JWTs in the same chain.
    let api = token(&server, &["ann"]);
    let reply = bearer_status(&server, Method::DELETE, "/posts/missing", &api).await;
    assert_eq!(reply.status, 404, "{}", reply.text());
}

#[tokio::test]
async fn jwts_verify_against_pem_keys_and_jwk_sets() {
    let keys = tempfile::tempdir().unwrap();
    let dir = keys.path().to_str().unwrap();
    python("auth_client.py", &["jwt-keys", dir], b"");
    let claims = json!({"sub": "dave", "aud": "blog-api", "exp_in": 600});

    let pem = ServerBuilder::new()
        .example("blog")
        .config(&format!(
            "[auth]\nauthenticators = [\"jwt\"]\n[auth.jwt]\npublic_key_file = \"{dir}/rsa.pub.pem\"\naudience = \"blog-api\"\n"
        ))
        .start();
    let signed = pyjwt("RS256", &format!("{dir}/rsa.pem"), claims.clone(), None);
    let reply = bearer_status(&pem, Method::DELETE, "/posts/missing", &signed).await;
    assert_eq!(reply.status, 404, "{}", reply.text());
    let other = pyjwt(
        "RS256",
        &format!("{dir}/other-rsa.pem"),
        claims.clone(),
        None,
    );
    let reply = bearer_status(&pem, Method::DELETE, "/posts/missing", &other).await;
    assert!(
        reply.problem(401)["detail"]
            .as_str()
            .unwrap()
            .contains("signature")
    );
    // The classic confusion: HS256 "signed" with the public key as the secret.
    let public = std::fs::read_to_string(format!("{dir}/rsa.pub.pem")).unwrap();
    let confused = pyjwt_with_secret_text("HS256", &public, &claims);
    let reply = bearer_status(&pem, Method::DELETE, "/posts/missing", &confused).await;
    assert!(
        reply.problem(401)["detail"]
            .as_str()
            .unwrap()
            .contains("algorithm")
    );

    let jwks = ServerBuilder::new()
        .example("blog")
        .config(&format!(
            "[auth]\nauthenticators = [\"jwt\"]\n[auth.jwt]\njwks_file = \"{dir}/jwks.json\"\naudience = \"blog-api\"\n"
        ))
        .start();
    for (algorithm, key, kid) in [("RS256", "rsa.pem", "rsa-1"), ("ES256", "ec.pem", "ec-1")] {
        let signed = pyjwt(
            algorithm,
            &format!("{dir}/{key}"),
            claims.clone(),
            Some(kid),
        );
        let reply = bearer_status(&jwks, Method::DELETE, "/posts/missing", &signed).await;
        assert_eq!(reply.status, 404, "{algorithm}: {}", reply.text());
    }
    let unknown = pyjwt(
        "ES256",
        &format!("{dir}/ec.pem"),
        claims.clone(),
        Some("ec-9"),
    );
    let reply = bearer_status(&jwks, Method::DELETE, "/posts/missing", &unknown).await;
    assert!(
        reply.problem(401)["detail"]
            .as_str()
            .unwrap()
            .contains("`kid`")
    );
    let swapped = pyjwt("ES256", &format!("{dir}/ec.pem"), claims, Some("rsa-1"));
    bearer_status(&jwks, Method::DELETE, "/posts/missing", &swapped)
        .await
        .problem(401);
}

/// A token PyJWT makes when handed a PEM public key as an HMAC secret (which PyJWT
/// itself refuses to do, so the token is assembled the same way by hand).
fn pyjwt_with_secret_text(algorithm: &str, secret: &str, claims: &Value) -> String {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{algorithm}","typ":"JWT"}}"#));
    let mut claims = claims.clone();
    let exp_in = claims.as_object_mut().unwrap().remove("exp_in").unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    claims["exp"] = json!(now + exp_in.as_u64().unwrap());
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signing_input = format!("{header}.{payload}");
    let (mac, _) = python(
        "auth_client.py",
        &["hmac-sha256", secret, &signing_input],
        b"",
    );
    format!("{signing_input}.{}", String::from_utf8(mac).unwrap().trim())
}

/// Registers an OAuth consumer; returns its key and secret.
fn consumer(server: &Server, name: &str, callback: Option<&str>) -> (String, String) {
    let mut args = vec!["oauth", "consumers", "add", name];
    if let Some(callback) = callback {
        args.extend(["--callback", callback]);
    }
    consumer_registered(&server.piston(&args, ""))
}

/// The key and secret `piston oauth consumers add` printed.
pub(crate) fn consumer_registered(output: &std::process::Output) -> (String, String) {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let field = |name: &str| {
        stdout
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .expect("printed")
            .trim()
            .to_owned()
    };
    (field("key:"), field("secret:"))
}

/// Token credentials from the whole three-legged flow.
pub(crate) struct Granted {
    pub(crate) key: String,
    pub(crate) secret: String,
    pub(crate) token: String,
    pub(crate) token_secret: String,
}

impl Granted {
    pub(crate) fn call(
        &self,
        method: &str,
        url: &str,
        signature: &str,
        body: Option<&str>,
    ) -> Value {
        let mut args = vec![
            "oauth-call",
            method,
            url,
            &self.key,
            &self.secret,
            &self.token,
            &self.token_secret,
            signature,
        ];
        args.extend(body);
        requests(&args)
    }

    pub(crate) fn signed(&self, command: &str, method: &str, url: &str, extra: &[&str]) -> Value {
        let mut args = vec![
            command,
            method,
            url,
            &self.key,
            &self.secret,
            &self.token,
            &self.token_secret,
        ];
        args.extend(extra);
        requests(&args)
    }
}

fn oauth_server() -> Server {
    let server = ServerBuilder::new()
        .example("blog")
        .config("[auth]\nauthenticators = [\"oauth1\"]\nrealm = \"Blog API\"\n")
        .start();
    server.add_user("ann", "correct horse", "Ann");
    server
}

fn grant(server: &Server, key: &str, secret: &str, callback: &str) -> (Granted, Value) {
    grant_at(&server.url(""), key, secret, callback)
}

/// The three-legged flow as ann against `base` (several base URLs, comma-separated,
/// take the steps in turn); the credentials granted, and what each step answered.
pub(crate) fn grant_at(base: &str, key: &str, secret: &str, callback: &str) -> (Granted, Value) {
    let flow = requests(&[
        "oauth-flow",
        base,
        key,
        secret,
        "ann",
        "correct horse",
        callback,
    ]);
    let granted = Granted {
        key: key.to_owned(),
        secret: secret.to_owned(),
        token: flow["token"].as_str().unwrap().to_owned(),
        token_secret: flow["secret"].as_str().unwrap().to_owned(),
    };
    (granted, flow["steps"].clone())
}

#[tokio::test]
async fn oauth_three_legged_flow_with_requests_oauthlib() {
    let server = oauth_server();
    let (key, secret) = consumer(&server, "Test <App>", Some("http://client.example/"));
    let (granted, steps) = grant(&server, &key, &secret, "http://client.example/cb");

    // The user's side: a page that escapes the consumer's name and sets a strict
    // cookie; a wrong password and a forged post are refused; approval redirects.
    assert_eq!(steps["callback_confirmed"], "true", "{steps}");
    let page = &steps["page"];
    assert_eq!(page["status"], 200, "{steps}");
    assert!(page["body"].as_str().unwrap().contains("Test &lt;App&gt;"));
    let cookie = page["headers"]["set-cookie"].as_str().unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(
        page["headers"]["content-security-policy"]
            .as_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert_eq!(steps["wrong_password"]["status"], 401, "{steps}");
    assert_eq!(steps["forged"]["status"], 403, "CSRF: {steps}");
    assert_eq!(steps["approved"]["status"], 302, "{steps}");
    let location = steps["approved"]["headers"]["location"].as_str().unwrap();
    assert!(
        location.starts_with("http://client.example/cb?oauth_token="),
        "{location}"
    );
    assert_eq!(steps["again"]["status"], 400, "approved once: {steps}");
    assert!(
        steps["exchanged_twice"].as_str().unwrap().contains("401"),
        "exchanged once: {steps}"
    );

    // The consumer's side: every signature method, JSON and signed form bodies.
    let posts = server.url("/posts");
    let created = granted.call(
        "POST",
        &posts,
        "HMAC-SHA1",
        Some(r#"{"title": "Via OAuth"}"#),
    );
    assert_eq!(created["status"], 201, "{created}");
    let post: Value = serde_json::from_str(created["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        post["author"],
        json!({"username": "ann", "first_name": "Ann"})
    );
    let url = server.url("/posts/via-oauth");
    let updated = granted.call("PUT", &url, "HMAC-SHA256", Some("form:content=signed+form"));
    assert_eq!(updated["status"], 200, "{updated}");
    assert!(updated["body"].as_str().unwrap().contains("signed form"));
    let deleted = granted.call("DELETE", &url, "PLAINTEXT", None);
    assert_eq!(deleted["status"], 204, "{deleted}");

    // A replayed nonce and a stale timestamp are refused, without saying what the
    // signature should have been.
    let missing = server.url("/posts/missing");
    let replay = granted.signed("oauth-replay", "DELETE", &missing, &[]);
    assert_eq!(replay[0]["status"], 404, "{replay}");
    assert_eq!(replay[1]["status"], 401, "{replay}");
    assert!(
        replay[1]["body"].as_str().unwrap().contains("nonce"),
        "{replay}"
    );
    let stale = granted.signed("oauth-stale", "DELETE", &missing, &["3600"]);
    assert_eq!(stale["status"], 401, "{stale}");
    assert!(
        stale["body"].as_str().unwrap().contains("oauth_timestamp"),
        "{stale}"
    );
    assert_eq!(
        stale["headers"]["www-authenticate"],
        r#"OAuth realm="Blog API""#
    );
    let forged = Granted {
        token_secret: "not the secret".to_owned(),
        ..granted
    };
    let wrong = forged.call("DELETE", &missing, "HMAC-SHA1", None);
    assert_eq!(wrong["status"], 401, "{wrong}");
    let detail = wrong["body"].as_str().unwrap();
    assert!(detail.contains("signature is invalid"), "{detail}");
    assert!(
        !detail.contains("DELETE&") && !detail.contains("%2F"),
        "{detail}"
    );
}

#[tokio::test]
async fn oauth_tokens_and_consumers_can_be_revoked() {
    let server = oauth_server();
    let (key, secret) = consumer(&server, "Revocable", None);
    let (first, steps) = grant(&server, &key, &secret, "oob");
    assert_eq!(
        steps["approved"]["status"], 200,
        "oob shows the verifier: {steps}"
    );
    let (second, _) = grant(&server, &key, &secret, "oob");
    let missing = server.url("/posts/missing");
    assert_eq!(
        first.call("DELETE", &missing, "HMAC-SHA1", None)["status"],
        404
    );

    let listed = String::from_utf8(server.piston(&["oauth", "tokens", "list"], "").stdout).unwrap();
    assert!(
        listed.contains(&first.token) && !listed.contains(&first.token_secret),
        "{listed}"
    );
    let revoked = server.piston(&["oauth", "tokens", "revoke", &first.token], "");
    assert!(
        revoked.status.success(),
        "{}",
        String::from_utf8_lossy(&revoked.stderr)
    );
    let refused = first.call("DELETE", &missing, "HMAC-SHA1", None);
    assert_eq!(refused["status"], 401, "{refused}");
    assert_eq!(
        second.call("DELETE", &missing, "HMAC-SHA1", None)["status"],
        404
    );

    let revoked = server.piston(&["oauth", "consumers", "revoke", &key], "");
    assert!(
        revoked.status.success(),
        "{}",
        String::from_utf8_lossy(&revoked.stderr)
    );
    let refused = second.call("DELETE", &missing, "HMAC-SHA1", None);
    assert_eq!(refused["status"], 401, "{refused}");
    assert!(
        refused["body"].as_str().unwrap().contains("revoked"),
        "{refused}"
    );
    let listed =
        String::from_utf8(server.piston(&["oauth", "consumers", "list"], "").stdout).unwrap();
    assert!(
        listed.contains("revoked") && !listed.contains(&secret),
        "{listed}"
    );

    // Callbacks outside the registered one — another host, one the registered host is
    // a prefix of, another port, user info, a path sharing only a prefix — and
    // unsigned endpoint calls are refused.
    let (key, secret) = consumer(&server, "Registered", Some("https://app.example/cb"));
    for callback in [
        "https://evil.example/cb",
        "https://app.example.evil/cb",
        "https://app.example:444/cb",
        "https://app.example@evil.example/cb",
        "https://app.example/cbx",
    ] {
        let flow = python_flow_error(&server, &key, &secret, callback);
        assert!(flow.contains("400"), "{callback}: {flow}");
    }
    let unsigned = send(server.request(Method::POST, "/oauth/request_token")).await;
    unsigned.problem(400);
    let wrong_method = server.get("/oauth/access_token").await;
    wrong_method.problem(405);
    let page = server.get("/oauth/authorize?oauth_token=nope").await;
    assert_eq!(page.status, 400);
    assert!(page.text().contains("invalid, expired or already used"));
}

/// Runs the OAuth flow expecting it to fail; returns the client's error.
fn python_flow_error(server: &Server, key: &str, secret: &str, callback: &str) -> String {
    let base = server.url("");
    let output = python_output(
        "auth_client.py",
        &[
            "oauth-flow",
            &base,
            key,
            secret,
            "ann",
            "correct horse",
            callback,
        ],
        b"",
    );
    assert!(!output.status.success(), "the flow should have failed");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn oauth_endpoints_are_throttled_per_client_address() {
    let server = ServerBuilder::new()
        .example("blog")
        .config(
            "[server]\ntrusted_proxies = [\"127.0.0.1\"]\n[auth]\nauthenticators = [\"oauth1\"]\n",
        )
        .start();
    let request_token = |address: &'static str| {
        send(
            server
                .request(Method::POST, "/oauth/request_token")
                .header("x-forwarded-for", address),
        )
    };
    // Thirty calls a minute are answered (unsigned, so refused as such)...
    for _ in 0..30 {
        request_token("198.51.100.1").await.problem(400);
    }
    // ...the thirty-first is not even read.
    let throttled = request_token("198.51.100.1").await;
    throttled.problem(429);
    let retry: u64 = throttled
        .header("retry-after")
        .expect("a 429 says when to retry")
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let page = send(
        server
            .request(Method::GET, "/oauth/authorize?oauth_token=x")
            .header("x-forwarded-for", "198.51.100.1"),
    )
    .await;
    assert_eq!(page.status, 429, "every endpoint counts");
    // Another address has its own allowance.
    request_token("198.51.100.2").await.problem(400);
}

#[tokio::test]
async fn oauth_requests_with_extreme_or_too_many_parameters_are_refused() {
    let server = oauth_server();
    let (key, _) = consumer(&server, "Extreme", None);
    let post = |authorization: String| {
        send(
            server
                .request(Method::POST, "/oauth/request_token")
                .header("authorization", authorization),
        )
    };
    for timestamp in ["-9223372036854775808", "9223372036854775807"] {
        let reply = post(format!(
            r#"OAuth oauth_consumer_key="{key}", oauth_signature_method="PLAINTEXT", oauth_timestamp="{timestamp}", oauth_nonce="n", oauth_signature="x", oauth_callback="oob""#
        ))
        .await;
        let problem = reply.problem(401);
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("oauth_timestamp"),
            "{timestamp}: {problem}"
        );
    }
    let many: Vec<String> = (0..65)
        .map(|index| format!("oauth_p{index}=\"x\""))
        .collect();
    let reply = post(format!("OAuth {}", many.join(", "))).await;
    let problem = reply.problem(400);
    assert!(
        problem["detail"].as_str().unwrap().contains("more than 64"),
        "{problem}"
    );
    let long = format!(r#"OAuth oauth_consumer_key="{}""#, "k".repeat(16 * 1024));
    let problem = post(long).await.problem(401);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("longer than 8192 bytes"),
        "{problem}"
    );
    // The server is still there.
    assert_eq!(server.get("/posts").await.status, 200);
}
