//! `piston serve`.

use super::{
    CliError, CommonArgs, Host, LimitArgs, check_plugin_dir, parse_listen, settings, table,
    tokio_runtime,
};
use crate::admin::{self, Admin, PREFIX};
use crate::auth::AuthStore;
use crate::config::{Overrides, Settings};
use crate::oci::{Puller, keep_pulling};
use crate::pipeline::{Pipeline, Policy};
use crate::registry::{
    LoadSettings, Registry, Snapshot, keep_served_copies, load_directory, watch,
};
use crate::server;
use crate::telemetry::{self, LogFormat};
use crate::vocab::BUILT_IN;
use arc_swap::ArcSwap;
use clap::Args;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// Arguments of `piston serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Directory of plugin `.wasm` files to serve [default: plugins]
    #[arg(long, env = "PISTON_PLUGINS", value_name = "DIR")]
    plugins: Option<PathBuf>,

    /// Address to listen on; port 0 picks a free one [default: 127.0.0.1:8000]
    #[arg(long, env = "PISTON_LISTEN", value_name = "ADDR", value_parser = parse_listen)]
    listen: Option<SocketAddr>,

    /// Address of the admin API, never on the public one [default: 127.0.0.1, the
    /// public port + 1; a free port when the public one is 0]
    #[arg(long, env = "PISTON_ADMIN_LISTEN", value_name = "ADDR", value_parser = parse_listen)]
    admin_listen: Option<SocketAddr>,

    /// The URL clients reach this server at, to make `resource_uri`s absolute, e.g.
    /// `https://api.example.com` [default: none; relative URIs]
    #[arg(long, env = "PISTON_PUBLIC_URL", value_name = "URL")]
    public_url: Option<String>,

    /// Largest request body accepted, in bytes [default: 1048576]
    #[arg(long, env = "PISTON_BODY_LIMIT", value_name = "BYTES")]
    body_limit: Option<u64>,

    /// How log lines are written: `text`, or `json` (one object a line) [default:
    /// server.log_format, else text]
    #[arg(long, env = "PISTON_LOG_FORMAT", value_name = "FORMAT")]
    log_format: Option<LogFormat>,

    /// The Redis of `[coordination] backend = "redis"`, over `coordination.url`
    /// (prefer the variable: a password on the command line is visible to other users)
    #[arg(long, env = "PISTON_COORDINATION_URL", value_name = "URL")]
    coordination_url: Option<String>,

    #[command(flatten)]
    limits: LimitArgs,

    #[command(flatten)]
    common: CommonArgs,
}

pub fn run(args: ServeArgs) -> Result<ExitCode, CliError> {
    let overrides = Overrides {
        listen: args.listen,
        admin_listen: args.admin_listen,
        plugins: args.plugins,
        body_bytes: args.body_limit,
        public_url: args.public_url,
        coordination_url: args.coordination_url,
        registry_login: super::registry::login_from_env()?,
        timeout: args.limits.timeout,
        memory_mib: args.limits.memory_mib,
        ..args.common.overrides()
    };
    let settings = settings(&overrides)?;
    check_plugin_dir(&settings.server.plugins, "--plugins / server.plugins")?;
    telemetry::init_logging(
        "info",
        args.log_format.unwrap_or(settings.server.log_format),
    );
    if settings.server.metrics {
        // Before anything loads, so that the first loads are counted.
        telemetry::enable();
    }
    if let Some(otlp) = &settings.telemetry.otlp {
        telemetry::start_export(otlp).map_err(CliError::Failed)?;
        tracing::info!("exporting request spans over OTLP to {}", otlp.traces_url);
    }
    tokio_runtime()?.block_on(serve(Host::start(settings, true)?, overrides))?;
    Ok(ExitCode::SUCCESS)
}

