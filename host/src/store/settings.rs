//! The `[store]` section of `piston.toml`: where durable data lives.
//!
//! ```toml
//! [store]                  # plugin data and credentials
//! backend = "postgres"     # default "sqlite": files in the data directory, one host
//! url = "postgres://piston@127.0.0.1:5432/piston"  # or --store-url / PISTON_STORE_URL
//! pool_size = 16           # connections this host opens at most
//! timeout = "2s"           # to connect, or wait for a free connection, before a 503
//! ```
//!
//! With SQLite each host has its own data; with PostgreSQL every host using the
//! database sees the same plugin data, users, tokens and OAuth credentials.

use crate::postgres::PostgresSettings;
use crate::vocab::{ConfigError, check_range};
use serde::Deserialize;
use std::time::Duration;

const DEFAULT_POOL_SIZE: u32 = 16;
const POOL_SIZE_RANGE: (u32, u32) = (2, 1000);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
const TIMEOUT_RANGE: (Duration, Duration) = (Duration::from_millis(10), Duration::from_secs(60));

/// Where durable data lives.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum StoreSettings {
    /// SQLite files in the data directory: this host only.
    #[default]
    Sqlite,
    /// One PostgreSQL database for every host.
    Postgres(PostgresSettings),
}

/// `[store]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSection {
    backend: Option<String>,
    url: Option<String>,
    pool_size: Option<u32>,
    #[serde(default, with = "humantime_serde")]
    timeout: Option<Duration>,
}

impl StoreSection {
    /// Checks the section; `url` (from the command line or its variable) overrides
    /// the file's. `key` names a key in errors.
    pub fn resolve(
        self,
        url: Option<String>,
        key: impl Fn(&str) -> String,
    ) -> Result<StoreSettings, ConfigError> {
        let url = url.or(self.url);
        match self.backend.as_deref().unwrap_or("sqlite") {
            "sqlite" => {
                let unused = [
                    ("url", url.is_some()),
                    ("pool_size", self.pool_size.is_some()),
                    ("timeout", self.timeout.is_some()),
                ];
                match unused.iter().find(|(_, set)| *set) {
                    Some((name, _)) => Err(ConfigError::new(
                        key(&format!("store.{name}")),
                        "only applies to backend = \"postgres\" (the store is SQLite)",
                    )),
                    None => Ok(StoreSettings::Sqlite),
                }
            }
            "postgres" => {
                let url = url.ok_or_else(|| {
                    ConfigError::new(
                        key("store.url"),
                        "backend = \"postgres\" needs the database's URL \
                         (postgres://user@host:port/database), here or in PISTON_STORE_URL",
                    )
                })?;
                url.parse::<postgres::Config>().map_err(|error| {
                    ConfigError::new(
                        key("store.url"),
                        format!(
                            "not a PostgreSQL URL (postgres://user@host:port/database): {error}"
                        ),
                    )
                })?;
                Ok(StoreSettings::Postgres(PostgresSettings {
                    url,
                    pool_size: check_range(
                        &key("store.pool_size"),
                        self.pool_size.unwrap_or(DEFAULT_POOL_SIZE),
                        POOL_SIZE_RANGE,
                    )?,
                    timeout: check_range(
                        &key("store.timeout"),
                        self.timeout.unwrap_or(DEFAULT_TIMEOUT),
                        TIMEOUT_RANGE,
                    )?,
                }))
            }
            other => Err(ConfigError::new(
                key("store.backend"),
                format!("unknown backend `{other}`: use \"sqlite\" or \"postgres\""),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(toml: &str, url: Option<&str>) -> Result<StoreSettings, ConfigError> {
        let section: StoreSection = toml::from_str(toml).unwrap();
        section.resolve(url.map(str::to_owned), |name| {
            format!("piston.toml: {name}")
        })
    }

    #[test]
    fn sqlite_is_the_default() {
        assert_eq!(resolve("", None).unwrap(), StoreSettings::Sqlite);
    }

    #[test]
    fn postgres_needs_a_url_and_takes_the_flags() {
        let error = resolve("backend = \"postgres\"", None).unwrap_err();
        assert!(error.to_string().contains("store.url"), "{error}");
        assert!(error.to_string().contains("PISTON_STORE_URL"), "{error}");
        let settings = resolve(
            "backend = \"postgres\"\nurl = \"postgres://a@file:1/x\"\npool_size = 4",
            Some("postgres://piston@127.0.0.1:5433/piston"),
        )
        .unwrap();
        assert_eq!(
            settings,
            StoreSettings::Postgres(PostgresSettings {
                url: "postgres://piston@127.0.0.1:5433/piston".to_owned(),
                pool_size: 4,
                timeout: DEFAULT_TIMEOUT,
            })
        );
    }

    #[test]
    fn mistakes_name_their_key() {
        for (toml, key) in [
            ("backend = \"mysql\"", "store.backend"),
            ("url = \"postgres://x@y/z\"", "store.url"),
            (
                "backend = \"postgres\"\nurl = \"postgres://x@y/z\"\npool_size = 1",
                "store.pool_size",
            ),
            (
                "backend = \"postgres\"\nurl = \"postgres://x@y/z\"\ntimeout = \"2h\"",
                "store.timeout",
            ),
            ("backend = \"postgres\"\nurl = \"mysql://\"", "store.url"),
        ] {
            let error = resolve(toml, None).unwrap_err();
            assert!(error.to_string().contains(key), "{toml}: {error}");
        }
    }
}
