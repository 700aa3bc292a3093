//! The failed-login limit: credentials that keep failing are refused (429) until the
//! window they failed in ends, so passwords cannot be guessed at the speed of the
//! network. Failures are counted three ways, each within `window`:
//!
//! - per account from one client address: `max` failures lock that pair only, so the
//!   guesser is stopped while everyone else behind the same address (a NAT, a proxy)
//!   still logs in, and so does the account's owner from elsewhere;
//! - per account from every address: `account_max` failures lock the account, against
//!   guessing one password from many addresses;
//! - per client address for every account: `address_max` failures lock the address,
//!   against trying one password on many accounts.
//!
//! The account is the one the credentials claim (see [`Account`]); credentials that name
//! none (malformed ones, an authenticator plugin's) count as one unnamed account of
//! their address. A lock is checked before the credentials are, so a locked pair or
//! account is refused even with the right password: what stops the guessing also stops
//! the owner, for one window at most.
//!
//! Addresses are counted per IPv4 address and per IPv6 /64 (one host usually holds a
//! whole /64). Each table is bounded: past [`MAX_TRACKED`] entries, expired windows are
//! dropped, then windows below their limit, then the oldest. The tables outlive the
//! limits: a configuration reload keeps every count and applies the new limits to it.

use super::Account;
use super::settings::FailureLimit;
use crate::client::counted_as;
use dashmap::DashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The most entries each table tracks at once.
const MAX_TRACKED: usize = 100_000;

/// Failed logins per account and address, under one limit.
pub struct Lockout {
    limit: FailureLimit,
    counts: Arc<Counts>,
}

/// What is locked, for the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// This account from this address.
    Pair,
    /// This account, from everywhere.
    Account,
    /// This address, for every account.
    Address,
}

/// A lock in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lock {
    /// What is locked.
    pub scope: Scope,
    /// Until the window ends.
    pub wait: Duration,
}

impl Lock {
    /// Whole seconds until the lock ends, rounded up (for `Retry-After`).
    pub fn seconds(&self) -> u64 {
        let wait = self.wait;
        wait.as_secs()
            .saturating_add(u64::from(wait.subsec_nanos() > 0))
    }

    /// What the client is told is locked.
    pub fn reason(&self) -> &'static str {
        match self.scope {
            Scope::Pair => "too many failed logins for this account from this address",
            Scope::Account => "too many failed logins for this account",
            Scope::Address => "too many failed logins from this address",
        }
    }
}

struct Counts {
    pairs: Table<(IpAddr, Option<Account>)>,
    accounts: Table<Account>,
    addresses: Table<IpAddr>,
}

/// One kind of count.
struct Table<K>(DashMap<K, Window>);

#[derive(Debug, Clone, Copy)]
struct Window {
    opened: Instant,
    failures: u32,
}

impl Lockout {
    /// The limit `limit` describes, counting on in `previous`'s tables when given (a
    /// configuration reload forgets no failure).
    pub fn new(limit: FailureLimit, previous: Option<&Lockout>) -> Lockout {
        let counts = match previous {
            Some(previous) => previous.counts.clone(),
            None => Arc::new(Counts {
                pairs: Table(DashMap::new()),
                accounts: Table(DashMap::new()),
                addresses: Table(DashMap::new()),
            }),
        };
        Lockout { limit, counts }
    }

    /// The lock `client` is under whatever account it names (its address's), if any.
    pub fn address_lock(&self, client: IpAddr) -> Option<Lock> {
        let now = Instant::now();
        let window = self.limit.window;
        self.counts
            .addresses
            .lock(&counted_as(client), self.limit.address_max, window, now)
            .map(|wait| Lock {
                scope: Scope::Address,
                wait,
            })
    }

    /// The longest lock that refuses credentials from `client` claiming `account`
    /// (none for credentials that name no account), if any.
    pub fn lock(&self, client: IpAddr, account: Option<&Account>) -> Option<Lock> {
        let now = Instant::now();
        let (limit, address) = (&self.limit, counted_as(client));
        let pair = self
            .counts
            .pairs
            .lock(&(address, account.copied()), limit.max, limit.window, now)
            .map(|wait| Lock {
                scope: Scope::Pair,
                wait,
            });
        let account = account.and_then(|account| {
            self.counts
                .accounts
                .lock(account, limit.account_max, limit.window, now)
                .map(|wait| Lock {
                    scope: Scope::Account,
                    wait,
                })
        });
        [pair, account, self.address_lock(client)]
            .into_iter()
            .flatten()
            .max_by_key(|lock| lock.wait)
    }