async fn serve(host: Host, overrides: Overrides) -> Result<(), CliError> {
    let shutdown = server::shutdown_signal()
        .map_err(|error| CliError::Failed(format!("cannot listen for signals: {error}")))?;
    let settings = &host.settings;
    let bind = |address: SocketAddr| async move {
        tokio::net::TcpListener::bind(address)
            .await
            .map_err(|error| CliError::Failed(format!("cannot listen on {address}: {error}")))
    };
    let listener = bind(settings.server.listen).await?;
    let admin_listener = bind(settings.server.admin_listen).await?;
    raise_file_limit(settings.server.connections.max + ADMIN_CONNECTIONS);
    // Pulled before the first load, so that it loads what the registries hold now (or,
    // with a registry down, what was pulled last).
    let mut puller = Puller::new();
    puller
        .pull(
            &settings.loading.pulling,
            settings.loading.plugin_file_bytes,
        )
        .await;
    let snapshot = load_directory(&settings.server.plugins, host.load_options())
        .await
        .map_err(|error| {
            CliError::Failed(format!(
                "cannot read {}: {error}",
                settings.server.plugins.display()
            ))
        })?;
    warn_about_unused_settings(settings, &snapshot);
    keep_served_copies(&snapshot, &settings.loading);
    match settings.auth.default_chain.as_slice() {
        [] => tracing::info!(
            "authentication: no default authenticators; resources without their own are served anonymously"
        ),
        chain => tracing::info!("authentication: {}", chain.join(", ")),
    }

    let registry = Arc::new(Registry::new(snapshot));
    let sources = host.sources();
    let current_loading = sources.settings.clone();
    let current_settings = ArcSwap::new(host.settings.clone());
    let reloads = watch(settings.server.plugins.clone(), registry.clone(), sources)
        .map_err(|error| CliError::Failed(format!("hot reloading: {error}")))?;
    tracing::info!(
        "watching {} for new, changed and removed plugins (SIGHUP also reloads piston.toml)",
        settings.server.plugins.display()
    );
    let auth_store = host.auth_store()?;
    let policy = Policy::new(settings, &auth_store, None).map_err(CliError::Failed)?;
    if settings.throttle.own_redis {
        tracing::warn!(
            "[throttle] backend = \"redis\" with redis_url still works, but [coordination] is \
             the place for Redis now: set [coordination] backend = \"redis\" and url (the \
             throttle counts there too) and remove backend, redis_url, redis_timeout and \
             key_prefix from [throttle]"
        );
    }
    tracing::info!("throttling: {}", policy.throttle.describe());
    let mut backends = host.backends();
    backends.push(policy.coordination.clone());
    for backend in &backends {
        // Reached once now, so that an operator sees at start whether it answers.
        backend.probe().await;
        let line = crate::reachability::describe(backend.as_ref());
        match backend
            .reachability()
            .map(crate::reachability::Reachability::status)
        {
            Some(crate::reachability::Status::Down { .. }) => tracing::warn!("{line}"),
            _ => tracing::info!("{line}"),
        }
    }
    let admin = Arc::new(Admin::new(
        registry.clone(),
        settings.server.admin_token.clone(),
        backends.clone(),
        puller.statuses(),
    ));
    let hangups = Arc::new(tokio::sync::Notify::new());
    tokio::spawn(keep_pulling(
        puller,
        {
            let loading = current_loading.clone();
            move || {
                let loading = loading.load();
                (loading.pulling.clone(), loading.plugin_file_bytes)
            }
        },
        hangups.clone(),
        {
            let reloads = reloads.clone();
            move || reloads.request()
        },
    ));
    let pipeline = Arc::new(Pipeline::new(registry.clone(), policy));
    let reconfigure = {
        let (pipeline, registry, admin) = (pipeline.clone(), registry.clone(), admin.clone());
        move || {
            let applied = Running {
                settings: &current_settings,
                loading: &current_loading,
                auth_store: &auth_store,
                registry: &registry,
                pipeline: &pipeline,
                admin: &admin,
            };
            reconfigure(&overrides, &applied);
            reloads.request();
            hangups.notify_one();
        }
    };
    server::on_hangup(reconfigure)
        .map_err(|error| CliError::Failed(format!("cannot listen for SIGHUP: {error}")))?;

    // Announced last: whoever waits for this line may send requests and signals.
    let address = |listener: &tokio::net::TcpListener| {
        listener.local_addr().map_err(|error| {
            CliError::Failed(format!("cannot read the listening address: {error}"))
        })
    };
    let (public, private) = (address(&listener)?, address(&admin_listener)?);
    let mut stdout = std::io::stdout().lock();
    let printed = writeln!(
        stdout,
        "{}",
        table::resources(&admin::resources_document(
            &registry.current(),
            &admin.sources()
        ))
    )
    .and_then(|()| {
        backends.iter().try_for_each(|backend| {
            writeln!(
                stdout,
                "{}",
                crate::reachability::describe(backend.as_ref())
            )
        })
    })
    .and_then(|()| writeln!(stdout, "piston admin API on http://{private}{PREFIX}"))
    .and_then(|()| writeln!(stdout, "piston listening on http://{public}"))
    .and_then(|()| stdout.flush());
    drop(stdout);
    if let Err(error) = printed {
        tracing::warn!("cannot print the resource table: {error}");
    }

    let listeners = vec![
        server::Listener {
            socket: listener,
            app: server::app(pipeline),
            max_connections: settings.server.connections.max,
            counted: true,
        },
        server::Listener {
            socket: admin_listener,
            app: server::admin_app(admin),
            max_connections: ADMIN_CONNECTIONS,
            counted: false,
        },
    ];
    server::serve(
        listeners,
        settings.server.connections,
        shutdown,
        settings.server.shutdown_timeout,
    )
    .await
    .map_err(|error| CliError::Failed(format!("serving failed: {error}")))?;
    tracing::info!("stopped");
    Ok(())
}

