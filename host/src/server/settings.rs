//! The `[server]` section: where the host listens and keeps its files, who is behind
//! it, and how long connections may take, resolved into [`ServerSettings`].

use super::ConnectionLimits;
use crate::client::{ForwardedHeader, TrustedProxy};
use crate::telemetry::LogFormat;
use crate::vocab::{ConfigError, check_range};
use ipnet::IpNet;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

const DEFAULT_LISTEN: &str = "127.0.0.1:8000";
const DEFAULT_PLUGINS: &str = "plugins";
const DEFAULT_DATA: &str = "piston-data";
const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(30);

const SHUTDOWN_TIMEOUT_RANGE: (Duration, Duration) = (Duration::ZERO, Duration::from_secs(3600));
const MAX_CONNECTIONS_RANGE: (usize, usize) = (1, 1_000_000);
const CONNECTION_TIMEOUT_RANGE: (Duration, Duration) =
    (Duration::from_millis(100), Duration::from_secs(3600));

/// The `[server]` section, resolved.
#[derive(Debug, Clone)]
pub struct ServerSettings {
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
    /// The proxies whose forwarding header names the client.
    pub trusted_proxies: Vec<IpNet>,
    /// Which forwarding header those proxies set.
    pub forwarded_header: ForwardedHeader,
    /// How long in-flight requests get to finish after a shutdown signal.
    pub shutdown_timeout: Duration,
    /// How many connections, and how slow they may be.
    pub connections: ConnectionLimits,
    /// How long a client may take to send a request body.
    pub body_timeout: Duration,
    /// The bearer token that opens the admin API to clients off loopback.
    pub admin_token: Option<String>,
    /// Whether the public listener serves the OpenAPI document and the docs page.
    pub docs: bool,
    /// How log lines are written, unless `--log-format` says.
    pub log_format: LogFormat,
    /// Whether every request gets an access line at `info`.
    pub access_log: bool,
    /// Whether the host records metrics (served on the admin listener's `/metrics`).
    pub metrics: bool,
}

/// The `[server]` section, as written; the configuration puts the command-line flags
/// over the first six fields before resolving it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ServerSection {
    pub(crate) listen: Option<SocketAddr>,
    pub(crate) admin_listen: Option<SocketAddr>,
    pub(crate) plugins: Option<PathBuf>,
    pub(crate) data: Option<PathBuf>,
    pub(crate) cache: Option<PathBuf>,
    pub(crate) public_url: Option<String>,
    #[serde(default)]
    trusted_proxies: Vec<TrustedProxy>,
    forwarded_header: Option<ForwardedHeader>,
    admin_token: Option<String>,
    docs: Option<bool>,
    log_format: Option<LogFormat>,
    access_log: Option<bool>,
    metrics: Option<bool>,
    /// Read by the configuration for plugin loading.
    pub(crate) follow_symlinks: Option<bool>,
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
    /// Read by the configuration for pulling plugins.
    #[serde(default, with = "humantime_serde")]
    pub(crate) pull_interval: Option<Duration>,
    /// Read by the configuration for pulling plugins.
    #[serde(default)]
    pub(crate) insecure_registries: Vec<String>,
}

impl ServerSection {
    /// Checks every value; `key` names a key of the file as the error shows it.
    pub(crate) fn resolve(
        self,
        key: impl Fn(&str) -> String,
    ) -> Result<ServerSettings, ConfigError> {
        let admin_token = match self.admin_token {
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
        let public_url = match self.public_url {
            Some(url) => check_public_url(&url)?,
            None => String::new(),
        };
        let data = self.data.unwrap_or_else(|| DEFAULT_DATA.into());
        let listen = self
            .listen
            .unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("the default address parses"));
        let admin_listen = self
            .admin_listen
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
                self.max_connections.unwrap_or(DEFAULT_MAX_CONNECTIONS),
                MAX_CONNECTIONS_RANGE,
            )?,
            header_timeout: connection_timeout(
                "header_timeout",
                self.header_timeout,
                DEFAULT_HEADER_TIMEOUT,
            )?,
            idle_timeout: connection_timeout(
                "idle_timeout",
                self.idle_timeout,
                DEFAULT_IDLE_TIMEOUT,
            )?,
            send_timeout: connection_timeout(
                "send_timeout",
                self.send_timeout,
                DEFAULT_SEND_TIMEOUT,
            )?,
        };
        Ok(ServerSettings {
            listen,
            admin_listen,
            plugins: self.plugins.unwrap_or_else(|| DEFAULT_PLUGINS.into()),
            cache: self.cache.unwrap_or_else(|| data.join("cache")),
            data,
            public_url,
            trusted_proxies: self
                .trusted_proxies
                .into_iter()
                .map(|proxy| proxy.0)
                .collect(),
            forwarded_header: self.forwarded_header.unwrap_or_default(),
            shutdown_timeout: check_range(
                &key("server.shutdown_timeout"),
                self.shutdown_timeout.unwrap_or(DEFAULT_SHUTDOWN_TIMEOUT),
                SHUTDOWN_TIMEOUT_RANGE,
            )?,
            connections,
            docs: self.docs.unwrap_or(true),
            log_format: self.log_format.unwrap_or_default(),
            access_log: self.access_log.unwrap_or(true),
            metrics: self.metrics.unwrap_or(true),
            body_timeout: connection_timeout(
                "body_timeout",
                self.body_timeout,
                DEFAULT_BODY_TIMEOUT,
            )?,
            admin_token,
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
