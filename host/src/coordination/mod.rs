//! Short-lived state every host must agree on: OAuth nonces, Digest nonce counts and
//! failed logins (the throttle's counters are [`crate::throttle`]'s, in the same Redis).
//!
//! Kept in this process ([`memory`], the default: right for one host) or in Redis
//! ([`shared`], `[coordination] backend = "redis"`: shared by every host using it).
//! Every entry expires: a key in Redis has a TTL, a table in memory is bounded.
//!
//! A host starts whether or not Redis answers; a call Redis does not answer within
//! the timeout fails with [`Unavailable`], and the request that needed it is refused
//! with 503 and `Retry-After` — never admitted, never refused as if the answer were
//! known. The backend's [`Reachability`] logs each change of state once.

pub(crate) mod connect;
mod memory;
pub mod settings;
mod shared;

use self::memory::Memory;
use self::settings::CoordinationSettings;
use self::shared::Shared;
use crate::reachability::Reachability;
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};

pub(crate) use self::memory::keep_largest;

/// Where the shared state lives, and the calls that read and change it.
pub struct Coordination {
    backend: Backend,
}

enum Backend {
    Memory(Box<Memory>),
    Redis(Box<Shared>),
}

/// Why a call was not decided: the backend did not answer (in time).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unavailable(pub String);

/// What became of an OAuth nonce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceUse {
    /// First seen: recorded.
    Fresh,
    /// Seen before with this consumer and timestamp: a replay.
    Replayed,
    /// Its timestamp is below what is remembered: it might have been seen and forgotten.
    Forgotten,
}

/// What became of a Digest nonce count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountUse {
    /// Higher than any seen with the nonce: recorded.
    Higher,
    /// Not higher: a replay.
    Replayed,
    /// The nonce's counts may have been forgotten: it is stale.
    Forgotten,
}

/// An OAuth request's nonce: the consumer, nonce and timestamp as one hash (so that
/// what is kept has one size whatever the client sends), and the timestamp.
#[derive(Debug, Clone, Copy)]
pub struct OAuthNonce {
    id: [u8; 16],
    timestamp: i64,
}

impl OAuthNonce {
    /// The nonce `nonce` of `consumer`'s request stamped `timestamp`.
    pub fn new(consumer: &str, nonce: &str, timestamp: i64) -> OAuthNonce {
        let mut hash = Sha256::new();
        for part in [consumer.as_bytes(), nonce.as_bytes()] {
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part);
        }
        hash.update(timestamp.to_be_bytes());
        let mut id = [0; 16];
        id.copy_from_slice(&hash.finalize()[..16]);
        OAuthNonce { id, timestamp }
    }
}

/// A Digest nonce, as its counts are kept.
#[derive(Debug, Clone, Copy)]
pub struct DigestNonce {
    /// What tells it apart (its issue time and random bytes).
    pub id: [u8; 16],
    /// When it was issued, in seconds since the epoch.
    pub issued: u64,
    /// How long after that it is accepted.
    pub lifetime: Duration,
}

/// A count of failures in its window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// Failures so far.
    pub count: u32,
    /// Until the window ends.
    pub left: Duration,
}

/// One failure to count.
#[derive(Debug, Clone)]
pub struct Failure {
    /// What it counts against.
    pub key: String,
    /// The count at which that locks (a full table in memory forgets these last).
    pub limit: u32,
}

impl Coordination {
    /// The backend `settings` name; Redis is connected on first use.
    pub fn new(settings: &CoordinationSettings) -> Result<Coordination, String> {
        let backend = match settings {
            CoordinationSettings::Memory => Backend::Memory(Box::new(Memory::new())),
            CoordinationSettings::Redis(redis) => Backend::Redis(Box::new(Shared::new(redis)?)),
        };
        Ok(Coordination { backend })
    }

    /// State in this process only.
    pub fn memory() -> Coordination {
        Coordination {
            backend: Backend::Memory(Box::new(Memory::new())),
        }
    }

    /// Whether Redis answered the last call; none in memory (which always answers).
    pub fn reachability(&self) -> Option<&Reachability> {
        match &self.backend {
            Backend::Memory(_) => None,
            Backend::Redis(shared) => Some(shared.reachability()),
        }
    }

    /// Checks that the backend answers, and records whether it did.
    pub async fn ping(&self) -> Result<(), Unavailable> {
        match &self.backend {
            Backend::Memory(_) => Ok(()),
            Backend::Redis(shared) => shared.ping().await,
        }
    }

    /// Records an OAuth nonce, whose timestamps are accepted within `window` of now.
    pub async fn use_nonce(
        &self,
        nonce: &OAuthNonce,
        window: Duration,
    ) -> Result<NonceUse, Unavailable> {
        let now = i128::from(unix_now());
        let window = i128::from(window.as_secs());
        match &self.backend {
            Backend::Memory(memory) => {
                let oldest = i64::try_from(now - window).unwrap_or(i64::MIN);
                Ok(memory.nonces.use_nonce(nonce, oldest))
            }
            Backend::Redis(shared) => {
                // Until the timestamp leaves the window, the second after it at most.
                let left =
                    (i128::from(nonce.timestamp) + window + 1 - now).clamp(1, 2 * window + 1);
                let ttl = Duration::from_secs(u64::try_from(left).unwrap_or(u64::MAX));
                shared.use_nonce(nonce, ttl).await
            }
        }
    }

    /// Accepts `count` for a Digest nonce only if it is higher than any seen with it.
    pub async fn count(&self, nonce: &DigestNonce, count: u32) -> Result<CountUse, Unavailable> {
        match &self.backend {
            Backend::Memory(memory) => Ok(memory.counts.count(nonce, count)),
            Backend::Redis(shared) => {
                let expires = nonce.issued.saturating_add(nonce.lifetime.as_secs());
                let left = expires.saturating_sub(unix_now()).max(1);
                shared.count(nonce, count, Duration::from_secs(left)).await
            }
        }
    }

    /// Each key's failures in its open window, if it has one.
    pub async fn tallies(&self, keys: &[String]) -> Result<Vec<Option<Tally>>, Unavailable> {
        match &self.backend {
            Backend::Memory(memory) => Ok(memory.windows.tallies(keys, Instant::now())),
            Backend::Redis(shared) => shared.tallies(keys).await,
        }
    }

    /// Counts one failure against each key; a key's window ends `window` after its
    /// first failure.
    pub async fn add(&self, failures: &[Failure], window: Duration) -> Result<(), Unavailable> {
        match &self.backend {
            Backend::Memory(memory) => {
                memory.windows.add(failures, window, Instant::now());
                Ok(())
            }
            Backend::Redis(shared) => shared.add(failures, window).await,
        }
    }
}

/// Seconds since the epoch.
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

#[cfg(test)]
mod tests;

#[async_trait::async_trait]
impl crate::reachability::Backend for Coordination {
    fn role(&self) -> &'static str {
        "coordination"
    }

    fn engine(&self) -> &'static str {
        match self.backend {
            Backend::Memory(_) => "memory",
            Backend::Redis(_) => "redis",
        }
    }

    fn location(&self) -> String {
        self.reachability().map_or_else(
            || "this process".to_owned(),
            |redis| redis.location().to_owned(),
        )
    }

    fn reachability(&self) -> Option<&Reachability> {
        Coordination::reachability(self)
    }

    async fn probe(&self) {
        // Recorded in the reachability.
        let _ = self.ping().await;
    }
}
