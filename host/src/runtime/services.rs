//! The host services a plugin imports: `wasi:keyvalue` over the [`store`](crate::store)
//! and `wasi:config` from the plugin's `piston.toml` section.
//!
//! Both are scoped to the plugin: the key-value namespace is its name, the settings
//! its own table. While the host runs `describe` (before it knows the plugin's name)
//! neither is available, and commands that only inspect plugins give them no store.
//!
//! Writes obey the plugin's storage quota, which the store enforces; a write refused
//! for it reaches the guest as `error::other` with what to do, and the operator's log
//! as one line per plugin every few seconds at most.
//!
//! Store calls block (on the disk, on the single writer), so each runs on one of the
//! store's threads and the guest's call awaits it: the async worker serves other
//! requests meanwhile, and the call's timeout still applies. A `get` the store answers
//! from memory is answered at once.

use super::bindings::piston::handler::types;
use super::bindings::wasi::config::store as config;
use super::bindings::wasi::keyvalue::{atomics, batch, store};
use super::state::HostState;
use crate::store::{self as kv, Access, KeyValueStore, Scope, StoreError};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use wasmtime::component::{Resource, ResourceTableError};

/// What one plugin's instances share: its data and settings.
#[derive(Default)]
pub struct PluginServices {
    /// The plugin's data; `None` while describing and when only inspecting.
    pub data: Option<PluginData>,
    /// The plugin's `[plugins.NAME.config]` settings; `None` while describing.
    pub config: Option<Arc<BTreeMap<String, String>>>,
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
    fn write_error(&self, error: StoreError) -> KvError {
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
    name: Arc<str>,
}

/// A `wasi:keyvalue` error, before it is converted for the guest.
#[derive(Debug)]
pub enum KvError {
    /// The plugin may not use the store now (while describing).
    AccessDenied,
    /// Anything else, with a message for the plugin.
    Other(String),
}

impl From<StoreError> for KvError {
    fn from(error: StoreError) -> KvError {
        KvError::Other(error.to_string())
    }
}

impl From<ResourceTableError> for KvError {
    fn from(error: ResourceTableError) -> KvError {
        KvError::Other(error.to_string())
    }
}

impl HostState {
    /// Runs `call` with the plugin's data and where `bucket` is in it on the store's
    /// lane for `access`, and waits for it without holding up the async worker.
    fn in_bucket<T: Send + 'static>(
        &self,
        bucket: &Resource<BucketHandle>,
        access: Access,
        call: impl FnOnce(&PluginData, Scope<'_>) -> Result<T, KvError> + Send + 'static,
    ) -> impl Future<Output = Result<T, KvError>> + Send + 'static {
        let place = self
            .services()
            .data
            .clone()
            .ok_or(KvError::AccessDenied)
            .and_then(|data| Ok((data, self.table().get(bucket)?.name.clone())));
        async move {
            let (data, bucket) = place?;
            let store = data.store.clone();
            store
                .lane(access)
                .run(move || {
                    let scope = Scope {
                        namespace: &data.namespace,
                        bucket: &bucket,
                        quota_bytes: data.quota_bytes,
                    };
                    call(&data, scope)
                })
                .await
        }
    }

    /// The value under `key` in `bucket` if the store has it in memory; `None` also
    /// when the call is refused, which the call on the lane then reports.
    fn cached(&self, bucket: &Resource<BucketHandle>, key: &str) -> Option<Vec<u8>> {
        let data = self.services().data.as_ref()?;
        let bucket = self.table().get(bucket).ok()?;
        let scope = Scope {
            namespace: &data.namespace,
            bucket: &bucket.name,
            quota_bytes: data.quota_bytes,
        };
        data.store.cached(scope, key)
    }

    fn config(&self) -> Result<&BTreeMap<String, String>, config::Error> {
        self.services().config.as_deref().ok_or_else(|| {
            config::Error::Upstream("plugin settings are not available while describing".to_owned())
        })
    }
}

impl store::Host for HostState {
    fn open(&mut self, identifier: String) -> Result<Resource<BucketHandle>, KvError> {
        if self.services().data.is_none() {
            return Err(KvError::AccessDenied);
        }
        kv::check_bucket(&identifier)?;
        Ok(self.table_mut().push(BucketHandle {
            name: identifier.into(),
        })?)
    }

    fn convert_error(&mut self, error: KvError) -> wasmtime::Result<store::Error> {
        Ok(match error {
            KvError::AccessDenied => store::Error::AccessDenied,
            KvError::Other(message) => store::Error::Other(message),
        })
    }
}

