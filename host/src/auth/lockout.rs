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
//! whole /64). The counts live in the [`Coordination`] backend, so every host sharing
//! it counts the same failures, and they outlive the limits: a configuration reload
//! keeps every count and applies the new limits to it. When the backend cannot answer,
//! neither can a check: the request is refused with 503, never let through unchecked.

use super::Account;
use super::settings::FailureLimit;
use crate::client::counted_as;
use crate::coordination::{Coordination, Failure, Unavailable};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// Failed logins per account and address, under one limit.
pub struct Lockout {
    limit: FailureLimit,
    coordination: Arc<Coordination>,
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

/// One count a failure adds to: what it locks, its key, and its limit.
struct Counted {
    scope: Scope,
    key: String,
    max: u32,
}

impl Lockout {
    /// The limit `limit` describes, over the counts in `coordination`.
    pub fn new(limit: FailureLimit, coordination: Arc<Coordination>) -> Lockout {
        Lockout {
            limit,
            coordination,
        }
    }

    /// The lock `client` is under whatever account it names (its address's), if any.
    pub async fn address_lock(&self, client: IpAddr) -> Result<Option<Lock>, Unavailable> {
        self.longest(vec![self.address(client)]).await
    }

    /// The longest lock that refuses credentials from `client` claiming `account`
    /// (none for credentials that name no account), if any.
    pub async fn lock(
        &self,
        client: IpAddr,
        account: Option<&Account>,
    ) -> Result<Option<Lock>, Unavailable> {
        self.longest(self.counted(client, account)).await
    }

    /// Counts one failed login by `client`, claiming `account`.
    pub async fn fail(&self, client: IpAddr, account: Option<&Account>) -> Result<(), Unavailable> {
        let failures: Vec<Failure> = self
            .counted(client, account)
            .into_iter()
            .map(|counted| Failure {
                key: counted.key,
                limit: counted.max,
            })
            .collect();
        self.coordination.add(&failures, self.limit.window).await
    }

    /// The counts a failure of `client` claiming `account` adds to.
    fn counted(&self, client: IpAddr, account: Option<&Account>) -> Vec<Counted> {
        let address = counted_as(client);
        let named = account.map(|account| hex::encode(account.0));
        let mut counted = vec![Counted {
            scope: Scope::Pair,
            key: format!("pair:{address}/{}", named.as_deref().unwrap_or("-")),
            max: self.limit.max,
        }];
        if let Some(named) = named {
            counted.push(Counted {
                scope: Scope::Account,
                key: format!("account:{named}"),
                max: self.limit.account_max,
            });
        }
        counted.push(self.address(client));
        counted
    }

    fn address(&self, client: IpAddr) -> Counted {
        Counted {
            scope: Scope::Address,
            key: format!("address:{}", counted_as(client)),
            max: self.limit.address_max,
        }
    }

