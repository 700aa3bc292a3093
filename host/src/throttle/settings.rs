//! The `[throttle]` section of `piston.toml`, and the rate limits an operator sets or
//! overrides per plugin and per resource.
//!
//! Counters live where `[coordination]` keeps the state every host shares: in this
//! process by default, in its Redis (under `{key_prefix}throttle:`) with
//! `[coordination] backend = "redis"`.
//!
//! ```toml
//! [throttle]
//! on_error = "closed"                   # when Redis fails: "closed" answers 503, "open" admits
//! backend = "memory"                    # this process's counters, whatever [coordination] says
//!
//! # The earlier way, still read (a warning at start names [coordination] instead):
//! # backend = "redis", redis_url = "redis://...", redis_timeout = "250ms",
//! # key_prefix = "piston:throttle:"
//!
//! [plugins.blog]
//! throttle = [{ requests = 1000, period = "1h" }]      # replaces the spec's rules
//! [plugins.blog.resources.post]
//! throttle = [{ methods = ["PUT"], requests = 5, period = "10m" }]
//! throttle_anonymous = [{ requests = 60, period = "1m" }] # for callers without credentials
//! ```
//!
//! A resource's rules are its own section's, else its plugin's, else its spec's;
//! anonymous callers get `throttle_anonymous` where one is set, else the same rules.
//! `throttle = []` turns throttling off.

pub use crate::coordination::settings::RedisSettings;
use crate::coordination::settings::{CoordinationSettings, check_timeout, check_url};
use crate::registry::ResourceSpec;
use crate::vocab::{ConfigError, Method, MethodSet, Throttle, check_range};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// The key prefix of `[throttle] backend = "redis"`.
const DEFAULT_KEY_PREFIX: &str = "piston:throttle:";
const REQUESTS_RANGE: (u32, u32) = (1, 1_000_000_000);
const PERIOD_RANGE: (Duration, Duration) = (
    Duration::from_secs(1),
    Duration::from_secs(366 * 24 * 60 * 60),
);

/// The throttling settings, checked.
#[derive(Debug, Clone, Default)]
pub struct ThrottleSettings {
    /// Where counters live.
    pub backend: Backend,
    /// What to do when the backend cannot answer.
    pub on_error: OnError,
    /// Whether `[throttle]` names a Redis of its own (the earlier way, before
    /// `[coordination]`): worth a warning at start.
    pub own_redis: bool,
    /// The operator's rules, by plugin name.
    pub plugins: BTreeMap<String, PluginRules>,
}

/// Where counters live.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Backend {
    /// In this process: exact for one host.
    #[default]
    Memory,
    /// In Redis: exact across every host sharing it.
    Redis(RedisSettings),
}

/// What a throttled resource answers when its counters cannot be reached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnError {
    /// Refuse with 503: no request goes uncounted.
    #[default]
    Closed,
    /// Admit without counting: availability over limits.
    Open,
}

/// One plugin's rules.
#[derive(Debug, Clone, Default)]
pub struct PluginRules {
    /// For every resource of the plugin.
    pub rules: RuleOverride,
    /// Per resource, by name.
    pub resources: BTreeMap<String, RuleOverride>,
}

/// Rules that replace the ones below them.
#[derive(Debug, Clone, Default)]
pub struct RuleOverride {
    /// For every caller.
    pub everyone: Option<Vec<Throttle>>,
    /// For anonymous callers.
    pub anonymous: Option<Vec<Throttle>>,
}

impl ThrottleSettings {
    /// The rules for a caller of `resource` of `plugin` (see [`rules_for`]).
    pub fn rules<'a>(
        &'a self,
        plugin: &str,
        resource: &'a ResourceSpec,
        anonymous: bool,
    ) -> &'a [Throttle] {
        rules_for(&self.plugins, plugin, resource, anonymous)
    }
}

/// The rules for a caller of a resource: the resource's section, else the plugin's,
/// else the spec; anonymous callers' own rules where the operator set them.
pub fn rules_for<'a>(
    plugins: &'a BTreeMap<String, PluginRules>,
    plugin: &str,
    resource: &'a ResourceSpec,
    anonymous: bool,
) -> &'a [Throttle] {
    let plugin = plugins.get(plugin);
    let overrides: [Option<&RuleOverride>; 2] = [
        plugin.and_then(|plugin| plugin.resources.get(&resource.name)),
        plugin.map(|plugin| &plugin.rules),
    ];
    let pick = |choose: fn(&RuleOverride) -> Option<&Vec<Throttle>>| {
        overrides.iter().flatten().find_map(|rules| choose(rules))
    };
    let everyone =
        pick(|rules| rules.everyone.as_ref()).map_or(&resource.throttles[..], |rules| rules);
    if anonymous && let Some(rules) = pick(|rules| rules.anonymous.as_ref()) {
        return rules;
    }
    everyone
}

