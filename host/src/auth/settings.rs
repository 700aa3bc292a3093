// Over 600 lines: a quarter is tests; every auth key and its check are kept in one place.
//! The `[auth]` section of `piston.toml`, and the per-plugin and per-resource choices
//! in `[plugins.NAME]`, resolved and checked.
//!
//! ```toml
//! [auth]
//! authenticators = ["basic", "bearer"] # the default chain, tried in order (default: none)
//! realm = "piston"                     # the realm every challenge names
//!
//! [auth.digest]
//! nonce_lifetime = "5m"                # how long a challenge's nonce is good for
//! algorithms = ["SHA-256", "MD5"]      # offered, in order of preference
//!
//! [auth.jwt]                         # see `jwt` for its keys
//! audience = "blog-api"
//! public_key_file = "idp.pem"
//!
//! [auth.oauth1]                      # the OAuth 1.0a provider (at /oauth/...)
//! timestamp_window = "5m"              # how far a request's timestamp may be from now
//! request_token_lifetime = "10m"       # how long the user has to approve
//! throttle = { requests = 30, period = "1m" } # calls to /oauth/... per client address
//!
//! [auth.failures]                      # failed logins allowed per window, then 429
//! max = 10                             # per account from one client address
//! account_max = 50                     # per account from every address (default 5 × max)
//! address_max = 100                    # per client address, for every account (default 10 × max)
//! window = "5m"
//!
//! [plugins.blog]
//! auth = ["basic"]                     # this plugin's chain
//! [plugins.blog.resources.post]
//! auth = ["bearer"]                    # this resource's chain
//! scopes = { DELETE = ["posts:delete"] } # scopes a scoped credential needs, per method
//! ```
//!
//! With no authenticator in a resource's chain, every method is served anonymously.
//! With any, only the resource's anonymous methods are.

use super::digest::DigestAlgorithm;
use super::jwt::{JwtSection, JwtSettings};
use crate::vocab::{BUILT_IN, ConfigError, Method, check_range, is_name};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

const DEFAULT_REALM: &str = "piston";
const DEFAULT_MAX_FAILURES: u32 = 10;
const DEFAULT_FAILURE_WINDOW: Duration = Duration::from_secs(5 * 60);
const DEFAULT_NONCE_LIFETIME: Duration = Duration::from_secs(5 * 60);
const NONCE_LIFETIME_RANGE: (Duration, Duration) =
    (Duration::from_secs(1), Duration::from_secs(24 * 60 * 60));
const DEFAULT_TIMESTAMP_WINDOW: Duration = Duration::from_secs(5 * 60);
const TIMESTAMP_WINDOW_RANGE: (Duration, Duration) =
    (Duration::from_secs(1), Duration::from_secs(60 * 60));
const DEFAULT_REQUEST_TOKEN_LIFETIME: Duration = Duration::from_secs(10 * 60);
const REQUEST_TOKEN_LIFETIME_RANGE: (Duration, Duration) =
    (Duration::from_secs(10), Duration::from_secs(24 * 60 * 60));
const MAX_FAILURES_RANGE: (u32, u32) = (1, 1_000_000);
/// The upper bound of `account_max` and `address_max` (the lower is `max`).
const MAX_TOTAL_FAILURES: u32 = 100_000_000;
const DEFAULT_ACCOUNT_FACTOR: u32 = 5;
const DEFAULT_ADDRESS_FACTOR: u32 = 10;
const DEFAULT_OAUTH_REQUESTS: u32 = 30;
const DEFAULT_OAUTH_PERIOD: Duration = Duration::from_secs(60);
const OAUTH_REQUESTS_RANGE: (u32, u32) = (1, 1_000_000);
const OAUTH_PERIOD_RANGE: (Duration, Duration) =
    (Duration::from_secs(1), Duration::from_secs(24 * 60 * 60));
const FAILURE_WINDOW_RANGE: (Duration, Duration) =
    (Duration::from_secs(1), Duration::from_secs(24 * 60 * 60));

