//! The host services a plugin imports: `wasi:keyvalue` over the [`store`](crate::store)
//! and `wasi:config` from the plugin's `piston.toml` section.
//!
//! Both are scoped to the plugin: the key-value namespace is its name, the settings
//! its own table. While the host runs `describe` (before it knows the plugin's name)
//! neither is available, and commands that only inspect plugins give them no store.

use super::bindings::piston::handler::types;
use super::bindings::wasi::config::store as config;
use super::bindings::wasi::keyvalue::{atomics, batch, store};
use super::state::HostState;
use crate::store::{self as kv, KeyValueStore, Scope, StoreError};
use std::collections::BTreeMap;
use std::sync::Arc;
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
pub struct PluginData {
    /// The plugin's namespace in the store: its name.
    pub namespace: Arc<str>,
    /// The store.
    pub store: Arc<dyn KeyValueStore>,
}

/// An open bucket: a name within the plugin's namespace.
pub struct BucketHandle {
    name: String,
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
    /// The plugin's store and where `bucket` is in it.
    fn bucket<'a>(
        &'a self,
        bucket: &'a Resource<BucketHandle>,
    ) -> Result<(&'a dyn KeyValueStore, Scope<'a>), KvError> {
        let data = self.services().data.as_ref().ok_or(KvError::AccessDenied)?;
        let bucket = self.table().get(bucket)?;
        let scope = Scope {
            namespace: &data.namespace,
            bucket: &bucket.name,
        };
        Ok((&*data.store, scope))
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
        Ok(self.table_mut().push(BucketHandle { name: identifier })?)
    }

    fn convert_error(&mut self, error: KvError) -> wasmtime::Result<store::Error> {
        Ok(match error {
            KvError::AccessDenied => store::Error::AccessDenied,
            KvError::Other(message) => store::Error::Other(message),
        })
    }
}

impl store::HostBucket for HostState {
    fn get(
        &mut self,
        bucket: Resource<BucketHandle>,
        key: String,
    ) -> Result<Option<Vec<u8>>, KvError> {
        kv::check_key(&key)?;
        let (store, scope) = self.bucket(&bucket)?;
        Ok(store.get(scope, &key)?)
    }

    fn set(
        &mut self,
        bucket: Resource<BucketHandle>,
        key: String,
        value: Vec<u8>,
    ) -> Result<(), KvError> {
        kv::check_key(&key)?;
        kv::check_value(&value)?;
        let (store, scope) = self.bucket(&bucket)?;
        Ok(store.set(scope, &key, &value)?)
    }

    fn delete(&mut self, bucket: Resource<BucketHandle>, key: String) -> Result<(), KvError> {
        kv::check_key(&key)?;
        let (store, scope) = self.bucket(&bucket)?;
        Ok(store.delete(scope, &key)?)
    }

    fn exists(&mut self, bucket: Resource<BucketHandle>, key: String) -> Result<bool, KvError> {
        kv::check_key(&key)?;
        let (store, scope) = self.bucket(&bucket)?;
        Ok(store.exists(scope, &key)?)
    }

    fn list_keys(
        &mut self,
        bucket: Resource<BucketHandle>,
        cursor: Option<u64>,
    ) -> Result<store::KeyResponse, KvError> {
        let (store, scope) = self.bucket(&bucket)?;
        let page = store.list_keys(scope, cursor)?;
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
    fn increment(
        &mut self,
        bucket: Resource<BucketHandle>,
        key: String,
        delta: u64,
    ) -> Result<u64, KvError> {
        kv::check_key(&key)?;
        let (store, scope) = self.bucket(&bucket)?;
        Ok(store.increment(scope, &key, delta)?)
    }
}

impl batch::Host for HostState {
    fn get_many(
        &mut self,
        bucket: Resource<BucketHandle>,
        keys: Vec<String>,
    ) -> Result<Vec<Option<(String, Vec<u8>)>>, KvError> {
        kv::check_batch(keys.iter().map(String::as_str))?;
        let (store, scope) = self.bucket(&bucket)?;
        let values = store.get_many(scope, &keys)?;
        Ok(keys
            .into_iter()
            .zip(values)
            .map(|(key, value)| value.map(|value| (key, value)))
            .collect())
    }

    fn set_many(
        &mut self,
        bucket: Resource<BucketHandle>,
        entries: Vec<(String, Vec<u8>)>,
    ) -> Result<(), KvError> {
        kv::check_batch(entries.iter().map(|(key, _)| key.as_str()))?;
        entries
            .iter()
            .try_for_each(|(_, value)| kv::check_value(value))?;
        let (store, scope) = self.bucket(&bucket)?;
        Ok(store.set_many(scope, &entries)?)
    }

    fn delete_many(
        &mut self,
        bucket: Resource<BucketHandle>,
        keys: Vec<String>,
    ) -> Result<(), KvError> {
        kv::check_batch(keys.iter().map(String::as_str))?;
        let (store, scope) = self.bucket(&bucket)?;
        Ok(store.delete_many(scope, &keys)?)
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
