//! Several `piston serve` processes sharing one PostgreSQL store and one Redis, as
//! behind a load balancer: whichever host a request reaches, the client sees one
//! server. Plugin data and credentials are in PostgreSQL, counters and nonces in Redis
//! (the shared test servers, `PISTON_TEST_POSTGRES_URL` and `PISTON_TEST_REDIS_URL`,
//! each test with a database and a key prefix of its own); the `piston` command changes
//! credentials through the same configuration, with no host's data directory.

use crate::auth::{basic, consumer_registered, digest_authorization, grant_at};
use crate::conformance::{SESSION, comparable, replay};
use futures_util::StreamExt;
use futures_util::future::join_all;
use piston_tests::{
    Hosts, Method, PrivatePostgres, Reply, Server, ServerBuilder, Value, json, send,
    shared_state_config, test_postgres_url, test_redis_url, try_send, unique_prefix,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How soon a credential change made on one host must be seen by every other: hosts
/// look credentials up per request, so this is generous.
const EVERYWHERE_WITHIN: Duration = Duration::from_secs(1);

/// `count` hosts serving the blog, sharing state, with `extra` configuration.
fn blogs(count: usize, extra: &str) -> Hosts {
    Hosts::sharing(count, ServerBuilder::new().example("blog"), extra)
}

/// Enough instances per host for every request of a burst at once: these tests count
/// what the store did with concurrent calls, not how the host sheds load.
const BURSTS: &str = "[limits]\nconcurrency = 256\n";

const BASIC: &str = "[auth]\nauthenticators = [\"basic\"]\nrealm = \"Blog API\"\n";
const BASIC_AND_BEARER: &str = "[auth]\nauthenticators = [\"basic\", \"bearer\"]\n";

async fn create(host: &Server, body: &Value) -> Reply {
    host.send_json(Method::POST, "/posts", body).await
}

/// A request as `user`, with Basic authentication.
fn as_user(
    host: &Server,
    method: Method,
    path: &str,
    (user, password): (&str, &str),
) -> reqwest::RequestBuilder {
    host.request(method, path)
        .header("authorization", basic(user, password))
}

const ANN: (&str, &str) = ("ann", "correct horse");

/// Waits until `holds` is true of every host in turn (by index); panics naming the
/// host if one still disagrees `EVERYWHERE_WITHIN` after `since`.
async fn everywhere_within<F, Fut>(hosts: &Hosts, since: Instant, what: &str, holds: F)
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = bool>,
{
    for (index, host) in hosts.all().iter().enumerate() {
        while !holds(index).await {
            assert!(
                since.elapsed() < EVERYWHERE_WITHIN,
                "host {index}: {what} not seen after {:?}; its log:\n{}",
                since.elapsed(),
                host.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test]
async fn the_conformance_session_on_alternating_hosts_answers_as_one_host_does() {
    let hosts = blogs(2, "");
    let single = ServerBuilder::new().example("blog").start();
    for (index, &step) in SESSION.iter().enumerate() {
        let host = index % hosts.len();
        let expected = comparable(&replay(&single, step).await);
        let actual = comparable(&replay(hosts.host(host), step).await);
        assert_eq!(
            actual, expected,
            "{} {} on host {host} answered differently from a single host",
            step.0, step.1
        );
    }
}

#[tokio::test]
async fn a_post_created_on_one_host_is_read_updated_and_deleted_on_the_others() {
    let hosts = blogs(2, BASIC);
    hosts.add_user("ann", "correct horse", "Ann");
    let (a, b) = (hosts.host(0), hosts.host(1));

    let created =
        send(as_user(a, Method::POST, "/posts", ANN).json(&json!({"title": "Shared"}))).await;
    assert_eq!(created.status, 201, "{}", created.text());
    let read = b.get("/posts/shared").await;
    assert_eq!(read.status, 200, "{}", read.text());
    assert_eq!(read.json(), created.json(), "B reads what A wrote");
    assert_eq!(
        read.json()["author"],
        json!({"username": "ann", "first_name": "Ann"})
    );

    let updated = send(
        as_user(b, Method::PUT, "/posts/shared", ANN).json(&json!({"content": "Edited on B."})),
    )
    .await;
    assert_eq!(updated.status, 200, "{}", updated.text());
    assert_eq!(
        a.get("/posts/shared").await.json()["content"],
        "Edited on B."
    );

    let deleted = send(as_user(a, Method::DELETE, "/posts/shared", ANN)).await;
    assert_eq!(deleted.status, 204, "{}", deleted.text());
    b.get("/posts/shared").await.problem(404);
    assert_eq!(b.get("/posts").await.json(), json!([]));
}

#[tokio::test]
async fn forty_concurrent_creates_of_one_slug_over_three_hosts_admit_exactly_one() {
    let hosts = blogs(3, "");
    let bodies: Vec<Value> = (0..40)
        .map(|index| json!({"slug": "contested", "title": format!("Attempt {index}")}))
        .collect();
    let replies = join_all(
        bodies
            .iter()
            .enumerate()
            .map(|(index, body)| create(hosts.host(index), body)),
    )
    .await;
    let mut statuses: Vec<u16> = replies.iter().map(|reply| reply.status).collect();
    statuses.sort_unstable();
    assert_eq!(statuses[0], 201, "{statuses:?}");
    assert!(
        statuses[1..].iter().all(|&status| status == 409),
        "{statuses:?}"
    );
    let winner = replies.iter().find(|reply| reply.status == 201).unwrap();
    for host in hosts.all() {
        assert_eq!(host.get("/posts/contested").await.json(), winner.json());
    }
}

#[tokio::test]
async fn two_hundred_concurrent_increments_over_three_hosts_count_exactly_two_hundred() {
    let hosts = Hosts::sharing(3, ServerBuilder::new().fixture("counter"), BURSTS);
    let empty = json!({});
    let replies = join_all((0..200).map(|index| {
        hosts
            .host(index)
            .send_json(Method::POST, "/counters/hits", &empty)
    }))
    .await;
    // Every increment returned a value no other did: none was lost, none counted twice.
    let mut values: Vec<u64> = replies
        .iter()
        .map(|reply| {
            assert_eq!(reply.status, 200, "{}", reply.text());
            reply.json()["value"].as_u64().expect("a count")
        })
        .collect();
    values.sort_unstable();
    assert_eq!(values, (1..=200).collect::<Vec<u64>>());
    for host in hosts.all() {
        assert_eq!(host.get("/counters/hits").await.json()["value"], 200);
    }
}

#[tokio::test]
async fn a_user_added_through_the_command_logs_in_on_every_host() {
    let hosts = blogs(3, BASIC);
    hosts.add_user("ann", "correct horse", "Ann");
    for (index, host) in hosts.all().iter().enumerate() {
        let created = send(
            as_user(host, Method::POST, "/posts", ANN)
                .json(&json!({"title": format!("From host {index}")})),
        )
        .await;
        assert_eq!(created.status, 201, "host {index}: {}", created.text());
        assert_eq!(created.json()["author"]["username"], "ann");
        let wrong = send(as_user(host, Method::GET, "/posts", ("ann", "guess"))).await;
        wrong.problem(401);
    }
}

/// Whether `authorization` is accepted on `host` (anonymous reads are allowed, so a
/// 200 means the credentials verified; wrong ones are 401).
async fn accepted(host: &Server, authorization: &str) -> u16 {
    send(
        host.request(Method::GET, "/posts")
            .header("authorization", authorization),
    )
    .await
    .status
}

#[tokio::test]
async fn a_token_revoked_on_the_command_line_is_refused_everywhere_within_a_second() {
    let hosts = blogs(2, BASIC_AND_BEARER);
    hosts.add_user("ann", "correct horse", "Ann");
    let created = hosts.piston(&["tokens", "create", "ann"], "");
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let bearer = format!("Bearer {}", String::from_utf8_lossy(&created.stdout).trim());
    for host in hosts.all() {
        assert_eq!(accepted(host, &bearer).await, 200, "{}", host.log());
    }

    let listed = hosts.piston(&["tokens", "list"], "");
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    let id = listed
        .lines()
        .find(|line| line.contains("ann"))
        .and_then(|line| line.split_whitespace().next())
        .unwrap_or_else(|| panic!("ann's token is listed: {listed}"))
        .to_owned();
    let revoked = hosts.piston(&["tokens", "revoke", &id], "");
    assert!(
        revoked.status.success(),
        "{}",
        String::from_utf8_lossy(&revoked.stderr)
    );
    let since = Instant::now();
    everywhere_within(&hosts, since, "the revocation", |index| {
        let (host, bearer) = (hosts.host(index), &bearer);
        async move { accepted(host, bearer).await == 401 }
    })
    .await;
}

#[tokio::test]
async fn a_password_changed_on_the_command_line_is_seen_everywhere_within_a_second() {
    let hosts = blogs(2, BASIC);
    hosts.add_user("ann", "correct horse", "Ann");
    let (old, new) = (basic("ann", "correct horse"), basic("ann", "new password"));
    // Twice each: a host may answer the second from a cache of verified credentials.
    for host in hosts.all() {
        for _ in 0..2 {
            assert_eq!(accepted(host, &old).await, 200, "{}", host.log());
        }
    }
    let changed = hosts.piston(&["users", "passwd", "ann"], "new password\n");
    assert!(
        changed.status.success(),
        "{}",
        String::from_utf8_lossy(&changed.stderr)
    );
    let since = Instant::now();
    everywhere_within(&hosts, since, "the new password", |index| {
        let (host, old, new) = (hosts.host(index), &old, &new);
        async move { accepted(host, old).await == 401 && accepted(host, new).await == 200 }
    })
    .await;
}

#[tokio::test]
async fn oauth_steps_on_different_hosts_grant_a_token_and_a_replay_elsewhere_is_refused() {
    let hosts = blogs(
        3,
        "[auth]\nauthenticators = [\"oauth1\"]\nrealm = \"Blog API\"\n",
    );
    hosts.add_user("ann", "correct horse", "Ann");
    let (key, secret) =
        consumer_registered(&hosts.piston(&["oauth", "consumers", "add", "Across"], ""));
    let bases: Vec<String> = hosts.all().iter().map(|host| host.url("")).collect();
    // Each step of the flow goes to the next host.
    let (granted, steps) = grant_at(&bases.join(","), &key, &secret, "oob");
    assert_eq!(steps["page"]["status"], 200, "{steps}");
    assert_eq!(steps["wrong_password"]["status"], 401, "{steps}");
    assert_eq!(steps["forged"]["status"], 403, "CSRF: {steps}");
    assert_eq!(steps["approved"]["status"], 200, "{steps}");
    assert_eq!(steps["again"]["status"], 400, "approved once: {steps}");
    assert!(
        steps["exchanged_twice"].as_str().unwrap().contains("401"),
        "exchanged once, on any host: {steps}"
    );

    let created = granted.call(
        "POST",
        &hosts.host(1).url("/posts"),
        "HMAC-SHA1",
        Some(r#"{"title": "Via OAuth"}"#),
    );
    assert_eq!(created["status"], 201, "{created}");
    let deleted = granted.call(
        "DELETE",
        &hosts.host(2).url("/posts/via-oauth"),
        "HMAC-SHA256",
        None,
    );
    assert_eq!(deleted["status"], 204, "{deleted}");

    // The same signed request, answered by A, then sent to B (under A's name, so the
    // signature still holds): B knows the nonce was used.
    let replay = granted.signed(
        "oauth-replay",
        "DELETE",
        &hosts.host(0).url("/posts/missing"),
        &[hosts.host(1).url("").as_str()],
    );
    assert_eq!(replay[0]["status"], 404, "{replay}");
    assert_eq!(replay[1]["status"], 401, "{replay}");
    assert!(
        replay[1]["body"].as_str().unwrap().contains("nonce"),
        "{replay}"
    );
}

#[tokio::test]
async fn a_digest_request_answered_by_one_host_is_refused_as_a_replay_by_another() {
    let hosts = blogs(
        2,
        "[auth]\nauthenticators = [\"basic\", \"digest\"]\nrealm = \"Blog API\"\n",
    );
    hosts.add_user("ann", "correct horse", "Ann");
    let (a, b) = (hosts.host(0), hosts.host(1));
    let authorization = |challenged: &Reply| {
        digest_authorization(
            challenged,
            ("ann", "correct horse", "Blog API"),
            "DELETE",
            "/posts/missing",
        )
    };
    let delete = |host: &Server, authorization: &str| {
        send(
            host.request(Method::DELETE, "/posts/missing")
                .header("authorization", authorization),
        )
    };

    // A nonce one host issued is good on the other...
    let challenged = send(b.request(Method::DELETE, "/posts/missing")).await;
    challenged.problem(401);
    let reply = delete(a, &authorization(&challenged)).await;
    assert_eq!(reply.status, 404, "authenticated: {}", reply.text());

    // ...and a request one host answered, sent again to the other with the same nonce
    // count, is a replay.
    let challenged = send(a.request(Method::DELETE, "/posts/missing")).await;
    let captured = authorization(&challenged);
    let first = delete(a, &captured).await;
    assert_eq!(first.status, 404, "authenticated: {}", first.text());
    let replayed = delete(b, &captured).await;
    let problem = replayed.problem(401);
    assert!(
        problem["detail"].as_str().unwrap().contains("replayed"),
        "{problem}"
    );
}

#[tokio::test]
async fn failed_logins_on_two_hosts_add_up_to_the_lockout() {
    let hosts = blogs(
        2,
        "[server]\ntrusted_proxies = [\"127.0.0.1\"]\n\
         [auth]\nauthenticators = [\"basic\"]\n\
         [auth.failures]\nmax = 3\nwindow = \"1h\"\n",
    );
    hosts.add_user("ann", "correct horse", "Ann");
    let from = |host: &Server, address: &str, authorization: String| {
        send(
            host.request(Method::GET, "/posts")
                .header("x-forwarded-for", address)
                .header("authorization", authorization),
        )
    };
    // Two guesses on A and one on B: three, the limit, though neither host saw three.
    for host in [0, 0, 1] {
        from(hosts.host(host), "198.51.100.1", basic("ann", "guess"))
            .await
            .problem(401);
    }
    for host in hosts.all() {
        let locked = from(host, "198.51.100.1", basic("ann", "correct horse")).await;
        locked.problem(429);
        assert!(locked.header("retry-after").is_some());
    }
    let elsewhere = from(hosts.host(1), "198.51.100.2", basic("ann", "correct horse")).await;
    assert_eq!(elsewhere.status, 200, "{}", elsewhere.text());
}

#[tokio::test]
async fn every_write_answered_before_a_host_is_killed_is_there_afterwards() {
    const WRITES: usize = 1000;
    /// Host A is killed when this many writes have been answered (or failed).
    const KILL_AFTER: usize = 300;
    let hosts = &blogs(2, BURSTS);
    let (a, b) = (hosts.host(0), hosts.host(1));
    let finished = AtomicUsize::new(0);
    let outcomes: Vec<(usize, Result<Reply, reqwest::Error>)> =
        futures_util::stream::iter(0..WRITES)
            .map(|index| {
                let finished = &finished;
                async move {
                    let body = json!({"title": format!("Write {index:04}")});
                    let reply = try_send(
                        hosts
                            .host(index)
                            .request(Method::POST, "/posts")
                            .json(&body),
                    )
                    .await;
                    if finished.fetch_add(1, Ordering::SeqCst) + 1 == KILL_AFTER {
                        a.crash();
                    }
                    (index % hosts.len(), reply)
                }
            })
            .buffer_unordered(100)
            .collect()
            .await;

    let mut acknowledged = Vec::new();
    let mut lost_on_a = 0;
    for (host, outcome) in &outcomes {
        match outcome {
            Ok(reply) if (200..300).contains(&reply.status) => acknowledged.push(
                reply
                    .header("location")
                    .expect("a created post's location")
                    .to_owned(),
            ),
            Ok(reply) => panic!("host {host} answered {}: {}", reply.status, reply.text()),
            Err(error) => {
                assert_eq!(*host, 0, "only A was killed, yet B failed: {error}");
                lost_on_a += 1;
            }
        }
    }
    assert!(
        lost_on_a > 0,
        "A was killed while writes to it were still to come"
    );
    let missing: Vec<String> = futures_util::stream::iter(&acknowledged)
        .map(|location| async move { (location, b.get(location).await.status) })
        .buffer_unordered(32)
        .filter_map(|(location, status)| async move {
            (status != 200).then(|| format!("{location}: {status}"))
        })
        .collect()
        .await;
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged writes are not on B: {missing:?}",
        missing.len(),
        acknowledged.len()
    );
}

/// One request of the load run through an outage: its status and `Retry-After`, or
/// why there was no answer.
type Outcome = Result<(u16, Option<String>), String>;

/// Sends reads and writes to each of `bases` in turn until `stop`.
async fn load(worker: usize, bases: Vec<String>, stop: Arc<AtomicBool>) -> Vec<Outcome> {
    let client = reqwest::Client::new();
    let mut outcomes = Vec::new();
    let mut sent = 0;
    while !stop.load(Ordering::SeqCst) {
        let base = &bases[sent % bases.len()];
        let request = if sent % 2 == 0 {
            client.get(format!("{base}/posts/before"))
        } else {
            client
                .post(format!("{base}/posts"))
                .json(&json!({"title": format!("Load {worker} {sent}")}))
        };
        outcomes.push(
            try_send(request)
                .await
                .map(|reply| {
                    let retry = reply.header("retry-after").map(str::to_owned);
                    (reply.status, retry)
                })
                .map_err(|error| error.to_string()),
        );
        sent += 1;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    outcomes
}

/// The `store` entry of a host's health report.
async fn store_health(host: &Server) -> Value {
    host.admin_get("/_piston/health").await.json()["backends"]["store"].clone()
}

/// Whether a store's `at` (`host:port/database`) is on the server at `authority`.
fn on_server(at: &Value, authority: &str) -> bool {
    at.as_str()
        .is_some_and(|at| at.starts_with(&format!("{authority}/")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_under_load_is_503_with_retry_after_then_recovers_without_a_restart() {
    let mut cluster = PrivatePostgres::start();
    let config = shared_state_config(&cluster.url(), &unique_prefix("outage"));
    let hosts = Hosts::start(2, ServerBuilder::new().example("blog"), &config);
    let before = create(hosts.host(0), &json!({"title": "Before"})).await;
    assert_eq!(before.status, 201, "{}", before.text());

    let stop = Arc::new(AtomicBool::new(false));
    let bases: Vec<String> = hosts.all().iter().map(|host| host.url("")).collect();
    let workers: Vec<_> = (0..4)
        .map(|worker| tokio::spawn(load(worker, bases.clone(), stop.clone())))
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;

    tokio::task::block_in_place(|| cluster.stop());
    for (index, host) in hosts.all().iter().enumerate() {
        let started = Instant::now();
        loop {
            let reply = host.get("/posts/before").await;
            if reply.status == 503 {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "host {index} still answers {} with PostgreSQL stopped",
                reply.status
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let write = create(host, &json!({"title": "During"})).await;
        write.problem(503);
        let retry: u64 = write
            .header("retry-after")
            .expect("a 503 says when to retry")
            .parse()
            .expect("whole seconds");
        assert!(retry > 0, "{retry}");
        let health = store_health(host).await;
        assert_eq!(health["state"], "down", "{health}");
        assert!(on_server(&health["at"], &cluster.address()), "{health}");
    }

    tokio::task::block_in_place(|| cluster.restart());
    for (index, host) in hosts.all().iter().enumerate() {
        let started = Instant::now();
        while host.get("/posts/before").await.status != 200 {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "host {index} did not recover; its log:\n{}",
                host.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let after = create(host, &json!({"title": format!("After {index}")})).await;
        assert_eq!(after.status, 201, "{}", after.text());
        assert_eq!(store_health(host).await["state"], "up");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::SeqCst);

    let mut outcomes = Vec::new();
    for worker in workers {
        outcomes.extend(worker.await.expect("a load worker"));
    }
    let refused = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, Ok((503, _))))
        .count();
    assert!(refused > 0, "the load met the outage");
    for outcome in &outcomes {
        match outcome {
            Ok((200 | 201, _)) => {}
            Ok((503, retry)) => assert!(retry.is_some(), "a 503 without Retry-After"),
            other => panic!("under load through the outage: {other:?}"),
        }
    }
    // One line when the store went away, one when it came back: not one per request.
    for (index, host) in hosts.all().iter().enumerate() {
        let log = host.log();
        let lines = |text: &str| {
            log.lines()
                .filter(|line| line.contains(text) && line.contains("store"))
                .count()
        };
        assert_eq!(
            lines("unreachable: requests that need it"),
            1,
            "host {index}:\n{log}"
        );
        assert_eq!(lines("reachable again"), 1, "host {index}:\n{log}");
    }
}

/// `host:port` of a URL such as `postgres://user@host:port/database`.
fn authority(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, rest)| rest);
    rest.split(['/', '?']).next().unwrap_or(rest)
}

#[tokio::test]
async fn health_reports_both_backends_up() {
    let hosts = blogs(2, BASIC);
    hosts.add_user("ann", "correct horse", "Ann");
    // A read uses the store and an update the coordination server (its throttle
    // counters), so both have been called.
    for host in hosts.all() {
        assert_eq!(host.get("/posts").await.status, 200);
        send(as_user(host, Method::PUT, "/posts/missing", ANN).json(&json!({"title": "t"})))
            .await
            .problem(404);
    }
    for (index, host) in hosts.all().iter().enumerate() {
        let health = host.admin_get("/_piston/health").await;
        assert_eq!(health.status, 200, "{}", health.text());
        let health = health.json();
        assert_eq!(health["status"], "ok", "host {index}: {health}");
        let health = &health["backends"];
        let store = &health["store"];
        assert_eq!(
            (&store["backend"], &store["state"]),
            (&json!("postgres"), &json!("up")),
            "host {index}: {health}"
        );
        assert!(
            on_server(&store["at"], authority(&test_postgres_url())),
            "host {index}: {health}"
        );
        assert_eq!(
            health["coordination"],
            json!({"backend": "redis", "at": authority(&test_redis_url()), "state": "up"}),
            "host {index}: {health}"
        );
    }
}

#[tokio::test]
async fn a_host_whose_database_is_away_starts_says_so_and_answers_503() {
    // A port nothing listens on.
    let port = piston_test_services::free_port().unwrap();
    let host = ServerBuilder::new()
        .example("blog")
        .config(&format!(
            "[store]\nbackend = \"postgres\"\nurl = \"postgres://piston@127.0.0.1:{port}/piston\"\n\
             timeout = \"200ms\"\n"
        ))
        .start();
    let log = host.log();
    assert!(
        log.contains(&format!(
            "store: postgres at 127.0.0.1:{port}/piston (UNREACHABLE"
        )),
        "{log}"
    );
    let started = Instant::now();
    let read = host.get("/posts").await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    read.problem(503);
    assert_eq!(read.header("retry-after"), Some("2"));
    let health = host.admin_get("/_piston/health").await.json();
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(health["backends"]["store"]["state"], "down", "{health}");
}

#[test]
fn bad_store_settings_name_the_key() {
    piston_tests::assert_config_errors_name_their_keys(&[
        ("[store]\nbackend = \"postgres\"\n", "store.url"),
        ("[store]\nbackend = \"postgres\"\n", "PISTON_STORE_URL"),
        ("[store]\nbackend = \"mysql\"\n", "store.backend"),
        ("[store]\nurl = \"postgres://x@y/z\"\n", "store.url"),
        (
            "[store]\nbackend = \"postgres\"\nurl = \"postgres://x@y/z\"\npool_size = 1\n",
            "store.pool_size",
        ),
        (
            "[store]\nbackend = \"postgres\"\nurl = \"postgres://x@y/z\"\ntimeout = \"1h\"\n",
            "store.timeout",
        ),
    ]);
}
