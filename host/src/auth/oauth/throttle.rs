//! The provider's endpoints throttled per client address: `requests` per `period`
//! (`[auth.oauth1] throttle`), decided by the generic cell rate algorithm, so a burst
//! admits exactly `requests` and then one more per `period / requests`.
//!
//! The table is bounded ([`MAX_TRACKED`] addresses; those whose allowance is whole again
//! go first, then those closest to it) and outlives a configuration reload, which only
//! changes the rate it is read with. Addresses are counted as the failed-login limit
//! counts them (IPv6 per /64).

use crate::auth::settings::Rate;
use crate::client::counted_as;
use dashmap::DashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// The most client addresses tracked at once.
const MAX_TRACKED: usize = 100_000;

/// When each client address may next call the endpoints.
pub struct EndpointThrottle {
    /// Each address's theoretical arrival time: microseconds since `epoch` at which its
    /// allowance is whole again.
    arrivals: DashMap<IpAddr, u64>,
    epoch: Instant,
}

impl EndpointThrottle {
    /// No address has called yet.
    pub fn new() -> EndpointThrottle {
        EndpointThrottle {
            arrivals: DashMap::new(),
            epoch: Instant::now(),
        }
    }

    /// Counts one call from `client` under `rate`: `Ok` when admitted, else how long
    /// until the next call would be. A refused call is not counted.
    pub fn admit(&self, client: IpAddr, rate: Rate) -> Result<(), Duration> {
        let now = u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.admit_at(counted_as(client), rate, now)
    }

    fn admit_at(&self, client: IpAddr, rate: Rate, now: u64) -> Result<(), Duration> {
        let requests = u64::from(rate.requests.max(1));
        let period = u64::try_from(rate.period.as_micros()).unwrap_or(u64::MAX);
        let emission = period.div_ceil(requests).max(1);
        let tolerance = emission.saturating_mul(requests - 1);
        if !self.arrivals.contains_key(&client) && self.arrivals.len() >= MAX_TRACKED {
            self.make_room(now);
        }
        let mut arrival = self.arrivals.entry(client).or_insert(now);
        let tat = (*arrival).max(now);
        let allowed_from = tat.saturating_sub(tolerance);
        if allowed_from > now {
            return Err(Duration::from_micros(allowed_from - now));
        }
        *arrival = tat.saturating_add(emission);
        Ok(())
    }

    /// Brings the table to at most half its bound.
    fn make_room(&self, now: u64) {
        self.arrivals.retain(|_, arrival| *arrival > now);
        crate::coordination::keep_largest(&self.arrivals, MAX_TRACKED / 2, |arrival| *arrival);
    }
}

impl Default for EndpointThrottle {
    fn default() -> EndpointThrottle {
        EndpointThrottle::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = 1_000_000;

    fn rate(requests: u32, seconds: u64) -> Rate {
        Rate {
            requests,
            period: Duration::from_secs(seconds),
        }
    }

    #[test]
    fn a_burst_admits_exactly_the_limit_then_one_per_interval() {
        let throttle = EndpointThrottle::new();
        let client: IpAddr = "192.0.2.1".parse().unwrap();
        let now = 10 * SECOND;
        for _ in 0..30 {
            assert!(throttle.admit_at(client, rate(30, 60), now).is_ok());
        }
        let wait = throttle.admit_at(client, rate(30, 60), now).unwrap_err();
        assert_eq!(wait, Duration::from_secs(2));
        assert!(
            throttle
                .admit_at(client, rate(30, 60), now + 2 * SECOND - 1)
                .is_err()
        );
        assert!(
            throttle
                .admit_at(client, rate(30, 60), now + 2 * SECOND)
                .is_ok()
        );
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(throttle.admit_at(other, rate(30, 60), now).is_ok());
        // A full burst again after a quiet period.
        let later = now + 62 * SECOND;
        for _ in 0..30 {
            assert!(throttle.admit_at(client, rate(30, 60), later).is_ok());
        }
    }

    #[test]
    fn extreme_rates_and_clocks_do_not_overflow() {
        let throttle = EndpointThrottle::new();
        let client: IpAddr = "192.0.2.1".parse().unwrap();
        let huge = Rate {
            requests: u32::MAX,
            period: Duration::MAX,
        };
        assert!(throttle.admit_at(client, huge, u64::MAX).is_ok());
        let _ = throttle.admit_at(client, huge, u64::MAX);
        let _ = throttle.admit_at(client, rate(1, 1), 0);
        // Zero is taken as one: one call per microsecond.
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(throttle.admit_at(other, rate(0, 0), 5).is_ok());
        assert_eq!(
            throttle.admit_at(other, rate(0, 0), 5),
            Err(Duration::from_micros(1))
        );
    }

    #[test]
    fn the_table_is_bounded() {
        let throttle = EndpointThrottle::new();
        for index in 0..(MAX_TRACKED as u32 + 10) {
            let client = IpAddr::from(index.to_be_bytes());
            let _ = throttle.admit_at(client, rate(1, 3600), SECOND);
        }
        assert!(throttle.arrivals.len() <= MAX_TRACKED);
    }
}