    /// Counts one failed login by `client`, claiming `account`.
    pub fn fail(&self, client: IpAddr, account: Option<&Account>) {
        let now = Instant::now();
        let (limit, address) = (&self.limit, counted_as(client));
        let counts = &self.counts;
        counts
            .pairs
            .fail((address, account.copied()), limit.max, limit.window, now);
        if let Some(account) = account {
            counts
                .accounts
                .fail(*account, limit.account_max, limit.window, now);
        }
        counts
            .addresses
            .fail(address, limit.address_max, limit.window, now);
    }
}

impl<K: Eq + Hash + Copy> Table<K> {
    /// How long `key` stays locked, if it is over `max` in a window still open.
    fn lock(&self, key: &K, max: u32, window: Duration, now: Instant) -> Option<Duration> {
        let tracked = *self.0.get(key)?;
        let ends = tracked.opened.checked_add(window)?;
        (tracked.failures >= max && ends > now).then(|| ends - now)
    }

    fn fail(&self, key: K, max: u32, window: Duration, now: Instant) {
        if !self.0.contains_key(&key) && self.0.len() >= MAX_TRACKED {
            self.make_room(max, window, now);
        }
        let mut tracked = self.0.entry(key).or_insert(Window {
            opened: now,
            failures: 0,
        });
        if now.saturating_duration_since(tracked.opened) >= window {
            *tracked = Window {
                opened: now,
                failures: 0,
            };
        }
        tracked.failures = tracked.failures.saturating_add(1);
    }

