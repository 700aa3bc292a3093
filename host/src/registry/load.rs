//! Loading plugin files: compile, link, describe, validate, pool.

use super::{Loaded, LoadedAuthenticator, LoadedPlugin, Snapshot, spec};
use crate::oci::{Origin, PullSettings, PulledDir};
use crate::outbound::OutboundPolicy;
use crate::runtime::{
    CacheOutcome, InstanceLimits, InstanceSetup, Linked, LoadError, PluginData, PluginServices,
    PluginSettings, Runtime,
};
use crate::store::KeyValueStore;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
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
    pub settings: &'a LoadSettings,
}

/// What loading takes from the configuration: which files are loaded, and what each
/// plugin's instances get. Replaced whole when the configuration is reloaded.
#[derive(Debug, Clone)]
pub struct LoadSettings {
    /// Whether plugin files that are symbolic links are loaded.
    pub follow_symlinks: bool,
    /// The largest plugin file loaded, in bytes.
    pub plugin_file_bytes: u64,
    /// The limits a plugin gets unless its section overrides them.
    pub defaults: InstanceLimits,
    /// The plugins the configuration has a section for, by name.
    pub plugins: BTreeMap<String, PluginSettings>,
    /// The plugins pulled from registries, and where their files are kept.
    pub pulling: PullSettings,
}

impl LoadSettings {
    /// The settings of the plugin called `name`.
    pub(crate) fn plugin(&self, name: &str) -> PluginSettings {
        self.plugins
            .get(name)
            .cloned()
            .unwrap_or_else(|| PluginSettings::with_defaults(self.defaults))
    }
}

/// Why one file did not load.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file could not be read.
    #[error("cannot read the file: {0}")]
    Read(#[from] std::io::Error),
    /// It is a symbolic link, and links are not followed.
    #[error(
        "is a symbolic link; plugin files are loaded only as regular files unless server.follow_symlinks = true"
    )]
    Symlink,
    /// It is not a regular file (a directory, a FIFO, a device).
    #[error("is not a regular file")]
    NotAFile,
    /// It is larger than the operator allows.
    #[error("is {size} bytes, larger than limits.plugin_file_mib ({limit} bytes)")]
    TooLarge {
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The runtime refused it.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// Its description is invalid.
    #[error(transparent)]
    Spec(#[from] spec::SpecError),
    /// A pulled plugin describes itself under another name than the section that
    /// pulled it.
    #[error(
        "describes itself as plugin `{described}`, but was pulled for [plugins.{expected}]: \
         its source names another plugin's artifact"
    )]
    Misnamed {
        /// The name it describes.
        described: String,
        /// The section's name.
        expected: String,
    },
}

/// Loads every `*.wasm` file in `dir`, in file-name order, so that when two plugins
/// claim the same route the same one wins every time, then the pulled plugins. A file
/// that fails is recorded in the snapshot with its reason; the others load.
pub async fn load_directory(dir: &Path, options: LoadOptions<'_>) -> std::io::Result<Snapshot> {
    let mut snapshot = Snapshot::default();
    for file in plugin_files(dir, options.settings)? {
        match load_file(&file, options).await {
            Ok(loaded) => snapshot.add(loaded),
            Err(error) => match served_instead(&file, options).await {
                // As the server that refused this file kept the previous version.
                Some((served, refused)) => {
                    snapshot.add(served);
                    snapshot.hold(file, error.to_string(), refused);
                }
                None => snapshot.fail(file, error.to_string(), None),
            },
        }
    }
    Ok(snapshot)
}

