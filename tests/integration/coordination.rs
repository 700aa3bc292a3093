//! `[coordination] backend = "redis"`: hosts sharing one Redis share failed logins; a
//! host whose Redis is away starts, says so, refuses what needs it with 503 and
//! `Retry-After`, and recovers when Redis is back.

use piston_tests::{
    Method, PrivateRedis, Reply, Server, ServerBuilder, send, test_redis_url, unique_prefix,
};
use std::time::{Duration, Instant};

fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {encoded}")
}

/// The blog behind Basic auth, its failed logins and nonces in the Redis at `url`.
fn blog(url: &str, key_prefix: &str, timeout: &str) -> Server {
    let config = format!(
        "[auth]\nauthenticators = [\"basic\"]\n[auth.failures]\nmax = 3\n\
         [coordination]\nbackend = \"redis\"\nurl = \"{url}\"\nkey_prefix = \"{key_prefix}\"\n\
         timeout = \"{timeout}\"\n"
    );
    let server = ServerBuilder::new().example("blog").config(&config).start();
    server.add_user("ann", "correct horse", "Ann");
    server
}

async fn as_user(server: &Server, password: &str) -> Reply {
    send(
        server
            .request(Method::GET, "/posts")
            .header("authorization", basic("ann", password)),
    )
    .await
}

/// What the admin health report says of coordination.
async fn coordination_health(server: &Server) -> serde_json::Value {
    server.admin_get("/_piston/health").await.json()["backends"]["coordination"].clone()
}

#[tokio::test]
async fn failed_logins_on_two_hosts_add_up() {
    let prefix = unique_prefix("coordination-failures");
    let (one, other) = (
        blog(&test_redis_url(), &prefix, "5s"),
        blog(&test_redis_url(), &prefix, "5s"),
    );
    assert_eq!(as_user(&one, "wrong").await.status, 401);
    assert_eq!(as_user(&other, "wrong").await.status, 401);
    assert_eq!(as_user(&one, "wrong").await.status, 401);
    // Three failures in all: the pair is locked on both hosts, even to the right password.
    for server in [&one, &other] {
        let locked = as_user(server, "correct horse").await;
        locked.problem(429);
        assert!(locked.header("retry-after").is_some());
    }
    let health = coordination_health(&one).await;
    assert_eq!(health["backend"], "redis", "{health}");
    assert_eq!(health["state"], "up", "{health}");
}

#[tokio::test]
async fn a_host_whose_redis_is_away_starts_refuses_with_503_and_recovers() {
    let mut redis = PrivateRedis::new();
    let server = blog(&redis.url(), "piston:", "200ms");
    let at = redis.url();
    let at = at.trim_start_matches("redis://").trim_end_matches('/');
    let log = server.log();
    assert!(
        log.contains(&format!("coordination: redis at {at}")),
        "{log}"
    );
    assert!(log.contains("unreachable"), "{log}");
    let health = coordination_health(&server).await;
    assert_eq!(health["backend"], "redis", "{health}");
    assert_eq!(health["at"], at, "{health}");
    assert_eq!(health["state"], "down", "{health}");
    assert!(health["error"].as_str().is_some(), "{health}");

    // The failed-login check needs Redis: refused, not let through, and quickly.
    let started = Instant::now();
    let refused = as_user(&server, "correct horse").await;
    assert!(started.elapsed() < Duration::from_secs(2));
    refused.problem(503);
    assert_eq!(refused.header("retry-after"), Some("2"));
    // Anonymous reads need no credentials, so no Redis.
    assert_eq!(server.get("/posts").await.status, 200);

    redis.start();
    let started = Instant::now();
    let reply = loop {
        let reply = as_user(&server, "correct horse").await;
        if reply.status != 503 || started.elapsed() > Duration::from_secs(10) {
            break reply;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(coordination_health(&server).await["state"], "up");
    assert!(server.log().contains("reachable again"), "{}", server.log());
}

#[test]
fn bad_coordination_settings_name_the_key() {
    piston_tests::assert_config_errors_name_their_keys(&[
        ("[coordination]\nbackend = \"redis\"\n", "coordination.url"),
        (
            "[coordination]\nbackend = \"redis\"\n",
            "PISTON_COORDINATION_URL",
        ),
        (
            "[coordination]\nbackend = \"redis\"\nurl = \"http://x\"\n",
            "coordination.url",
        ),
        (
            "[coordination]\nbackend = \"etcd\"\n",
            "coordination.backend",
        ),
    ]);
}
