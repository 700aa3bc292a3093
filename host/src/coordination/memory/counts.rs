//! Digest nonce counts, in this process: each nonce's highest count, for its lifetime.
//!
//! Bounded: when counts must be forgotten (expired ones, or the oldest when there are
//! too many), a floor rises past their nonces first, and a nonce issued at or below
//! the floor is [`CountUse::Forgotten`], so a forgotten count never lets a request be
//! replayed. The floor starts at the second before the process did: nonces from
//! before a restart, whose counts are gone, are forgotten too.

use super::super::{CountUse, DigestNonce, unix_now};
use dashmap::DashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// When the table has this many nonces, expired ones are dropped.
const PRUNE_AT: usize = 4096;
/// The most nonces whose counts are remembered.
pub const MAX_COUNTED: usize = 100_000;

/// The highest count of each nonce.
pub struct Counts {
    counts: DashMap<[u8; 16], Count>,
    /// Nonces issued at or before this second may have had their counts forgotten.
    floor: AtomicU64,
    /// How many counts make the next new nonce look for counts to forget (twice what
    /// was left last time, so the work is paid once per doubling).
    prune_at: AtomicUsize,
}

#[derive(Debug, Clone, Copy)]
struct Count {
    highest: u32,
    issued: u64,
}

impl Counts {
    /// No counts yet.
    pub fn new() -> Counts {
        Counts {
            counts: DashMap::new(),
            floor: AtomicU64::new(unix_now().saturating_sub(1)),
            prune_at: AtomicUsize::new(PRUNE_AT),
        }
    }

    /// Accepts `count` for `nonce` only if it is higher than any seen before.
    pub fn count(&self, nonce: &DigestNonce, count: u32) -> CountUse {
        if !self.counts.contains_key(&nonce.id)
            && self.counts.len() >= self.prune_at.load(Ordering::Relaxed)
        {
            self.make_room(nonce.lifetime);
        }
        let mut seen = self.counts.entry(nonce.id).or_insert(Count {
            highest: 0,
            issued: nonce.issued,
        });
        // Read under the entry's lock: a count forgotten after this point was forgotten
        // after the floor rose past it.
        if nonce.issued <= self.floor.load(Ordering::SeqCst) {
            return CountUse::Forgotten;
        }
        if count <= seen.highest {
            return CountUse::Replayed;
        }
        seen.highest = count;
        CountUse::Higher
    }

    /// Forgets expired counts, then the older half if there are still too many; the
    /// floor rises first, past every nonce whose count goes.
    fn make_room(&self, lifetime: Duration) {
        let expired_before = unix_now().saturating_sub(lifetime.as_secs());
        self.floor.fetch_max(expired_before, Ordering::SeqCst);
        self.counts.retain(|_, seen| seen.issued > expired_before);
        if self.counts.len() >= MAX_COUNTED {
            let mut issued: Vec<u64> = self.counts.iter().map(|entry| entry.issued).collect();
            issued.sort_unstable();
            let cutoff = issued[issued.len() / 2];
            self.floor.fetch_max(cutoff, Ordering::SeqCst);
            self.counts.retain(|_, seen| seen.issued > cutoff);
        }
        let left = self.counts.len();
        self.prune_at.store(
            left.saturating_mul(2).clamp(PRUNE_AT, MAX_COUNTED),
            Ordering::Relaxed,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nonce(byte: u8, issued: u64) -> DigestNonce {
        DigestNonce {
            id: [byte; 16],
            issued,
            lifetime: Duration::from_secs(300),
        }
    }

    #[test]
    fn counts_refuse_replays_up_to_the_highest_count() {
        let counts = Counts::new();
        let now = unix_now();
        assert_eq!(counts.count(&nonce(1, now), 1), CountUse::Higher);
        assert_eq!(counts.count(&nonce(1, now), 1), CountUse::Replayed);
        assert_eq!(counts.count(&nonce(1, now), 2), CountUse::Higher);
        assert_eq!(counts.count(&nonce(1, now), u32::MAX), CountUse::Higher);
        assert_eq!(counts.count(&nonce(1, now), u32::MAX), CountUse::Replayed);
        assert_eq!(counts.count(&nonce(2, now), 1), CountUse::Higher);
    }

    #[test]
    fn nonces_from_before_the_counts_began_are_forgotten() {
        let counts = Counts::new();
        let now = unix_now();
        assert_eq!(counts.count(&nonce(1, now - 2), 1), CountUse::Forgotten);
        assert_eq!(counts.count(&nonce(2, now), 1), CountUse::Higher);
    }

    #[test]
    fn forgotten_counts_make_their_nonces_forgotten_and_the_table_is_bounded() {
        let counts = Counts::new();
        let now = unix_now();
        let day = Duration::from_secs(24 * 60 * 60);
        let first = DigestNonce {
            lifetime: day,
            ..nonce(0, now)
        };
        assert_eq!(counts.count(&first, 1), CountUse::Higher);
        for index in 0..(MAX_COUNTED as u64 + 10) {
            let mut id = [1u8; 16];
            id[..8].copy_from_slice(&index.to_be_bytes());
            let newer = DigestNonce {
                id,
                issued: now + 1 + index,
                lifetime: day,
            };
            assert_eq!(counts.count(&newer, 1), CountUse::Higher);
        }
        assert!(counts.counts.len() <= MAX_COUNTED);
        assert_eq!(
            counts.count(&first, 1),
            CountUse::Forgotten,
            "never accepted"
        );
    }
}
