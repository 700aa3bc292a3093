//! The generic cell rate algorithm, exact to the request.
//!
//! Each rule of `N` requests per `T` keeps one number per caller: the theoretical
//! arrival time (TAT) of its next request. A request at `now` is admitted when
//! `TAT - tolerance <= now`, and then moves the TAT on by one emission interval
//! (`T / N`, rounded up so the rate is never exceeded). With the tolerance set to
//! `(N - 1)` intervals, a burst admits exactly `N` requests, never `N - 1` and never
//! `N + 1`; afterwards one request is admitted per interval, and a full burst again
//! once the caller has been quiet for `T`.
//!
//! Times are whole microseconds. The Redis backend runs the same arithmetic in a Lua
//! script; both return the TATs so the headers are computed here, once.

/// One rule's constants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gcra {
    /// Requests per period: the burst size.
    pub limit: u32,
    /// Microseconds between requests at the sustained rate.
    pub emission: u64,
    /// How far ahead of `now` the TAT may be and still admit a request.
    pub tolerance: u64,
}

impl Gcra {
    /// `requests` (at least 1) per `period_seconds` (at least 1).
    pub fn new(requests: u32, period_seconds: u32) -> Gcra {
        let requests = requests.max(1);
        let period = u64::from(period_seconds.max(1)) * 1_000_000;
        let emission = period.div_ceil(u64::from(requests));
        Gcra {
            limit: requests,
            emission,
            tolerance: emission * u64::from(requests - 1),
        }
    }

    /// Whether a request at `now` is admitted by a caller whose TAT is `tat`.
    pub fn admits(&self, now: u64, tat: u64) -> bool {
        tat.saturating_sub(self.tolerance) <= now
    }

    /// How many more requests would be admitted at `now` after this one moved the TAT
    /// to `tat`.
    pub fn remaining(&self, now: u64, tat: u64) -> u32 {
        let room = (now + self.tolerance).checked_sub(tat);
        match room {
            Some(room) => (room / self.emission + 1).min(u64::from(self.limit)) as u32,
            None => 0,
        }
    }

    /// Microseconds until a full burst is available again.
    pub fn reset_after(&self, now: u64, tat: u64) -> u64 {
        tat.saturating_sub(now)
    }

    /// Microseconds until the next request is admitted.
    pub fn retry_after(&self, now: u64, tat: u64) -> u64 {
        tat.saturating_sub(self.tolerance).saturating_sub(now)
    }
}

/// Decides one request against several rules at once: admitted only if every rule
/// admits it, and then every rule counts it; a refused request counts nowhere.
/// `tats` holds each rule's TAT (a past time, or 0, for a caller with no history)
/// and is updated in place.
pub fn decide(now: u64, rules: &[Gcra], tats: &mut [u64]) -> bool {
    for tat in tats.iter_mut() {
        *tat = (*tat).max(now);
    }
    let admitted = rules
        .iter()
        .zip(tats.iter())
        .all(|(rule, tat)| rule.admits(now, *tat));
    if admitted {
        for (rule, tat) in rules.iter().zip(tats.iter_mut()) {
            *tat += rule.emission;
        }
    }
    admitted
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn burst(rule: Gcra, now: u64, tat: &mut u64) -> u32 {
        let mut admitted = 0;
        for _ in 0..rule.limit * 3 {
            if decide(now, &[rule], std::slice::from_mut(tat)) {
                admitted += 1;
            }
        }
        admitted
    }

    proptest! {
        #[test]
        fn a_burst_admits_exactly_the_limit(requests in 1u32..5000, period in 1u32..100_000) {
            let rule = Gcra::new(requests, period);
            let mut tat = 0;
            prop_assert_eq!(burst(rule, 1_000_000, &mut tat), requests);
        }

        #[test]
        fn remaining_counts_down_to_zero(requests in 1u32..500, period in 1u32..10_000) {
            let rule = Gcra::new(requests, period);
            let now = 5_000_000;
            let mut tat = 0;
            for left in (0..requests).rev() {
                prop_assert!(decide(now, &[rule], std::slice::from_mut(&mut tat)));
                prop_assert_eq!(rule.remaining(now, tat), left);
            }
            prop_assert!(!decide(now, &[rule], std::slice::from_mut(&mut tat)));
            prop_assert_eq!(rule.remaining(now, tat), 0);
        }

        #[test]
        fn a_quiet_period_restores_the_whole_burst(requests in 1u32..500, period in 1u32..10_000) {
            let rule = Gcra::new(requests, period);
            let mut tat = 0;
            let start = 1_000_000;
            burst(rule, start, &mut tat);
            let later = start + rule.reset_after(start, tat);
            prop_assert_eq!(burst(rule, later, &mut tat), requests);
        }
    }

    #[test]
    fn one_request_comes_back_per_interval() {
        let rule = Gcra::new(5, 10);
        let mut tat = 0;
        let now = 1_000_000;
        assert_eq!(burst(rule, now, &mut tat), 5);
        let wait = rule.retry_after(now, tat);
        assert_eq!(wait, 2_000_000);
        assert!(!decide(
            now + wait - 1,
            &[rule],
            std::slice::from_mut(&mut tat)
        ));
        assert!(decide(now + wait, &[rule], std::slice::from_mut(&mut tat)));
        assert!(!decide(now + wait, &[rule], std::slice::from_mut(&mut tat)));
    }

    #[test]
    fn a_refused_request_counts_against_no_rule() {
        let tight = Gcra::new(1, 60);
        let loose = Gcra::new(100, 60);
        let mut tats = [0, 0];
        assert!(decide(1_000_000, &[tight, loose], &mut tats));
        for _ in 0..10 {
            assert!(!decide(1_000_000, &[tight, loose], &mut tats));
        }
        assert_eq!(loose.remaining(1_000_000, tats[1]), 99);
    }
}
