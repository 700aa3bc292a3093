//! Throttling: django-piston's `@throttle(requests, period)`, enforced by the host
//! before the guest is called, exactly.
//!
//! Each rule admits `N` requests per `T` per caller (the principal when authenticated,
//! else the client address after the trusted-proxy rules), decided by [`gcra`] under
//! one lock or one Redis script, so `N` concurrent requests are all admitted and the
//! `N + 1`st is not, however they race. A refused request gets a 429 with
//! `Retry-After` and is not counted; every answer of a throttled resource carries
//! `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` for the rule
//! closest to its limit.
//!
//! Counters live in this process ([`local`]) or in Redis ([`shared`]) when several
//! hosts must share one limit. When Redis cannot answer, `on_error` decides: refuse
//! with 503 (the default) or admit uncounted; the change of state is logged once.

mod gcra;
mod local;
pub mod settings;
mod shared;

use self::gcra::Gcra;
use self::local::LocalCounters;
use self::settings::{Backend, OnError, ThrottleSettings};
use self::shared::SharedCounters;
use crate::client::counted_as;
use crate::problem::Problem;
use crate::registry::ResourceSpec;
use crate::vocab::{Method, Throttle};
use http::header::{HeaderName, RETRY_AFTER};
use http::{HeaderMap, HeaderValue, StatusCode};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// `RateLimit-Limit`: the requests the rule allows per period.
pub const RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
/// `RateLimit-Remaining`: how many more are admitted now.
pub const RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
/// `RateLimit-Reset`: seconds until the full allowance is back.
pub const RATELIMIT_RESET: HeaderName = HeaderName::from_static("ratelimit-reset");

/// Who a request is counted against.
#[derive(Debug, Clone, Copy)]
pub enum Caller<'a> {
    /// An authenticated principal, by id.
    Principal(&'a str),
    /// An anonymous client, by address.
    Address(IpAddr),
}

/// The state of the rule closest to its limit, for the response headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    limit: u32,
    remaining: u32,
    reset_seconds: u64,
}

impl RateLimit {
    /// Adds the `RateLimit-*` headers.
    pub fn apply(&self, headers: &mut HeaderMap) {
        headers.insert(RATELIMIT_LIMIT, HeaderValue::from(self.limit));
        headers.insert(RATELIMIT_REMAINING, HeaderValue::from(self.remaining));
        headers.insert(RATELIMIT_RESET, HeaderValue::from(self.reset_seconds));
    }

    /// Adds the `RateLimit-*` headers to a problem.
    pub fn annotate(&self, problem: Problem) -> Problem {
        problem
            .header(RATELIMIT_LIMIT, HeaderValue::from(self.limit))
            .header(RATELIMIT_REMAINING, HeaderValue::from(self.remaining))
            .header(RATELIMIT_RESET, HeaderValue::from(self.reset_seconds))
    }
}

/// Why a request was not admitted.
#[derive(Debug)]
pub enum Throttled {
    /// A rule is at its limit (429): the rule, how long to wait, and the headers.
    Limited {
        rule: Throttle,
        retry_after_seconds: u64,
        limit: RateLimit,
    },
    /// The counters cannot be reached and the resource fails closed (503).
    Unavailable { reason: String },
}

impl From<Throttled> for Problem {
    fn from(throttled: Throttled) -> Problem {
        match throttled {
            Throttled::Limited {
                rule,
                retry_after_seconds: seconds,
                limit,
            } => limit.annotate(
                Problem::new(StatusCode::TOO_MANY_REQUESTS)
                    .detail(format!(
                        "too many requests: this resource allows {} per {} s; try again in {seconds} s",
                        rule.requests, rule.period_seconds
                    ))
                    .header(RETRY_AFTER, HeaderValue::from(seconds)),
            ),
            Throttled::Unavailable { reason } => Problem::new(StatusCode::SERVICE_UNAVAILABLE)
                .detail("this resource's rate limit cannot be checked right now; try again shortly")
                .header(RETRY_AFTER, HeaderValue::from(1))
                .cause(format!("throttle counters unreachable: {reason}")),
        }
    }
}

