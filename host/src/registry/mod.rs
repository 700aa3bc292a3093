//! The live routing table: which plugins (handlers and authenticators) are loaded,
//! which failed, and which resource answers a path.
//!
//! The table is an immutable [`Snapshot`] behind an atomic pointer: a request takes the
//! current snapshot without a lock, clones what it needs, and finishes on that version
//! even if a new snapshot is swapped in meanwhile.

mod load;
mod overlap;
mod reload;
pub mod spec;
mod watch;

pub use self::load::{
    LoadOptions, LoadSettings, keep_served_copies, load_directory, load_file, read_plugin_file,
};
pub use self::reload::reload;
pub use self::spec::{AuthenticatorSpec, PluginSpec, ResourceSpec};
pub use self::watch::{Sources, watch};

use crate::oci::Origin;
use crate::runtime::{AuthenticatorGuest, InstancePool, PluginSettings};
use crate::telemetry::ResourceTraffic;
use arc_swap::ArcSwap;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A plugin that loaded and serves its resources.
pub struct LoadedPlugin {
    /// What it serves.
    pub spec: PluginSpec,
    /// The file it came from.
    pub file: PathBuf,
    /// The SHA-256 of that file, hex.
    pub digest: String,
    /// The registry artifact it was pulled from, if it was.
    pub origin: Option<Origin>,
    /// Its instances.
    pub pool: InstancePool,
    /// The settings its instances were made with.
    pub settings: PluginSettings,
    /// What each resource's requests record, in `spec.resources` order; empty when
    /// metrics are off.
    pub traffic: Vec<Arc<ResourceTraffic>>,
}

/// An authenticator plugin that loaded; chains in `piston.toml` name it.
pub struct LoadedAuthenticator {
    /// What it is.
    pub spec: AuthenticatorSpec,
    /// The file it came from.
    pub file: PathBuf,
    /// The SHA-256 of that file, hex.
    pub digest: String,
    /// The registry artifact it was pulled from, if it was.
    pub origin: Option<Origin>,
    /// Its instances.
    pub pool: InstancePool<AuthenticatorGuest>,
    /// The settings its instances were made with.
    pub settings: PluginSettings,
}

/// A plugin file that loaded, by kind.
#[derive(Clone)]
pub enum Loaded {
    /// A handler plugin.
    Plugin(Arc<LoadedPlugin>),
    /// An authenticator plugin.
    Authenticator(Arc<LoadedAuthenticator>),
}

impl Loaded {
    /// Its name, unique among everything loaded.
    pub fn name(&self) -> &str {
        match self {
            Loaded::Plugin(plugin) => &plugin.spec.name,
            Loaded::Authenticator(authenticator) => &authenticator.spec.name,
        }
    }

    /// The file it came from.
    pub fn file(&self) -> &Path {
        match self {
            Loaded::Plugin(plugin) => &plugin.file,
            Loaded::Authenticator(authenticator) => &authenticator.file,
        }
    }

    /// The settings its instances were made with.
    pub fn settings(&self) -> &PluginSettings {
        match self {
            Loaded::Plugin(plugin) => &plugin.settings,
            Loaded::Authenticator(authenticator) => &authenticator.settings,
        }
    }

    /// The SHA-256 of that file, hex.
    pub fn digest(&self) -> &str {
        match self {
            Loaded::Plugin(plugin) => &plugin.digest,
            Loaded::Authenticator(authenticator) => &authenticator.digest,
        }
    }
}

/// A plugin file that did not load, and why.
#[derive(Debug, Clone, Serialize)]
pub struct LoadFailure {
    /// The file.
    pub file: PathBuf,
    /// Why, in one line.
    pub error: String,
    /// The SHA-256 of the file that failed, when it could be read: an unchanged file is
    /// not tried again.
    #[serde(skip)]
    pub digest: Option<String>,
}

/// Refused new content of a file whose previous version serves.
#[derive(Debug, Clone)]
struct Held {
    error: String,
    digest: String,
}

/// One entry of the plugin directory, as `piston list` shows it.
#[derive(Clone)]
pub enum Entry {
    /// A handler plugin, loaded and routed.
    Loaded(Arc<LoadedPlugin>),
    /// An authenticator plugin, loaded.
    Authenticator(Arc<LoadedAuthenticator>),
    /// Skipped.
    Failed(LoadFailure),
}

