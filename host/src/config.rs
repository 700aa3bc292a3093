//! `piston.toml`, command-line overrides, and the settings they resolve to.
//!
//! Owns the file format and its composition: each section is read here and handed to
//! its owner, which checks it and fills in the defaults (`[server]` in
//! [`crate::server`], `[limits]` and a plugin's limits in [`crate::runtime`], `[store]`
//! in [`crate::store::settings`], `[auth]` in [`crate::auth::settings`], `[throttle]` in
//! [`crate::throttle::settings`], `[coordination]` in [`crate::coordination::settings`],
//! `[telemetry]` in [`crate::telemetry::settings`]),
//! all
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
//! docs = true                 # serve /openapi.json, /openapi.yaml and the /docs page
//! pull_interval = "1m"        # resolve plugins' oci:// tags again this often (default: off,
//!                             #   only on start and SIGHUP)
//! insecure_registries = ["127.0.0.1:5000"] # registries reached over plain HTTP (default: none)
//! log_format = "text"         # or "json", one object a line (--log-format wins)
//! access_log = true           # one `info` line a request (target piston::access)
//! metrics = true              # Prometheus metrics on the admin listener's /metrics
//!
//! [telemetry]                 # request spans (see crate::telemetry::settings)
//! otlp_endpoint = "http://127.0.0.1:4318" # an OTLP/HTTP collector (default: no spans)
//!
//! [store]                     # plugin data and credentials (see crate::store::settings)
//! backend = "sqlite"          # or "postgres", with url = "postgres://..." for many hosts
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
//! [coordination]              # short-lived state every host must agree on: nonces,
//!                             #   failed logins, throttle counters
//! backend = "redis"           # "memory" (default): this process only
//! url = "redis://127.0.0.1:6379/" # or PISTON_COORDINATION_URL (which wins over the file)
//! timeout = "250ms"           # a Redis call slower than this counts as a failure
//! key_prefix = "piston:"      # to share one Redis between deployments
//!
//! [plugins.blog]              # one plugin, by the name it describes itself with
//! source = "oci://registry.example/blog:1.4" # pull it from a registry (or @sha256:...)
//!                             #   into the data directory, instead of the plugin directory
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
use crate::coordination::settings::{CoordinationSection, CoordinationSettings};
use crate::oci::PullSettings;
use crate::registry::LoadSettings;
use crate::runtime::{EngineLimits, InstanceOverrides, Isolation, LimitsSection, PluginSettings};
use crate::server::settings::{ServerSection, ServerSettings};
use crate::store::settings::{StoreSection, StoreSettings};
use crate::telemetry::settings::{TelemetrySection, TelemetrySettings};
use crate::throttle::settings::{
    OverrideSection, PluginSection as PluginThrottleSection, RuleSection, ThrottleSection,
    ThrottleSettings,
};
use crate::vocab::ConfigError;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The configuration file the host reads when `--config` is not given, if it exists.
pub const DEFAULT_FILE: &str = "piston.toml";

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
    /// `--store-url`.
    pub store_url: Option<String>,
    /// `PISTON_COORDINATION_URL`.
    pub coordination_url: Option<String>,
    /// `PISTON_REGISTRY_USERNAME` and `PISTON_REGISTRY_PASSWORD`.
    pub registry_login: Option<crate::oci::credentials::Login>,
}

