//! The `piston` command line: parsing, validation, and the subcommands.
//!
//! Exit codes: 0 success; 1 the command ran and failed (a port in use, a plugin that
//! does not load); 2 a bad flag, config value or path, reported in one line naming it
//! before anything starts.

mod build;
mod docs;
mod inspect;
mod list;
mod new;
mod oauth;
mod registry;
mod serve;
mod table;
mod tokens;
mod traffic;
mod users;

use crate::config::{Overrides, Settings};
use crate::vocab::ConfigError;
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Serve REST resources from WebAssembly handler plugins.
///
/// Drop handler plugins (`.wasm` components implementing the piston:handler WIT
/// contract) into a directory and serve them: Piston does routing, method checks,
/// body decoding and output; the plugins only return data.
#[derive(Debug, Parser)]
#[command(name = "piston", version, propagate_version = true)]
#[command(
    after_help = "Logging: set PISTON_LOG (e.g. `debug`, `piston=debug,warn`).\n\
                        Configuration: piston.toml in the current directory, or --config FILE."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the plugins in a directory over HTTP.
    Serve(serve::ServeArgs),
    /// List the plugins in a directory and the resources they serve (exits 1 if any
    /// plugin fails to load).
    List(list::ListArgs),
    /// Write the OpenAPI 3.1 document of the plugins in a directory: the one the
    /// server serves at /openapi.json (exits 1 if any plugin fails to load).
    Docs(docs::DocsArgs),
    /// Show everything one plugin file declares.
    Inspect(inspect::InspectArgs),
    /// Manage the users Basic and Digest authenticate.
    Users(users::UsersArgs),
    /// Manage API tokens for Bearer authentication.
    Tokens(tokens::TokensArgs),
    /// Manage OAuth 1.0a consumers and the tokens users granted them.
    #[command(name = "oauth")]
    OAuth(oauth::OAuthArgs),
    /// Create a plugin project in Rust, Python or JavaScript, ready to build.
    New(new::NewArgs),
    /// Build a plugin project into NAME.wasm with its language's toolchain.
    Build(build::BuildArgs),
    /// Publish a plugin file to an OCI registry (checked first: it must load), and
    /// print its digest.
    Push(registry::PushArgs),
    /// Fetch a plugin from an OCI registry, verified against its digest, and print
    /// the digest.
    Pull(registry::PullArgs),
}

/// Options every command takes.
#[derive(Debug, Args)]
struct CommonArgs {
    /// Configuration file [default: ./piston.toml, if it exists]
    #[arg(long, global = true, env = "PISTON_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,

    /// Data directory, for plugin data (SQLite) and compiled plugins [default:
    /// piston-data]
    #[arg(long, global = true, env = "PISTON_DATA", value_name = "DIR")]
    data: Option<PathBuf>,

    /// Compile cache: plugins compiled to native code, reused across restarts
    /// [default: DATA/cache]
    #[arg(long, global = true, env = "PISTON_CACHE", value_name = "DIR")]
    cache: Option<PathBuf>,

    /// The PostgreSQL database plugin data and credentials share between hosts, with
    /// `[store] backend = "postgres"` (postgres://user@host:port/database) [default:
    /// store.url]
    #[arg(long, global = true, env = "PISTON_STORE_URL", value_name = "URL")]
    store_url: Option<String>,
}

/// Limits a plugin runs under.
#[derive(Debug, Args)]
struct LimitArgs {
    /// How long a plugin may take to answer, e.g. `500ms`, `10s` [default: 10s]
    #[arg(long, env = "PISTON_TIMEOUT", value_name = "DURATION", value_parser = parse_duration)]
    timeout: Option<Duration>,

    /// Memory limit of one plugin instance, in MiB [default: 128]
    #[arg(long, env = "PISTON_MEMORY_MIB", value_name = "MIB")]
    memory_mib: Option<u64>,
}

impl CommonArgs {
    fn overrides(&self) -> Overrides {
        Overrides {
            config: self.config.clone(),
            data: self.data.clone(),
            cache: self.cache.clone(),
            store_url: self.store_url.clone(),
            ..Overrides::default()
        }
    }
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text)
        .map_err(|error| format!("{error} (write e.g. `500ms`, `10s`, `1m`)"))
}

