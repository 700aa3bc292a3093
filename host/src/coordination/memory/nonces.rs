//! OAuth nonces, in this process: each (consumer, nonce, timestamp) once, for as long
//! as its timestamp could still be accepted.
//!
//! Bounded: past [`MAX_NONCES`], those whose timestamps are no longer accepted are
//! dropped, then the older half. Whenever nonces are forgotten, a floor rises past
//! their timestamps first, and a request stamped below the floor is
//! [`NonceUse::Forgotten`] (refused like a stale one): a forgotten nonce (after the
//! window grew on a reload, or after a flood) can never be replayed. The floor starts
//! at the time the process did, as nonces seen before a restart are gone.

use super::super::{NonceUse, OAuthNonce};
use dashmap::DashMap;
use dashmap::mapref::entry::Entry;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

/// When the table has this many nonces, those out of the window are dropped.
const PRUNE_AT: usize = 4096;
/// The most nonces remembered: past it, the oldest are forgotten (and the floor rises).
pub const MAX_NONCES: usize = 200_000;

/// The nonces seen, by their hash, with their timestamps.
pub struct Nonces {
    seen: DashMap<[u8; 16], i64>,
    /// Requests stamped below this may have had their nonce forgotten.
    floor: AtomicI64,
    /// How many nonces make the next new one look for nonces to forget (twice what was
    /// left last time, so the work is paid once per doubling).
    prune_at: AtomicUsize,
    /// The most remembered at once.
    max: usize,
}

impl Nonces {
    /// None seen yet, and none before `start` (seconds since the epoch).
    pub fn new(start: i64) -> Nonces {
        Nonces::bounded(start, MAX_NONCES)
    }

    fn bounded(start: i64, max: usize) -> Nonces {
        Nonces {
            seen: DashMap::new(),
            floor: AtomicI64::new(start),
            prune_at: AtomicUsize::new(PRUNE_AT.min(max)),
            max,
        }
    }

    /// Records `nonce`; `oldest` is the earliest timestamp still accepted.
    pub fn use_nonce(&self, nonce: &OAuthNonce, oldest: i64) -> NonceUse {
        if !self.seen.contains_key(&nonce.id)
            && self.seen.len() >= self.prune_at.load(Ordering::Relaxed)
        {
            self.make_room(oldest);
        }
        let entry = self.seen.entry(nonce.id);
        // Read under the entry's lock: a nonce forgotten after this point was forgotten
        // after the floor rose past it.
        if nonce.timestamp < self.floor.load(Ordering::SeqCst) {
            return NonceUse::Forgotten;
        }
        match entry {
            Entry::Occupied(_) => NonceUse::Replayed,
            Entry::Vacant(vacant) => {
                vacant.insert(nonce.timestamp);
                NonceUse::Fresh
            }
        }
    }

    /// Forgets the nonces stamped before `oldest`, then the older half if there are
    /// still too many; the floor rises first, past every nonce that goes.
    fn make_room(&self, oldest: i64) {
        self.floor.fetch_max(oldest, Ordering::SeqCst);
        self.seen.retain(|_, timestamp| *timestamp >= oldest);
        if self.seen.len() >= self.max {
            let mut stamps: Vec<i64> = self.seen.iter().map(|entry| *entry.value()).collect();
            stamps.sort_unstable();
            let cutoff = stamps[stamps.len() / 2];
            self.floor
                .fetch_max(cutoff.saturating_add(1), Ordering::SeqCst);
            self.seen.retain(|_, timestamp| *timestamp > cutoff);
        }
        let left = self.seen.len();
        self.prune_at.store(
            left.saturating_mul(2)
                .clamp(PRUNE_AT.min(self.max), self.max),
            Ordering::Relaxed,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nonce(consumer: &str, nonce: &str, timestamp: i64) -> OAuthNonce {
        OAuthNonce::new(consumer, nonce, timestamp)
    }

    #[test]
    fn nonces_are_single_use_and_forgotten_after_their_window() {
        let nonces = Nonces::bounded(0, 4);
        let use_nonce = |consumer, name, timestamp, oldest| {
            nonces.use_nonce(&nonce(consumer, name, timestamp), oldest)
        };
        assert_eq!(use_nonce("app", "n1", 1000, 700), NonceUse::Fresh);
        assert_eq!(use_nonce("app", "n1", 1000, 700), NonceUse::Replayed);
        assert_eq!(use_nonce("other", "n1", 1000, 700), NonceUse::Fresh);
        assert_eq!(use_nonce("app", "n1", 1001, 700), NonceUse::Fresh);
        assert_eq!(use_nonce("app", "n2", 1002, 700), NonceUse::Fresh);
        // The table is full: the next new nonce forgets those out of the window.
        assert_eq!(use_nonce("app", "n3", 2000, 1700), NonceUse::Fresh);
        assert_eq!(nonces.seen.len(), 1, "the old ones are gone");
        // A wider window later (a reload) does not bring the forgotten ones back.
        assert_eq!(use_nonce("app", "n1", 1000, 0), NonceUse::Forgotten);
        assert_eq!(use_nonce("app", "n4", 1700, 0), NonceUse::Fresh);
    }

    #[test]
    fn nonces_are_bounded_and_the_forgotten_are_refused() {
        let nonces = Nonces::bounded(0, 10);
        let use_nonce = |name: &str, timestamp| nonces.use_nonce(&nonce("app", name, timestamp), 0);
        for index in 0..30 {
            assert_eq!(
                use_nonce(&format!("n{index}"), 100 + index),
                NonceUse::Fresh
            );
        }
        assert!(nonces.seen.len() <= 10);
        assert_eq!(use_nonce("n0", 100), NonceUse::Forgotten, "never a replay");
        assert_eq!(use_nonce("n29", 129), NonceUse::Replayed);
        assert_eq!(use_nonce("extreme", i64::MIN), NonceUse::Forgotten);
        assert_eq!(use_nonce("extreme", i64::MAX), NonceUse::Fresh);
    }

    #[test]
    fn requests_stamped_before_the_start_are_forgotten() {
        let nonces = Nonces::new(1000);
        assert_eq!(
            nonces.use_nonce(&nonce("app", "n", 999), 700),
            NonceUse::Forgotten
        );
        assert_eq!(
            nonces.use_nonce(&nonce("app", "n", 1000), 700),
            NonceUse::Fresh
        );
    }
}