/// The resolved, validated settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where to serve, where the files are, and how connections are treated.
    pub server: ServerSettings,
    /// What loading plugins takes: which files, and each plugin's settings.
    pub loading: Arc<LoadSettings>,
    /// The largest request body, in bytes.
    pub body_bytes: u64,
    /// The deepest nesting in a request body.
    pub max_depth: usize,
    /// Instances alive at once, all plugins together.
    pub max_instances: u32,
    /// Who may call what.
    pub auth: AuthSettings,
    /// How often.
    pub throttle: ThrottleSettings,
    /// Where plugin data and credentials live.
    pub store: StoreSettings,
    /// Where the state every host must agree on lives.
    pub coordination: CoordinationSettings,
    /// Where request spans are exported.
    pub telemetry: TelemetrySettings,
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

    /// What the engine must be able to hold: the largest memory any plugin may use.
    pub fn engine_limits(&self) -> EngineLimits {
        let defaults = self.loading.defaults.memory_bytes;
        let memory_bytes = self
            .loading
            .plugins
            .values()
            .map(|plugin| plugin.limits.memory_bytes)
            .fold(defaults, usize::max);
        EngineLimits {
            memory_bytes,
            instances: self.max_instances,
        }
    }

    /// The plugin data database.
    pub fn database(&self) -> PathBuf {
        self.server.data.join("piston.db")
    }

    /// The credentials database (users, tokens), apart from plugin data so that the
    /// `piston users` and `piston tokens` commands can use it while a server runs.
    pub fn auth_database(&self) -> PathBuf {
        self.server.data.join("auth.db")
    }

    /// Composes the sections of `file`, each resolved by its owner, with the flags in
    /// `overrides`; `origin` names the file in errors.
    pub(crate) fn resolve(
        file: FileConfig,
        overrides: &Overrides,
        origin: &str,
    ) -> Result<Settings, ConfigError> {
        let key = |name: &str| format!("{origin}: {name}");
        let mut limits = file.limits;
        limits.timeout = overrides.timeout.or(limits.timeout);
        limits.memory_mib = overrides.memory_mib.or(limits.memory_mib);
        limits.body_bytes = overrides.body_bytes.or(limits.body_bytes);
        let limits = limits.resolve(|name| match name {
            "timeout" => "--timeout / limits.timeout".to_owned(),
            "memory_mib" => "--memory-mib / limits.memory_mib".to_owned(),
            "body_bytes" => "--body-limit / limits.body_bytes".to_owned(),
            other => key(&format!("limits.{other}")),
        })?;

        let mut plugins = BTreeMap::new();
        let mut sources = BTreeMap::new();
        let mut plugins_auth = BTreeMap::new();
        let mut plugins_throttle = BTreeMap::new();
        for (name, section) in file.plugins {
            let at = |field: &str| key(&format!("plugins.{name}.{field}"));
            let instance_limits = InstanceOverrides {
                timeout: section.timeout,
                memory_mib: section.memory_mib,
                warm_instances: section.warm_instances,
                concurrency: section.concurrency,
                response_bytes: section.response_bytes,
                storage_mib: section.storage_mib,
                log_bytes_per_request: section.log_bytes_per_request,
                log_bytes_per_second: section.log_bytes_per_second,
                outbound_requests: section.outbound_requests,
                outbound_concurrency: section.outbound_concurrency,
                outbound_response_bytes: section.outbound_response_bytes,
            };
            let settings = PluginSettings::resolve(
                section.isolation,
                instance_limits,
                section.config,
                &section.allowed_outbound_hosts,
                limits.defaults,
                at,
            )?;
            if let Some(source) = section.source {
                sources.insert(name.clone(), source);
            }
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
            plugins.insert(name, settings);
        }

        let auth = file.auth.resolve(plugins_auth, &key)?;
        let coordination = file
            .coordination
            .resolve(overrides.coordination_url.clone(), &key)?;
        let throttle = file
            .throttle
            .resolve(plugins_throttle, &coordination, &key)?;
        let store = file.store.resolve(overrides.store_url.clone(), key)?;
        let mut server = file.server;
        server.listen = overrides.listen.or(server.listen);
        server.admin_listen = overrides.admin_listen.or(server.admin_listen);
        server.plugins = overrides.plugins.clone().or(server.plugins);
        server.data = overrides.data.clone().or(server.data);
        server.cache = overrides.cache.clone().or(server.cache);
        server.public_url = overrides.public_url.clone().or(server.public_url);
        let follow_symlinks = server.follow_symlinks.unwrap_or(false);
        let (pull_interval, insecure_registries) = (
            server.pull_interval,
            std::mem::take(&mut server.insecure_registries),
        );
        let telemetry = file.telemetry.resolve(key)?;
        let server = server.resolve(key)?;
        let pulling = PullSettings::resolve(
            &server.data,
            sources,
            insecure_registries,
            pull_interval,
            overrides.registry_login.clone(),
            key,
        )?;
        Ok(Settings {
            server,
            loading: Arc::new(LoadSettings {
                follow_symlinks,
                plugin_file_bytes: limits.plugin_file_bytes,
                defaults: limits.defaults,
                plugins,
                pulling,
            }),
            body_bytes: limits.body_bytes,
            max_depth: limits.max_depth,
            max_instances: limits.max_instances,
            auth,
            throttle,
            store,
            coordination,
            telemetry,
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
    #[serde(default)]
    store: StoreSection,
    #[serde(default)]
    coordination: CoordinationSection,
    #[serde(default)]
    telemetry: TelemetrySection,
}

/// A `[plugins.NAME]` section: keys of the runtime (isolation, limits, `config`), of
/// authentication and of throttling, each handed to its owner. The limits are spelled
/// out rather than a flattened [`InstanceOverrides`]: serde's `flatten` cannot be
/// combined with `deny_unknown_fields`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PluginSection {
    source: Option<String>,
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
    outbound_requests: Option<u32>,
    outbound_concurrency: Option<u32>,
    outbound_response_bytes: Option<u64>,
    #[serde(default)]
    allowed_outbound_hosts: Vec<String>,
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
    use crate::client::ForwardedHeader;

    fn settings(text: &str, overrides: &Overrides) -> Result<Settings, ConfigError> {
        let parsed = parse(Path::new("piston.toml"), text)?;
        Settings::resolve(parsed, overrides, "piston.toml")
    }

    #[test]
    fn defaults_serve_without_a_file() {
        let settings = settings("", &Overrides::default()).unwrap();
        assert_eq!(settings.server.listen.to_string(), "127.0.0.1:8000");
        assert_eq!(settings.server.plugins, Path::new("plugins"));
        assert_eq!(settings.server.cache, Path::new("piston-data/cache"));
        assert_eq!(settings.loading.defaults.timeout, Duration::from_secs(10));
        assert_eq!(settings.loading.plugin("blog").isolation, Isolation::Pool);
    }

    #[test]
    fn hardening_limits_have_defaults_and_can_be_overridden() {
        let defaults = settings("", &Overrides::default()).unwrap();
        let limits = defaults.loading.defaults;
        assert_eq!(limits.concurrency, 64);
        assert_eq!(limits.output_bytes, 16 << 20);
        assert_eq!(limits.storage_bytes, 256 << 20);
        assert_eq!(limits.log.per_request, 64 << 10);
        assert_eq!(defaults.server.admin_listen.to_string(), "127.0.0.1:8001");
        assert_eq!(
            defaults.server.forwarded_header,
            ForwardedHeader::XForwardedFor
        );
        assert_eq!(defaults.server.shutdown_timeout, Duration::from_secs(30));
        assert_eq!(
            defaults.server.connections.header_timeout,
            Duration::from_secs(10)
        );
        assert!(!defaults.loading.follow_symlinks);

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
        assert_eq!(changed.server.admin_listen.to_string(), "127.0.0.1:0");
        assert_eq!(changed.server.forwarded_header, ForwardedHeader::Forwarded);
        assert_eq!(changed.server.connections.max, 50);
        assert_eq!(changed.loading.plugin("blog").limits.concurrency, 2);
        assert_eq!(changed.loading.plugin("blog").limits.storage_bytes, 1 << 20);
        assert_eq!(changed.loading.plugin("blog").limits.log.per_second, 0);
        assert_eq!(changed.loading.plugin("other").limits.concurrency, 8);
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
        let blog = settings.loading.plugin("blog");
        assert_eq!(blog.isolation, Isolation::Request);
        assert_eq!(blog.limits.timeout, Duration::from_secs(3));
        assert_eq!(blog.limits.memory_bytes, 256 << 20);
        assert_eq!(blog.config.get("retries").map(String::as_str), Some("3"));
        assert_eq!(
            settings.loading.plugin("other").limits.memory_bytes,
            32 << 20
        );
        assert_eq!(settings.engine_limits().memory_bytes, 256 << 20);
    }

    #[test]
    fn outbound_hosts_and_caps_are_per_plugin() {
        let text = r#"
            [limits]
            outbound_requests = 4

            [plugins.blog]
            allowed_outbound_hosts = ["https://api.example.com", "http://10.0.0.0/8:*"]
            outbound_response_bytes = 4096
        "#;
        let resolved = settings(text, &Overrides::default()).unwrap();
        let blog = resolved.loading.plugin("blog");
        assert_eq!(
            blog.allowed_outbound_hosts.entries(),
            ["https://api.example.com", "http://10.0.0.0/8:*"]
        );
        assert_eq!(blog.limits.outbound.requests, 4);
        assert_eq!(blog.limits.outbound.response_bytes, 4096);
        let other = resolved.loading.plugin("other");
        assert!(
            other.allowed_outbound_hosts.entries().is_empty(),
            "none by default"
        );
        assert_eq!(other.limits.outbound.concurrency, 4);

        let bad = r#"
            [plugins.blog]
            allowed_outbound_hosts = ["https://api.example.com", "api.example.org"]
        "#;
        let error = settings(bad, &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("plugins.blog.allowed_outbound_hosts")
                && error.contains("`api.example.org`"),
            "{error}"
        );
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
        assert_eq!(settings.server.listen.port(), 9999);
        assert_eq!(settings.loading.defaults.timeout, Duration::from_secs(1));
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
        assert_eq!(url.server.public_url, "https://api.example.com/v1");

        let error = settings("[limits]\ntimeout = \"forever\"\n", &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("piston.toml:2:11"), "{error}");
    }
}
