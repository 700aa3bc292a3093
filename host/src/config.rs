//! `piston.toml`, command-line overrides, and the settings they resolve to.
//!
//! Owns the file format, the defaults, and the validation every value goes through
//! before anything binds a socket or opens a database. Precedence: a flag or its
//! `PISTON_*` variable, then the file, then the built-in default. Every error names the
//! key it is about.
//!
//! ```toml
//! [server]
//! listen = "127.0.0.1:8000"   # address to serve on
//! plugins = "plugins"         # directory of plugin .wasm files
//! data = "piston-data"        # plugin data (SQLite) and the compile cache
//! cache = "piston-data/cache" # compiled plugins (default: the data directory's `cache`)
//! public_url = "https://api.example.com"  # makes `resource_uri`s absolute (default: relative)
//! trusted_proxies = ["127.0.0.1", "10.0.0.0/8"] # whose X-Forwarded-For is believed (default: none)
//!
//! [limits]                    # defaults for every plugin
//! timeout = "10s"             # how long a plugin may take to answer
//! memory_mib = 128            # memory per plugin instance
//! warm_instances = 16         # idle instances kept per plugin
//! max_instances = 1000        # instances alive at once, all plugins together
//! body_bytes = 1048576        # largest request body
//! max_depth = 64              # deepest nesting of arrays and objects in a body
//!
//! [plugins.blog]              # one plugin, by the name it describes itself with
//! isolation = "pool"          # "pool" (reuse warm instances) or "request" (fresh each time)
//! timeout = "2s"              # overrides [limits] for this plugin
//! memory_mib = 64
//! warm_instances = 4
//! [plugins.blog.config]       # what the plugin reads through wasi:config
//! greeting = "hello"
//! ```
//!
//! Authentication (`[auth]`, and `auth` and `resources` in a plugin's section) is
//! described in [`crate::auth::settings`]; throttling (`[throttle]`, and `throttle`
//! and `throttle_anonymous` in a plugin's or resource's section) in
//! [`crate::throttle::settings`].

use crate::auth::settings::{AuthSection, AuthSettings, PluginAuthSection, ResourceAuthSection};
use crate::client::TrustedProxy;
use crate::runtime::{EngineLimits, InstanceLimits, Isolation};
use crate::throttle::settings::{
    OverrideSection, PluginSection as PluginThrottleSection, RuleSection, ThrottleSection,
    ThrottleSettings,
};
use ipnet::IpNet;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The configuration file the host reads when `--config` is not given, if it exists.
pub const DEFAULT_FILE: &str = "piston.toml";

const DEFAULT_LISTEN: &str = "127.0.0.1:8000";
const DEFAULT_PLUGINS: &str = "plugins";
const DEFAULT_DATA: &str = "piston-data";
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_MEMORY_MIB: u64 = 128;
const DEFAULT_WARM_INSTANCES: usize = 16;
const DEFAULT_MAX_INSTANCES: u32 = 1000;
const DEFAULT_BODY_BYTES: u64 = 1024 * 1024;
const DEFAULT_MAX_DEPTH: usize = 64;

const TIMEOUT_RANGE: (Duration, Duration) = (Duration::from_millis(10), Duration::from_secs(600));
const MEMORY_MIB_RANGE: (u64, u64) = (1, 4096);
const WARM_RANGE: (usize, usize) = (0, 1024);
const MAX_INSTANCES_RANGE: (u32, u32) = (1, 100_000);
const BODY_BYTES_RANGE: (u64, u64) = (1, 1024 * 1024 * 1024);
const MAX_DEPTH_RANGE: (usize, usize) = (1, 1024);

/// A configuration value that cannot be used. Its message names the key.
#[derive(Debug, thiserror::Error)]
#[error("{origin}: {message}")]
pub struct ConfigError {
    origin: String,
    message: String,
}

impl ConfigError {
    /// An error about the key (or file position) `origin`.
    pub fn new(origin: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            origin: origin.into(),
            message: message.into(),
        }
    }
}

