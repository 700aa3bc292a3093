//! Keeping pulled plugins in step with their sources: on start, on SIGHUP and every
//! `server.pull_interval`, each `[plugins.NAME] source` is resolved to a manifest
//! digest; a digest not yet on disk is pulled, verified and written whole into the
//! [`PulledDir`], and the plugin directory reload that follows loads it through the
//! same checks and swap as a dropped file. A source that cannot be resolved or pulled
//! changes nothing on disk: what was pulled before keeps serving, and the reason
//! becomes the source's status.

use super::client::{RegistryClient, RegistryOptions};
use super::pulled::{Origin, PulledDir};
use super::reference::ArtifactRef;
use super::settings::PullSettings;
use crate::telemetry::PullOutcome;
use arc_swap::ArcSwap;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// How long resolving and pulling one source may take: a registry that trickles a
/// large artifact must not hold up every other source, or the next SIGHUP, for long.
const UPDATE_LIMIT: std::time::Duration = std::time::Duration::from_secs(300);

/// How one source stands, as the admin API and `piston list` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceStatus {
    /// The file it is pulled into.
    pub file: std::path::PathBuf,
    /// The configured source.
    pub source: String,
    /// What is on disk for it, if anything was pulled.
    pub pulled: Option<Origin>,
    /// Why the last attempt to resolve or pull it failed; `None` when it succeeded.
    pub error: Option<String>,
}

/// Every source's status, by plugin name; replaced whole after each round.
pub type SourceStatuses = ArcSwap<BTreeMap<String, SourceStatus>>;

/// Resolves and pulls sources; owned by the one task that does it.
pub struct Puller {
    client: Option<(RegistryOptions, RegistryClient)>,
    /// What is on disk for each plugin, checked against the file once.
    on_disk: HashMap<String, Option<Origin>>,
    statuses: Arc<SourceStatuses>,
}

impl Default for Puller {
    fn default() -> Self {
        Puller::new()
    }
}

impl Puller {
    /// A puller with nothing known yet.
    pub fn new() -> Puller {
        Puller {
            client: None,
            on_disk: HashMap::new(),
            statuses: Arc::default(),
        }
    }

    /// The sources' statuses, kept up to date by [`Puller::pull`].
    pub fn statuses(&self) -> Arc<SourceStatuses> {
        self.statuses.clone()
    }

    /// Brings every source's file up to date with its registry; `true` if any file
    /// changed (and the plugins should be reloaded).
    pub async fn pull(&mut self, settings: &PullSettings, file_limit: u64) -> bool {
        let dir = PulledDir::at(&settings.dir);
        dir.remove_others(&settings.sources);
        self.on_disk
            .retain(|name, _| settings.sources.contains_key(name));
        if settings.sources.is_empty() {
            self.statuses.store(Arc::default());
            return false;
        }
        if self
            .client
            .as_ref()
            .is_none_or(|(options, _)| *options != settings.registries)
        {
            let client = RegistryClient::new(&settings.registries);
            self.client = Some((settings.registries.clone(), client));
        }
        let before = self.statuses.load_full();
        let mut changed = false;
        let mut statuses = BTreeMap::new();
        for (name, source) in &settings.sources {
            let on_disk = self
                .on_disk
                .entry(name.clone())
                .or_insert_with(|| dir.current(name))
                .clone();
            let client = &self.client.as_ref().expect("made above").1;
            let updating = update(client, &dir, name, source, on_disk.as_ref(), file_limit);
            let outcome = tokio::time::timeout(UPDATE_LIMIT, updating)
                .await
                .unwrap_or_else(|_| {
                    Err(format!(
                        "{source}: the registry took longer than {}s",
                        UPDATE_LIMIT.as_secs()
                    ))
                });
            let (counted, error) = match outcome {
                Ok(Update::Pulled(origin)) => {
                    changed = true;
                    self.on_disk.insert(name.clone(), Some(origin));
                    (PullOutcome::pulled, None)
                }
                Ok(Update::Recorded(origin)) => {
                    self.on_disk.insert(name.clone(), Some(origin));
                    (PullOutcome::unchanged, None)
                }
                Ok(Update::Unchanged) => (PullOutcome::unchanged, None),
                Err(error) => (PullOutcome::failed, Some(error)),
            };
            if let Some(metrics) = crate::telemetry::metrics() {
                metrics.pull(name, counted);
            }
            let status = SourceStatus {
                file: dir.file(name),
                source: source.to_string(),
                pulled: self.on_disk[name].clone(),
                error,
            };
            log_change(name, before.get(name), &status);
            statuses.insert(name.clone(), status);
        }
        self.statuses.store(Arc::new(statuses));
        changed
    }
}

