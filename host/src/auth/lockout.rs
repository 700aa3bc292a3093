//! The failed-login limit: a client address that fails to log in `max` times within a
//! window is refused (429) until the window ends, so passwords cannot be guessed at
//! the speed of the network.
//!
//! Counted per IPv4 address and per IPv6 /64 (one host usually holds a whole /64).
//! The table is bounded: past [`MAX_TRACKED`] clients, expired windows are dropped, and
//! if every window is still open the oldest are.

use super::settings::FailureLimit;
use crate::client::counted_as;
use dashmap::DashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// The most client addresses tracked at once.
const MAX_TRACKED: usize = 100_000;

/// Failed logins per client address.
pub struct Lockout {
    limit: FailureLimit,
    clients: DashMap<IpAddr, Window>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    opened: Instant,
    failures: u32,
}

impl Lockout {
    /// A limit of `limit.max` failures per `limit.window`.
    pub fn new(limit: FailureLimit) -> Lockout {
        Lockout {
            limit,
            clients: DashMap::new(),
        }
    }

    /// How long `client` must wait before trying again, if it is locked out.
    pub fn retry_after(&self, client: IpAddr) -> Option<Duration> {
        let window = *self.clients.get(&counted_as(client))?;
        let ends = window.opened + self.limit.window;
        let now = Instant::now();
        (window.failures >= self.limit.max && ends > now).then(|| ends - now)
    }

    /// Counts one failed login by `client`.
    pub fn fail(&self, client: IpAddr) {
        let now = Instant::now();
        let key = counted_as(client);
        if !self.clients.contains_key(&key) && self.clients.len() >= MAX_TRACKED {
            self.make_room(now);
        }
        let mut window = self.clients.entry(key).or_insert(Window {
            opened: now,
            failures: 0,
        });
        if now.duration_since(window.opened) >= self.limit.window {
            *window = Window {
                opened: now,
                failures: 0,
            };
        }
        window.failures = window.failures.saturating_add(1);
    }

    fn make_room(&self, now: Instant) {
        let window = self.limit.window;
        self.clients
            .retain(|_, tracked| now.duration_since(tracked.opened) < window);
        if self.clients.len() >= MAX_TRACKED {
            let mut opened: Vec<Instant> = self.clients.iter().map(|entry| entry.opened).collect();
            opened.sort_unstable();
            let cutoff = opened[opened.len() / 2];
            self.clients.retain(|_, tracked| tracked.opened > cutoff);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lockout(max: u32, window: Duration) -> Lockout {
        Lockout::new(FailureLimit { max, window })
    }

    #[test]
    fn locks_after_max_failures_until_the_window_ends() {
        let lockout = lockout(3, Duration::from_secs(60));
        let client: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..2 {
            lockout.fail(client);
        }
        assert_eq!(lockout.retry_after(client), None);
        lockout.fail(client);
        let wait = lockout.retry_after(client).expect("locked");
        assert!(wait <= Duration::from_secs(60) && wait > Duration::from_secs(50));
        assert_eq!(lockout.retry_after(other), None);
    }

    #[test]
    fn windows_expire() {
        let lockout = lockout(1, Duration::from_millis(1));
        let client: IpAddr = "192.0.2.1".parse().unwrap();
        lockout.fail(client);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(lockout.retry_after(client), None);
    }

    #[test]
    fn ipv6_counts_per_64() {
        let lockout = lockout(2, Duration::from_secs(60));
        lockout.fail("2001:db8::1".parse().unwrap());
        lockout.fail("2001:db8::2".parse().unwrap());
        assert!(
            lockout
                .retry_after("2001:db8::ffff".parse().unwrap())
                .is_some()
        );
        assert!(
            lockout
                .retry_after("2001:db8:0:1::1".parse().unwrap())
                .is_none()
        );
    }

    #[test]
    fn the_table_is_bounded() {
        let lockout = lockout(5, Duration::from_secs(60));
        for index in 0..(MAX_TRACKED as u32 + 10) {
            lockout.fail(IpAddr::from(index.to_be_bytes()));
        }
        assert!(lockout.clients.len() <= MAX_TRACKED);
    }
}