/// Values given on the command line (or in their `PISTON_*` variables).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// `--config`.
    pub config: Option<PathBuf>,
    /// `--listen`.
    pub listen: Option<SocketAddr>,
    /// `--plugins`.
    pub plugins: Option<PathBuf>,
    /// `--data`.
    pub data: Option<PathBuf>,
    /// `--cache`.
    pub cache: Option<PathBuf>,
    /// `--public-url`.
    pub public_url: Option<String>,
    /// `--timeout`.
    pub timeout: Option<Duration>,
    /// `--memory-mib`.
    pub memory_mib: Option<u64>,
    /// `--body-limit`.
    pub body_bytes: Option<u64>,
}

/// The resolved, validated settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where to serve.
    pub listen: SocketAddr,
    /// The plugin directory.
    pub plugins: PathBuf,
    /// The data directory.
    pub data: PathBuf,
    /// The compile cache directory.
    pub cache: PathBuf,
    /// The URL clients reach the server at, without a trailing slash; empty when
    /// `resource_uri`s are relative.
    pub public_url: String,
    /// The largest request body, in bytes.
    pub body_bytes: u64,
    /// The deepest nesting in a request body.
    pub max_depth: usize,
    /// Instances alive at once, all plugins together.
    pub max_instances: u32,
    /// The proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<IpNet>,
    /// The bearer token that opens the admin API to clients off loopback.
    pub admin_token: Option<String>,
    /// Who may call what.
    pub auth: AuthSettings,
    /// How often.
    pub throttle: ThrottleSettings,
    defaults: InstanceLimits,
    plugins_config: BTreeMap<String, PluginSettings>,
}

/// One plugin's settings, with the defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginSettings {
    /// Pooled or per-request instances.
    pub isolation: Isolation,
    /// Memory, time and warm-pool limits.
    pub limits: InstanceLimits,
    /// What the plugin reads through `wasi:config`.
    pub config: Arc<BTreeMap<String, String>>,
}

impl Settings {
    /// Reads the configuration file (the one named, else `piston.toml` if present) and
    /// applies the overrides.
    pub fn load(overrides: &Overrides) -> Result<Settings, ConfigError> {
        let file = match &overrides.config {
            Some(path) => Some((path.clone(), read(path)?)),
            None => {
                let path = PathBuf::from(DEFAULT_FILE);
                match std::fs::read_to_string(&path) {
                    Ok(text) => Some((path, text)),
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
                    Err(error) => return Err(ConfigError::new(DEFAULT_FILE, error.to_string())),
                }
            }
        };
        let parsed = match &file {
            Some((path, text)) => parse(path, text)?,
            None => FileConfig::default(),
        };
        let origin = file.as_ref().map_or_else(
            || DEFAULT_FILE.to_owned(),
            |(path, _)| path.display().to_string(),
        );
        Settings::resolve(parsed, overrides, &origin)
    }

    /// The limits a plugin gets unless its section overrides them.
    pub fn default_instance_limits(&self) -> InstanceLimits {
        self.defaults
    }

    /// The settings of the plugin called `name`.
    pub fn plugin(&self, name: &str) -> PluginSettings {
        self.plugins_config
            .get(name)
            .cloned()
            .unwrap_or_else(|| PluginSettings {
                isolation: Isolation::default(),
                limits: self.defaults,
                config: Arc::default(),
            })
    }

    /// Names of the plugins the configuration has a section for.
    pub fn configured_plugins(&self) -> impl Iterator<Item = &str> {
        self.plugins_config.keys().map(String::as_str)
    }

    /// What the engine must be able to hold: the largest memory any plugin may use.
    pub fn engine_limits(&self) -> EngineLimits {
        let memory_bytes = self
            .plugins_config
            .values()
            .map(|plugin| plugin.limits.memory_bytes)
            .chain([self.defaults.memory_bytes])
            .max()
            .unwrap_or(self.defaults.memory_bytes);
        EngineLimits {
            memory_bytes,
            instances: self.max_instances,
        }
    }

    /// The plugin data database.
    pub fn database(&self) -> PathBuf {
        self.data.join("piston.db")
    }