/// Logs a source's new failure, or its recovery; the same failure again (a registry
/// down for an hour, asked every second) is not logged again.
fn log_change(name: &str, before: Option<&SourceStatus>, now: &SourceStatus) {
    let was = before.and_then(|status| status.error.as_deref());
    match (&now.error, &now.pulled) {
        (Some(error), _) if was == Some(error.as_str()) => {}
        (Some(error), Some(pulled)) => tracing::error!(
            plugin = %name,
            "cannot update from {}, {} keeps serving: {error}",
            now.source,
            pulled.digest
        ),
        (Some(error), None) => tracing::error!(
            plugin = %name,
            "cannot pull {}, the plugin is not served: {error}",
            now.source
        ),
        (None, _) if was.is_some() => {
            tracing::info!(plugin = %name, "{} answers again", now.source);
        }
        (None, _) => {}
    }
}

/// What updating a source did.
enum Update {
    /// Nothing had to change.
    Unchanged,
    /// The same artifact is named by another reference now: only the record changed.
    Recorded(Origin),
    /// A new artifact was pulled and written.
    Pulled(Origin),
}

/// Updates the plugin `name`'s file from `source`.
async fn update(
    client: &RegistryClient,
    dir: &PulledDir,
    name: &str,
    source: &ArtifactRef,
    on_disk: Option<&Origin>,
    file_limit: u64,
) -> Result<Update, String> {
    let source_text = source.to_string();
    let unchanged = |digest: &str| on_disk.filter(|origin| origin.digest == digest);
    // A pinned digest already pulled needs no registry at all.
    let digest = match source.pinned() {
        Some(pinned) if unchanged(pinned).is_some() => pinned.to_owned(),
        _ => client
            .resolve(source)
            .await
            .map_err(|error| error.to_string())?,
    };
    if let Some(origin) = unchanged(&digest) {
        if origin.source == source_text {
            return Ok(Update::Unchanged);
        }
        // The same artifact under another reference: only the record changes.
        let origin = Origin {
            source: source_text,
            ..origin.clone()
        };
        dir.record(name, &origin)
            .map_err(|error| format!("cannot write {}: {error}", dir.path().display()))?;
        return Ok(Update::Recorded(origin));
    }
    let pulled = client
        .pull(source, &digest, file_limit)
        .await
        .map_err(|error| error.to_string())?;
    let origin = Origin {
        source: source_text,
        digest: pulled.manifest_digest,
        layer: pulled.layer_digest,
    };
    let (place_dir, place_name, place_origin) = (dir.clone(), name.to_owned(), origin.clone());
    tokio::task::spawn_blocking(move || place_dir.place(&place_name, &place_origin, &pulled.wasm))
        .await
        .map_err(|error| error.to_string())?
        .map_err(|error| format!("cannot write {}: {error}", dir.path().display()))?;
    tracing::info!(plugin = %name, digest = %origin.digest, "pulled {}", origin.source);
    Ok(Update::Pulled(origin))
}

/// Pulls again on every `hangups` notification and, when the settings say so, every
/// pull interval, for as long as the process runs; asks `reload` to load what changed.
pub async fn keep_pulling(
    mut puller: Puller,
    settings: impl Fn() -> (PullSettings, u64),
    hangups: Arc<tokio::sync::Notify>,
    reload: impl Fn(),
) {
    loop {
        let (pulling, _) = settings();
        match pulling.interval {
            Some(every) if !pulling.sources.is_empty() => {
                tokio::select! {
                    () = hangups.notified() => {}
                    () = tokio::time::sleep(every) => {}
                }
            }
            _ => hangups.notified().await,
        }
        let (pulling, file_limit) = settings();
        if puller.pull(&pulling, file_limit).await {
            reload();
        }
    }
}