    /// Brings the table to at most half its bound: expired windows go first, then
    /// windows under their limit (locks are what the table is for), then the oldest.
    fn make_room(&self, max: u32, window: Duration, now: Instant) {
        let room = MAX_TRACKED / 2;
        self.0
            .retain(|_, tracked| now.saturating_duration_since(tracked.opened) < window);
        if self.0.len() > room {
            self.0.retain(|_, tracked| tracked.failures >= max);
        }
        super::keep_largest(&self.0, room, |tracked| tracked.opened);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lockout(max: u32, window: Duration) -> Lockout {
        Lockout::new(
            FailureLimit {
                max,
                window,
                account_max: max * 5,
                address_max: max * 10,
            },
            None,
        )
    }

    fn address(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn a_pair_locks_after_max_failures_until_the_window_ends() {
        let lockout = lockout(3, Duration::from_secs(60));
        let client = address("192.0.2.1");
        let ann = Account::user("ann");
        for _ in 0..2 {
            lockout.fail(client, Some(&ann));
        }
        assert_eq!(lockout.lock(client, Some(&ann)), None);
        lockout.fail(client, Some(&ann));
        let lock = lockout.lock(client, Some(&ann)).expect("locked");
        assert_eq!(lock.scope, Scope::Pair);
        assert!(lock.wait <= Duration::from_secs(60) && lock.wait > Duration::from_secs(50));
        assert!(lock.seconds() <= 60 && lock.seconds() > 50);
        // The same address for another account, and the account from elsewhere, are not.
        assert_eq!(lockout.lock(client, Some(&Account::user("bob"))), None);
        assert_eq!(lockout.lock(client, None), None);
        assert_eq!(lockout.lock(address("192.0.2.2"), Some(&ann)), None);
        assert_eq!(lockout.address_lock(client), None);
    }

    #[test]
    fn an_account_locks_after_account_max_failures_from_many_addresses() {
        let lockout = lockout(2, Duration::from_secs(60));
        let ann = Account::user("ann");
        for index in 0..9u8 {
            lockout.fail(IpAddr::from([198, 51, 100, index]), Some(&ann));
        }
        let fresh = address("203.0.113.7");
        assert_eq!(lockout.lock(fresh, Some(&ann)), None, "9 of 10");
        lockout.fail(address("198.51.100.200"), Some(&ann));
        let lock = lockout
            .lock(fresh, Some(&ann))
            .expect("the account is locked");
        assert_eq!(lock.scope, Scope::Account);
        assert_eq!(lockout.lock(fresh, Some(&Account::user("bob"))), None);
    }

    #[test]
    fn an_address_locks_after_address_max_failures_on_many_accounts() {
        let lockout = lockout(2, Duration::from_secs(60));
        let client = address("192.0.2.1");
        for index in 0..19 {
            lockout.fail(client, Some(&Account::user(&format!("user{index}"))));
        }
        assert_eq!(lockout.lock(client, Some(&Account::user("ann"))), None);
        lockout.fail(client, None);
        let lock = lockout.lock(client, Some(&Account::user("ann"))).unwrap();
        assert_eq!(lock.scope, Scope::Address);
        assert_eq!(lockout.address_lock(client).unwrap().scope, Scope::Address);
        assert_eq!(lockout.address_lock(address("192.0.2.2")), None);
    }

    #[test]
    fn credentials_that_name_no_account_lock_only_their_own_kind() {
        let lockout = lockout(2, Duration::from_secs(60));
        let client = address("192.0.2.1");
        lockout.fail(client, None);
        lockout.fail(client, None);
        assert_eq!(lockout.lock(client, None).unwrap().scope, Scope::Pair);
        assert_eq!(lockout.lock(client, Some(&Account::user("ann"))), None);
    }

    #[test]
    fn windows_expire() {
        let lockout = lockout(1, Duration::from_millis(1));
        let client = address("192.0.2.1");
        lockout.fail(client, None);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(lockout.lock(client, None), None);
    }

    #[test]
    fn ipv6_counts_per_64() {
        let lockout = lockout(2, Duration::from_secs(60));
        lockout.fail(address("2001:db8::1"), None);
        lockout.fail(address("2001:db8::2"), None);
        assert!(lockout.lock(address("2001:db8::ffff"), None).is_some());
        assert!(lockout.lock(address("2001:db8:0:1::1"), None).is_none());
    }

    #[test]
    fn a_new_limit_keeps_the_counts_and_applies_to_them() {
        let before = lockout(5, Duration::from_secs(60));
        let client = address("192.0.2.1");
        let ann = Account::user("ann");
        for _ in 0..3 {
            before.fail(client, Some(&ann));
        }
        assert_eq!(before.lock(client, Some(&ann)), None);
        let after = Lockout::new(
            FailureLimit {
                max: 3,
                window: Duration::from_secs(60),
                account_max: 15,
                address_max: 30,
            },
            Some(&before),
        );
        assert_eq!(after.lock(client, Some(&ann)).unwrap().scope, Scope::Pair);
        assert_eq!(
            lockout(3, Duration::from_secs(60)).lock(client, Some(&ann)),
            None,
            "a lockout made afresh knows nothing"
        );
    }

    #[test]
    fn the_tables_are_bounded_and_keep_their_locks() {
        let lockout = lockout(5, Duration::from_secs(60));
        let ann = Account::user("ann");
        let guesser = address("203.0.113.9");
        for _ in 0..5 {
            lockout.fail(guesser, Some(&ann));
        }
        for index in 0..(MAX_TRACKED as u32 + 10) {
            let client = IpAddr::from(index.to_be_bytes());
            lockout.fail(client, Some(&Account::named("test", &index.to_string())));
        }
        let counts = &lockout.counts;
        assert!(counts.pairs.0.len() <= MAX_TRACKED);
        assert!(counts.accounts.0.len() <= MAX_TRACKED);
        assert!(counts.addresses.0.len() <= MAX_TRACKED);
        assert!(
            lockout.lock(guesser, Some(&ann)).is_some(),
            "a flood of single failures does not unlock a pair"
        );
    }

    #[test]
    fn long_account_names_cost_sixteen_bytes() {
        let long = "x".repeat(1 << 20);
        assert_eq!(std::mem::size_of::<Account>(), 16);
        assert_ne!(Account::user(&long), Account::user("x"));
        assert_ne!(Account::user("ann"), Account::named("jwt", "ann"));
    }
}
