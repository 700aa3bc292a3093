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

use super::bindings::piston::handler::types;
use super::bindings::wasi::config::store as config;
use super::bindings::wasi::keyvalue::{atomics, batch, store};
use super::plugin_data::{BucketHandle, KvError, PluginData};
use super::state::HostState;
use crate::store::{self as kv, Scope};
use std::collections::BTreeMap;
use wasmtime::component::Resource;

impl HostState {
    /// The plugin's data and where `bucket` is in it.
    fn bucket<'a>(
        &'a self,
        bucket: &'a Resource<BucketHandle>,
    ) -> Result<(&'a PluginData, Scope<'a>), KvError> {
        let data = self.services().data.as_ref().ok_or(KvError::AccessDenied)?;
        let bucket = self.table().get(bucket)?;
        let scope = Scope {
            namespace: &data.namespace,
            bucket: &bucket.name,
            quota_bytes: data.quota_bytes,
        };
        Ok((data, scope))
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
        let (data, scope) = self.bucket(&bucket)?;
        Ok(data.store.get(scope, &key)?)
    }

    fn set(
        &mut self,
        bucket: Resource<BucketHandle>,
        key: String,
        value: Vec<u8>,
    ) -> Result<(), KvError> {
        kv::check_key(&key)?;
        kv::check_value(&value)?;
        let (data, scope) = self.bucket(&bucket)?;
        data.store
            .set(scope, &key, &value)
            .map_err(|error| data.write_error(error))
    }

    fn delete(&mut self, bucket: Resource<BucketHandle>, key: String) -> Result<(), KvError> {
        kv::check_key(&key)?;
        let (data, scope) = self.bucket(&bucket)?;
        Ok(data.store.delete(scope, &key)?)
    }

    fn exists(&mut self, bucket: Resource<BucketHandle>, key: String) -> Result<bool, KvError> {
        kv::check_key(&key)?;
        let (data, scope) = self.bucket(&bucket)?;
        Ok(data.store.exists(scope, &key)?)
    }

    fn list_keys(
        &mut self,
        bucket: Resource<BucketHandle>,
        cursor: Option<u64>,
    ) -> Result<store::KeyResponse, KvError> {
        let (data, scope) = self.bucket(&bucket)?;
        let page = data.store.list_keys(scope, cursor)?;
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
        let (data, scope) = self.bucket(&bucket)?;
        data.store
            .increment(scope, &key, delta)
            .map_err(|error| data.write_error(error))
    }
}

impl batch::Host for HostState {
    fn get_many(
        &mut self,
        bucket: Resource<BucketHandle>,
        keys: Vec<String>,
    ) -> Result<Vec<Option<(String, Vec<u8>)>>, KvError> {
        kv::check_batch(keys.iter().map(String::as_str))?;
        let (data, scope) = self.bucket(&bucket)?;
        let values = data.store.get_many(scope, &keys)?;
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
        kv::check_entries(&entries)?;
        let (data, scope) = self.bucket(&bucket)?;
        data.store
            .set_many(scope, &entries)
            .map_err(|error| data.write_error(error))
    }

    fn delete_many(
        &mut self,
        bucket: Resource<BucketHandle>,
        keys: Vec<String>,
    ) -> Result<(), KvError> {
        kv::check_batch(keys.iter().map(String::as_str))?;
        let (data, scope) = self.bucket(&bucket)?;
        Ok(data.store.delete_many(scope, &keys)?)
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