/// Where a route leads: a plugin and the index of one of its resources.
#[derive(Clone)]
pub struct RouteTarget {
    /// The plugin.
    pub plugin: Arc<LoadedPlugin>,
    /// The index of the resource in `plugin.spec.resources`.
    pub resource: usize,
}

impl RouteTarget {
    /// The resource's spec.
    pub fn resource(&self) -> &ResourceSpec {
        &self.plugin.spec.resources[self.resource]
    }

    /// What the resource's requests record, when metrics are on.
    pub fn traffic(&self) -> Option<&ResourceTraffic> {
        self.plugin.traffic.get(self.resource).map(Arc::as_ref)
    }
}

/// A routed request: the target and the raw (still percent-encoded) path params.
pub struct Routed {
    /// Where it goes.
    pub target: RouteTarget,
    /// `{name}` captures, in route order.
    pub params: Vec<(String, String)>,
}

/// An immutable view of what is loaded.
#[derive(Default)]
pub struct Snapshot {
    router: matchit::Router<RouteTarget>,
    /// Which plugin owns each route pattern, to name it in collision errors.
    owners: BTreeMap<String, String>,
    entries: Vec<Entry>,
    /// Files whose new content was refused while their previous version still serves:
    /// why, and the refused content's SHA-256 (not tried again until it changes).
    held: HashMap<PathBuf, Held>,
}

impl Snapshot {
    /// The resource answering `path`. A trailing slash is ignored, as django-piston's
    /// `.../$` URL patterns made it required.
    pub fn route(&self, path: &str) -> Option<Routed> {
        let matched = self.router.at(path).ok().or_else(|| {
            let trimmed = path.strip_suffix('/').filter(|rest| !rest.is_empty())?;
            self.router.at(trimmed).ok()
        })?;
        Some(Routed {
            target: matched.value.clone(),
            params: matched
                .params
                .iter()
                .map(|(name, value)| (name.to_owned(), value.to_owned()))
                .collect(),
        })
    }

    /// Every entry, loaded or failed, in load order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The loaded plugin called `name`.
    pub fn plugin(&self, name: &str) -> Option<&Arc<LoadedPlugin>> {
        self.entries.iter().find_map(|entry| match entry {
            Entry::Loaded(plugin) if plugin.spec.name == name => Some(plugin),
            _ => None,
        })
    }

    /// The loaded authenticator plugin called `name`.
    pub fn authenticator(&self, name: &str) -> Option<&Arc<LoadedAuthenticator>> {
        self.entries.iter().find_map(|entry| match entry {
            Entry::Authenticator(authenticator) if authenticator.spec.name == name => {
                Some(authenticator)
            }
            _ => None,
        })
    }

    /// The file of whatever loaded under `name`.
    fn owner_of(&self, name: &str) -> Option<&Path> {
        self.entries.iter().find_map(|entry| match entry {
            Entry::Loaded(plugin) if plugin.spec.name == name => Some(plugin.file.as_path()),
            Entry::Authenticator(authenticator) if authenticator.spec.name == name => {
                Some(authenticator.file.as_path())
            }
            _ => None,
        })
    }

    /// Adds a loaded plugin and routes its resources, unless its name is taken (by a
    /// handler or an authenticator: names share config sections and data namespaces)
    /// or a route collides with one already routed; then it is recorded as failed and
    /// nothing of it is routed.
    pub fn add(&mut self, loaded: Loaded) {
        if let Err((loaded, error)) = self.try_add(loaded) {
            self.fail(
                loaded.file().to_owned(),
                error,
                Some(loaded.digest().to_owned()),
            );
        }
    }

    /// Adds a loaded plugin as [`Snapshot::add`] does, or gives it back with the reason
    /// it cannot be added, leaving the snapshot as it was.
    pub fn try_add(&mut self, loaded: Loaded) -> Result<(), (Loaded, String)> {
        if let Some(existing) = self.owner_of(loaded.name()) {
            let error = format!(
                "plugin `{}` is already loaded from {}",
                loaded.name(),
                existing.display()
            );
            return Err((loaded, error));
        }
        let plugin = match loaded {
            Loaded::Plugin(plugin) => plugin,
            Loaded::Authenticator(authenticator) => {
                self.entries.push(Entry::Authenticator(authenticator));
                return Ok(());
            }
        };
        let mut router = self.router.clone();
        let mut owners = self.owners.clone();
        for (index, resource) in plugin.spec.resources.iter().enumerate() {
            for route in &resource.routes {
                let target = RouteTarget {
                    plugin: plugin.clone(),
                    resource: index,
                };
                if let Err(error) = router.insert(route.as_str(), target) {
                    let error = route_error(route, error, &owners);
                    return Err((Loaded::Plugin(plugin), error));
                }
                if let Some(error) = self.overlap_with_others(route, &plugin.spec.name) {
                    return Err((Loaded::Plugin(plugin), error));
                }
                owners.insert(route.clone(), plugin.spec.name.clone());
            }
        }
        self.router = router;
        self.owners = owners;
        self.entries.push(Entry::Loaded(plugin));
        Ok(())
    }

