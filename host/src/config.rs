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
//! admin_listen = "127.0.0.1:8001" # the admin API's own address (default: loopback, the
//!                             # public port + 1, or a free port when that is 0)
//! plugins = "plugins"         # directory of plugin .wasm files
//! data = "piston-data"        # plugin data (SQLite) and the compile cache
//! cache = "piston-data/cache" # compiled plugins (default: the data directory's `cache`)
//! public_url = "https://api.example.com"  # makes `resource_uri`s absolute (default: relative)
//! trusted_proxies = ["127.0.0.1", "10.0.0.0/8"] # whose forwarding header is believed (default: none)
//! forwarded_header = "x-forwarded-for" # the header those proxies set: or "forwarded" (RFC 7239)
//! follow_symlinks = false     # load plugin files that are symbolic links
//! shutdown_timeout = "30s"    # how long in-flight requests get after SIGTERM/SIGINT
//! max_connections = 10000     # connections served at once; more wait to be accepted
//! header_timeout = "10s"      # to send a request's head (first request of a connection)
//! idle_timeout = "60s"        # between requests on a kept-alive connection
//! body_timeout = "30s"        # to send a request's whole body
//! send_timeout = "30s"        # a client that reads none of an answer for this long is dropped
//!
//! [limits]                    # defaults for every plugin
//! timeout = "10s"             # how long a plugin may take to answer
//! memory_mib = 128            # memory per plugin instance
//! warm_instances = 16         # idle instances kept per plugin
//! concurrency = 64            # instances busy at once per plugin (then 503)
//! max_instances = 1000        # instances alive at once, all plugins together
//! response_bytes = 16777216   # largest body (or batch of streamed items) a plugin returns
//! storage_mib = 256           # how much a plugin's data in the store may hold
//! log_bytes_per_request = 65536  # what one request of a plugin may log
//! log_bytes_per_second = 262144  # what a plugin may log per second, all its instances
//! plugin_file_mib = 256       # largest plugin file loaded
//! body_bytes = 1048576        # largest request body
//! max_depth = 64              # deepest nesting of arrays and objects in a body (at most 128)
//!
//! [plugins.blog]              # one plugin, by the name it describes itself with
//! isolation = "pool"          # "pool" (reuse warm instances) or "request" (fresh each time)
//! timeout = "2s"              # overrides [limits] for this plugin (as can memory_mib,
//! memory_mib = 64             #   warm_instances, concurrency, response_bytes,
//! warm_instances = 4          #   storage_mib, log_bytes_per_request, log_bytes_per_second)
//! [plugins.blog.config]       # what the plugin reads through wasi:config
//! greeting = "hello"
//! ```
//!
//! Authentication (`[auth]`, and `auth` and `resources` in a plugin's section) is
//! described in [`crate::auth::settings`]; throttling (`[throttle]`, and `throttle`
//! and `throttle_anonymous` in a plugin's or resource's section) in
//! [`crate::throttle::settings`].

use crate::auth::settings::{AuthSection, AuthSettings, PluginAuthSection, ResourceAuthSection};
use crate::client::{ForwardedHeader, TrustedProxy};
use crate::runtime::{EngineLimits, InstanceLimits, Isolation, LogLimits};
use crate::server::ConnectionLimits;
use crate::throttle::settings::{
    OverrideSection, PluginSection as PluginThrottleSection, RuleSection, ThrottleSection,
    ThrottleSettings,
};
use crate::vocab::{ConfigError, check_range};
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
};
const DEFAULT_MAX_INSTANCES: u32 = 1000;
const DEFAULT_PLUGIN_FILE_MIB: u64 = 256;
const DEFAULT_BODY_BYTES: u64 = 1024 * 1024;
const DEFAULT_MAX_DEPTH: usize = 64;
const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(30);

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
const SHUTDOWN_TIMEOUT_RANGE: (Duration, Duration) = (Duration::ZERO, Duration::from_secs(3600));
const MAX_CONNECTIONS_RANGE: (usize, usize) = (1, 1_000_000);
const CONNECTION_TIMEOUT_RANGE: (Duration, Duration) =
    (Duration::from_millis(100), Duration::from_secs(3600));

