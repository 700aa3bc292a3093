//! The Redis backend against a real Redis (`PISTON_TEST_REDIS_URL`): two
//! [`Coordination`]s sharing it are two hosts.

use super::settings::{CoordinationSettings, RedisSettings};
use super::*;
use crate::reachability::Backend as _;
use piston_test_services::Redis;

/// The Redis the tests share.
fn redis_url() -> String {
    std::env::var("PISTON_TEST_REDIS_URL").expect(
        "PISTON_TEST_REDIS_URL is not set: run the tests with `cargo xtask test`, which \
         starts a redis-server for them",
    )
}

fn redis_at(url: &str, key_prefix: &str, timeout: Duration) -> Coordination {
    Coordination::new(&CoordinationSettings::Redis(RedisSettings {
        url: url.to_owned(),
        timeout,
        key_prefix: key_prefix.to_owned(),
    }))
    .unwrap()
}

/// Two hosts sharing the test Redis under a prefix no other test uses.
fn two_hosts(name: &str) -> (Coordination, Coordination, String) {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let prefix = format!("test:coordination:{name}:{}:{nanos}:", std::process::id());
    let host = || redis_at(&redis_url(), &prefix, Duration::from_secs(5));
    (host(), host(), prefix)
}

/// Every key under `prefix`, with its PTTL.
async fn keys_under(prefix: &str) -> Vec<(String, i64)> {
    let client = redis::Client::open(redis_url()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut connection)
        .await
        .unwrap();
    let mut expiries = Vec::new();
    for key in keys {
        let ttl: i64 = redis::cmd("PTTL")
            .arg(&key)
            .query_async(&mut connection)
            .await
            .unwrap();
        expiries.push((key, ttl));
    }
    expiries
}

fn failure(key: &str) -> Failure {
    Failure {
        key: key.to_owned(),
        limit: 3,
    }
}

#[tokio::test]
async fn a_nonce_used_on_one_host_is_a_replay_on_the_other() {
    let (one, other, prefix) = two_hosts("nonces");
    let now = i64::try_from(unix_now()).unwrap();
    let window = Duration::from_secs(300);
    let nonce = OAuthNonce::new("app", "n1", now);
    assert_eq!(one.use_nonce(&nonce, window).await, Ok(NonceUse::Fresh));
    assert_eq!(
        other.use_nonce(&nonce, window).await,
        Ok(NonceUse::Replayed)
    );
    assert_eq!(one.use_nonce(&nonce, window).await, Ok(NonceUse::Replayed));
    for different in [
        OAuthNonce::new("other", "n1", now),
        OAuthNonce::new("app", "n1", now + 1),
        OAuthNonce::new("app", "n2", now),
    ] {
        assert_eq!(
            other.use_nonce(&different, window).await,
            Ok(NonceUse::Fresh)
        );
    }
    let keys = keys_under(&prefix).await;
    assert_eq!(keys.len(), 4, "{keys:?}");
    for (key, ttl) in keys {
        assert!(key.starts_with(&format!("{prefix}oauth-nonce:")), "{key}");
        // Until the timestamp leaves the window: about the window, never much more.
        assert!(ttl > 290_000 && ttl <= 302_000, "{key}: {ttl}");
    }
}

#[tokio::test]
async fn digest_counts_must_rise_on_every_host() {
    let (one, other, prefix) = two_hosts("digest");
    let nonce = DigestNonce {
        id: [7; 16],
        issued: unix_now(),
        lifetime: Duration::from_secs(60),
    };
    assert_eq!(one.count(&nonce, 1).await, Ok(CountUse::Higher));
    assert_eq!(other.count(&nonce, 1).await, Ok(CountUse::Replayed));
    assert_eq!(other.count(&nonce, 2).await, Ok(CountUse::Higher));
    assert_eq!(one.count(&nonce, 2).await, Ok(CountUse::Replayed));
    assert_eq!(one.count(&nonce, u32::MAX).await, Ok(CountUse::Higher));
    assert_eq!(other.count(&nonce, u32::MAX).await, Ok(CountUse::Replayed));
    let another = DigestNonce {
        id: [8; 16],
        ..nonce
    };
    assert_eq!(other.count(&another, 1).await, Ok(CountUse::Higher));
    let keys = keys_under(&prefix).await;
    assert_eq!(keys.len(), 2, "{keys:?}");
    for (key, ttl) in keys {
        assert!(key.starts_with(&format!("{prefix}digest-nc:")), "{key}");
        // The nonce's remaining lifetime.
        assert!(ttl > 0 && ttl <= 60_000, "{key}: {ttl}");
    }
}

