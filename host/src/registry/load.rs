//! Loading plugin files: compile, link, describe, validate, pool.

use super::{Loaded, LoadedAuthenticator, LoadedPlugin, Snapshot, spec};
use crate::config::{PluginSettings, Settings};
use crate::runtime::{
    CacheOutcome, InstanceSetup, Linked, LoadError, PluginData, PluginServices, Runtime,
};
use crate::store::KeyValueStore;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// What loading needs from the host.
#[derive(Clone, Copy)]
pub struct LoadOptions<'a> {
    /// Compiles and runs plugins.
    pub runtime: &'a Runtime,
    /// Where plugin data lives; `None` when plugins are only inspected, not served.
    pub store: Option<&'a Arc<dyn KeyValueStore>>,
    /// Per-plugin isolation, limits and settings.
    pub settings: &'a Settings,
}

/// Why one file did not load.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file could not be read.
    #[error("cannot read the file: {0}")]
    Read(#[from] std::io::Error),
    /// The runtime refused it.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// Its description is invalid.
    #[error(transparent)]
    Spec(#[from] spec::SpecError),
}

/// Loads every `*.wasm` file in `dir`, in file-name order, so that when two plugins
/// claim the same route the same one wins every time. A file that fails is recorded in
/// the snapshot with its reason; the others load.
pub async fn load_directory(dir: &Path, options: LoadOptions<'_>) -> std::io::Result<Snapshot> {
    let mut snapshot = Snapshot::default();
    for file in wasm_files(dir)? {
        match load_file(&file, options).await {
            Ok(loaded) => snapshot.add(loaded),
            Err(error) => snapshot.fail(file, error.to_string(), None),
        }
    }
    Ok(snapshot)
}

/// The `*.wasm` files in `dir`, in file-name order.
pub(super) fn wasm_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path
            .extension()
            .is_some_and(|extension| extension == "wasm")
            && path.is_file()
        {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Loads one plugin file: a handler plugin or an authenticator plugin, by what it
/// exports.
pub async fn load_file(file: &Path, options: LoadOptions<'_>) -> Result<Loaded, FileError> {
    let started = Instant::now();
    let wasm = std::fs::read(file)?;
    let digest = hex::encode(Sha256::digest(&wasm));
    let compiled = options.runtime.compile(&wasm)?;
    let linked = options.runtime.link(&compiled.component)?;

    let describing = InstanceSetup {
        label: file
            .file_name()
            .map_or_else(
                || file.display().to_string(),
                |name| name.to_string_lossy().into_owned(),
            )
            .into(),
        services: Arc::new(PluginServices::default()),
        limits: options.settings.default_instance_limits(),
    };
    let loaded = match linked {
        Linked::Handler(pre) => {
            let info = options.runtime.describe(&pre, &describing).await?;
            let spec = spec::validate(info)?;
            let (setup, settings) = serving(&spec.name, options);
            Loaded::Plugin(Arc::new(LoadedPlugin {
                pool: options.runtime.pool(pre, setup, settings.isolation),
                settings,
                spec,
                file: file.to_owned(),
                digest,
            }))
        }
        Linked::Authenticator(pre) => {
            let info = options
                .runtime
                .describe_authenticator(&pre, &describing)
                .await?;
            let spec = spec::validate_authenticator(info)?;
            let (setup, settings) = serving(&spec.name, options);
            Loaded::Authenticator(Arc::new(LoadedAuthenticator {
                pool: options.runtime.pool(pre, setup, settings.isolation),
                settings,
                spec,
                file: file.to_owned(),
                digest,
            }))
        }
    };
    tracing::info!(
        plugin = loaded.name(),
        kind = match loaded {
            Loaded::Plugin(_) => "handler",
            Loaded::Authenticator(_) => "authenticator",
        },
        file = %file.display(),
        compile = match compiled.outcome {
            CacheOutcome::Hit => "cached",
            CacheOutcome::Compiled => "compiled",
        },
        elapsed_ms = started.elapsed().as_millis() as u64,
        "plugin loaded"
    );
    Ok(loaded)
}

/// What the instances of the plugin `name` get: its data namespace, its settings and
/// its limits, from `piston.toml`.
fn serving(name: &str, options: LoadOptions<'_>) -> (InstanceSetup, PluginSettings) {
    let settings = options.settings.plugin(name);
    let label: Arc<str> = name.into();
    let setup = InstanceSetup {
        services: Arc::new(PluginServices {
            data: options.store.map(|store| PluginData {
                namespace: label.clone(),
                store: store.clone(),
            }),
            config: Some(settings.config.clone()),
        }),
        label,
        limits: settings.limits,
    };
    (setup, settings)
}