/// Why a command failed, and so its exit code.
#[derive(Debug, thiserror::Error)]
enum CliError {
    /// A bad flag, config value or path: exit 2.
    #[error("{0}")]
    Usage(String),
    /// The command ran and failed: exit 1.
    #[error("{0}")]
    Failed(String),
}

impl From<ConfigError> for CliError {
    fn from(error: ConfigError) -> CliError {
        CliError::Usage(error.to_string())
    }
}

/// Runs the command line and returns the process's exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::List(args) => list::run(args),
        Command::Docs(args) => docs::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Users(args) => users::run(args),
        Command::Tokens(args) => tokens::run(args),
        Command::OAuth(args) => oauth::run(args),
        Command::New(args) => new::run(args),
        Command::Build(args) => build::run(args),
        Command::Push(args) => registry::push(args),
        Command::Pull(args) => registry::pull(args),
    };
    match outcome {
        Ok(code) => code,
        Err(CliError::Usage(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
        Err(CliError::Failed(message)) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to stderr, filtered by `PISTON_LOG` (else `default`).
fn init_logging(default: &str) {
    crate::telemetry::init_logging(default, crate::telemetry::LogFormat::Text);
}

/// Validated settings plus the checks on paths that only the CLI makes.
fn settings(overrides: &Overrides) -> Result<Settings, CliError> {
    let settings = Settings::load(overrides)?;
    for (flag, dir) in [
        ("--data / server.data", &settings.server.data),
        ("--cache / server.cache", &settings.server.cache),
    ] {
        std::fs::create_dir_all(dir).map_err(|error| {
            CliError::Usage(format!(
                "{flag}: cannot create `{}`: {error}",
                dir.display()
            ))
        })?;
    }
    Ok(settings)
}

/// A multi-threaded tokio runtime for the commands that load plugins.
fn tokio_runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| CliError::Failed(format!("cannot start the async runtime: {error}")))
}

/// Everything a command needs to load plugins.
struct Host {
    settings: std::sync::Arc<Settings>,
    runtime: std::sync::Arc<crate::runtime::Runtime>,
    /// Plugin data: opened only by `serve` (it holds a SQLite database exclusively).
    store: Option<std::sync::Arc<dyn crate::store::KeyValueStore>>,
    /// The PostgreSQL database plugin data and credentials share, when the settings
    /// name one and the host serves.
    database: Option<std::sync::Arc<crate::postgres::Database>>,
}

impl Host {
    /// The runtime, and the store when `serving`.
    fn start(settings: Settings, serving: bool) -> Result<Host, CliError> {
        let database = if serving {
            shared_database(&settings)?
        } else {
            None
        };
        let store: Option<std::sync::Arc<dyn crate::store::KeyValueStore>> =
            match (serving, &database) {
                (false, _) => None,
                (true, Some(database)) => Some(std::sync::Arc::new(
                    crate::store::PostgresStore::new(database.clone()),
                )),
                (true, None) => Some(std::sync::Arc::new(
                    crate::store::SqliteStore::open(&settings.database())
                        .map_err(|error| CliError::Failed(format!("plugin data: {error}")))?,
                )),
            };
        let store = match (store, crate::telemetry::metrics()) {
            (Some(store), Some(metrics)) => {
                let backend = if database.is_some() {
                    "postgres"
                } else {
                    "sqlite"
                };
                Some(
                    std::sync::Arc::new(crate::store::Metered::new(store, backend, metrics))
                        as std::sync::Arc<dyn crate::store::KeyValueStore>,
                )
            }
            (store, _) => store,
        };
        let runtime =
            crate::runtime::Runtime::new(settings.engine_limits(), &settings.server.cache)
                .map_err(|error| CliError::Failed(error.to_string()))?;
        if let crate::runtime::Allocator::OnDemand { reason } = runtime.allocator() {
            tracing::warn!(
                "using on-demand instance allocation (slower): the pooling allocator is unavailable: {reason}"
            );
        }
        Ok(Host {
            settings: std::sync::Arc::new(settings),
            runtime: std::sync::Arc::new(runtime),
            store,
            database,
        })
    }

    /// The credentials database.
    fn auth_store(&self) -> Result<std::sync::Arc<crate::auth::AuthStore>, CliError> {
        match &self.database {
            Some(database) => Ok(crate::auth::AuthStore::postgres(database.clone())),
            None => open_auth_store(&self.settings),
        }
        .map(std::sync::Arc::new)
    }

    /// The backends the host depends on, for its start-up lines and `health`.
    fn backends(&self) -> Vec<std::sync::Arc<dyn crate::reachability::Backend>> {
        let store: std::sync::Arc<dyn crate::reachability::Backend> = match &self.database {
            Some(database) => std::sync::Arc::new(database.clone()),
            None => std::sync::Arc::new(crate::reachability::Embedded {
                role: "store",
                engine: "sqlite",
                location: self.settings.server.data.display().to_string(),
            }),
        };
        vec![store]
    }

    /// What the reload thread needs to load plugins while the server runs.
    fn sources(&self) -> crate::registry::Sources {
        crate::registry::Sources {
            runtime: self.runtime.clone(),
            store: self.store.clone(),
            settings: std::sync::Arc::new(arc_swap::ArcSwap::new(self.settings.loading.clone())),
        }
    }

    fn load_options(&self) -> crate::registry::LoadOptions<'_> {
        crate::registry::LoadOptions {
            runtime: &self.runtime,
            store: self.store.as_ref(),
            settings: &self.settings.loading,
        }
    }
}

