//! The state in Redis: shared by every host using it, every key with a TTL.
//!
//! Keys, each after the configured prefix:
//!
//! - `oauth-nonce:{hash}`: an OAuth nonce, `SET NX PX` for as long as its timestamp
//!   could be accepted; the hash (of the consumer, nonce and timestamp) keeps the key
//!   short whatever the client sends.
//! - `digest-nc:{nonce}`: a Digest nonce's highest count, raised by one script
//!   ([`RAISE`]) for the nonce's remaining lifetime.
//! - `failures:{what}`: failed logins in a fixed window, counted by one script
//!   ([`ADD`]) per failure and read with one `MGET` (and the keys' `PTTL`s) per check.
//!
//! Every call is bounded by the timeout and its outcome recorded in the
//! [`Reachability`], which logs once per change of state.

use super::connect::{self, Connector};
use super::settings::RedisSettings;
use super::{CountUse, DigestNonce, Failure, NonceUse, OAuthNonce, Tally, Unavailable};
use crate::reachability::Reachability;
use redis::aio::ConnectionManager;
use std::future::Future;
use std::time::Duration;
use tokio::sync::Mutex;

/// Raises KEYS[1] to ARGV[1] if that is higher than it holds (or it holds nothing),
/// expiring in ARGV[2] ms: 1 if raised, 0 if not.
const RAISE: &str = r"
local seen = tonumber(redis.call('GET', KEYS[1]))
if seen and tonumber(ARGV[1]) <= seen then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
";

/// Adds one to each of KEYS; a key that has no expiry (it was just made) expires in
/// ARGV[1] ms, so a window ends that long after its first failure.
const ADD: &str = r"
for _, key in ipairs(KEYS) do
  redis.call('INCR', key)
  if redis.call('PTTL', key) < 0 then
    redis.call('PEXPIRE', key, ARGV[1])
  end
end
return #KEYS
";

/// The Redis backend.
pub struct Shared {
    connector: Mutex<Connector>,
    timeout: Duration,
    key_prefix: String,
    reachability: Reachability,
    raise: redis::Script,
    add: redis::Script,
}

impl Shared {
    /// The Redis at `settings.url`, connected on first use.
    pub fn new(settings: &RedisSettings) -> Result<Shared, String> {
        let client = redis::Client::open(settings.url.as_str())
            .map_err(|error| format!("the Redis URL is not usable: {error}"))?;
        let reachability = Reachability::new("coordination (redis)", connect::location(&client));
        Ok(Shared {
            connector: Mutex::new(Connector::new(client, settings.timeout)),
            timeout: settings.timeout,
            key_prefix: settings.key_prefix.clone(),
            reachability,
            raise: redis::Script::new(RAISE),
            add: redis::Script::new(ADD),
        })
    }

    /// Whether Redis answered the last call.
    pub fn reachability(&self) -> &Reachability {
        &self.reachability
    }

    /// Asks Redis whether it answers.
    pub async fn ping(&self) -> Result<(), Unavailable> {
        self.call("ping", async |mut connection| {
            redis::cmd("PING").query_async::<()>(&mut connection).await
        })
        .await
    }

    /// Records `nonce`, remembered for `ttl`.
    pub async fn use_nonce(
        &self,
        nonce: &OAuthNonce,
        ttl: Duration,
    ) -> Result<NonceUse, Unavailable> {
        let mut command = redis::cmd("SET");
        command
            .arg(self.key("oauth-nonce:", &hex::encode(nonce.id)))
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(milliseconds(ttl));
        let set: Option<String> = self
            .call("nonce", async |mut connection| {
                command.query_async(&mut connection).await
            })
            .await?;
        Ok(if set.is_some() {
            NonceUse::Fresh
        } else {
            NonceUse::Replayed
        })
    }