/// For a pulled plugin whose file does not load: the copy that served before, loaded
/// in its place, and the refused file's SHA-256.
async fn served_instead(file: &Path, options: LoadOptions<'_>) -> Option<(Loaded, String)> {
    let settings = options.settings;
    let name = settings.pulling.expected_name(file)?;
    let refused = read_plugin_file(file, settings.follow_symlinks, settings.plugin_file_bytes)
        .ok()
        .map(|bytes| hex::encode(Sha256::digest(&bytes)))?;
    let served = PulledDir::at(&settings.pulling.dir).served_instead_of(name, &refused)?;
    let loaded = load_as(&served, file, options).await.ok()?;
    Some((loaded, refused))
}

/// Keeps aside a copy of each pulled plugin's file that serves in `snapshot`, for a
/// restart after a refused update (see [`PulledDir::keep_served`]).
pub fn keep_served_copies(snapshot: &Snapshot, settings: &LoadSettings) {
    let dir = PulledDir::at(&settings.pulling.dir);
    for loaded in snapshot.entries().iter().filter_map(|entry| match entry {
        super::Entry::Loaded(plugin) => Some(Loaded::Plugin(plugin.clone())),
        super::Entry::Authenticator(authenticator) => {
            Some(Loaded::Authenticator(authenticator.clone()))
        }
        super::Entry::Failed(_) => None,
    }) {
        let Some(name) = settings.pulling.expected_name(loaded.file()) else {
            continue;
        };
        if let Err(error) = dir.keep_served(name, loaded.digest()) {
            tracing::warn!(plugin = name, "cannot keep a copy of what serves: {error}");
        }
    }
}

/// The plugin files to load: the `*.wasm` entries of the plugin directory `dir`, then
/// the pulled plugins' files.
pub(super) fn plugin_files(dir: &Path, settings: &LoadSettings) -> std::io::Result<Vec<PathBuf>> {
    let mut files = wasm_files(dir)?;
    files.extend(settings.pulling.files().map(|(file, _)| file));
    Ok(files)
}

/// The `*.wasm` entries in `dir`, in file-name order, whatever their kind: one that is
/// not a regular file is refused with its reason when it is read.
fn wasm_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path
            .extension()
            .is_some_and(|extension| extension == "wasm")
        {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Reads a plugin file whole: only a regular file (or, if `follow_symlinks`, a link
/// to one), at most `limit` bytes. The file is opened without blocking and checked
/// once opened, so one swapped for a FIFO or a link after it was listed is refused,
/// never waited on or followed.
pub fn read_plugin_file(
    file: &Path,
    follow_symlinks: bool,
    limit: u64,
) -> Result<Vec<u8>, FileError> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let mut flags = libc::O_NONBLOCK;
    if !follow_symlinks {
        flags |= libc::O_NOFOLLOW;
    }
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(file);
    let handle = match opened {
        Ok(handle) => handle,
        // O_NOFOLLOW on a link fails with ELOOP.
        Err(error) if error.raw_os_error() == Some(libc::ELOOP) => {
            return Err(FileError::Symlink);
        }
        Err(error) => return Err(FileError::Read(error)),
    };
    let metadata = handle.metadata()?;
    if !metadata.file_type().is_file() {
        return Err(FileError::NotAFile);
    }
    if metadata.len() > limit {
        return Err(FileError::TooLarge {
            size: metadata.len(),
            limit,
        });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(metadata.len()).unwrap_or(0));
    handle
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(FileError::TooLarge {
            size: bytes.len() as u64,
            limit,
        });
    }
    Ok(bytes)
}

/// Loads one plugin file: a handler plugin or an authenticator plugin, by what it
/// exports.
pub async fn load_file(file: &Path, options: LoadOptions<'_>) -> Result<Loaded, FileError> {
    load_as(file, file, options).await
}

/// Loads the plugin file `read` as if it were `file`: the file a fallback stands in
/// for.
async fn load_as(read: &Path, file: &Path, options: LoadOptions<'_>) -> Result<Loaded, FileError> {
    let loaded = load(read, file, options).await;
    if let Some(metrics) = crate::telemetry::metrics() {
        metrics.loaded(loaded.is_ok());
    }
    loaded
}