    /// The credentials database (users, tokens), apart from plugin data so that the
    /// `piston users` and `piston tokens` commands can use it while a server runs.
    pub fn auth_database(&self) -> PathBuf {
        self.data.join("auth.db")
    }

    fn resolve(
        file: FileConfig,
        overrides: &Overrides,
        origin: &str,
    ) -> Result<Settings, ConfigError> {
        let key = |name: &str| format!("{origin}: {name}");
        let limits = file.limits;
        let timeout = check_range(
            "--timeout / limits.timeout",
            overrides
                .timeout
                .or(limits.timeout)
                .unwrap_or(DEFAULT_TIMEOUT),
            TIMEOUT_RANGE,
        )?;
        let memory_mib = check_range(
            "--memory-mib / limits.memory_mib",
            overrides
                .memory_mib
                .or(limits.memory_mib)
                .unwrap_or(DEFAULT_MEMORY_MIB),
            MEMORY_MIB_RANGE,
        )?;
        let warm = check_range(
            &key("limits.warm_instances"),
            limits.warm_instances.unwrap_or(DEFAULT_WARM_INSTANCES),
            WARM_RANGE,
        )?;
        let max_instances = check_range(
            &key("limits.max_instances"),
            limits.max_instances.unwrap_or(DEFAULT_MAX_INSTANCES),
            MAX_INSTANCES_RANGE,
        )?;
        let body_bytes = check_range(
            "--body-limit / limits.body_bytes",
            overrides
                .body_bytes
                .or(limits.body_bytes)
                .unwrap_or(DEFAULT_BODY_BYTES),
            BODY_BYTES_RANGE,
        )?;
        let max_depth = check_range(
            &key("limits.max_depth"),
            limits.max_depth.unwrap_or(DEFAULT_MAX_DEPTH),
            MAX_DEPTH_RANGE,
        )?;
        let defaults = InstanceLimits {
            memory_bytes: mib_to_bytes(memory_mib),
            timeout,
            warm,
        };

        let mut plugins_config = BTreeMap::new();
        let mut plugins_auth = BTreeMap::new();
        let mut plugins_throttle = BTreeMap::new();
        for (name, section) in file.plugins {
            let at = |field: &str| key(&format!("plugins.{name}.{field}"));
            let limits = InstanceLimits {
                memory_bytes: match section.memory_mib {
                    Some(mib) => {
                        mib_to_bytes(check_range(&at("memory_mib"), mib, MEMORY_MIB_RANGE)?)
                    }
                    None => defaults.memory_bytes,
                },
                timeout: match section.timeout {
                    Some(timeout) => check_range(&at("timeout"), timeout, TIMEOUT_RANGE)?,
                    None => defaults.timeout,
                },
                warm: match section.warm_instances {
                    Some(warm) => check_range(&at("warm_instances"), warm, WARM_RANGE)?,
                    None => defaults.warm,
                },
            };
            let config = section
                .config
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
            let mut resources_auth = BTreeMap::new();
            let mut resources_throttle = BTreeMap::new();
            for (resource, section) in section.resources {
                resources_auth.insert(
                    resource.clone(),
                    ResourceAuthSection {
                        auth: section.auth,
                        scopes: section.scopes,
                    },
                );
                resources_throttle.insert(
                    resource,
                    OverrideSection {
                        throttle: section.throttle,
                        throttle_anonymous: section.throttle_anonymous,
                    },
                );
            }
            plugins_auth.insert(
                name.clone(),
                PluginAuthSection {
                    auth: section.auth,
                    resources: resources_auth,
                },
            );
            plugins_throttle.insert(
                name.clone(),
                PluginThrottleSection {
                    plugin: OverrideSection {
                        throttle: section.throttle,
                        throttle_anonymous: section.throttle_anonymous,
                    },
                    resources: resources_throttle,
                },
            );
            plugins_config.insert(
                name,
                PluginSettings {
                    isolation: section.isolation.unwrap_or_default(),
                    limits,
                    config: Arc::new(config),
                },
            );
        }

        let auth = file.auth.resolve(plugins_auth, &key)?;
        let throttle = file.throttle.resolve(plugins_throttle, &key)?;
        let server = file.server;
        let admin_token = match server.admin_token {
            Some(token)
                if token.len() < 24 || !token.bytes().all(|byte| byte.is_ascii_graphic()) =>
            {
                return Err(ConfigError::new(
                    key("server.admin_token"),
                    "must be at least 24 visible ASCII characters (e.g. `openssl rand -base64 32`)",
                ));
            }
            token => token,
        };
        let public_url = match overrides.public_url.clone().or(server.public_url) {
            Some(url) => check_public_url(&url)?,
            None => String::new(),
        };
        let data = overrides
            .data
            .clone()
            .or(server.data)
            .unwrap_or_else(|| DEFAULT_DATA.into());
        Ok(Settings {
            listen: overrides
                .listen
                .or(server.listen)
                .unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("the default address parses")),
            plugins: overrides
                .plugins
                .clone()
                .or(server.plugins)
                .unwrap_or_else(|| DEFAULT_PLUGINS.into()),
            cache: overrides
                .cache
                .clone()
                .or(server.cache)
                .unwrap_or_else(|| data.join("cache")),
            data,
            public_url,
            body_bytes,
            max_depth,
            max_instances,
            trusted_proxies: server
                .trusted_proxies
                .into_iter()
                .map(|proxy| proxy.0)
                .collect(),
            admin_token,
            auth,
            throttle,
            defaults,
            plugins_config,
        })
    }
}