/// `[throttle]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThrottleSection {
    backend: Option<String>,
    redis_url: Option<String>,
    #[serde(default, with = "humantime_serde")]
    redis_timeout: Option<Duration>,
    key_prefix: Option<String>,
    on_error: Option<OnError>,
}

/// One rule as written in `throttle = [...]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSection {
    #[serde(default)]
    methods: Vec<String>,
    requests: u32,
    #[serde(with = "humantime_serde")]
    period: Duration,
}

/// The throttle keys of a plugin or resource section, as written.
#[derive(Debug, Default)]
pub struct OverrideSection {
    /// `throttle`.
    pub throttle: Option<Vec<RuleSection>>,
    /// `throttle_anonymous`.
    pub throttle_anonymous: Option<Vec<RuleSection>>,
}

/// A plugin's throttle keys and its resources', as written.
#[derive(Debug, Default)]
pub struct PluginSection {
    /// The plugin's own.
    pub plugin: OverrideSection,
    /// By resource name.
    pub resources: BTreeMap<String, OverrideSection>,
}

impl ThrottleSection {
    /// Checks the section and the plugins' throttle keys; without a backend of its
    /// own, the throttle counts where `coordination` keeps its state. `key` makes a
    /// key's full name for error messages.
    pub fn resolve(
        self,
        plugins: BTreeMap<String, PluginSection>,
        coordination: &CoordinationSettings,
        key: &dyn Fn(&str) -> String,
    ) -> Result<ThrottleSettings, ConfigError> {
        let backend = match self.backend.as_deref() {
            None => match coordination {
                CoordinationSettings::Memory => Backend::Memory,
                CoordinationSettings::Redis(redis) => Backend::Redis(RedisSettings {
                    key_prefix: format!("{}throttle:", redis.key_prefix),
                    ..redis.clone()
                }),
            },
            Some("memory") => Backend::Memory,
            Some("redis") => {
                let url = self.redis_url.ok_or_else(|| {
                    ConfigError::new(
                        key("throttle.redis_url"),
                        "is required with backend = \"redis\" (or leave [throttle] backend out and set [coordination] backend = \"redis\" and url)",
                    )
                })?;
                check_url(&key("throttle.redis_url"), &url)?;
                let timeout = check_timeout(&key("throttle.redis_timeout"), self.redis_timeout)?;
                Backend::Redis(RedisSettings {
                    url,
                    timeout,
                    key_prefix: self
                        .key_prefix
                        .unwrap_or_else(|| DEFAULT_KEY_PREFIX.to_owned()),
                })
            }
            Some(other) => {
                return Err(ConfigError::new(
                    key("throttle.backend"),
                    format!("`{other}` is not a backend (memory or redis)"),
                ));
            }
        };
        let mut resolved = BTreeMap::new();
        for (plugin, section) in plugins {
            let at = |field: &str| key(&format!("plugins.{plugin}.{field}"));
            let rules = section.plugin.resolve(&at)?;
            let mut resources = BTreeMap::new();
            for (resource, section) in section.resources {
                let at = |field: &str| at(&format!("resources.{resource}.{field}"));
                let rules = section.resolve(&at)?;
                resources.insert(resource, rules);
            }
            resolved.insert(plugin, PluginRules { rules, resources });
        }
        Ok(ThrottleSettings {
            own_redis: self.backend.as_deref() == Some("redis"),
            backend,
            on_error: self.on_error.unwrap_or_default(),
            plugins: resolved,
        })
    }
}

impl OverrideSection {
    fn resolve(self, at: &dyn Fn(&str) -> String) -> Result<RuleOverride, ConfigError> {
        let rules = |key: &str, rules: Option<Vec<RuleSection>>| {
            rules
                .map(|rules| {
                    rules
                        .into_iter()
                        .map(|rule| rule.resolve(&at(key)))
                        .collect()
                })
                .transpose()
        };
        Ok(RuleOverride {
            everyone: rules("throttle", self.throttle)?,
            anonymous: rules("throttle_anonymous", self.throttle_anonymous)?,
        })
    }
}

impl RuleSection {
    fn resolve(self, key: &str) -> Result<Throttle, ConfigError> {
        let methods = self
            .methods
            .iter()
            .map(|name| {
                Method::from_name(name).ok_or_else(|| {
                    ConfigError::new(
                        key,
                        format!("`{name}` is not a method (GET, POST, PUT, PATCH or DELETE)"),
                    )
                })
            })
            .collect::<Result<MethodSet, _>>()?;
        let requests = check_range(key, self.requests, REQUESTS_RANGE)?;
        let period = check_range(key, self.period, PERIOD_RANGE)?;
        if period.subsec_nanos() != 0 {
            return Err(ConfigError::new(
                key,
                format!("a period is whole seconds, not {period:?}"),
            ));
        }
        Ok(Throttle {
            methods,
            requests,
            period_seconds: period.as_secs() as u32,
        })
    }
}