/// The authentication settings, checked.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// The chain for resources whose plugin and resource sections name none.
    pub default_chain: Vec<String>,
    /// Per-plugin choices, by plugin name.
    pub plugins: BTreeMap<String, PluginAuth>,
    /// The realm every challenge names (and Digest secrets are made for).
    pub realm: String,
    /// Digest's nonces and algorithms.
    pub digest: DigestSettings,
    /// JWT verification, when configured.
    pub jwt: Option<JwtSettings>,
    /// The OAuth 1.0a provider's windows.
    pub oauth1: OAuthSettings,
    /// How many failed logins an account, a client address, and an account from one
    /// address may make per window.
    pub failures: FailureLimit,
}

/// The OAuth 1.0a provider's settings.
#[derive(Debug, Clone, Copy)]
pub struct OAuthSettings {
    /// How far a request's `oauth_timestamp` may be from the server's clock (and so
    /// how long nonces are remembered).
    pub timestamp_window: Duration,
    /// How long temporary credentials wait for the user's approval.
    pub request_token_lifetime: Duration,
    /// How often one client address may call the provider's endpoints.
    pub throttle: Rate,
}

/// `requests` per `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Requests allowed per period (and at once).
    pub requests: u32,
    /// The period.
    pub period: Duration,
}

/// Digest's settings.
#[derive(Debug, Clone)]
pub struct DigestSettings {
    /// How long a nonce is good for.
    pub nonce_lifetime: Duration,
    /// The algorithms offered, most preferred first.
    pub algorithms: Vec<DigestAlgorithm>,
}

/// One plugin's choices.
#[derive(Debug, Clone, Default)]
pub struct PluginAuth {
    /// Its chain, replacing the default.
    pub chain: Option<Vec<String>>,
    /// Per-resource choices, by resource name.
    pub resources: BTreeMap<String, ResourceAuth>,
}

/// One resource's choices.
#[derive(Debug, Clone, Default)]
pub struct ResourceAuth {
    /// Its chain, replacing the plugin's.
    pub chain: Option<Vec<String>>,
    /// The scopes a scoped credential needs, per method.
    pub scopes: BTreeMap<Method, Vec<String>>,
}

/// The failed-login limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureLimit {
    /// Failed logins allowed per window for one account from one client address.
    pub max: u32,
    /// The window.
    pub window: Duration,
    /// Failed logins allowed per window for one account, from every address.
    pub account_max: u32,
    /// Failed logins allowed per window from one client address, for every account.
    pub address_max: u32,
}

impl FailureLimit {
    /// `max` per account and address, with the default limits per account and per
    /// address that follow from it.
    pub fn from_max(max: u32, window: Duration) -> FailureLimit {
        FailureLimit {
            max,
            window,
            account_max: max
                .saturating_mul(DEFAULT_ACCOUNT_FACTOR)
                .min(MAX_TOTAL_FAILURES),
            address_max: max
                .saturating_mul(DEFAULT_ADDRESS_FACTOR)
                .min(MAX_TOTAL_FAILURES),
        }
    }
}

impl Default for AuthSettings {
    fn default() -> AuthSettings {
        AuthSettings {
            default_chain: Vec::new(),
            plugins: BTreeMap::new(),
            realm: DEFAULT_REALM.to_owned(),
            digest: DigestSettings {
                nonce_lifetime: DEFAULT_NONCE_LIFETIME,
                algorithms: vec![DigestAlgorithm::Sha256, DigestAlgorithm::Md5],
            },
            jwt: None,
            oauth1: OAuthSettings {
                timestamp_window: DEFAULT_TIMESTAMP_WINDOW,
                request_token_lifetime: DEFAULT_REQUEST_TOKEN_LIFETIME,
                throttle: Rate {
                    requests: DEFAULT_OAUTH_REQUESTS,
                    period: DEFAULT_OAUTH_PERIOD,
                },
            },
            failures: FailureLimit::from_max(DEFAULT_MAX_FAILURES, DEFAULT_FAILURE_WINDOW),
        }
    }
}

