//! The `[limits]` section, and the part of a `[plugins.NAME]` section that is the
//! runtime's (isolation, limits, `wasi:config` values), resolved into what instances
//! are made with.
//!
//! `[limits]` and `[plugins.NAME]` both spell out the fields of [`InstanceOverrides`]
//! rather than flattening it in: serde's `flatten` cannot be combined with
//! `deny_unknown_fields`, and an unknown key must be an error naming it.

use super::{InstanceLimits, Isolation, LogLimits};
use crate::outbound::{Allowlist, OutboundLimits};
use crate::vocab::{ConfigError, check_range};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// What every plugin gets unless `[limits]` or its own section says otherwise.
const BUILT_IN_LIMITS: InstanceLimits = InstanceLimits {
    timeout: Duration::from_secs(10),
    memory_bytes: 128 * 1024 * 1024,
    warm: 16,
    concurrency: 64,
    output_bytes: 16 * 1024 * 1024,
    storage_bytes: 256 * 1024 * 1024,
    log: LogLimits {
        per_request: 64 * 1024,
        per_second: 256 * 1024,
    },
    outbound: OutboundLimits {
        requests: 16,
        concurrency: 4,
        response_bytes: 16 * 1024 * 1024,
    },
};
const DEFAULT_MAX_INSTANCES: u32 = 1000;
const DEFAULT_PLUGIN_FILE_MIB: u64 = 256;
const DEFAULT_BODY_BYTES: u64 = 1024 * 1024;
const DEFAULT_MAX_DEPTH: usize = 64;

const TIMEOUT_RANGE: (Duration, Duration) = (Duration::from_millis(10), Duration::from_secs(600));
const MEMORY_MIB_RANGE: (u64, u64) = (1, 4096);
const WARM_RANGE: (usize, usize) = (0, 1024);
const CONCURRENCY_RANGE: (usize, usize) = (1, 10_000);
const MAX_INSTANCES_RANGE: (u32, u32) = (1, 100_000);
const RESPONSE_BYTES_RANGE: (usize, usize) = (1024, 1024 * 1024 * 1024);
const STORAGE_MIB_RANGE: (u64, u64) = (1, 1024 * 1024);
const LOG_BYTES_RANGE: (usize, usize) = (0, 1024 * 1024 * 1024);
const PLUGIN_FILE_MIB_RANGE: (u64, u64) = (1, 4096);
const BODY_BYTES_RANGE: (u64, u64) = (1, 1024 * 1024 * 1024);
const MAX_DEPTH_RANGE: (usize, usize) = (1, 128);
const OUTBOUND_REQUESTS_RANGE: (u32, u32) = (0, 10_000);
const OUTBOUND_CONCURRENCY_RANGE: (u32, u32) = (1, 1024);
const OUTBOUND_RESPONSE_BYTES_RANGE: (u64, u64) = (0, 1024 * 1024 * 1024);

/// One plugin's settings, with the defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginSettings {
    /// Pooled or per-request instances.
    pub isolation: Isolation,
    /// Memory, time and warm-pool limits.
    pub limits: InstanceLimits,
    /// What the plugin reads through `wasi:config`.
    pub config: Arc<BTreeMap<String, String>>,
    /// Where the plugin may send requests (nowhere unless its section says).
    pub allowed_outbound_hosts: Arc<Allowlist>,
}

impl PluginSettings {
    /// The settings a plugin gets when the configuration has no section for it.
    pub(crate) fn with_defaults(defaults: InstanceLimits) -> PluginSettings {
        PluginSettings {
            isolation: Isolation::default(),
            limits: defaults,
            config: Arc::default(),
            allowed_outbound_hosts: Arc::default(),
        }
    }