/// An absolute `http` or `https` URL with no query or fragment, trailing slash removed.
fn check_public_url(url: &str) -> Result<String, ConfigError> {
    let invalid = || {
        ConfigError::new(
            "--public-url / server.public_url",
            format!("`{url}` is not an absolute http(s) URL without query or fragment"),
        )
    };
    let parsed: http::Uri = url.parse().map_err(|_| invalid())?;
    let scheme_ok = matches!(parsed.scheme_str(), Some("http" | "https"));
    if !scheme_ok || parsed.authority().is_none() || parsed.query().is_some() || url.contains('#') {
        return Err(invalid());
    }
    Ok(url.trim_end_matches('/').to_owned())
}

fn mib_to_bytes(mib: u64) -> usize {
    usize::try_from(mib.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX)
}

/// Checks that `value`, given for `key`, is within the inclusive range.
pub fn check_range<T: PartialOrd + std::fmt::Debug>(
    key: &str,
    value: T,
    (low, high): (T, T),
) -> Result<T, ConfigError> {
    if value < low || value > high {
        return Err(ConfigError::new(
            key,
            format!("{value:?} is out of range (allowed: {low:?} to {high:?})"),
        ));
    }
    Ok(value)
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path)
        .map_err(|error| ConfigError::new(path.display().to_string(), error.to_string()))
}