impl AuthSettings {
    /// The authenticators `resource` of `plugin` is served with, in order: its own
    /// chain, else its plugin's, else the default (empty: served anonymously).
    pub fn chain(&self, plugin: &str, resource: &str) -> &[String] {
        let plugin = self.plugins.get(plugin);
        plugin
            .and_then(|plugin| plugin.resources.get(resource))
            .and_then(|resource| resource.chain.as_deref())
            .or_else(|| plugin.and_then(|plugin| plugin.chain.as_deref()))
            .unwrap_or(&self.default_chain)
    }

    /// The scopes a scoped credential needs to call `method` on `resource` of `plugin`.
    pub fn scopes(&self, plugin: &str, resource: &str, method: Method) -> &[String] {
        self.plugins
            .get(plugin)
            .and_then(|plugin| plugin.resources.get(resource))
            .and_then(|resource| resource.scopes.get(&method))
            .map_or(&[], Vec::as_slice)
    }

    /// Every authenticator some chain names, once each.
    pub fn named(&self) -> impl Iterator<Item = &str> {
        let mut names: Vec<&str> = self
            .default_chain
            .iter()
            .chain(self.plugins.values().flat_map(|plugin| {
                plugin.chain.iter().flatten().chain(
                    plugin
                        .resources
                        .values()
                        .flat_map(|resource| resource.chain.iter().flatten()),
                )
            }))
            .map(String::as_str)
            .collect();
        names.sort_unstable();
        names.dedup();
        names.into_iter()
    }
}