    /// A plugin's section resolved over `defaults`; `at` names one of its keys.
    pub(crate) fn resolve(
        isolation: Option<Isolation>,
        limits: InstanceOverrides,
        config: BTreeMap<String, toml::Value>,
        allowed_outbound_hosts: &[String],
        defaults: InstanceLimits,
        at: impl Fn(&str) -> String,
    ) -> Result<PluginSettings, ConfigError> {
        let limits = limits.apply(defaults, &at)?;
        let allowed_outbound_hosts =
            Allowlist::parse(&at("allowed_outbound_hosts"), allowed_outbound_hosts)?;
        let config = config
            .into_iter()
            .map(|(key, value)| {
                let text = match value {
                    toml::Value::String(text) => text,
                    toml::Value::Table(_) | toml::Value::Array(_) => {
                        return Err(ConfigError::new(
                            at(&format!("config.{key}")),
                            "must be a string, number, boolean or date (plugins read text)",
                        ));
                    }
                    other => other.to_string(),
                };
                Ok((key, text))
            })
            .collect::<Result<_, _>>()?;
        Ok(PluginSettings {
            isolation: isolation.unwrap_or_default(),
            limits,
            config: Arc::new(config),
            allowed_outbound_hosts: Arc::new(allowed_outbound_hosts),
        })
    }
}

/// What `[limits]` resolves to.
pub(crate) struct Limits {
    /// What a plugin's instances get unless its section overrides it.
    pub(crate) defaults: InstanceLimits,
    /// Instances alive at once, all plugins together.
    pub(crate) max_instances: u32,
    /// The largest request body, in bytes.
    pub(crate) body_bytes: u64,
    /// The deepest nesting in a request body.
    pub(crate) max_depth: usize,
    /// The largest plugin file loaded, in bytes.
    pub(crate) plugin_file_bytes: u64,
}

/// The `[limits]` section, as written (command-line flags already applied).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LimitsSection {
    #[serde(default, with = "humantime_serde")]
    pub(crate) timeout: Option<Duration>,
    pub(crate) memory_mib: Option<u64>,
    warm_instances: Option<usize>,
    concurrency: Option<usize>,
    max_instances: Option<u32>,
    response_bytes: Option<usize>,
    storage_mib: Option<u64>,
    log_bytes_per_request: Option<usize>,
    log_bytes_per_second: Option<usize>,
    outbound_requests: Option<u32>,
    outbound_concurrency: Option<u32>,
    outbound_response_bytes: Option<u64>,
    plugin_file_mib: Option<u64>,
    pub(crate) body_bytes: Option<u64>,
    max_depth: Option<usize>,
}

impl LimitsSection {
    /// Checks every value; `key` names a field of the section as the error shows it.
    pub(crate) fn resolve(self, key: impl Fn(&str) -> String) -> Result<Limits, ConfigError> {
        let defaults = InstanceOverrides {
            timeout: self.timeout,
            memory_mib: self.memory_mib,
            warm_instances: self.warm_instances,
            concurrency: self.concurrency,
            response_bytes: self.response_bytes,
            storage_mib: self.storage_mib,
            log_bytes_per_request: self.log_bytes_per_request,
            log_bytes_per_second: self.log_bytes_per_second,
            outbound_requests: self.outbound_requests,
            outbound_concurrency: self.outbound_concurrency,
            outbound_response_bytes: self.outbound_response_bytes,
        }
        .apply(BUILT_IN_LIMITS, &key)?;
        let max_instances = check_range(
            &key("max_instances"),
            self.max_instances.unwrap_or(DEFAULT_MAX_INSTANCES),
            MAX_INSTANCES_RANGE,
        )?;
        let body_bytes = check_range(
            &key("body_bytes"),
            self.body_bytes.unwrap_or(DEFAULT_BODY_BYTES),
            BODY_BYTES_RANGE,
        )?;
        let max_depth = check_range(
            &key("max_depth"),
            self.max_depth.unwrap_or(DEFAULT_MAX_DEPTH),
            MAX_DEPTH_RANGE,
        )?;
        let plugin_file_mib = check_range(
            &key("plugin_file_mib"),
            self.plugin_file_mib.unwrap_or(DEFAULT_PLUGIN_FILE_MIB),
            PLUGIN_FILE_MIB_RANGE,
        )?;
        Ok(Limits {
            defaults,
            max_instances,
            body_bytes,
            max_depth,
            plugin_file_bytes: plugin_file_mib.saturating_mul(1024 * 1024),
        })
    }
}

