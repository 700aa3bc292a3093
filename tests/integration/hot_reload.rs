//! Hot-drop: plugins added, replaced and removed while the server runs, under load,
//! and broken replacements that never take a working version down.

use piston_tests::{Load, Method, Reply, Server, ServerBuilder, Value, fixture_plugin, send};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The change must be observed within this long of the file landing (cache warm).
const WITHIN: Duration = Duration::from_secs(2);

fn bytes(path: std::path::PathBuf) -> Vec<u8> {
    std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// Polls `path` until `check` accepts the reply; panics after `WITHIN`.
async fn within(server: &Server, path: &str, check: impl Fn(&Reply) -> bool) -> Duration {
    let landed = Instant::now();
    loop {
        let reply = server.get(path).await;
        if check(&reply) {
            return landed.elapsed();
        }
        assert!(
            landed.elapsed() < WITHIN,
            "{path}: not seen within {WITHIN:?}; last answer {} {}\n{}",
            reply.status,
            reply.text(),
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn version(reply: &Reply) -> Option<String> {
    (reply.status == 200).then(|| reply.json()["version"].as_str().unwrap_or("").to_owned())
}

async fn resources(server: &Server) -> Value {
    let reply = server.admin_get("/_piston/resources").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()
}

#[tokio::test]
async fn plugins_are_added_replaced_and_removed_while_serving() {
    let server = ServerBuilder::new().fixture("echo").start();
    assert_eq!(server.get("/swap").await.status, 404);

    server.drop_plugin("swap.wasm", &bytes(fixture_plugin("swap-v1")));
    within(&server, "/swap", |reply| {
        version(reply).as_deref() == Some("1.0.0")
    })
    .await;

    server.drop_plugin("swap.wasm", &bytes(fixture_plugin("swap-v2")));
    within(&server, "/swap", |reply| {
        version(reply).as_deref() == Some("2.0.0")
    })
    .await;

    std::fs::remove_file(server.plugin_dir().join("swap.wasm")).unwrap();
    within(&server, "/swap", |reply| reply.status == 404).await;

    // The others never noticed.
    assert_eq!(server.get("/echo").await.status, 200);
    let listed = resources(&server).await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
}

#[tokio::test]
async fn twenty_replacements_under_load_fail_no_request() {
    let server = Arc::new(ServerBuilder::new().fixture("swap-v1").start());
    let load = Load::start(std::slice::from_ref(&server), "/swap", 8);
    let versions = [
        bytes(fixture_plugin("swap-v1")),
        bytes(fixture_plugin("swap-v2")),
    ];
    for swap in 0..20 {
        let (bytes, expected) = if swap % 2 == 0 {
            (&versions[1], "2.0.0")
        } else {
            (&versions[0], "1.0.0")
        };
        server.drop_plugin("swap-v1.wasm", bytes);
        within(&server, "/swap", |reply| {
            version(reply).as_deref() == Some(expected)
        })
        .await;
    }
    for reply in load.finish(100).await {
        assert_eq!(reply.status, 200, "a request failed during a swap");
        let version = version(&reply);
        assert!(
            matches!(version.as_deref(), Some("1.0.0" | "2.0.0")),
            "{version:?}"
        );
    }
}

#[tokio::test]
async fn broken_replacements_leave_the_working_version_serving_with_the_reason() {
    let server = ServerBuilder::new()
        .example("blog")
        .fixture("swap-v1")
        .start();
    let file = "swap-v1.wasm";
    for (replacement, reason) in [
        (b"not a plugin at all".to_vec(), "is not a WebAssembly file"),
        (
            bytes(fixture_plugin("faulty-describe")),
            "cannot describe itself",
        ),
        (bytes(fixture_plugin("collide")), "collides"),
    ] {
        server.drop_plugin(file, &replacement);
        let started = Instant::now();
        let entry = loop {
            let listed = resources(&server).await;
            let entry = listed
                .as_array()
                .unwrap()
                .iter()
                .find(|entry| entry["file"].as_str().unwrap().ends_with(file))
                .cloned()
                .unwrap();
            if entry["update_refused"]
                .as_str()
                .is_some_and(|refused| refused.contains(reason))
            {
                break entry;
            }
            assert!(started.elapsed() < WITHIN, "no `{reason}` in {entry}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert_eq!(entry["status"], "ok", "{entry}");
        assert_eq!(entry["plugin"]["version"], "1.0.0");
        let reply = server.get("/swap").await;
        assert_eq!(
            version(&reply).as_deref(),
            Some("1.0.0"),
            "{}",
            reply.text()
        );
        assert_eq!(server.get("/posts").await.status, 200);
    }
    // The table says so too.
    let listed = piston_tests::piston(
        &server.plugin_dir(),
        &["list", "--url", &server.admin_url("")],
    );
    let table = String::from_utf8_lossy(&listed.stdout);
    assert!(table.contains("the new file was refused"), "{table}");

    // A good file replaces it as usual.
    server.drop_plugin(file, &bytes(fixture_plugin("swap-v2")));
    within(&server, "/swap", |reply| {
        version(reply).as_deref() == Some("2.0.0")
    })
    .await;
}

#[tokio::test]
async fn the_admin_api_has_its_own_listener() {
    let token = "an-admin-token-long-enough-to-use";
    let server = ServerBuilder::new()
        .example("blog")
        .config(&format!(
            "[server]\ntrusted_proxies = [\"127.0.0.1\"]\nadmin_token = \"{token}\"\n"
        ))
        .start();
    let health = server.admin_get("/_piston/health").await;
    assert_eq!(health.json()["plugins"], 1, "{}", health.text());

    // Never on the public listener, whatever a client (or a proxy) sends: behind a
    // proxy on the same machine, every request comes from loopback.
    for forwarded in [
        None,
        Some(("forwarded", "for=127.0.0.1")),
        Some(("x-forwarded-for", "127.0.0.1")),
    ] {
        let mut request = server.request(Method::GET, "/_piston/resources");
        if let Some((name, value)) = forwarded {
            request = request.header(name, value);
        }
        send(request).await.problem(404);
    }
    let public_health = server.get("/_piston/health").await;
    assert_eq!(public_health.status, 404);

    // The admin listener reads no forwarding header: the peer is who it is.
    let forwarded = send(
        reqwest::Client::new()
            .get(server.admin_url("/_piston/resources"))
            .header("x-forwarded-for", "203.0.113.5"),
    )
    .await;
    assert_eq!(forwarded.status, 200);
    let with_token = send(
        reqwest::Client::new()
            .get(server.admin_url("/_piston/resources"))
            .bearer_auth(token),
    )
    .await;
    assert_eq!(with_token.status, 200);
    send(reqwest::Client::new().get(server.admin_url("/_piston/nothing")))
        .await
        .problem(404);

    // `piston list --url` shows the live server's table, or its JSON, from the admin
    // address as `serve` printed it.
    let admin = server.admin_url("/_piston/");
    let listed = piston_tests::piston(&server.plugin_dir(), &["list", "--url", &admin]);
    let table = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.status.success(), "{table}");
    assert!(table.contains("/posts/{post_slug}"), "{table}");
    let json = piston_tests::piston(
        &server.plugin_dir(),
        &["list", "--json", "--url", &server.admin_url("")],
    );
    let document: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(document[0]["plugin"]["name"], "blog");
    let unreachable = piston_tests::piston(
        &server.plugin_dir(),
        &["list", "--url", "http://127.0.0.1:9"],
    );
    assert_eq!(unreachable.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unreachable.stderr).contains("cannot reach"));
}

/// Waits until the server's log says `line`.
async fn logged(server: &Server, line: &str) {
    let started = Instant::now();
    while !server.log().contains(line) {
        assert!(
            started.elapsed() < WITHIN,
            "no `{line}` in:\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn echo_config(greeting: &str, requests: u32) -> String {
    format!(
        "[plugins.echo.config]\ngreeting = \"{greeting}\"\n\
         [plugins.echo.resources.echo]\nthrottle = [{{ requests = {requests}, period = \"1h\" }}]\n"
    )
}

#[tokio::test]
async fn sighup_applies_a_changed_configuration_and_refuses_a_broken_one() {
    let server = ServerBuilder::new()
        .fixture("echo")
        .config(&echo_config("hello", 1))
        .start();
    let first = server.get("/echo").await;
    assert_eq!(first.json()["greeting"], "hello");
    server.get("/echo").await.problem(429);

    std::fs::write(server.config_file(), echo_config("bonjour", 100)).unwrap();
    server.signal(libc::SIGHUP);
    let reloaded = within(&server, "/echo", |reply| {
        reply.status == 200 && reply.json()["greeting"] == "bonjour"
    })
    .await;
    let reply = server.get("/echo").await;
    assert_eq!(
        reply.header("ratelimit-limit"),
        Some("100"),
        "after {reloaded:?}"
    );

    std::fs::write(
        server.config_file(),
        "[throttle]\nbackend = \"carrier pigeon\"\n",
    )
    .unwrap();
    server.signal(libc::SIGHUP);
    logged(&server, "configuration not reloaded").await;
    let still = server.get("/echo").await;
    assert_eq!(still.json()["greeting"], "bonjour");
    assert_eq!(still.header("ratelimit-limit"), Some("100"));
}