    /// Why the plugin `name`'s `route` cannot be routed beside the plugins already
    /// routed: it can match a path another plugin's route matches.
    fn overlap_with_others(&self, route: &str, name: &str) -> Option<String> {
        self.owners
            .iter()
            .find(|(existing, owner)| *owner != name && overlap::overlaps(route, existing))
            .map(|(existing, owner)| {
                format!(
                    "route `{route}` overlaps `{existing}` served by plugin `{owner}` \
                     (some paths would match both)"
                )
            })
    }

    /// What loaded from `file`, if anything did.
    pub fn loaded_from(&self, file: &Path) -> Option<Loaded> {
        self.entries.iter().find_map(|entry| match entry {
            Entry::Loaded(plugin) if plugin.file == file => Some(Loaded::Plugin(plugin.clone())),
            Entry::Authenticator(authenticator) if authenticator.file == file => {
                Some(Loaded::Authenticator(authenticator.clone()))
            }
            _ => None,
        })
    }

    /// The failure recorded for `file`, if it did not load.
    pub fn failure_of(&self, file: &Path) -> Option<&LoadFailure> {
        self.entries.iter().find_map(|entry| match entry {
            Entry::Failed(failure) if failure.file == file => Some(failure),
            _ => None,
        })
    }

    /// Why the newer content of `file` was refused, while its previous version serves.
    pub fn held_back(&self, file: &Path) -> Option<&str> {
        self.held.get(file).map(|held| held.error.as_str())
    }

    /// Records that `file`'s new content (with SHA-256 `digest`) was refused and its
    /// previous version serves.
    pub fn hold(&mut self, file: PathBuf, error: String, digest: String) {
        tracing::error!(
            file = %file.display(),
            "plugin update refused, the previous version keeps serving: {error}"
        );
        if let Some(metrics) = crate::telemetry::metrics() {
            metrics.update_refused();
        }
        self.held.insert(file, Held { error, digest });
    }

    /// Orders the entries by file, as a fresh load of the directory would list them.
    pub fn sort(&mut self) {
        self.entries
            .sort_by(|a, b| entry_file(a).cmp(entry_file(b)));
    }

    /// Records a file that did not load.
    pub fn fail(&mut self, file: PathBuf, error: String, digest: Option<String>) {
        tracing::error!(file = %file.display(), "plugin not loaded: {error}");
        self.entries.push(Entry::Failed(LoadFailure {
            file,
            error,
            digest,
        }));
    }
}

fn entry_file(entry: &Entry) -> &Path {
    match entry {
        Entry::Loaded(plugin) => &plugin.file,
        Entry::Authenticator(authenticator) => &authenticator.file,
        Entry::Failed(failure) => &failure.file,
    }
}

fn route_error(
    route: &str,
    error: matchit::InsertError,
    owners: &BTreeMap<String, String>,
) -> String {
    match error {
        matchit::InsertError::Conflict { with } => match owners.get(&with) {
            Some(owner) => {
                format!("route `{route}` collides with `{with}` served by plugin `{owner}`")
            }
            None => format!("route `{route}` collides with `{with}`"),
        },
        other => format!("route `{route}` is not a valid pattern: {other}"),
    }
}

/// The current snapshot, swappable atomically.
pub struct Registry {
    current: ArcSwap<Snapshot>,
}

impl Registry {
    /// A registry serving `snapshot`.
    pub fn new(snapshot: Snapshot) -> Registry {
        Registry {
            current: ArcSwap::from_pointee(snapshot),
        }
    }

    /// The current snapshot. Hold it briefly: clone what outlives the lookup.
    pub fn snapshot(&self) -> arc_swap::Guard<Arc<Snapshot>> {
        self.current.load()
    }

    /// The current snapshot, to keep beyond a lookup.
    pub fn current(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Serves `snapshot` from now on. Requests already routed finish on the plugins
    /// they were routed to.
    pub fn replace(&self, snapshot: Snapshot) {
        self.current.store(Arc::new(snapshot));
    }
}