    /// The longest lock among `counted`, if any is at its limit.
    async fn longest(&self, counted: Vec<Counted>) -> Result<Option<Lock>, Unavailable> {
        let keys: Vec<String> = counted.iter().map(|counted| counted.key.clone()).collect();
        let tallies = self.coordination.tallies(&keys).await?;
        Ok(counted
            .iter()
            .zip(tallies)
            .filter_map(|(counted, tally)| {
                let tally = tally.filter(|tally| tally.count >= counted.max)?;
                Some(Lock {
                    scope: counted.scope,
                    wait: tally.left,
                })
            })
            .max_by_key(|lock| lock.wait))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(max: u32, window: Duration) -> FailureLimit {
        FailureLimit {
            max,
            window,
            account_max: max * 5,
            address_max: max * 10,
        }
    }

    fn lockout(max: u32, window: Duration) -> Lockout {
        Lockout::new(limit(max, window), Arc::new(Coordination::memory()))
    }

    fn address(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[tokio::test]
    async fn a_pair_locks_after_max_failures_until_the_window_ends() {
        let lockout = lockout(3, Duration::from_secs(60));
        let client = address("192.0.2.1");
        let ann = Account::user("ann");
        for _ in 0..2 {
            lockout.fail(client, Some(&ann)).await.unwrap();
        }
        assert_eq!(lockout.lock(client, Some(&ann)).await.unwrap(), None);
        lockout.fail(client, Some(&ann)).await.unwrap();
        let lock = lockout
            .lock(client, Some(&ann))
            .await
            .unwrap()
            .expect("locked");
        assert_eq!(lock.scope, Scope::Pair);
        assert!(lock.wait <= Duration::from_secs(60) && lock.wait > Duration::from_secs(50));
        assert!(lock.seconds() <= 60 && lock.seconds() > 50);
        // The same address for another account, and the account from elsewhere, are not.
        assert_eq!(
            lockout
                .lock(client, Some(&Account::user("bob")))
                .await
                .unwrap(),
            None
        );
        assert_eq!(lockout.lock(client, None).await.unwrap(), None);
        assert_eq!(
            lockout
                .lock(address("192.0.2.2"), Some(&ann))
                .await
                .unwrap(),
            None
        );
        assert_eq!(lockout.address_lock(client).await.unwrap(), None);
    }

    #[tokio::test]
    async fn an_account_locks_after_account_max_failures_from_many_addresses() {
        let lockout = lockout(2, Duration::from_secs(60));
        let ann = Account::user("ann");
        for index in 0..9u8 {
            lockout
                .fail(IpAddr::from([198, 51, 100, index]), Some(&ann))
                .await
                .unwrap();
        }
        let fresh = address("203.0.113.7");
        assert_eq!(
            lockout.lock(fresh, Some(&ann)).await.unwrap(),
            None,
            "9 of 10"
        );
        lockout
            .fail(address("198.51.100.200"), Some(&ann))
            .await
            .unwrap();
        let lock = lockout
            .lock(fresh, Some(&ann))
            .await
            .unwrap()
            .expect("the account is locked");
        assert_eq!(lock.scope, Scope::Account);
        assert_eq!(
            lockout
                .lock(fresh, Some(&Account::user("bob")))
                .await
                .unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn an_address_locks_after_address_max_failures_on_many_accounts() {
        let lockout = lockout(2, Duration::from_secs(60));
        let client = address("192.0.2.1");
        for index in 0..19 {
            lockout
                .fail(client, Some(&Account::user(&format!("user{index}"))))
                .await
                .unwrap();
        }
        assert_eq!(
            lockout
                .lock(client, Some(&Account::user("ann")))
                .await
                .unwrap(),
            None
        );
        lockout.fail(client, None).await.unwrap();
        let lock = lockout
            .lock(client, Some(&Account::user("ann")))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(lock.scope, Scope::Address);
        assert_eq!(
            lockout.address_lock(client).await.unwrap().unwrap().scope,
            Scope::Address
        );
        assert_eq!(
            lockout.address_lock(address("192.0.2.2")).await.unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn credentials_that_name_no_account_lock_only_their_own_kind() {
        let lockout = lockout(2, Duration::from_secs(60));
        let client = address("192.0.2.1");
        lockout.fail(client, None).await.unwrap();
        lockout.fail(client, None).await.unwrap();
        assert_eq!(
            lockout.lock(client, None).await.unwrap().unwrap().scope,
            Scope::Pair
        );
        assert_eq!(
            lockout
                .lock(client, Some(&Account::user("ann")))
                .await
                .unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn windows_expire() {
        let lockout = lockout(1, Duration::from_millis(1));
        let client = address("192.0.2.1");
        lockout.fail(client, None).await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(lockout.lock(client, None).await.unwrap(), None);
    }

    #[tokio::test]
    async fn ipv6_counts_per_64() {
        let lockout = lockout(2, Duration::from_secs(60));
        lockout.fail(address("2001:db8::1"), None).await.unwrap();
        lockout.fail(address("2001:db8::2"), None).await.unwrap();
        assert!(
            lockout
                .lock(address("2001:db8::ffff"), None)
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            lockout
                .lock(address("2001:db8:0:1::1"), None)
                .await
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn a_new_limit_keeps_the_counts_and_applies_to_them() {
        let before = lockout(5, Duration::from_secs(60));
        let client = address("192.0.2.1");
        let ann = Account::user("ann");
        for _ in 0..3 {
            before.fail(client, Some(&ann)).await.unwrap();
        }
        assert_eq!(before.lock(client, Some(&ann)).await.unwrap(), None);
        let after = Lockout::new(
            limit(3, Duration::from_secs(60)),
            before.coordination.clone(),
        );
        assert_eq!(
            after.lock(client, Some(&ann)).await.unwrap().unwrap().scope,
            Scope::Pair
        );
        assert_eq!(
            lockout(3, Duration::from_secs(60))
                .lock(client, Some(&ann))
                .await
                .unwrap(),
            None,
            "a lockout made afresh knows nothing"
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