/// Values given on the command line (or in their `PISTON_*` variables).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// `--config`.
    pub config: Option<PathBuf>,
    /// `--listen`.
    pub listen: Option<SocketAddr>,
    /// `--admin-listen`.
    pub admin_listen: Option<SocketAddr>,
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
    /// Where to serve the admin API.
    pub admin_listen: SocketAddr,
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
    /// The proxies whose forwarding header names the client.
    pub trusted_proxies: Vec<IpNet>,
    /// Which forwarding header those proxies set.
    pub forwarded_header: ForwardedHeader,
    /// Whether plugin files that are symbolic links are loaded.
    pub follow_symlinks: bool,
    /// The largest plugin file loaded, in bytes.
    pub plugin_file_bytes: u64,
    /// How long in-flight requests get to finish after a shutdown signal.
    pub shutdown_timeout: Duration,
    /// How many connections, and how slow they may be.
    pub connections: ConnectionLimits,
    /// How long a client may take to send a request body.
    pub body_timeout: Duration,
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

    pub(crate) fn resolve(
        file: FileConfig,
        overrides: &Overrides,
        origin: &str,
    ) -> Result<Settings, ConfigError> {
        let key = |name: &str| format!("{origin}: {name}");
        let limits = file.limits;
        let defaults = InstanceOverrides {
            timeout: overrides.timeout.or(limits.timeout),
            memory_mib: overrides.memory_mib.or(limits.memory_mib),
            warm_instances: limits.warm_instances,
            concurrency: limits.concurrency,
            response_bytes: limits.response_bytes,
            storage_mib: limits.storage_mib,
            log_bytes_per_request: limits.log_bytes_per_request,
            log_bytes_per_second: limits.log_bytes_per_second,
        }
        .apply(BUILT_IN_LIMITS, |name| match name {
            "timeout" => "--timeout / limits.timeout".to_owned(),
            "memory_mib" => "--memory-mib / limits.memory_mib".to_owned(),
            other => key(&format!("limits.{other}")),
        })?;
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
        let plugin_file_mib = check_range(
            &key("limits.plugin_file_mib"),
            limits.plugin_file_mib.unwrap_or(DEFAULT_PLUGIN_FILE_MIB),
            PLUGIN_FILE_MIB_RANGE,
        )?;

        let mut plugins_config = BTreeMap::new();
        let mut plugins_auth = BTreeMap::new();
        let mut plugins_throttle = BTreeMap::new();
        for (name, section) in file.plugins {
            let at = |field: &str| key(&format!("plugins.{name}.{field}"));
            let limits = InstanceOverrides {
                timeout: section.timeout,
                memory_mib: section.memory_mib,
                warm_instances: section.warm_instances,
                concurrency: section.concurrency,
                response_bytes: section.response_bytes,
                storage_mib: section.storage_mib,
                log_bytes_per_request: section.log_bytes_per_request,
                log_bytes_per_second: section.log_bytes_per_second,
            }
            .apply(defaults, at)?;
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
        let listen = overrides
            .listen
            .or(server.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("the default address parses"));
        let admin_listen = overrides
            .admin_listen
            .or(server.admin_listen)
            .unwrap_or_else(|| default_admin_listen(listen));
        if admin_listen == listen && listen.port() != 0 {
            return Err(ConfigError::new(
                "--admin-listen / server.admin_listen",
                format!("{admin_listen} is also the public address: the admin API needs its own"),
            ));
        }
        let connection_timeout = |name: &str, value: Option<Duration>, default: Duration| {
            check_range(
                &key(&format!("server.{name}")),
                value.unwrap_or(default),
                CONNECTION_TIMEOUT_RANGE,
            )
        };
        let connections = ConnectionLimits {
            max: check_range(
                &key("server.max_connections"),
                server.max_connections.unwrap_or(DEFAULT_MAX_CONNECTIONS),
                MAX_CONNECTIONS_RANGE,
            )?,
            header_timeout: connection_timeout(
                "header_timeout",
                server.header_timeout,
                DEFAULT_HEADER_TIMEOUT,
            )?,
            idle_timeout: connection_timeout(
                "idle_timeout",
                server.idle_timeout,
                DEFAULT_IDLE_TIMEOUT,
            )?,
            send_timeout: connection_timeout(
                "send_timeout",
                server.send_timeout,
                DEFAULT_SEND_TIMEOUT,
            )?,
        };
        Ok(Settings {
            listen,
            admin_listen,
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
            forwarded_header: server.forwarded_header.unwrap_or_default(),
            follow_symlinks: server.follow_symlinks.unwrap_or(false),
            plugin_file_bytes: plugin_file_mib.saturating_mul(1024 * 1024),
            shutdown_timeout: check_range(
                &key("server.shutdown_timeout"),
                server.shutdown_timeout.unwrap_or(DEFAULT_SHUTDOWN_TIMEOUT),
                SHUTDOWN_TIMEOUT_RANGE,
            )?,
            connections,
            body_timeout: connection_timeout(
                "body_timeout",
                server.body_timeout,
                DEFAULT_BODY_TIMEOUT,
            )?,
            admin_token,
            auth,
            throttle,
            defaults,
            plugins_config,
        })
    }
}

/// Where the admin API listens unless told: loopback, on the port after the public
/// one (a free port when the public one is picked freely).
fn default_admin_listen(listen: SocketAddr) -> SocketAddr {
    let port = match listen.port() {
        0 | u16::MAX => 0,
        port => port + 1,
    };
    SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, port))
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

