//! Failures counted in fixed windows, in this process: a window opens at its key's
//! first failure and ends `window` later, whatever came in between.
//!
//! The table is bounded: past [`MAX_TRACKED`] keys, ended windows are dropped, then
//! windows below their limit (locks are what the table is for), then the oldest.

use super::super::{Failure, Tally};
use super::keep_largest;
use dashmap::DashMap;
use std::time::{Duration, Instant};

/// The most keys tracked at once.
pub const MAX_TRACKED: usize = 300_000;

/// Failure counts by key.
#[derive(Default)]
pub struct Windows(DashMap<String, Window>);

#[derive(Debug, Clone, Copy)]
struct Window {
    ends: Instant,
    count: u32,
    /// The count at which the key locks: full windows are kept longest.
    limit: u32,
}

impl Windows {
    /// Each key's count in its open window, if it has one.
    pub fn tallies(&self, keys: &[String], now: Instant) -> Vec<Option<Tally>> {
        keys.iter()
            .map(|key| {
                let window = *self.0.get(key)?;
                (window.ends > now).then(|| Tally {
                    count: window.count,
                    left: window.ends - now,
                })
            })
            .collect()
    }

    /// Counts one failure against each key, opening a window of `window` where none is.
    pub fn add(&self, failures: &[Failure], window: Duration, now: Instant) {
        for failure in failures {
            if !self.0.contains_key(&failure.key) && self.0.len() >= MAX_TRACKED {
                self.make_room(now);
            }
            let fresh = Window {
                ends: now + window,
                count: 0,
                limit: failure.limit,
            };
            let mut tracked = self.0.entry(failure.key.clone()).or_insert(fresh);
            if tracked.ends <= now {
                *tracked = fresh;
            }
            tracked.limit = failure.limit;
            tracked.count = tracked.count.saturating_add(1);
        }
    }

    /// Brings the table to at most half its bound.
    fn make_room(&self, now: Instant) {
        let room = MAX_TRACKED / 2;
        self.0.retain(|_, tracked| tracked.ends > now);
        if self.0.len() > room {
            self.0.retain(|_, tracked| tracked.count >= tracked.limit);
        }
        keep_largest(&self.0, room, |tracked| tracked.ends);
    }

    /// How many keys are tracked.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(key: &str, limit: u32) -> Failure {
        Failure {
            key: key.to_owned(),
            limit,
        }
    }

    #[test]
    fn a_window_counts_until_it_ends_then_starts_again() {
        let windows = Windows::default();
        let now = Instant::now();
        let minute = Duration::from_secs(60);
        windows.add(&[failure("a", 3), failure("b", 3)], minute, now);
        windows.add(&[failure("a", 3)], minute, now + Duration::from_secs(30));
        let keys = ["a".to_owned(), "b".to_owned(), "c".to_owned()];
        let later = now + Duration::from_secs(40);
        let tallies = windows.tallies(&keys, later);
        assert_eq!(
            tallies,
            [
                Some(Tally {
                    count: 2,
                    left: Duration::from_secs(20)
                }),
                Some(Tally {
                    count: 1,
                    left: Duration::from_secs(20)
                }),
                None
            ],
            "the window ends a minute after its first failure"
        );
        let ended = now + minute;
        assert_eq!(windows.tallies(&keys[..1], ended), [None]);
        windows.add(&[failure("a", 3)], minute, ended);
        assert_eq!(windows.tallies(&keys[..1], ended)[0].unwrap().count, 1);
    }

    #[test]
    fn the_table_is_bounded_and_keeps_full_windows() {
        let windows = Windows::default();
        let now = Instant::now();
        let minute = Duration::from_secs(60);
        for _ in 0..5 {
            windows.add(&[failure("guesser", 5)], minute, now);
        }
        for index in 0..(MAX_TRACKED + 10) {
            windows.add(&[failure(&index.to_string(), 5)], minute, now);
        }
        assert!(windows.len() <= MAX_TRACKED);
        assert_eq!(
            windows.tallies(&["guesser".to_owned()], now)[0]
                .unwrap()
                .count,
            5,
            "a flood of single failures does not forget a full window"
        );
    }
}