    /// Raises `nonce`'s count to `count`, remembered for `ttl`.
    pub async fn count(
        &self,
        nonce: &DigestNonce,
        count: u32,
        ttl: Duration,
    ) -> Result<CountUse, Unavailable> {
        let mut invocation = self.raise.prepare_invoke();
        invocation
            .key(self.key("digest-nc:", &hex::encode(nonce.id)))
            .arg(count)
            .arg(milliseconds(ttl));
        let raised: u8 = self
            .call("digest_count", async |mut connection| {
                invocation.invoke_async(&mut connection).await
            })
            .await?;
        Ok(if raised == 1 {
            CountUse::Higher
        } else {
            CountUse::Replayed
        })
    }

    /// Each key's count in its open window, if it has one.
    pub async fn tallies(&self, keys: &[String]) -> Result<Vec<Option<Tally>>, Unavailable> {
        let keys: Vec<String> = keys.iter().map(|key| self.key("failures:", key)).collect();
        let mut pipeline = redis::pipe();
        pipeline.cmd("MGET").arg(&keys);
        for key in &keys {
            pipeline.cmd("PTTL").arg(key);
        }
        let (counts, ttls): (Vec<Option<u32>>, Vec<i64>) = self
            .call("failure_tallies", async |mut connection| {
                let reply: Vec<redis::Value> = pipeline.query_async(&mut connection).await?;
                let mut replies = reply.into_iter();
                let counts = replies
                    .next()
                    .map_or(Ok(Vec::new()), redis::from_redis_value)?;
                let ttls = replies
                    .map(redis::from_redis_value)
                    .collect::<Result<_, _>>()?;
                Ok((counts, ttls))
            })
            .await?;
        if counts.len() != keys.len() || ttls.len() != keys.len() {
            return Err(Unavailable(format!(
                "Redis answered {} counts and {} expiries for {} keys",
                counts.len(),
                ttls.len(),
                keys.len()
            )));
        }
        Ok(counts
            .into_iter()
            .zip(ttls)
            .map(|(count, ttl)| {
                let left = u64::try_from(ttl).ok().filter(|ttl| *ttl > 0)?;
                Some(Tally {
                    count: count?,
                    left: Duration::from_millis(left),
                })
            })
            .collect())
    }

    /// Counts one failure against each key, in windows of `window`.
    pub async fn add(&self, failures: &[Failure], window: Duration) -> Result<(), Unavailable> {
        let mut invocation = self.add.prepare_invoke();
        for failure in failures {
            invocation.key(self.key("failures:", &failure.key));
        }
        invocation.arg(milliseconds(window));
        self.call("failure_add", async |mut connection| {
            invocation
                .invoke_async::<u32>(&mut connection)
                .await
                .map(drop)
        })
        .await
    }

    /// `{prefix}{kind}{name}`.
    fn key(&self, kind: &str, name: &str) -> String {
        let mut key = String::with_capacity(self.key_prefix.len() + kind.len() + name.len());
        key.push_str(&self.key_prefix);
        key.push_str(kind);
        key.push_str(name);
        key
    }

    /// Runs `call` (an `operation`, as the metrics name it) on the connection within
    /// the timeout, and records its outcome.
    async fn call<T>(
        &self,
        operation: &'static str,
        call: impl AsyncFnOnce(ConnectionManager) -> redis::RedisResult<T>,
    ) -> Result<T, Unavailable> {
        if let Some(metrics) = crate::telemetry::metrics() {
            metrics.coordinated("redis", operation);
        }
        let outcome = async {
            let connection = self.connector.lock().await.connection().await?;
            within(self.timeout, call(connection)).await
        }
        .await;
        self.reachability.record(outcome).map_err(Unavailable)
    }
}

/// `call`'s answer, or why there is none within `timeout`.
async fn within<T>(
    timeout: Duration,
    call: impl Future<Output = redis::RedisResult<T>>,
) -> Result<T, String> {
    tokio::time::timeout(timeout, call)
        .await
        .map_err(|_| format!("Redis did not answer within {timeout:?}"))?
        .map_err(|error| format!("Redis failed: {error}"))
}

/// A TTL in whole milliseconds, at least one (Redis refuses a TTL of zero).
fn milliseconds(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}