/// The limits a `[limits]` or `[plugins.NAME]` section may set, as written.
#[derive(Debug, Default)]
struct InstanceOverrides {
    timeout: Option<Duration>,
    memory_mib: Option<u64>,
    warm_instances: Option<usize>,
    concurrency: Option<usize>,
    response_bytes: Option<usize>,
    storage_mib: Option<u64>,
    log_bytes_per_request: Option<usize>,
    log_bytes_per_second: Option<usize>,
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
        })
    }
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path)
        .map_err(|error| ConfigError::new(path.display().to_string(), error.to_string()))
}

/// Parses the file, reporting an error as `file:line:column: message`.
pub(crate) fn parse(path: &Path, text: &str) -> Result<FileConfig, ConfigError> {
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
pub(crate) struct FileConfig {
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
    admin_listen: Option<SocketAddr>,
    plugins: Option<PathBuf>,
    data: Option<PathBuf>,
    cache: Option<PathBuf>,
    public_url: Option<String>,
    #[serde(default)]
    trusted_proxies: Vec<TrustedProxy>,
    forwarded_header: Option<ForwardedHeader>,
    admin_token: Option<String>,
    follow_symlinks: Option<bool>,
    #[serde(default, with = "humantime_serde")]
    shutdown_timeout: Option<Duration>,
    max_connections: Option<usize>,
    #[serde(default, with = "humantime_serde")]
    header_timeout: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    idle_timeout: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    body_timeout: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    send_timeout: Option<Duration>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsSection {
    #[serde(default, with = "humantime_serde")]
    timeout: Option<Duration>,
    memory_mib: Option<u64>,
    warm_instances: Option<usize>,
    concurrency: Option<usize>,
    max_instances: Option<u32>,
    response_bytes: Option<usize>,
    storage_mib: Option<u64>,
    log_bytes_per_request: Option<usize>,
    log_bytes_per_second: Option<usize>,
    plugin_file_mib: Option<u64>,
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
    concurrency: Option<usize>,
    response_bytes: Option<usize>,
    storage_mib: Option<u64>,
    log_bytes_per_request: Option<usize>,
    log_bytes_per_second: Option<usize>,
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
    fn hardening_limits_have_defaults_and_can_be_overridden() {
        let defaults = settings("", &Overrides::default()).unwrap();
        let limits = defaults.default_instance_limits();
        assert_eq!(limits.concurrency, 64);
        assert_eq!(limits.output_bytes, 16 << 20);
        assert_eq!(limits.storage_bytes, 256 << 20);
        assert_eq!(limits.log.per_request, 64 << 10);
        assert_eq!(defaults.admin_listen.to_string(), "127.0.0.1:8001");
        assert_eq!(defaults.forwarded_header, ForwardedHeader::XForwardedFor);
        assert_eq!(defaults.shutdown_timeout, Duration::from_secs(30));
        assert_eq!(defaults.connections.header_timeout, Duration::from_secs(10));
        assert!(!defaults.follow_symlinks);

        let text = r#"
            [server]
            listen = "0.0.0.0:0"
            forwarded_header = "forwarded"
            max_connections = 50
            [limits]
            concurrency = 8
            storage_mib = 1
            [plugins.blog]
            concurrency = 2
            log_bytes_per_second = 0
        "#;
        let changed = settings(text, &Overrides::default()).unwrap();
        assert_eq!(changed.admin_listen.to_string(), "127.0.0.1:0");
        assert_eq!(changed.forwarded_header, ForwardedHeader::Forwarded);
        assert_eq!(changed.connections.max, 50);
        assert_eq!(changed.plugin("blog").limits.concurrency, 2);
        assert_eq!(changed.plugin("blog").limits.storage_bytes, 1 << 20);
        assert_eq!(changed.plugin("blog").limits.log.per_second, 0);
        assert_eq!(changed.plugin("other").limits.concurrency, 8);
    }

    #[test]
    fn hardening_errors_name_the_key() {
        for (text, key) in [
            (
                "[server]\nforwarded_header = \"via\"\n",
                "unknown variant `via`",
            ),
            ("[limits]\nconcurrency = 0\n", "limits.concurrency"),
            (
                "[plugins.blog]\nstorage_mib = 0\n",
                "plugins.blog.storage_mib",
            ),
            (
                "[server]\nheader_timeout = \"1ms\"\n",
                "server.header_timeout",
            ),
            ("[server]\nmax_connections = 0\n", "server.max_connections"),
            (
                "[server]\nlisten = \"127.0.0.1:9000\"\nadmin_listen = \"127.0.0.1:9000\"\n",
                "admin_listen",
            ),
        ] {
            let error = settings(text, &Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(error.contains(key), "{text}: {error}");
        }
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
