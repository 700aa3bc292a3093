//! Throttling over real HTTP: exact limits under concurrency, in one process and
//! across two sharing Redis; headers; recovery; who is counted; Redis going away.

use futures_util::future::join_all;
use piston_tests::{
    Method, PrivateRedis, Reply, Server, ServerBuilder, send, test_redis_url, unique_prefix,
};
use std::time::{Duration, Instant};

/// The echo fixture limited to `requests` per `period`, plus `extra` configuration.
fn echo_limited(requests: u32, period: &str, extra: &str) -> Server {
    ServerBuilder::new()
        .fixture("echo")
        .config(&format!(
            "{extra}\n[plugins.echo.resources.echo]\nthrottle = [{{ requests = {requests}, period = \"{period}\" }}]\n"
        ))
        .start()
}

/// `count` concurrent `GET /echo`s against each server, all in flight at once.
async fn burst(servers: &[&Server], count: usize) -> Vec<u16> {
    let requests = servers.iter().flat_map(|server| {
        (0..count)
            .map(move |_| async move { send(server.request(Method::GET, "/echo")).await.status })
    });
    join_all(requests).await
}

fn tally(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|seen| **seen == status).count()
}

fn header(reply: &Reply, name: &str) -> u64 {
    reply
        .header(name)
        .unwrap_or_else(|| panic!("no {name} on a {} answer", reply.status))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn five_hundred_at_once_against_a_limit_of_100_admit_exactly_100() {
    let server = echo_limited(100, "1h", "");
    let statuses = burst(&[&server], 500).await;
    assert_eq!(tally(&statuses, 200), 100, "{statuses:?}");
    assert_eq!(tally(&statuses, 429), 400);
}

/// Counters in the shared test Redis under a prefix of their own. The timeout is the
/// longest allowed: these tests count verdicts, and on a loaded machine a call can
/// take longer than the default, which would turn a 429 into a 503.
fn shared_redis(name: &str) -> String {
    format!(
        "[throttle]\nbackend = \"redis\"\nredis_url = \"{}\"\nkey_prefix = \"{}\"\nredis_timeout = \"10s\"\n",
        test_redis_url(),
        unique_prefix(name)
    )
}

#[tokio::test]
async fn two_hosts_sharing_redis_admit_exactly_100_in_total() {
    let config = shared_redis("two-hosts");
    let first = echo_limited(100, "1h", &config);
    let second = echo_limited(100, "1h", &config);
    let statuses = burst(&[&first, &second], 250).await;
    assert_eq!(tally(&statuses, 200), 100, "{statuses:?}");
    assert_eq!(tally(&statuses, 429), 400, "{statuses:?}");
    assert!(first.log().contains("counters in Redis"), "{}", first.log());
}

#[tokio::test]
async fn the_coordination_redis_counts_for_hosts_that_name_no_throttle_backend() {
    let prefix = unique_prefix("coordination-throttle");
    let config = format!(
        "[coordination]\nbackend = \"redis\"\nurl = \"{}\"\nkey_prefix = \"{prefix}\"\ntimeout = \"10s\"\n",
        test_redis_url()
    );
    let first = echo_limited(20, "1h", &config);
    let second = echo_limited(20, "1h", &config);
    let statuses = burst(&[&first, &second], 30).await;
    assert_eq!(tally(&statuses, 200), 20, "{statuses:?}");
    assert_eq!(tally(&statuses, 429), 40, "{statuses:?}");
    let log = first.log();
    assert!(log.contains("counters in Redis"), "{log}");
    assert!(
        !log.contains("[coordination] is the place for Redis"),
        "{log}"
    );
    // The earlier way still counts, and says where Redis belongs now.
    let legacy = echo_limited(20, "1h", &shared_redis("legacy"));
    assert_eq!(legacy.get("/echo").await.status, 200);
    let log = legacy.log();
    assert!(
        log.contains("[coordination] is the place for Redis"),
        "{log}"
    );
}

#[tokio::test]
async fn callers_racing_through_two_hosts_each_get_their_own_exact_count() {
    let config = format!(
        "[server]\ntrusted_proxies = [\"127.0.0.1\"]\n{}\n\
         [plugins.echo.resources.echo]\n\
         throttle = [{{ requests = 1000, period = \"1h\" }}, {{ requests = 50, period = \"1h\" }}]\n",
        shared_redis("callers")
    );
    let first = ServerBuilder::new().fixture("echo").config(&config).start();
    let second = ServerBuilder::new().fixture("echo").config(&config).start();
    let callers = ["198.51.100.1", "198.51.100.2", "198.51.100.3"];
    let requests = [&first, &second].into_iter().flat_map(|server| {
        (0..40).flat_map(move |_| {
            callers.map(|caller| async move {
                let reply = send(
                    server
                        .request(Method::GET, "/echo")
                        .header("x-forwarded-for", caller),
                )
                .await;
                (caller, reply)
            })
        })
    });
    let replies = join_all(requests).await;
    for caller in callers {
        let mine: Vec<&Reply> = replies
            .iter()
            .filter(|(from, _)| *from == caller)
            .map(|(_, reply)| reply)
            .collect();
        let statuses: Vec<u16> = mine.iter().map(|reply| reply.status).collect();
        assert_eq!(tally(&statuses, 200), 50, "{caller}: {statuses:?}");
        assert_eq!(tally(&statuses, 429), 30, "{caller}: {statuses:?}");
        // Each admitted request was counted on its own: the tighter rule's remaining
        // allowance counts down through every value once.
        let mut remaining: Vec<u64> = mine
            .iter()
            .filter(|reply| reply.status == 200)
            .map(|reply| header(reply, "ratelimit-remaining"))
            .collect();
        remaining.sort_unstable();
        assert_eq!(remaining, (0..50).collect::<Vec<u64>>(), "{caller}");
    }
}

#[tokio::test]
async fn redis_keeps_a_long_rules_count_past_a_short_rules_expiry() {
    let config = format!(
        "{}\n[plugins.echo.resources.echo]\nthrottle = [\
         {{ methods = [\"POST\"], requests = 1, period = \"1h\" }}, \
         {{ methods = [\"GET\"], requests = 1, period = \"1s\" }}]\n",
        shared_redis("expiry")
    );
    let server = ServerBuilder::new().fixture("echo").config(&config).start();
    let post = || {
        send(
            server
                .request(Method::POST, "/echo")
                .json(&serde_json::json!({})),
        )
    };
    assert_eq!(post().await.status, 200);
    assert_eq!(server.get("/echo").await.status, 200);
    // The GET's rule alone would keep the caller's counters for two seconds; the
    // POST's must outlive them.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    post().await.problem(429);
}

#[tokio::test]
async fn headers_count_down_and_the_window_recovers_without_calling_the_handler() {
    let server = echo_limited(3, "3s", "");
    for remaining in [2, 1, 0] {
        let reply = server.get("/echo").await;
        assert_eq!(reply.status, 200);
        assert_eq!(header(&reply, "ratelimit-limit"), 3);
        assert_eq!(header(&reply, "ratelimit-remaining"), remaining);
        assert!((1..=3).contains(&header(&reply, "ratelimit-reset")));
    }
    let refused = server.get("/echo").await;
    let problem = refused.problem(429);
    assert!(
        problem["detail"].as_str().unwrap().contains("3 per 3 s"),
        "{problem}"
    );
    assert_eq!(header(&refused, "ratelimit-remaining"), 0);
    let wait = header(&refused, "retry-after");
    assert_eq!(wait, 1, "one request comes back per second");
    server.get("/echo").await.problem(429);

    tokio::time::sleep(Duration::from_secs(wait)).await;
    let again = server.get("/echo").await;
    assert_eq!(again.status, 200);
    // The warm instance counted three calls before: the refused ones never reached it.
    assert_eq!(again.json()["calls"], 4);
    assert_eq!(header(&again, "ratelimit-remaining"), 0);
}

#[tokio::test]
async fn the_blogs_own_rule_admits_exactly_five_updates_per_author_and_marks_errors_too() {
    let server = ServerBuilder::new()
        .example("blog")
        .config("[auth]\nauthenticators = [\"basic\"]\n")
        .start();
    server.add_user("ann", "correct horse", "Ann");
    server.add_user("bob", "battery staple", "Bob");
    let update = |user: &'static str, password: &'static str| {
        send(
            server
                .request(Method::PUT, "/posts/missing")
                .basic_auth(user, Some(password))
                .json(&serde_json::json!({"title": "t"})),
        )
    };
    // django-piston's @throttle(5, 600) let 4 through; this is 5. Errors count and
    // carry the headers.
    for remaining in (0..5).rev() {
        let reply = update("ann", "correct horse").await;
        reply.problem(404);
        assert_eq!(header(&reply, "ratelimit-limit"), 5);
        assert_eq!(header(&reply, "ratelimit-remaining"), remaining);
    }
    let refused = update("ann", "correct horse").await;
    refused.problem(429);
    assert!(header(&refused, "retry-after") > 100);
    // Bob has his own allowance; reads are not throttled.
    update("bob", "battery staple").await.problem(404);
    let read = server.get("/posts").await;
    assert_eq!(read.status, 200);
    assert!(read.header("ratelimit-limit").is_none());
}

#[tokio::test]
async fn operators_set_rules_per_resource_with_a_tighter_one_for_anonymous_callers() {
    let server = ServerBuilder::new()
        .example("blog")
        .config(
            r#"
            [auth]
            authenticators = ["basic"]
            [plugins.blog.resources.posts]
            throttle = [{ methods = ["GET"], requests = 3, period = "1h" }]
            throttle_anonymous = [{ methods = ["GET"], requests = 1, period = "1h" }]
            "#,
        )
        .start();
    server.add_user("ann", "correct horse", "Ann");
    assert_eq!(server.get("/posts").await.status, 200);
    server.get("/posts").await.problem(429);
    for _ in 0..3 {
        let reply = send(
            server
                .request(Method::GET, "/posts")
                .basic_auth("ann", Some("correct horse")),
        )
        .await;
        assert_eq!(reply.status, 200);
        assert_eq!(header(&reply, "ratelimit-limit"), 3);
    }
    send(
        server
            .request(Method::GET, "/posts")
            .basic_auth("ann", Some("correct horse")),
    )
    .await
    .problem(429);
}

#[tokio::test]
async fn forwarded_addresses_count_only_from_trusted_proxies() {
    let from = |server: &Server, address: &str| {
        send(
            server
                .request(Method::GET, "/echo")
                .header("x-forwarded-for", address.to_owned()),
        )
    };
    // An untrusted peer's header is ignored: every request is the peer's.
    let untrusted = echo_limited(2, "1h", "");
    assert_eq!(from(&untrusted, "198.51.100.1").await.status, 200);
    assert_eq!(from(&untrusted, "198.51.100.2").await.status, 200);
    from(&untrusted, "198.51.100.3").await.problem(429);

    // From a trusted proxy, each forwarded client has its own allowance.
    let trusted = echo_limited(2, "1h", "[server]\ntrusted_proxies = [\"127.0.0.1\"]\n");
    for address in ["198.51.100.1", "198.51.100.2"] {
        assert_eq!(from(&trusted, address).await.status, 200);
        assert_eq!(from(&trusted, address).await.status, 200);
        from(&trusted, address).await.problem(429);
    }
    let standard = send(
        trusted
            .request(Method::GET, "/echo")
            .header("forwarded", "for=\"[2001:db8::7]:4711\""),
    )
    .await;
    assert_eq!(standard.status, 200);
}

/// Polls until `server` answers `GET /echo` with `status`, for up to 10 s.
async fn eventually(server: &Server, status: u16) -> Reply {
    let started = Instant::now();
    loop {
        let reply = server.get("/echo").await;
        if reply.status == status || started.elapsed() > Duration::from_secs(10) {
            return reply;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn when_redis_is_away_hosts_fail_closed_or_open_as_configured_and_recover() {
    let mut redis = PrivateRedis::new();
    let config = |policy: &str| {
        format!(
            "[throttle]\nbackend = \"redis\"\nredis_url = \"{}\"\non_error = \"{policy}\"\nredis_timeout = \"200ms\"\n",
            redis.url()
        )
    };
    // Both start while Redis is not there yet.
    let closed = echo_limited(1000, "1h", &config("closed"));
    let open = echo_limited(1000, "1h", &config("open"));
    let refused = closed.get("/echo").await;
    refused.problem(503);
    assert!(refused.header("retry-after").is_some());
    let admitted = open.get("/echo").await;
    assert_eq!(admitted.status, 200);
    assert!(admitted.header("ratelimit-limit").is_none(), "uncounted");

    redis.start();
    let back = eventually(&closed, 200).await;
    assert_eq!(back.status, 200, "{}", back.text());
    assert_eq!(header(&back, "ratelimit-limit"), 1000);
    assert!(
        eventually(&open, 200)
            .await
            .header("ratelimit-limit")
            .is_some()
    );

    redis.stop();
    eventually(&closed, 503).await.problem(503);
    let open_reply = open.get("/echo").await;
    assert_eq!(open_reply.status, 200);

    redis.start();
    let recovered = eventually(&closed, 200).await;
    assert_eq!(recovered.status, 200, "{}", recovered.text());
    let log = closed.log();
    assert!(log.contains("throttle counters are unreachable"), "{log}");
    assert!(log.contains("reachable again"), "{log}");
}

#[tokio::test]
async fn when_redis_hangs_every_waiting_request_is_refused() {
    let mut redis = PrivateRedis::new();
    redis.start();
    let config = format!(
        "[throttle]\nbackend = \"redis\"\nredis_url = \"{}\"\nredis_timeout = \"200ms\"\n",
        redis.url()
    );
    let server = echo_limited(1000, "1h", &config);
    assert_eq!(server.get("/echo").await.status, 200);
    // Redis holds every client's commands for the rest of the test.
    let address = redis.url();
    let address = address.trim_start_matches("redis://").trim_end_matches('/');
    let mut pause = std::net::TcpStream::connect(address).unwrap();
    std::io::Write::write_all(
        &mut pause,
        b"*4\r\n$6\r\nCLIENT\r\n$5\r\nPAUSE\r\n$5\r\n60000\r\n$3\r\nALL\r\n",
    )
    .unwrap();
    let mut answer = [0; 5];
    std::io::Read::read_exact(&mut pause, &mut answer).unwrap();
    assert_eq!(&answer, b"+OK\r\n");
    // More than one script call's worth wait at once; each gets its answer.
    let statuses = burst(&[&server], 300).await;
    assert_eq!(tally(&statuses, 503), 300, "{statuses:?}");
}

#[test]
fn bad_throttle_settings_name_the_key() {
    piston_tests::assert_config_errors_name_their_keys(&[
        ("[throttle]\nbackend = \"memcached\"\n", "throttle.backend"),
        ("[throttle]\nbackend = \"redis\"\n", "throttle.redis_url"),
        (
            "[throttle]\nbackend = \"redis\"\nredis_url = \"http://x\"\n",
            "throttle.redis_url",
        ),
        (
            "[plugins.blog]\nthrottle = [{ requests = 5, period = \"1500ms\" }]\n",
            "plugins.blog.throttle",
        ),
        (
            "[plugins.blog.resources.post]\nthrottle = [{ methods = [\"FETCH\"], requests = 5, period = \"1m\" }]\n",
            "plugins.blog.resources.post.throttle",
        ),
        (
            "[plugins.blog]\nthrottle_anonymous = [{ requests = 0, period = \"1m\" }]\n",
            "plugins.blog.throttle_anonymous",
        ),
    ]);
}
