//! Watching the plugin directory: a change to a `.wasm` file (debounced), or an
//! explicit request such as SIGHUP, reloads the directory on a thread of its own, so
//! compiling a large plugin never holds up a request; the new snapshot is swapped in
//! atomically.

use super::{LoadOptions, LoadSettings, Registry, reload};
use crate::runtime::Runtime;
use crate::store::KeyValueStore;
use arc_swap::ArcSwap;
use notify::{EventKind, RecursiveMode, Watcher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

/// Events closer together than this are one change (a copy is many writes).
const QUIET: Duration = Duration::from_millis(100);

/// What reloading needs, owned by the reload thread.
pub struct Sources {
    /// Compiles and runs plugins.
    pub runtime: Arc<Runtime>,
    /// Plugin data.
    pub store: Option<Arc<dyn KeyValueStore>>,
    /// Per-plugin settings; replaced when `piston.toml` is reloaded.
    pub settings: Arc<ArcSwap<LoadSettings>>,
}

/// Asks the reload thread for a reload.
#[derive(Clone)]
pub struct Reloads {
    sender: mpsc::Sender<()>,
}

impl Reloads {
    /// Reloads the directory soon (after any change already under way).
    pub fn request(&self) {
        let _ = self.sender.send(());
    }
}

/// Watches `dir` and keeps `registry` in step with it until the process ends.
pub fn watch(dir: PathBuf, registry: Arc<Registry>, sources: Sources) -> Result<Reloads, String> {
    let (sender, receiver) = mpsc::channel::<()>();
    // Without file events (no inotify instance left, an unsupported filesystem) the
    // server still serves and reloads on request.
    let watcher = file_events(&dir, sender.clone())
        .inspect_err(|error| {
            tracing::warn!("{error}; plugins are reloaded on SIGHUP only");
        })
        .ok();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(|error| format!("cannot start the reload thread: {error}"))?;
    std::thread::Builder::new()
        .name("piston-reload".into())
        .spawn(move || {
            // The watcher lives as long as the thread.
            let _watcher = watcher;
            while receiver.recv().is_ok() {
                while receiver.recv_timeout(QUIET).is_ok() {}
                let settings = sources.settings.load_full();
                let options = LoadOptions {
                    runtime: &sources.runtime,
                    store: sources.store.as_ref(),
                    settings: &settings,
                };
                let current = registry.current();
                let started = std::time::Instant::now();
                match runtime.block_on(reload(&dir, &current, options)) {
                    Ok(next) => {
                        super::keep_served_copies(&next, &settings);
                        registry.replace(next);
                        if let Some(metrics) = crate::telemetry::metrics() {
                            metrics.reloaded(started.elapsed());
                        }
                    }
                    Err(error) => {
                        tracing::error!("cannot reload {}: {error}", dir.display());
                    }
                }
            }
        })
        .map_err(|error| format!("cannot start the reload thread: {error}"))?;
    Ok(Reloads { sender })
}

/// Sends a reload request for every change to a `.wasm` file in `dir`.
fn file_events(
    dir: &Path,
    reloads: mpsc::Sender<()>,
) -> Result<notify::RecommendedWatcher, String> {
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let relevant = match event {
            // Reading a file (as reloading does) is not a change.
            Ok(event) if matches!(event.kind, EventKind::Access(_)) => false,
            Ok(event) => event.paths.iter().any(|path| {
                path.extension()
                    .is_some_and(|extension| extension == "wasm")
            }),
            // An overflowed or failed watch: look at everything again.
            Err(_) => true,
        };
        if relevant {
            let _ = reloads.send(());
        }
    })
    .map_err(|error| format!("cannot watch {}: {error}", dir.display()))?;
    watcher
        .watch(dir, RecursiveMode::NonRecursive)
        .map_err(|error| format!("cannot watch {}: {error}", dir.display()))?;
    Ok(watcher)
}