/// Connections the admin listener serves at once: its own, so that clients filling
/// the public listener never lock the operator out.
const ADMIN_CONNECTIONS: usize = 64;

/// Raises the soft limit on open files towards the hard one, so that the connection
/// cap, not the file limit, is what refuses connections. Only warns if it cannot.
fn raise_file_limit(connections: usize) {
    // Plugins, databases, the compile cache and the watcher need some too.
    let wanted = connections as u64 + 256;
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct given.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 || limit.rlim_cur >= wanted {
            return;
        }
        let raised = libc::rlimit {
            rlim_cur: wanted.min(limit.rlim_max),
            rlim_max: limit.rlim_max,
        };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) != 0 || raised.rlim_cur < wanted {
            tracing::warn!(
                "open files are limited to {} (ulimit -n), fewer than server.max_connections \
                 ({connections}) needs: connections past it are refused by the system",
                raised.rlim_cur.max(limit.rlim_cur)
            );
        }
    }
}

/// What a running server applies a new configuration to.
struct Running<'a> {
    settings: &'a ArcSwap<Settings>,
    loading: &'a ArcSwap<LoadSettings>,
    auth_store: &'a Arc<AuthStore>,
    registry: &'a Arc<Registry>,
    pipeline: &'a Pipeline,
    admin: &'a Admin,
}

/// Re-reads `piston.toml` (on SIGHUP) and applies it, or keeps the current
/// configuration and says why not. Plugins whose settings changed are reloaded by the
/// directory reload that follows.
fn reconfigure(overrides: &Overrides, running: &Running<'_>) {
    let Running {
        settings: current,
        loading,
        auth_store,
        registry,
        pipeline,
        admin,
    } = *running;
    let next = match Settings::load(overrides) {
        Ok(next) => next,
        Err(error) => {
            tracing::error!("configuration not reloaded, the current one stays: {error}");
            return;
        }
    };
    let before = current.load();
    let restart_only = [
        ("server.listen", before.server.listen != next.server.listen),
        (
            "server.admin_listen",
            before.server.admin_listen != next.server.admin_listen,
        ),
        (
            "server.max_connections, header_timeout, idle_timeout, send_timeout",
            before.server.connections != next.server.connections,
        ),
        (
            "server.shutdown_timeout",
            before.server.shutdown_timeout != next.server.shutdown_timeout,
        ),
        (
            "server.plugins",
            before.server.plugins != next.server.plugins,
        ),
        ("server.data", before.server.data != next.server.data),
        ("server.cache", before.server.cache != next.server.cache),
        (
            "limits.max_instances",
            before.max_instances != next.max_instances,
        ),
        ("coordination", before.coordination != next.coordination),
        ("telemetry", before.telemetry != next.telemetry),
        (
            "server.metrics",
            before.server.metrics != next.server.metrics,
        ),
        (
            "server.log_format",
            before.server.log_format != next.server.log_format,
        ),
    ];
    for (key, changed) in restart_only {
        if changed {
            tracing::warn!("{key} changed: it takes effect at the next start");
        }
    }
    match Policy::new(&next, auth_store, Some(&pipeline.policy())) {
        Ok(policy) => {
            pipeline.reconfigure(policy);
            admin.set_token(next.server.admin_token.clone());
            warn_about_unused_settings(&next, &registry.current());
            loading.store(next.loading.clone());
            current.store(Arc::new(next));
            tracing::info!("configuration reloaded");
        }
        Err(error) => {
            tracing::error!("configuration not reloaded, the current one stays: {error}");
        }
    }
}

/// Settings for plugins, authenticators or resources that are not loaded: likely typos.
fn warn_about_unused_settings(settings: &Settings, snapshot: &Snapshot) {
    for name in settings.loading.plugins.keys() {
        if snapshot.plugin(name).is_none() && snapshot.authenticator(name).is_none() {
            tracing::warn!("piston.toml configures plugin `{name}`, which is not loaded");
        }
    }
    for name in settings
        .auth
        .named()
        .filter(|name| !BUILT_IN.contains(name))
    {
        if snapshot.authenticator(name).is_none() {
            tracing::warn!(
                "authenticator `{name}` is not built in and no authenticator plugin of that name is loaded: requests that need it get 503"
            );
        }
    }
    for (plugin, auth) in &settings.auth.plugins {
        let Some(loaded) = snapshot.plugin(plugin) else {
            continue;
        };
        for resource in auth.resources.keys() {
            if !loaded
                .spec
                .resources
                .iter()
                .any(|spec| &spec.name == resource)
            {
                tracing::warn!(
                    "piston.toml configures resource `{resource}` of plugin `{plugin}`, which has no such resource"
                );
            }
        }
    }
}