impl store::HostBucket for HostState {
    async fn get(
        &mut self,
        bucket: Resource<BucketHandle>,
        key: String,
    ) -> Result<Option<Vec<u8>>, KvError> {
        kv::check_key(&key)?;
        if let Some(value) = self.cached(&bucket, &key) {
            return Ok(Some(value));
        }
        self.in_bucket(&bucket, Access::Read, move |data, scope| {
            Ok(data.store.get(scope, &key)?)
        })
        .await
    }

    async fn set(
        &mut self,
        bucket: Resource<BucketHandle>,
        key: String,
        value: Vec<u8>,
    ) -> Result<(), KvError> {
        kv::check_key(&key)?;
        kv::check_value(&value)?;
        self.in_bucket(&bucket, Access::Write, move |data, scope| {
            data.store
                .set(scope, &key, &value)
                .map_err(|error| data.write_error(error))
        })
        .await
    }

    async fn delete(&mut self, bucket: Resource<BucketHandle>, key: String) -> Result<(), KvError> {
        kv::check_key(&key)?;
        self.in_bucket(&bucket, Access::Write, move |data, scope| {
            Ok(data.store.delete(scope, &key)?)
        })
        .await
    }

    async fn exists(
        &mut self,
        bucket: Resource<BucketHandle>,
        key: String,
    ) -> Result<bool, KvError> {
        kv::check_key(&key)?;
        self.in_bucket(&bucket, Access::Read, move |data, scope| {
            Ok(data.store.exists(scope, &key)?)
        })
        .await
    }

    async fn list_keys(
        &mut self,
        bucket: Resource<BucketHandle>,
        cursor: Option<u64>,
    ) -> Result<store::KeyResponse, KvError> {
        let page = self
            .in_bucket(&bucket, Access::Read, move |data, scope| {
                Ok(data.store.list_keys(scope, cursor)?)
            })
            .await?;
        Ok(store::KeyResponse {
            keys: page.keys,
            cursor: page.cursor,
        })
    }

    fn drop(&mut self, bucket: Resource<BucketHandle>) -> wasmtime::Result<()> {
        self.table_mut().delete(bucket)?;
        Ok(())
    }
}

impl atomics::Host for HostState {
    async fn increment(
        &mut self,
        bucket: Resource<BucketHandle>,
        key: String,
        delta: u64,
    ) -> Result<u64, KvError> {
        kv::check_key(&key)?;
        self.in_bucket(&bucket, Access::Write, move |data, scope| {
            data.store
                .increment(scope, &key, delta)
                .map_err(|error| data.write_error(error))
        })
        .await
    }
}

impl batch::Host for HostState {
    async fn get_many(
        &mut self,
        bucket: Resource<BucketHandle>,
        keys: Vec<String>,
    ) -> Result<Vec<Option<(String, Vec<u8>)>>, KvError> {
        kv::check_batch(keys.iter().map(String::as_str))?;
        self.in_bucket(&bucket, Access::Read, move |data, scope| {
            let values = data.store.get_many(scope, &keys)?;
            Ok(keys
                .into_iter()
                .zip(values)
                .map(|(key, value)| value.map(|value| (key, value)))
                .collect())
        })
        .await
    }

    async fn set_many(
        &mut self,
        bucket: Resource<BucketHandle>,
        entries: Vec<(String, Vec<u8>)>,
    ) -> Result<(), KvError> {
        kv::check_entries(&entries)?;
        self.in_bucket(&bucket, Access::Write, move |data, scope| {
            data.store
                .set_many(scope, &entries)
                .map_err(|error| data.write_error(error))
        })
        .await
    }

    async fn delete_many(
        &mut self,
        bucket: Resource<BucketHandle>,
        keys: Vec<String>,
    ) -> Result<(), KvError> {
        kv::check_batch(keys.iter().map(String::as_str))?;
        self.in_bucket(&bucket, Access::Write, move |data, scope| {
            Ok(data.store.delete_many(scope, &keys)?)
        })
        .await
    }
}

impl config::Host for HostState {
    fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<String>, config::Error>> {
        Ok(self.config().map(|config| config.get(&key).cloned()))
    }

    fn get_all(&mut self) -> wasmtime::Result<Result<Vec<(String, String)>, config::Error>> {
        Ok(self.config().map(|config| {
            config
                .iter()
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect()
        }))
    }
}

impl types::Host for HostState {}

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
