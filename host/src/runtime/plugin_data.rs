//! What one plugin's instances share — its data in the store and its settings — and
//! the errors its store calls give, apart from the host functions that use them so
//! that the bindings and the instance state can name them.

use crate::store::{KeyValueStore, StoreError};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use wasmtime::component::ResourceTableError;

/// What one plugin's instances share: its data and settings.
#[derive(Default)]
pub struct PluginServices {
    /// The plugin's data; `None` while describing and when only inspecting.
    pub data: Option<PluginData>,
    /// The plugin's `[plugins.NAME.config]` settings; `None` while describing.
    pub config: Option<Arc<BTreeMap<String, String>>>,
    /// Where the plugin may send requests; `None` (nowhere) while describing.
    pub outbound: Option<Arc<crate::outbound::OutboundPolicy>>,
}

/// Where one plugin's data lives.
#[derive(Clone)]
pub struct PluginData {
    /// The plugin's namespace in the store: its name.
    pub namespace: Arc<str>,
    /// The store.
    pub store: Arc<dyn KeyValueStore>,
    /// The most bytes the namespace may hold (`limits.storage_mib`), counted as the
    /// store counts them ([`entry_bytes`](crate::store::entry_bytes)): writes past it
    /// fail.
    pub quota_bytes: u64,
}

impl PluginData {
    /// `error` as the guest gets it. A write refused for the quota is also logged, at
    /// most once per plugin every [`QUOTA_LOG_INTERVAL`], so that a guest hammering a
    /// full quota cannot flood the log.
    pub(super) fn write_error(&self, error: StoreError) -> KvError {
        if let StoreError::QuotaExceeded {
            quota_bytes,
            used_bytes,
            needed_bytes,
        } = &error
            && let Some(unlogged) = quota_log_due(&self.namespace, Instant::now())
        {
            tracing::warn!(
                plugin = &*self.namespace,
                quota_bytes,
                used_bytes,
                needed_bytes,
                also_refused_since_last_line = unlogged,
                "a write was refused: the plugin's storage quota is full"
            );
        }
        error.into()
    }
}

/// How often the host logs, per plugin, that writes are refused for its quota.
const QUOTA_LOG_INTERVAL: Duration = Duration::from_secs(5);

/// When a refused write was last logged, per plugin name, and how many were refused
/// without a line since. Kept by name rather than in [`PluginData`] so that it outlives
/// a reload of the plugin.
static QUOTA_LOGGED: Mutex<BTreeMap<String, QuotaLogged>> = Mutex::new(BTreeMap::new());

struct QuotaLogged {
    at: Instant,
    unlogged: u64,
}

/// Whether a write of `plugin`'s refused `now` for its quota is to be logged, and if so
/// how many were refused without a line since the last one.
fn quota_log_due(plugin: &str, now: Instant) -> Option<u64> {
    let mut logged = QUOTA_LOGGED.lock().unwrap_or_else(PoisonError::into_inner);
    match logged.get_mut(plugin) {
        Some(last) if now.saturating_duration_since(last.at) < QUOTA_LOG_INTERVAL => {
            last.unlogged += 1;
            None
        }
        Some(last) => {
            let unlogged = last.unlogged;
            *last = QuotaLogged {
                at: now,
                unlogged: 0,
            };
            Some(unlogged)
        }
        None => {
            logged.insert(
                plugin.to_owned(),
                QuotaLogged {
                    at: now,
                    unlogged: 0,
                },
            );
            Some(0)
        }
    }
}

/// An open bucket: a name within the plugin's namespace.
pub struct BucketHandle {
    pub(super) name: Arc<str>,
}

/// A `wasi:keyvalue` error, before it is converted for the guest.
#[derive(Debug)]
pub enum KvError {
    /// The plugin may not use the store now (while describing).
    AccessDenied,
    /// The store cannot be reached: the guest is told, and the host answers the
    /// request 503 whatever the guest makes of it.
    Unavailable(String),
    /// Anything else, with a message for the plugin.
    Other(String),
}

impl From<StoreError> for KvError {
    fn from(error: StoreError) -> KvError {
        match error {
            StoreError::Unavailable(_) => KvError::Unavailable(error.to_string()),
            error => KvError::Other(error.to_string()),
        }
    }
}

impl From<ResourceTableError> for KvError {
    fn from(error: ResourceTableError) -> KvError {
        KvError::Other(error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_refusals_are_logged_once_every_interval() {
        let plugin = "quota-log-test";
        let start = Instant::now();
        assert_eq!(quota_log_due(plugin, start), Some(0));
        assert_eq!(quota_log_due(plugin, start), None);
        assert_eq!(quota_log_due(plugin, start + QUOTA_LOG_INTERVAL / 2), None);
        assert_eq!(quota_log_due("quota-log-test-other", start), Some(0));
        assert_eq!(quota_log_due(plugin, start + QUOTA_LOG_INTERVAL), Some(2));
        assert_eq!(quota_log_due(plugin, start + QUOTA_LOG_INTERVAL), None);
    }
}