/// Parses the file, reporting an error as `file:line:column: message`.
fn parse(path: &Path, text: &str) -> Result<FileConfig, ConfigError> {
    toml::from_str(text).map_err(|error| {
        let position = error.span().map(|span| {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |newline| newline + 1) + 1;
            format!(":{line}:{column}")
        });
        ConfigError::new(
            format!("{}{}", path.display(), position.unwrap_or_default()),
            error.message().trim().to_owned(),
        )
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    server: ServerSection,
    #[serde(default)]
    limits: LimitsSection,
    #[serde(default)]
    plugins: BTreeMap<String, PluginSection>,
    #[serde(default)]
    auth: AuthSection,
    #[serde(default)]
    throttle: ThrottleSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerSection {
    listen: Option<SocketAddr>,
    plugins: Option<PathBuf>,
    data: Option<PathBuf>,
    cache: Option<PathBuf>,
    public_url: Option<String>,
    #[serde(default)]
    trusted_proxies: Vec<TrustedProxy>,
    admin_token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsSection {
    #[serde(default, with = "humantime_serde")]
    timeout: Option<Duration>,
    memory_mib: Option<u64>,
    warm_instances: Option<usize>,
    max_instances: Option<u32>,
    body_bytes: Option<u64>,
    max_depth: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PluginSection {
    isolation: Option<Isolation>,
    #[serde(default, with = "humantime_serde")]
    timeout: Option<Duration>,
    memory_mib: Option<u64>,
    warm_instances: Option<usize>,
    #[serde(default)]
    config: BTreeMap<String, toml::Value>,
    auth: Option<Vec<String>>,
    throttle: Option<Vec<RuleSection>>,
    throttle_anonymous: Option<Vec<RuleSection>>,
    #[serde(default)]
    resources: BTreeMap<String, ResourceSection>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResourceSection {
    auth: Option<Vec<String>>,
    #[serde(default)]
    scopes: BTreeMap<String, Vec<String>>,
    throttle: Option<Vec<RuleSection>>,
    throttle_anonymous: Option<Vec<RuleSection>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(text: &str, overrides: &Overrides) -> Result<Settings, ConfigError> {
        let parsed = parse(Path::new("piston.toml"), text)?;
        Settings::resolve(parsed, overrides, "piston.toml")
    }

    #[test]
    fn defaults_serve_without_a_file() {
        let settings = settings("", &Overrides::default()).unwrap();
        assert_eq!(settings.listen.to_string(), "127.0.0.1:8000");
        assert_eq!(settings.plugins, Path::new("plugins"));
        assert_eq!(settings.cache, Path::new("piston-data/cache"));
        assert_eq!(
            settings.default_instance_limits().timeout,
            Duration::from_secs(10)
        );
        assert_eq!(settings.plugin("blog").isolation, Isolation::Pool);
    }

    #[test]
    fn plugin_sections_override_the_defaults() {
        let text = r#"
            [limits]
            timeout = "3s"
            memory_mib = 32

            [plugins.blog]
            isolation = "request"
            memory_mib = 256
            [plugins.blog.config]
            greeting = "hi"
            retries = 3
        "#;
        let settings = settings(text, &Overrides::default()).unwrap();
        let blog = settings.plugin("blog");
        assert_eq!(blog.isolation, Isolation::Request);
        assert_eq!(blog.limits.timeout, Duration::from_secs(3));
        assert_eq!(blog.limits.memory_bytes, 256 << 20);
        assert_eq!(blog.config.get("retries").map(String::as_str), Some("3"));
        assert_eq!(settings.plugin("other").limits.memory_bytes, 32 << 20);
        assert_eq!(settings.engine_limits().memory_bytes, 256 << 20);
    }

    #[test]
    fn flags_beat_the_file() {
        let overrides = Overrides {
            listen: Some("127.0.0.1:9999".parse().unwrap()),
            timeout: Some(Duration::from_secs(1)),
            ..Overrides::default()
        };
        let settings = settings(
            "[server]\nlisten = \"0.0.0.0:80\"\n[limits]\ntimeout = \"5s\"",
            &overrides,
        )
        .unwrap();
        assert_eq!(settings.listen.port(), 9999);
        assert_eq!(
            settings.default_instance_limits().timeout,
            Duration::from_secs(1)
        );
    }

    #[test]
    fn errors_name_the_key() {
        let error = settings(
            "[server]\nlisten = \"127.0.0.1:8000\"\nlistn = 1\n",
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.starts_with("piston.toml:3:1: unknown field `listn`"),
            "{error}"
        );

        let error = settings("[plugins.blog]\nmemory_mib = 0\n", &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(error.contains("plugins.blog.memory_mib"), "{error}");

        let error = settings(
            "[plugins.blog]\nisolation = \"thread\"\n",
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("unknown variant `thread`"), "{error}");

        let error = settings(
            "[plugins.blog.config]\nnested = { a = 1 }\n",
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("plugins.blog.config.nested"), "{error}");

        let error = settings(
            "[server]\npublic_url = \"ftp://x\"\n",
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("public_url"), "{error}");
        let url = settings(
            "[server]\npublic_url = \"https://api.example.com/v1/\"\n",
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(url.public_url, "https://api.example.com/v1");

        let error = settings("[limits]\ntimeout = \"forever\"\n", &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("piston.toml:2:11"), "{error}");
    }
}
