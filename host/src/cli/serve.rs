//! `piston serve`.

use super::{
    CliError, CommonArgs, Host, LimitArgs, check_plugin_dir, init_logging, parse_listen, settings,
    table, tokio_runtime,
};
use crate::admin::{self, Admin};
use crate::auth::settings::BUILT_IN;
use crate::auth::{AuthStore, Gate};
use crate::client::ClientAddresses;
use crate::config::{Overrides, Settings};
use crate::decode::BodyLimits;
use crate::pipeline::{Pipeline, Policy};
use crate::registry::{Registry, Snapshot, load_directory, watch};
use crate::server;
use crate::throttle::Throttler;
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

    /// The URL clients reach this server at, to make `resource_uri`s absolute, e.g.
    /// `https://api.example.com` [default: none; relative URIs]
    #[arg(long, env = "PISTON_PUBLIC_URL", value_name = "URL")]
    public_url: Option<String>,

    /// Largest request body accepted, in bytes [default: 1048576]
    #[arg(long, env = "PISTON_BODY_LIMIT", value_name = "BYTES")]
    body_limit: Option<u64>,

    #[command(flatten)]
    limits: LimitArgs,

    #[command(flatten)]
    common: CommonArgs,
}

pub fn run(args: ServeArgs) -> Result<ExitCode, CliError> {
    let overrides = Overrides {
        listen: args.listen,
        plugins: args.plugins,
        body_bytes: args.body_limit,
        public_url: args.public_url,
        timeout: args.limits.timeout,
        memory_mib: args.limits.memory_mib,
        ..args.common.overrides()
    };
    let settings = settings(&overrides)?;
    check_plugin_dir(&settings.plugins, "--plugins / server.plugins")?;
    init_logging("info");
    tokio_runtime()?.block_on(serve(Host::start(settings, true)?, overrides))?;
    Ok(ExitCode::SUCCESS)
}

async fn serve(host: Host, overrides: Overrides) -> Result<(), CliError> {
    let shutdown = server::shutdown_signal()
        .map_err(|error| CliError::Failed(format!("cannot listen for signals: {error}")))?;
    let settings = &host.settings;
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .map_err(|error| {
            CliError::Failed(format!("cannot listen on {}: {error}", settings.listen))
        })?;
    let snapshot = load_directory(&settings.plugins, host.load_options())
        .await
        .map_err(|error| {
            CliError::Failed(format!(
                "cannot read {}: {error}",
                settings.plugins.display()
            ))
        })?;
    warn_about_unused_settings(settings, &snapshot);
    match settings.auth.default_chain.as_slice() {
        [] => tracing::info!(
            "authentication: no default authenticators; resources without their own are served anonymously"
        ),
        chain => tracing::info!("authentication: {}", chain.join(", ")),
    }

    let registry = Arc::new(Registry::new(snapshot));
    let sources = host.sources();
    let current_settings = sources.settings.clone();
    let reloads = watch(settings.plugins.clone(), registry.clone(), sources)
        .map_err(|error| CliError::Failed(format!("hot reloading: {error}")))?;
    tracing::info!(
        "watching {} for new, changed and removed plugins (SIGHUP also reloads piston.toml)",
        settings.plugins.display()
    );
    let auth_store = host.auth_store()?;
    let policy = policy(settings, &auth_store, &registry, None).map_err(CliError::Failed)?;
    tracing::info!("throttling: {}", policy.throttle.describe());
    let pipeline = Arc::new(Pipeline::new(registry.clone(), policy));
    let reconfigure = {
        let (pipeline, registry) = (pipeline.clone(), registry.clone());
        move || {
            reconfigure(
                &overrides,
                &current_settings,
                &auth_store,
                &registry,
                &pipeline,
            );
            reloads.request();
        }
    };
    server::on_hangup(reconfigure)
        .map_err(|error| CliError::Failed(format!("cannot listen for SIGHUP: {error}")))?;

    // Announced last: whoever waits for this line may send requests and signals.
    let address = listener
        .local_addr()
        .map_err(|error| CliError::Failed(format!("cannot read the listening address: {error}")))?;
    let mut stdout = std::io::stdout().lock();
    let printed = writeln!(
        stdout,
        "{}",
        table::resources(&admin::resources_document(&registry.current()))
    )
    .and_then(|()| writeln!(stdout, "piston listening on http://{address}"))
    .and_then(|()| stdout.flush());
    drop(stdout);
    if let Err(error) = printed {
        tracing::warn!("cannot print the resource table: {error}");
    }

    server::serve(listener, server::app(pipeline), shutdown)
        .await
        .map_err(|error| CliError::Failed(format!("serving failed: {error}")))?;
    tracing::info!("stopped");
    Ok(())
}

/// The policy `settings` describe. `previous`, when reconfiguring, hands over what
/// must survive a reload (the throttle counters).
fn policy(
    settings: &Settings,
    auth_store: &Arc<AuthStore>,
    registry: &Arc<Registry>,
    previous: Option<&Policy>,
) -> Result<Policy, String> {
    let gate = Gate::new(&settings.auth, auth_store.clone(), &settings.public_url)
        .map_err(|error| format!("authentication: {error}"))?;
    let throttle = Throttler::new(&settings.throttle, previous.map(|policy| &policy.throttle))
        .map_err(|error| format!("throttling: {error}"))?;
    let clients = ClientAddresses::new(settings.trusted_proxies.clone());
    Ok(Policy {
        gate,
        throttle,
        admin: Admin::new(
            registry.clone(),
            clients.clone(),
            settings.admin_token.clone(),
        ),
        clients,
        body: BodyLimits {
            max_bytes: settings.body_bytes,
            max_depth: settings.max_depth,
            timeout: settings.default_instance_limits().timeout,
        },
        public_url: settings.public_url.trim_end_matches('/').into(),
    })
}

/// Re-reads `piston.toml` (on SIGHUP) and applies it, or keeps the current
/// configuration and says why not. Plugins whose settings changed are reloaded by the
/// directory reload that follows.
fn reconfigure(
    overrides: &Overrides,
    current: &ArcSwap<Settings>,
    auth_store: &Arc<AuthStore>,
    registry: &Arc<Registry>,
    pipeline: &Pipeline,
) {
    let next = match Settings::load(overrides) {
        Ok(next) => next,
        Err(error) => {
            tracing::error!("configuration not reloaded, the current one stays: {error}");
            return;
        }
    };
    let before = current.load();
    let restart_only = [
        ("server.listen", before.listen != next.listen),
        ("server.plugins", before.plugins != next.plugins),
        ("server.data", before.data != next.data),
        ("server.cache", before.cache != next.cache),
        (
            "limits.max_instances",
            before.max_instances != next.max_instances,
        ),
    ];
    for (key, changed) in restart_only {
        if changed {
            tracing::warn!("{key} changed: it takes effect at the next start");
        }
    }
    match policy(&next, auth_store, registry, Some(&pipeline.policy())) {
        Ok(policy) => {
            pipeline.reconfigure(policy);
            warn_about_unused_settings(&next, &registry.current());
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
    for name in settings.configured_plugins() {
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
