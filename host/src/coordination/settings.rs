//! The `[coordination]` section of `piston.toml`: where the short-lived state every
//! host must agree on lives.
//!
//! ```toml
//! [coordination]
//! backend = "redis"                 # "memory" (default): this process only
//! url = "redis://127.0.0.1:6379/"   # or PISTON_COORDINATION_URL, which wins over the file
//! timeout = "250ms"                 # a Redis call slower than this counts as a failure
//! key_prefix = "piston:"            # to share one Redis between deployments
//! ```
//!
//! With `backend = "redis"`, OAuth nonces, Digest nonce counts, failed logins and (unless
//! `[throttle]` names a backend of its own) the throttle's counters are kept in Redis,
//! so every host sharing it sees the same. Every key expires.

use crate::vocab::{ConfigError, check_range};
use serde::Deserialize;
use std::time::Duration;

/// The variable that gives the Redis URL, over the file's `coordination.url`.
pub const URL_VARIABLE: &str = "PISTON_COORDINATION_URL";

const DEFAULT_TIMEOUT: Duration = Duration::from_millis(250);
const TIMEOUT_RANGE: (Duration, Duration) = (Duration::from_millis(1), Duration::from_secs(10));
const DEFAULT_KEY_PREFIX: &str = "piston:";

/// Where the shared state lives, checked.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum CoordinationSettings {
    /// In this process: right for one host only.
    #[default]
    Memory,
    /// In Redis: shared by every host using it.
    Redis(RedisSettings),
}

/// How to reach Redis.
#[derive(Debug, Clone, PartialEq)]
pub struct RedisSettings {
    /// `redis://[user:password@]host:port/db`.
    pub url: String,
    /// How long one call may take.
    pub timeout: Duration,
    /// Prepended to every key.
    pub key_prefix: String,
}

/// `[coordination]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoordinationSection {
    backend: Option<String>,
    url: Option<String>,
    #[serde(default, with = "humantime_serde")]
    timeout: Option<Duration>,
    key_prefix: Option<String>,
}

impl CoordinationSection {
    /// Checks the section; `url`, from [`URL_VARIABLE`], replaces the file's. `key`
    /// makes a key's full name for error messages.
    pub fn resolve(
        self,
        url: Option<String>,
        key: &dyn Fn(&str) -> String,
    ) -> Result<CoordinationSettings, ConfigError> {
        let from_variable = url.is_some();
        let url = url.or(self.url);
        match self.backend.as_deref().unwrap_or("memory") {
            "memory" => Ok(CoordinationSettings::Memory),
            "redis" => {
                let url_key = if from_variable {
                    URL_VARIABLE.to_owned()
                } else {
                    key("coordination.url")
                };
                let url = url.ok_or_else(|| {
                    ConfigError::new(
                        key("coordination.url"),
                        format!("is required with backend = \"redis\" (or set {URL_VARIABLE})"),
                    )
                })?;
                check_url(&url_key, &url)?;
                Ok(CoordinationSettings::Redis(RedisSettings {
                    url,
                    timeout: check_timeout(&key("coordination.timeout"), self.timeout)?,
                    key_prefix: self
                        .key_prefix
                        .unwrap_or_else(|| DEFAULT_KEY_PREFIX.to_owned()),
                }))
            }
            other => Err(ConfigError::new(
                key("coordination.backend"),
                format!("`{other}` is not a backend (memory or redis)"),
            )),
        }
    }
}

/// Checks that `url`, given for `key`, is one the Redis client can use.
pub fn check_url(key: &str, url: &str) -> Result<(), ConfigError> {
    redis::Client::open(url).map(drop).map_err(|error| {
        ConfigError::new(
            key,
            format!("is not a Redis URL (redis://host:port/db): {error}"),
        )
    })
}

/// The timeout given for `key`, or the default, within range.
pub fn check_timeout(key: &str, timeout: Option<Duration>) -> Result<Duration, ConfigError> {
    check_range(key, timeout.unwrap_or(DEFAULT_TIMEOUT), TIMEOUT_RANGE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(text: &str, url: Option<&str>) -> Result<CoordinationSettings, String> {
        let section: CoordinationSection = toml::from_str(text).map_err(|e| e.to_string())?;
        section
            .resolve(url.map(str::to_owned), &|name| {
                format!("piston.toml: {name}")
            })
            .map_err(|error| error.to_string())
    }

    #[test]
    fn memory_is_the_default() {
        assert_eq!(resolve("", None).unwrap(), CoordinationSettings::Memory);
        assert_eq!(
            resolve("", Some("redis://elsewhere/")).unwrap(),
            CoordinationSettings::Memory,
            "a URL alone does not choose Redis"
        );
    }

    #[test]
    fn redis_takes_the_url_from_the_variable_over_the_file() {
        let text = "backend = \"redis\"\nurl = \"redis://file:6379/\"\n";
        let CoordinationSettings::Redis(file) = resolve(text, None).unwrap() else {
            panic!("redis");
        };
        assert_eq!(file.url, "redis://file:6379/");
        assert_eq!(file.timeout, Duration::from_millis(250));
        assert_eq!(file.key_prefix, "piston:");
        let CoordinationSettings::Redis(variable) =
            resolve(text, Some("redis://variable:6379/")).unwrap()
        else {
            panic!("redis");
        };
        assert_eq!(variable.url, "redis://variable:6379/");
    }

    #[test]
    fn errors_name_the_key() {
        for (text, url, named) in [
            ("backend = \"redis\"\n", None, "coordination.url"),
            ("backend = \"redis\"\n", None, URL_VARIABLE),
            (
                "backend = \"redis\"\nurl = \"http://x\"\n",
                None,
                "coordination.url",
            ),
            ("backend = \"redis\"\n", Some("http://x"), URL_VARIABLE),
            (
                "backend = \"redis\"\nurl = \"redis://x/\"\ntimeout = \"1h\"\n",
                None,
                "coordination.timeout",
            ),
            ("backend = \"etcd\"\n", None, "coordination.backend"),
        ] {
            let error = resolve(text, url).unwrap_err();
            assert!(error.contains(named), "{text}: {error}");
        }
    }
}