async fn load(read: &Path, file: &Path, options: LoadOptions<'_>) -> Result<Loaded, FileError> {
    let started = Instant::now();
    let settings = options.settings;
    let wasm = read_plugin_file(read, settings.follow_symlinks, settings.plugin_file_bytes)?;
    let digest = hex::encode(Sha256::digest(&wasm));
    let compiled = options.runtime.compile(&wasm)?;
    if let Some(metrics) = crate::telemetry::metrics() {
        metrics.compile_cache(compiled.outcome == CacheOutcome::Hit);
    }
    let linked = options.runtime.link(&compiled.component)?;
    let expected = settings.pulling.expected_name(file);
    let origin = expected.and_then(|_| Origin::of(read, &digest));
    let check_name = |described: &str| match expected {
        Some(expected) if expected != described => Err(FileError::Misnamed {
            described: described.to_owned(),
            expected: expected.to_owned(),
        }),
        _ => Ok(()),
    };

    let describing = InstanceSetup {
        label: file
            .file_name()
            .map_or_else(
                || file.display().to_string(),
                |name| name.to_string_lossy().into_owned(),
            )
            .into(),
        services: Arc::new(PluginServices::default()),
        limits: options.settings.defaults,
    };
    let loaded = match linked {
        Linked::Handler(pre) => {
            let info = options.runtime.describe(&pre, &describing).await?;
            let spec = spec::validate(info)?;
            check_name(&spec.name)?;
            let (setup, settings) = serving(&spec.name, options);
            let traffic = match crate::telemetry::metrics() {
                Some(metrics) => spec
                    .resources
                    .iter()
                    .map(|resource| metrics.resource(&spec.name, &resource.name))
                    .collect(),
                None => Vec::new(),
            };
            Loaded::Plugin(Arc::new(LoadedPlugin {
                pool: options.runtime.pool(pre, setup, settings.isolation),
                settings,
                traffic,
                spec,
                file: file.to_owned(),
                digest,
                origin,
            }))
        }
        Linked::Authenticator(pre) => {
            let info = options
                .runtime
                .describe_authenticator(&pre, &describing)
                .await?;
            let spec = spec::validate_authenticator(info)?;
            check_name(&spec.name)?;
            let (setup, settings) = serving(&spec.name, options);
            Loaded::Authenticator(Arc::new(LoadedAuthenticator {
                pool: options.runtime.pool(pre, setup, settings.isolation),
                settings,
                spec,
                file: file.to_owned(),
                digest,
                origin,
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
                quota_bytes: settings.limits.storage_bytes,
            }),
            config: Some(settings.config.clone()),
            outbound: Some(Arc::new(OutboundPolicy {
                plugin: label.clone(),
                allowlist: settings.allowed_outbound_hosts.clone(),
                limits: settings.limits.outbound,
            })),
        }),
        label,
        limits: settings.limits,
    };
    (setup, settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_within_the_limit_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.wasm");
        std::fs::write(&file, b"\0asm....").unwrap();
        assert_eq!(read_plugin_file(&file, false, 8).unwrap(), b"\0asm....");
        assert!(matches!(
            read_plugin_file(&file, false, 7),
            Err(FileError::TooLarge { size: 8, limit: 7 })
        ));

        let link = dir.path().join("link.wasm");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert!(matches!(
            read_plugin_file(&link, false, 8),
            Err(FileError::Symlink)
        ));
        assert!(read_plugin_file(&link, true, 8).is_ok());

        let fifo = dir.path().join("fifo.wasm");
        let path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo(3) on a path in a temporary directory of this test.
        assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0);
        // Refused at once, not waited on for a writer.
        assert!(matches!(
            read_plugin_file(&fifo, false, 8),
            Err(FileError::NotAFile)
        ));
        assert!(matches!(
            read_plugin_file(dir.path(), false, 8),
            Err(FileError::NotAFile)
        ));
    }
}