/// `[auth]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSection {
    #[serde(default)]
    authenticators: Vec<String>,
    realm: Option<String>,
    #[serde(default)]
    digest: DigestSection,
    jwt: Option<JwtSection>,
    #[serde(default)]
    oauth1: OAuthSection,
    #[serde(default)]
    failures: FailuresSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct OAuthSection {
    #[serde(default, with = "humantime_serde")]
    timestamp_window: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    request_token_lifetime: Option<Duration>,
    throttle: Option<RateSection>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RateSection {
    requests: Option<u32>,
    #[serde(default, with = "humantime_serde")]
    period: Option<Duration>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DigestSection {
    #[serde(default, with = "humantime_serde")]
    nonce_lifetime: Option<Duration>,
    algorithms: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FailuresSection {
    max: Option<u32>,
    #[serde(default, with = "humantime_serde")]
    window: Option<Duration>,
    account_max: Option<u32>,
    address_max: Option<u32>,
}

/// The auth keys of one `[plugins.NAME]` section, as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginAuthSection {
    /// `auth`.
    pub auth: Option<Vec<String>>,
    /// `[plugins.NAME.resources.RESOURCE]`.
    #[serde(default)]
    pub resources: BTreeMap<String, ResourceAuthSection>,
}

/// The auth keys of `[plugins.NAME.resources.RESOURCE]`, as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceAuthSection {
    /// `auth`.
    pub auth: Option<Vec<String>>,
    /// `scopes`.
    #[serde(default)]
    pub scopes: BTreeMap<String, Vec<String>>,
}

impl AuthSection {
    /// Checks the section and the plugins' auth keys. `key` makes a key's full name
    /// for error messages.
    pub fn resolve(
        self,
        plugins: BTreeMap<String, PluginAuthSection>,
        key: &dyn Fn(&str) -> String,
    ) -> Result<AuthSettings, ConfigError> {
        let defaults = AuthSettings::default();
        let default_chain = check_chain(&key("auth.authenticators"), self.authenticators)?;
        let realm = match self.realm {
            Some(realm) => check_realm(&key("auth.realm"), realm)?,
            None => defaults.realm,
        };
        let digest = DigestSettings {
            nonce_lifetime: check_range(
                &key("auth.digest.nonce_lifetime"),
                self.digest
                    .nonce_lifetime
                    .unwrap_or(defaults.digest.nonce_lifetime),
                NONCE_LIFETIME_RANGE,
            )?,
            algorithms: match self.digest.algorithms {
                Some(names) => check_algorithms(&key("auth.digest.algorithms"), &names)?,
                None => defaults.digest.algorithms,
            },
        };
        let jwt = self.jwt.map(|section| section.resolve(key)).transpose()?;
        let oauth1 = OAuthSettings {
            timestamp_window: check_range(
                &key("auth.oauth1.timestamp_window"),
                self.oauth1
                    .timestamp_window
                    .unwrap_or(defaults.oauth1.timestamp_window),
                TIMESTAMP_WINDOW_RANGE,
            )?,
            request_token_lifetime: check_range(
                &key("auth.oauth1.request_token_lifetime"),
                self.oauth1
                    .request_token_lifetime
                    .unwrap_or(defaults.oauth1.request_token_lifetime),
                REQUEST_TOKEN_LIFETIME_RANGE,
            )?,
            throttle: {
                let section = self.oauth1.throttle.unwrap_or_default();
                let defaults = defaults.oauth1.throttle;
                Rate {
                    requests: check_range(
                        &key("auth.oauth1.throttle.requests"),
                        section.requests.unwrap_or(defaults.requests),
                        OAUTH_REQUESTS_RANGE,
                    )?,
                    period: check_range(
                        &key("auth.oauth1.throttle.period"),
                        section.period.unwrap_or(defaults.period),
                        OAUTH_PERIOD_RANGE,
                    )?,
                }
            },
        };
        let failures = {
            let max = check_range(
                &key("auth.failures.max"),
                self.failures.max.unwrap_or(defaults.failures.max),
                MAX_FAILURES_RANGE,
            )?;
            let window = check_range(
                &key("auth.failures.window"),
                self.failures.window.unwrap_or(defaults.failures.window),
                FAILURE_WINDOW_RANGE,
            )?;
            let derived = FailureLimit::from_max(max, window);
            FailureLimit {
                account_max: check_range(
                    &key("auth.failures.account_max"),
                    self.failures.account_max.unwrap_or(derived.account_max),
                    (max, MAX_TOTAL_FAILURES),
                )?,
                address_max: check_range(
                    &key("auth.failures.address_max"),
                    self.failures.address_max.unwrap_or(derived.address_max),
                    (max, MAX_TOTAL_FAILURES),
                )?,
                ..derived
            }
        };
        let mut resolved = BTreeMap::new();
        let needs_jwt = |at: &str, chain: &[String]| {
            if jwt.is_none() && chain.iter().any(|name| name == "jwt") {
                return Err(ConfigError::new(
                    at,
                    "names `jwt`, which needs an [auth.jwt] section with its key and audience",
                ));
            }
            Ok(())
        };
        needs_jwt(&key("auth.authenticators"), &default_chain)?;
        for (plugin, section) in plugins {
            let at = |field: &str| key(&format!("plugins.{plugin}.{field}"));
            let chain = section
                .auth
                .map(|chain| check_chain(&at("auth"), chain))
                .transpose()?;
            needs_jwt(&at("auth"), chain.as_deref().unwrap_or_default())?;
            let mut resources = BTreeMap::new();
            for (resource, section) in section.resources {
                let at = |field: &str| at(&format!("resources.{resource}.{field}"));
                let chain = section
                    .auth
                    .map(|chain| check_chain(&at("auth"), chain))
                    .transpose()?;
                needs_jwt(&at("auth"), chain.as_deref().unwrap_or_default())?;
                let scopes = check_scopes(&at("scopes"), section.scopes)?;
                resources.insert(resource, ResourceAuth { chain, scopes });
            }
            resolved.insert(plugin, PluginAuth { chain, resources });
        }
        Ok(AuthSettings {
            default_chain,
            plugins: resolved,
            realm,
            digest,
            jwt,
            oauth1,
            failures,
        })
    }
}

/// A chain names each authenticator once, by a well-formed name: a built-in one, or
/// an authenticator plugin's.
fn check_chain(key: &str, chain: Vec<String>) -> Result<Vec<String>, ConfigError> {
    for (index, name) in chain.iter().enumerate() {
        if !is_name(name) {
            return Err(ConfigError::new(
                key,
                format!(
                    "`{name}` is not an authenticator name (built in: {}; or an authenticator plugin's name)",
                    BUILT_IN.join(", ")
                ),
            ));
        }
        if chain[..index].contains(name) {
            return Err(ConfigError::new(key, format!("`{name}` is named twice")));
        }
    }
    Ok(chain)
}

/// At least one algorithm, each once.
fn check_algorithms(key: &str, names: &[String]) -> Result<Vec<DigestAlgorithm>, ConfigError> {
    let mut algorithms = Vec::new();
    for name in names {
        let algorithm = DigestAlgorithm::parse(name)
            .ok_or_else(|| ConfigError::new(key, format!("`{name}` is not SHA-256 or MD5")))?;
        if algorithms.contains(&algorithm) {
            return Err(ConfigError::new(key, format!("`{name}` is named twice")));
        }
        algorithms.push(algorithm);
    }
    if algorithms.is_empty() {
        return Err(ConfigError::new(key, "names no algorithm"));
    }
    Ok(algorithms)
}

/// A realm goes into quoted strings in headers: printable ASCII only.
fn check_realm(key: &str, realm: String) -> Result<String, ConfigError> {
    let printable = realm.bytes().all(|byte| (b' '..=b'~').contains(&byte));
    if realm.is_empty() || realm.len() > 128 || !printable {
        return Err(ConfigError::new(
            key,
            "must be 1 to 128 printable ASCII characters",
        ));
    }
    Ok(realm)
}

/// Scopes by method name; a scope is a non-empty token without spaces.
fn check_scopes(
    key: &str,
    scopes: BTreeMap<String, Vec<String>>,
) -> Result<BTreeMap<Method, Vec<String>>, ConfigError> {
    scopes
        .into_iter()
        .map(|(method, scopes)| {
            let parsed = Method::from_name(&method).ok_or_else(|| {
                ConfigError::new(
                    key,
                    format!("`{method}` is not a method (GET, POST, PUT, PATCH or DELETE)"),
                )
            })?;
            if let Some(bad) = scopes
                .iter()
                .find(|scope| scope.is_empty() || scope.contains(char::is_whitespace))
            {
                return Err(ConfigError::new(
                    key,
                    format!("{bad:?} is not a scope (a non-empty word without spaces)"),
                ));
            }
            Ok((parsed, scopes))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(auth: &str, plugins: &str) -> Result<AuthSettings, ConfigError> {
        let section: AuthSection = toml::from_str(auth).unwrap();
        let plugins: BTreeMap<String, PluginAuthSection> = toml::from_str(plugins).unwrap();
        section.resolve(plugins, &|name| format!("piston.toml: {name}"))
    }

    #[test]
    fn defaults_authenticate_nobody() {
        let settings = resolve("", "").unwrap();
        assert!(settings.default_chain.is_empty());
        assert_eq!(settings.realm, "piston");
        assert_eq!(settings.failures.max, 10);
        assert_eq!(settings.failures.account_max, 50);
        assert_eq!(settings.failures.address_max, 100);
        assert_eq!(settings.oauth1.throttle.requests, 30);
        assert_eq!(settings.oauth1.throttle.period, Duration::from_secs(60));
    }

    #[test]
    fn failure_limits_per_account_and_address_follow_max_unless_given() {
        let settings = resolve(
            "[failures]
max = 3
window = \"1h\"",
            "",
        )
        .unwrap();
        assert_eq!(
            settings.failures,
            FailureLimit {
                max: 3,
                window: Duration::from_secs(3600),
                account_max: 15,
                address_max: 30,
            }
        );
        let settings = resolve(
            "[failures]
max = 3
account_max = 4
address_max = 7",
            "",
        )
        .unwrap();
        assert_eq!(settings.failures.account_max, 4);
        assert_eq!(settings.failures.address_max, 7);
        let huge = FailureLimit::from_max(u32::MAX, Duration::from_secs(1));
        assert_eq!(huge.account_max, MAX_TOTAL_FAILURES);
        let settings = resolve(
            "[failures]
max = 1000000",
            "",
        )
        .unwrap();
        assert_eq!(settings.failures.address_max, 10_000_000);
    }

    #[test]
    fn the_oauth_throttle_is_on_by_default_and_can_be_set() {
        let settings = resolve(
            "[oauth1]
throttle = { requests = 5, period = \"10s\" }",
            "",
        )
        .unwrap();
        assert_eq!(
            settings.oauth1.throttle,
            Rate {
                requests: 5,
                period: Duration::from_secs(10)
            }
        );
        let settings = resolve(
            "[oauth1]
throttle = { requests = 5 }",
            "",
        )
        .unwrap();
        assert_eq!(settings.oauth1.throttle.period, Duration::from_secs(60));
    }

    #[test]
    fn chains_and_scopes_resolve_per_plugin_and_resource() {
        let settings = resolve(
            "authenticators = [\"basic\", \"bearer\"]\nrealm = \"Blog\"",
            "[blog]\nauth = [\"bearer\"]\n[blog.resources.post]\nauth = [\"api-key\"]\nscopes = { DELETE = [\"posts:delete\"] }\n",
        )
        .unwrap();
        assert_eq!(settings.default_chain, ["basic", "bearer"]);
        let blog = &settings.plugins["blog"];
        assert_eq!(blog.chain.as_deref(), Some(&["bearer".to_owned()][..]));
        let post = &blog.resources["post"];
        assert_eq!(post.scopes[&Method::Delete], ["posts:delete"]);
        assert_eq!(
            settings.named().collect::<Vec<_>>(),
            ["api-key", "basic", "bearer"]
        );
    }

    #[test]
    fn errors_name_the_key() {
        let error = resolve("authenticators = [\"Basic\"]", "")
            .unwrap_err()
            .to_string();
        assert!(error.contains("auth.authenticators"), "{error}");
        let error = resolve("authenticators = [\"basic\", \"basic\"]", "")
            .unwrap_err()
            .to_string();
        assert!(error.contains("named twice"), "{error}");
        let error = resolve("realm = \"a\\\"b\\u00e9\"", "")
            .unwrap_err()
            .to_string();
        assert!(error.contains("auth.realm"), "{error}");
        let error = resolve("", "[blog.resources.post]\nscopes = { delete = [\"x\"] }")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("plugins.blog.resources.post.scopes"),
            "{error}"
        );
        let error = resolve("", "[blog.resources.post]\nscopes = { DELETE = [\"a b\"] }")
            .unwrap_err()
            .to_string();
        assert!(error.contains("not a scope"), "{error}");
        let error = resolve("[digest]\nalgorithms = [\"SHA-1\"]", "")
            .unwrap_err()
            .to_string();
        assert!(error.contains("auth.digest.algorithms"), "{error}");
        let error = resolve("[digest]\nalgorithms = []", "")
            .unwrap_err()
            .to_string();
        assert!(error.contains("no algorithm"), "{error}");
        let error = resolve("", "[blog]\nauth = [\"jwt\"]")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("plugins.blog.auth") && error.contains("[auth.jwt]"),
            "{error}"
        );
        let error = resolve("[failures]\nmax = 0", "").unwrap_err().to_string();
        assert!(error.contains("auth.failures.max"), "{error}");
        let error = resolve("[failures]\nmax = 5\naccount_max = 4", "")
            .unwrap_err()
            .to_string();
        assert!(error.contains("auth.failures.account_max"), "{error}");
        let error = resolve("[failures]\naddress_max = 0", "")
            .unwrap_err()
            .to_string();
        assert!(error.contains("auth.failures.address_max"), "{error}");
        let error = resolve("[failures]\naddress_max = 100000001", "")
            .unwrap_err()
            .to_string();
        assert!(error.contains("auth.failures.address_max"), "{error}");
        let error = resolve("[oauth1]\nthrottle = { requests = 0 }", "")
            .unwrap_err()
            .to_string();
        assert!(error.contains("auth.oauth1.throttle.requests"), "{error}");
        let error = resolve("[oauth1]\nthrottle = { period = \"0s\" }", "")
            .unwrap_err()
            .to_string();
        assert!(error.contains("auth.oauth1.throttle.period"), "{error}");
    }
}