#[tokio::test]
async fn failures_add_up_across_hosts_in_one_window() {
    let (one, other, prefix) = two_hosts("failures");
    let window = Duration::from_secs(60);
    one.add(&[failure("pair:a"), failure("address:x")], window)
        .await
        .unwrap();
    other.add(&[failure("pair:a")], window).await.unwrap();
    one.add(&[failure("pair:a")], window).await.unwrap();
    let keys = [
        "pair:a".to_owned(),
        "address:x".to_owned(),
        "pair:b".to_owned(),
    ];
    for host in [&one, &other] {
        let tallies = host.tallies(&keys).await.unwrap();
        let counts: Vec<Option<u32>> = tallies.iter().map(|t| t.map(|t| t.count)).collect();
        assert_eq!(counts, [Some(3), Some(1), None]);
        for tally in tallies.into_iter().flatten() {
            assert!(tally.left > Duration::from_secs(55) && tally.left <= window);
        }
    }
    let written = keys_under(&prefix).await;
    assert_eq!(written.len(), 2, "{written:?}");
    for (key, ttl) in written {
        assert!(key.starts_with(&format!("{prefix}failures:")), "{key}");
        assert!(ttl > 0 && ttl <= 60_000, "{key}: {ttl}");
    }
}

#[tokio::test]
async fn a_window_ends_its_ttl_after_the_first_failure() {
    let (one, other, _prefix) = two_hosts("window");
    let window = Duration::from_millis(300);
    one.add(&[failure("k")], window).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // A later failure does not extend the window.
    other.add(&[failure("k")], window).await.unwrap();
    let keys = ["k".to_owned()];
    let tally = one.tallies(&keys).await.unwrap()[0].unwrap();
    assert_eq!(tally.count, 2);
    assert!(tally.left <= Duration::from_millis(100), "{tally:?}");
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(other.tallies(&keys).await.unwrap(), [None]);
}

/// Calls until one succeeds (the connection is re-established in the background).
async fn until_up(coordination: &Coordination) {
    for _ in 0..100 {
        if coordination.ping().await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("Redis did not answer again");
}

#[tokio::test]
async fn calls_fail_quickly_while_redis_is_away_and_work_again_when_it_is_back() {
    let mut redis = Redis::new().unwrap();
    let timeout = Duration::from_millis(200);
    let coordination = redis_at(&redis.url(), "p:", timeout);
    assert_eq!(coordination.engine(), "redis");
    assert_eq!(
        crate::reachability::Backend::location(&coordination),
        redis
            .url()
            .trim_start_matches("redis://")
            .trim_end_matches('/')
    );
    let status = || coordination.reachability().unwrap().status();
    assert_eq!(status(), crate::reachability::Status::Unknown);

    // Not there at start: each call fails, within about twice the timeout.
    let keys = ["k".to_owned()];
    for _ in 0..3 {
        let started = Instant::now();
        assert!(coordination.tallies(&keys).await.is_err());
        assert!(started.elapsed() < timeout * 2 + Duration::from_millis(100));
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(matches!(status(), crate::reachability::Status::Down { .. }));

    redis.start().unwrap();
    until_up(&coordination).await;
    assert_eq!(status(), crate::reachability::Status::Up);
    let nonce = OAuthNonce::new("app", "n", i64::try_from(unix_now()).unwrap());
    let window = Duration::from_secs(60);
    assert_eq!(
        coordination.use_nonce(&nonce, window).await,
        Ok(NonceUse::Fresh)
    );

    // Gone while connected: failures again, as quickly.
    redis.stop();
    let started = Instant::now();
    assert!(coordination.use_nonce(&nonce, window).await.is_err());
    assert!(started.elapsed() < timeout * 2 + Duration::from_millis(100));
    assert!(matches!(status(), crate::reachability::Status::Down { .. }));

    // Back (empty: this Redis keeps nothing on disk).
    redis.start().unwrap();
    until_up(&coordination).await;
    assert_eq!(
        coordination.use_nonce(&nonce, window).await,
        Ok(NonceUse::Fresh)
    );
    assert_eq!(status(), crate::reachability::Status::Up);
}

#[tokio::test]
async fn memory_answers_without_a_server() {
    let coordination = Coordination::memory();
    assert_eq!(coordination.engine(), "memory");
    assert_eq!(
        crate::reachability::Backend::location(&coordination),
        "this process"
    );
    assert!(coordination.reachability().is_none());
    assert_eq!(coordination.ping().await, Ok(()));
    let nonce = OAuthNonce::new("app", "n", i64::try_from(unix_now()).unwrap());
    let window = Duration::from_secs(60);
    assert_eq!(
        coordination.use_nonce(&nonce, window).await,
        Ok(NonceUse::Fresh)
    );
    assert_eq!(
        coordination.use_nonce(&nonce, window).await,
        Ok(NonceUse::Replayed)
    );
    let stale = OAuthNonce::new("app", "n", 0);
    assert_eq!(
        coordination.use_nonce(&stale, window).await,
        Ok(NonceUse::Forgotten)
    );
}