/// What a backend decided for one request.
pub struct Outcome {
    /// Whether every rule admitted it.
    admitted: bool,
    /// The backend's clock, in microseconds.
    now: u64,
    /// Each rule's TAT afterwards, in the order the rules were given.
    tats: Vec<u64>,
}

enum Counters {
    Local(LocalCounters),
    Shared(Box<SharedCounters>),
}

/// Enforces the rate limits of every resource.
pub struct Throttler {
    counters: Arc<Counters>,
    backend: Backend,
    on_error: OnError,
    plugins: BTreeMap<String, settings::PluginRules>,
    /// Whether the last backend call succeeded (to log changes, not every failure).
    healthy: AtomicBool,
}

impl Throttler {
    /// The throttler `settings` describe. It counts on where `previous` counted when
    /// the backend is the same (a configuration reload forgets no request); otherwise
    /// in-process counters start a sweeper on the current tokio runtime, and Redis is
    /// connected on first use.
    pub fn new(
        settings: &ThrottleSettings,
        previous: Option<&Throttler>,
    ) -> Result<Throttler, String> {
        let counters = match previous.filter(|previous| previous.backend == settings.backend) {
            Some(previous) => previous.counters.clone(),
            None => Arc::new(match &settings.backend {
                Backend::Memory => Counters::Local(LocalCounters::new()),
                Backend::Redis(redis) => {
                    Counters::Shared(Box::new(SharedCounters::new(redis.clone())?))
                }
            }),
        };
        Ok(Throttler {
            counters,
            backend: settings.backend.clone(),
            on_error: settings.on_error,
            plugins: settings.plugins.clone(),
            healthy: AtomicBool::new(true),
        })
    }

    /// Where the counters are, for the startup log.
    pub fn describe(&self) -> String {
        match &*self.counters {
            Counters::Local(_) => "in-process counters".to_owned(),
            Counters::Shared(shared) => format!(
                "counters in Redis at {} (when it fails: {})",
                shared.location(),
                match self.on_error {
                    OnError::Closed => "refuse with 503",
                    OnError::Open => "admit uncounted",
                }
            ),
        }
    }

    /// Counts a `method` request to `resource` of `plugin` by `caller`: the headers
    /// to report when it is admitted (none when no rule applies), or why it is not.
    pub async fn check(
        &self,
        plugin: &str,
        resource: &ResourceSpec,
        method: Method,
        caller: Caller<'_>,
    ) -> Result<Option<RateLimit>, Throttled> {
        let anonymous = matches!(caller, Caller::Address(_));
        let rules = self.rules(plugin, resource, anonymous);
        let applicable: Vec<(usize, Gcra)> = rules
            .iter()
            .enumerate()
            .filter(|(_, rule)| rule.methods.is_empty() || rule.methods.contains(method))
            .map(|(slot, rule)| (slot, Gcra::new(rule.requests, rule.period_seconds)))
            .collect();
        if applicable.is_empty() {
            return Ok(None);
        }
        let key = |prefix| counter_key(prefix, plugin, &resource.name, caller);
        let outcome = match &*self.counters {
            Counters::Local(local) => Ok(local.acquire(&key(""), &applicable, rules.len())),
            Counters::Shared(shared) => shared.acquire(key(shared.key_prefix()), &applicable).await,
        };
        let outcome = match outcome {
            Ok(outcome) => {
                if !self.healthy.swap(true, Ordering::Relaxed) {
                    tracing::info!("throttle counters are reachable again");
                }
                outcome
            }
            Err(reason) => return self.unavailable(reason),
        };
        let limit = report(&applicable, &outcome);
        if outcome.admitted {
            return Ok(Some(limit));
        }
        let wait = applicable
            .iter()
            .zip(&outcome.tats)
            .map(|((_, rule), tat)| rule.retry_after(outcome.now, *tat))
            .max()
            .unwrap_or_default();
        let seconds = wait.div_ceil(1_000_000).max(1);
        let rule = applicable
            .iter()
            .zip(&outcome.tats)
            .find(|((_, rule), tat)| !rule.admits(outcome.now, **tat))
            .map_or(&rules[applicable[0].0], |((slot, _), _)| &rules[*slot]);
        Err(Throttled::Limited {
            rule: rule.clone(),
            retry_after_seconds: seconds,
            limit,
        })
    }