/// The limits a `[limits]` or `[plugins.NAME]` section may set, as written.
#[derive(Debug, Default)]
pub(crate) struct InstanceOverrides {
    pub(crate) timeout: Option<Duration>,
    pub(crate) memory_mib: Option<u64>,
    pub(crate) warm_instances: Option<usize>,
    pub(crate) concurrency: Option<usize>,
    pub(crate) response_bytes: Option<usize>,
    pub(crate) storage_mib: Option<u64>,
    pub(crate) log_bytes_per_request: Option<usize>,
    pub(crate) log_bytes_per_second: Option<usize>,
    pub(crate) outbound_requests: Option<u32>,
    pub(crate) outbound_concurrency: Option<u32>,
    pub(crate) outbound_response_bytes: Option<u64>,
}

impl InstanceOverrides {
    /// `base` with the values given here, each checked; an error names the key as
    /// `key` spells it.
    fn apply(
        self,
        base: InstanceLimits,
        key: impl Fn(&str) -> String,
    ) -> Result<InstanceLimits, ConfigError> {
        fn or<T: PartialOrd + std::fmt::Debug>(
            key: String,
            value: Option<T>,
            base: T,
            range: (T, T),
        ) -> Result<T, ConfigError> {
            value.map_or(Ok(base), |value| check_range(&key, value, range))
        }
        let mib = |name: &str, value: Option<u64>, base: u64, range| {
            or(key(name), value, base >> 20, range).map(|mib| mib.saturating_mul(1024 * 1024))
        };
        Ok(InstanceLimits {
            timeout: or(key("timeout"), self.timeout, base.timeout, TIMEOUT_RANGE)?,
            memory_bytes: usize::try_from(mib(
                "memory_mib",
                self.memory_mib,
                base.memory_bytes as u64,
                MEMORY_MIB_RANGE,
            )?)
            .unwrap_or(usize::MAX),
            warm: or(
                key("warm_instances"),
                self.warm_instances,
                base.warm,
                WARM_RANGE,
            )?,
            concurrency: or(
                key("concurrency"),
                self.concurrency,
                base.concurrency,
                CONCURRENCY_RANGE,
            )?,
            output_bytes: or(
                key("response_bytes"),
                self.response_bytes,
                base.output_bytes,
                RESPONSE_BYTES_RANGE,
            )?,
            storage_bytes: mib(
                "storage_mib",
                self.storage_mib,
                base.storage_bytes,
                STORAGE_MIB_RANGE,
            )?,
            log: LogLimits {
                per_request: or(
                    key("log_bytes_per_request"),
                    self.log_bytes_per_request,
                    base.log.per_request,
                    LOG_BYTES_RANGE,
                )?,
                per_second: or(
                    key("log_bytes_per_second"),
                    self.log_bytes_per_second,
                    base.log.per_second,
                    LOG_BYTES_RANGE,
                )?,
            },
            outbound: OutboundLimits {
                requests: or(
                    key("outbound_requests"),
                    self.outbound_requests,
                    base.outbound.requests,
                    OUTBOUND_REQUESTS_RANGE,
                )?,
                concurrency: or(
                    key("outbound_concurrency"),
                    self.outbound_concurrency,
                    base.outbound.concurrency,
                    OUTBOUND_CONCURRENCY_RANGE,
                )?,
                response_bytes: or(
                    key("outbound_response_bytes"),
                    self.outbound_response_bytes,
                    base.outbound.response_bytes,
                    OUTBOUND_RESPONSE_BYTES_RANGE,
                )?,
            },
        })
    }
}