/// The PostgreSQL database the settings name, if any: a pool that connects on first use.
fn shared_database(
    settings: &Settings,
) -> Result<Option<std::sync::Arc<crate::postgres::Database>>, CliError> {
    match &settings.store {
        crate::store::settings::StoreSettings::Sqlite => Ok(None),
        crate::store::settings::StoreSettings::Postgres(postgres) => {
            crate::postgres::Database::open(postgres)
                .map(|database| Some(std::sync::Arc::new(database)))
                .map_err(CliError::Failed)
        }
    }
}

/// Opens the credentials database of `settings`.
fn open_auth_store(settings: &Settings) -> Result<crate::auth::AuthStore, CliError> {
    match shared_database(settings)? {
        Some(database) => Ok(crate::auth::AuthStore::postgres(database)),
        None => crate::auth::AuthStore::open(&settings.auth_database())
            .map_err(|error| CliError::Failed(error.to_string())),
    }
}

/// Loads the plugin directory (`dir`, else the configured one) in this process, as a
/// server would but without opening the store, for the commands that describe what
/// it serves. `flag` names where the directory came from in errors.
fn load_offline(
    dir: Option<std::path::PathBuf>,
    common: &CommonArgs,
    flag: &str,
) -> Result<(Host, crate::registry::Snapshot), CliError> {
    let overrides = Overrides {
        plugins: dir,
        ..common.overrides()
    };
    let settings = settings(&overrides)?;
    check_plugin_dir(&settings.server.plugins, flag)?;
    init_logging("warn");
    let host = Host::start(settings, false)?;
    let snapshot = tokio_runtime()?
        .block_on(crate::registry::load_directory(
            &host.settings.server.plugins,
            host.load_options(),
        ))
        .map_err(|error| {
            CliError::Failed(format!(
                "cannot read {}: {error}",
                host.settings.server.plugins.display()
            ))
        })?;
    Ok((host, snapshot))
}

/// Checks that a plugin directory can be read, naming the flag if not.
fn check_plugin_dir(dir: &std::path::Path, flag: &str) -> Result<(), CliError> {
    match std::fs::read_dir(dir) {
        Ok(_) => Ok(()),
        Err(error) => Err(CliError::Usage(format!(
            "{flag}: cannot read the plugin directory `{}`: {error}",
            dir.display()
        ))),
    }
}

/// A socket address flag's value.
fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    text.parse()
        .map_err(|_| format!("`{text}` is not an address like 127.0.0.1:8000 or [::1]:8000"))
}