    /// The rules for a caller of a resource (see [`settings::rules_for`]).
    fn rules<'a>(
        &'a self,
        plugin: &str,
        resource: &'a ResourceSpec,
        anonymous: bool,
    ) -> &'a [Throttle] {
        settings::rules_for(&self.plugins, plugin, resource, anonymous)
    }

    /// The answer when the counters cannot be reached, per `on_error`.
    fn unavailable(&self, reason: String) -> Result<Option<RateLimit>, Throttled> {
        let policy = match self.on_error {
            OnError::Closed => "throttled resources answer 503",
            OnError::Open => "throttled resources admit requests uncounted",
        };
        if self.healthy.swap(false, Ordering::Relaxed) {
            tracing::error!(
                "throttle counters are unreachable ({reason}); {policy} until they are back"
            );
        } else {
            tracing::debug!("throttle counters still unreachable: {reason}");
        }
        match self.on_error {
            OnError::Open => Ok(None),
            OnError::Closed => Err(Throttled::Unavailable { reason }),
        }
    }
}

/// The headers for the rule with the fewest requests left (the longest wait on a tie).
fn report(rules: &[(usize, Gcra)], outcome: &Outcome) -> RateLimit {
    rules
        .iter()
        .zip(&outcome.tats)
        .map(|((_, rule), tat)| RateLimit {
            limit: rule.limit,
            remaining: rule.remaining(outcome.now, *tat),
            reset_seconds: rule.reset_after(outcome.now, *tat).div_ceil(1_000_000),
        })
        .min_by_key(|limit| (limit.remaining, std::cmp::Reverse(limit.reset_seconds)))
        .expect("there is at least one rule")
}

/// The counters of one caller of one resource: `{prefix}{plugin}/{resource}/user:{id}`
/// or `{prefix}{plugin}/{resource}/addr:{address}` (the names Redis keeps them under,
/// so they never change), written by hand: through the formatting machinery they
/// cost about as much as the rest of a check.
fn counter_key(prefix: &str, plugin: &str, resource: &str, caller: Caller<'_>) -> String {
    let mut key = String::with_capacity(prefix.len() + plugin.len() + resource.len() + 48);
    key.push_str(prefix);
    key.push_str(plugin);
    key.push('/');
    key.push_str(resource);
    match caller {
        Caller::Principal(id) => {
            key.push_str("/user:");
            key.push_str(id);
        }
        Caller::Address(address) => {
            key.push_str("/addr:");
            match counted_as(address) {
                IpAddr::V4(address) => push_ipv4(&mut key, address),
                IpAddr::V6(address) => {
                    let _ = write!(key, "{address}");
                }
            }
        }
    }
    key
}

/// Appends `address` as its `Display` writes it: dotted decimal, no leading zeros.
fn push_ipv4(key: &mut String, address: Ipv4Addr) {
    for (index, octet) in address.octets().into_iter().enumerate() {
        if index > 0 {
            key.push('.');
        }
        if octet >= 100 {
            key.push(char::from(b'0' + octet / 100));
        }
        if octet >= 10 {
            key.push(char::from(b'0' + octet / 10 % 10));
        }
        key.push(char::from(b'0' + octet % 10));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn an_address_key_reads_as_the_address_displays(bits: u32, v6: u128) {
            for address in [IpAddr::V4(Ipv4Addr::from(bits)), IpAddr::V6(v6.into())] {
                prop_assert_eq!(
                    counter_key("piston:", "blog", "post", Caller::Address(address)),
                    format!("piston:blog/post/addr:{}", counted_as(address))
                );
            }
        }
    }

    #[test]
    fn a_principal_key_names_the_principal() {
        assert_eq!(
            counter_key("", "blog", "post", Caller::Principal("ann")),
            "blog/post/user:ann"
        );
    }
}
