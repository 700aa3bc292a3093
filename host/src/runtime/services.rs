//! The host services a plugin imports: `wasi:keyvalue` over the [`store`](crate::store)
//! and `wasi:config` from the plugin's `piston.toml` section.
//!
//! Both are scoped to the plugin: the key-value namespace is its name, the settings
//! its own table. While the host runs `describe` (before it knows the plugin's name)
//! neither is available.

use super::bindings::piston::handler::types;
use super::bindings::wasi::config::store as config;
use super::bindings::wasi::keyvalue::{atomics, batch, store};
use super::state::HostState;
use crate::store::{self as kv, KeyValueStore, Scope, StoreError};
use std::collections::BTreeMap;
use std::sync::Arc;
use wasmtime::component::{Resource, ResourceTableError};

/// What one plugin's instances share: its name, store and settings.
pub struct PluginServices {
    /// The plugin's name: its log tag and key-value namespace. `None` while describing.
    pub namespace: Option<Arc<str>>,
    /// Where plugin data lives.
    pub store: Arc<dyn KeyValueStore>,
    /// The plugin's `[plugins.NAME.config]` settings.
    pub config: Arc<BTreeMap<String, String>>,
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
    fn scope<'a>(&'a self, bucket: &'a Resource<BucketHandle>) -> Result<Scope<'a>, KvError> {
        let namespace = self
            .services()
            .namespace
            .as_deref()
            .ok_or(KvError::AccessDenied)?;
        let bucket = self.table().get(bucket)?;
        Ok(Scope {
            namespace,
            bucket: &bucket.name,
        })
    }

    fn kv(&self) -> &dyn KeyValueStore {
        &*self.services().store
    }
}

impl store::Host for HostState {
    fn open(&mut self, identifier: String) -> Result<Resource<BucketHandle>, KvError> {
        if self.services().namespace.is_none() {
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
        Ok(self.kv().get(self.scope(&bucket)?, &key)?)
    }

    fn set(
        &mut self,
        bucket: Resource<BucketHandle>,
        key: String,
        value: Vec<u8>,
    ) -> Result<(), KvError> {
        kv::check_key(&key)?;
        kv::check_value(&value)?;
        Ok(self.kv().set(self.scope(&bucket)?, &key, &value)?)
    }

    fn delete(&mut self, bucket: Resource<BucketHandle>, key: String) -> Result<(), KvError> {
        kv::check_key(&key)?;
        Ok(self.kv().delete(self.scope(&bucket)?, &key)?)
    }

    fn exists(&mut self, bucket: Resource<BucketHandle>, key: String) -> Result<bool, KvError> {
        kv::check_key(&key)?;
        Ok(self.kv().exists(self.scope(&bucket)?, &key)?)
    }

    fn list_keys(
        &mut self,
        bucket: Resource<BucketHandle>,
        cursor: Option<u64>,
    ) -> Result<store::KeyResponse, KvError> {
        let page = self.kv().list_keys(self.scope(&bucket)?, cursor)?;
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
        Ok(self.kv().increment(self.scope(&bucket)?, &key, delta)?)
    }
}

impl batch::Host for HostState {
    fn get_many(
        &mut self,
        bucket: Resource<BucketHandle>,
        keys: Vec<String>,
    ) -> Result<Vec<Option<(String, Vec<u8>)>>, KvError> {
        kv::check_batch(keys.iter().map(String::as_str))?;
        let values = self.kv().get_many(self.scope(&bucket)?, &keys)?;
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
        Ok(self.kv().set_many(self.scope(&bucket)?, &entries)?)
    }

    fn delete_many(
        &mut self,
        bucket: Resource<BucketHandle>,
        keys: Vec<String>,
    ) -> Result<(), KvError> {
        kv::check_batch(keys.iter().map(String::as_str))?;
        Ok(self.kv().delete_many(self.scope(&bucket)?, &keys)?)
    }
}

impl config::Host for HostState {
    fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<String>, config::Error>> {
        if self.services().namespace.is_none() {
            return Ok(Err(describing()));
        }
        Ok(Ok(self.services().config.get(&key).cloned()))
    }

    fn get_all(&mut self) -> wasmtime::Result<Result<Vec<(String, String)>, config::Error>> {
        if self.services().namespace.is_none() {
            return Ok(Err(describing()));
        }
        let all = self.services().config.iter();
        Ok(Ok(all
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect()))
    }
}

fn describing() -> config::Error {
    config::Error::Upstream("plugin settings are not available while describing".to_owned())
}

impl types::Host for HostState {}
