//! Counters in this process: exact for one host.
//!
//! One map entry per caller of a resource holds the TATs of all its rules, so a
//! request is decided against every rule under one lock. Entries whose TATs have all
//! passed are the same as no entry, and are swept out periodically, so the map holds
//! only callers active within their longest period.

use super::Outcome;
use super::gcra::{self, Gcra};
use dashmap::DashMap;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// How often idle callers are swept out.
const SWEEP_EVERY: Duration = Duration::from_secs(30);

/// The counters.
pub struct LocalCounters {
    table: Arc<Table>,
}

struct Table {
    /// Callers' rules and TATs, indexed by rule slot. A TAT only means something for
    /// the rule it was counted under: when the rule in a slot changes (a reload), its
    /// count starts afresh, as it does in Redis.
    tats: DashMap<String, Box<[(Gcra, u64)]>>,
    /// The clock's zero.
    epoch: Instant,
}

impl Table {
    /// Microseconds since the epoch (never 0, which means "no history").
    fn now(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64 + 1
    }
}

impl LocalCounters {
    /// Empty counters, with a sweeper on the current tokio runtime.
    pub fn new() -> LocalCounters {
        let table = Arc::new(Table {
            tats: DashMap::new(),
            epoch: Instant::now(),
        });
        tokio::spawn(sweep(Arc::downgrade(&table)));
        LocalCounters { table }
    }

    /// Decides one request of `key` against `rules` (each with its slot among the
    /// `slots` rules the caller has).
    pub fn acquire(&self, key: &str, rules: &[(usize, Gcra)], slots: usize) -> Outcome {
        let now = self.table.now();
        let decide = |stored: &mut Box<[(Gcra, u64)]>| {
            if stored.len() != slots {
                // The rules changed since this caller was last seen.
                *stored = fresh(slots);
            }
            let constants: Vec<Gcra> = rules.iter().map(|(_, rule)| *rule).collect();
            let mut tats: Vec<u64> = rules
                .iter()
                .map(|(slot, rule)| match stored[*slot] {
                    (counted_under, tat) if counted_under == *rule => tat,
                    _ => 0,
                })
                .collect();
            let admitted = gcra::decide(now, &constants, &mut tats);
            if admitted {
                for ((slot, rule), tat) in rules.iter().zip(&tats) {
                    stored[*slot] = (*rule, *tat);
                }
            }
            Outcome {
                admitted,
                now,
                tats,
            }
        };
        if let Some(mut stored) = self.table.tats.get_mut(key) {
            return decide(&mut stored);
        }
        let mut stored = self
            .table
            .tats
            .entry(key.to_owned())
            .or_insert_with(|| fresh(slots));
        decide(&mut stored)
    }

    /// How many callers are tracked.
    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.table.tats.len()
    }
}

/// A caller with no history under any of `slots` rules.
fn fresh(slots: usize) -> Box<[(Gcra, u64)]> {
    vec![(Gcra::new(1, 1), 0); slots].into_boxed_slice()
}

/// Drops callers whose every TAT has passed, until the counters are dropped.
async fn sweep(table: Weak<Table>) {
    let mut ticks = tokio::time::interval(SWEEP_EVERY);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let Some(table) = table.upgrade() else {
            return;
        };
        let now = table.now();
        table
            .tats
            .retain(|_, tats| tats.iter().any(|(_, tat)| *tat > now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn concurrent_requests_admit_exactly_the_limit() {
        let counters = Arc::new(LocalCounters::new());
        let rule = Gcra::new(100, 3600);
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let counters = counters.clone();
            tasks.push(std::thread::spawn(move || {
                (0..100)
                    .filter(|_| counters.acquire("caller", &[(0, rule)], 1).admitted)
                    .count()
            }));
        }
        let admitted: usize = tasks.into_iter().map(|task| task.join().unwrap()).sum();
        assert_eq!(admitted, 100);
        assert_eq!(counters.tracked(), 1);
    }

    #[tokio::test]
    async fn a_changed_rule_counts_afresh() {
        let counters = LocalCounters::new();
        let strict = Gcra::new(1, 3600);
        assert!(counters.acquire("ann", &[(0, strict)], 1).admitted);
        assert!(!counters.acquire("ann", &[(0, strict)], 1).admitted);
        let relaxed = Gcra::new(100, 3600);
        let outcome = counters.acquire("ann", &[(0, relaxed)], 1);
        assert!(outcome.admitted);
        assert_eq!(relaxed.remaining(outcome.now, outcome.tats[0]), 99);
    }

    #[tokio::test]
    async fn callers_and_slots_are_counted_apart() {
        let counters = LocalCounters::new();
        let put = Gcra::new(1, 60);
        let all = Gcra::new(3, 60);
        assert!(counters.acquire("ann", &[(0, put), (1, all)], 2).admitted);
        assert!(!counters.acquire("ann", &[(0, put), (1, all)], 2).admitted);
        // A GET only meets the second rule, which counted the PUT once.
        assert!(counters.acquire("ann", &[(1, all)], 2).admitted);
        assert!(counters.acquire("ann", &[(1, all)], 2).admitted);
        assert!(!counters.acquire("ann", &[(1, all)], 2).admitted);
        assert!(counters.acquire("bob", &[(0, put), (1, all)], 2).admitted);
    }
}
