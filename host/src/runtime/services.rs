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
use super::plugin_data::{BucketHandle, KvError, PluginData};
use super::state::HostState;
use crate::store::{self as kv, Access, Scope};
use crate::telemetry::SpanKind;
use std::collections::BTreeMap;
use std::future::Future;
use wasmtime::component::Resource;

impl HostState {
    /// Runs `call` with the plugin's data and where `bucket` is in it on the store's
    /// lane for `access`, and waits for it without holding up the async worker.
    /// The call is a span named `span` of the request, when spans are collected.
    fn in_bucket<T: Send + 'static>(
        &self,
        bucket: &Resource<BucketHandle>,
        access: Access,
        span: &'static str,
        call: impl FnOnce(&PluginData, Scope<'_>) -> Result<T, KvError> + Send + 'static,
    ) -> impl Future<Output = Result<T, KvError>> + Send + 'static {
        let timer =
            crate::telemetry::current_spans().map(|spans| spans.child(span, SpanKind::Client));
        let place = self
            .services()
            .data
            .clone()
            .ok_or(KvError::AccessDenied)
            .and_then(|data| Ok((data, self.table().get(bucket)?.name.clone())));
        async move {
            let (data, bucket) = place?;
            let store = data.store.clone();
            let answer = store
                .lane(access)
                .run(move || {
                    let scope = Scope {
                        namespace: &data.namespace,
                        bucket: &bucket,
                        quota_bytes: data.quota_bytes,
                    };
                    call(&data, scope)
                })
                .await;
            if let Some(timer) = timer {
                timer.end(answer.is_err());
            }
            answer
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
            KvError::Unavailable(message) => {
                self.store_unreachable(&message);
                store::Error::Other(message)
            }
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
        self.in_bucket(&bucket, Access::Read, "store get", move |data, scope| {
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
        self.in_bucket(&bucket, Access::Write, "store set", move |data, scope| {
            data.store
                .set(scope, &key, &value)
                .map_err(|error| data.write_error(error))
        })
        .await
    }

    async fn delete(&mut self, bucket: Resource<BucketHandle>, key: String) -> Result<(), KvError> {
        kv::check_key(&key)?;
        self.in_bucket(
            &bucket,
            Access::Write,
            "store delete",
            move |data, scope| Ok(data.store.delete(scope, &key)?),
        )
        .await
    }

    async fn exists(
        &mut self,
        bucket: Resource<BucketHandle>,
        key: String,
    ) -> Result<bool, KvError> {
        kv::check_key(&key)?;
        self.in_bucket(&bucket, Access::Read, "store exists", move |data, scope| {
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
            .in_bucket(
                &bucket,
                Access::Read,
                "store list_keys",
                move |data, scope| Ok(data.store.list_keys(scope, cursor)?),
            )
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
        self.in_bucket(
            &bucket,
            Access::Write,
            "store increment",
            move |data, scope| {
                data.store
                    .increment(scope, &key, delta)
                    .map_err(|error| data.write_error(error))
            },
        )
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
        self.in_bucket(
            &bucket,
            Access::Read,
            "store get_many",
            move |data, scope| {
                let values = data.store.get_many(scope, &keys)?;
                Ok(keys
                    .into_iter()
                    .zip(values)
                    .map(|(key, value)| value.map(|value| (key, value)))
                    .collect())
            },
        )
        .await
    }

    async fn set_many(
        &mut self,
        bucket: Resource<BucketHandle>,
        entries: Vec<(String, Vec<u8>)>,
    ) -> Result<(), KvError> {
        kv::check_entries(&entries)?;
        self.in_bucket(
            &bucket,
            Access::Write,
            "store set_many",
            move |data, scope| {
                data.store
                    .set_many(scope, &entries)
                    .map_err(|error| data.write_error(error))
            },
        )
        .await
    }

    async fn delete_many(
        &mut self,
        bucket: Resource<BucketHandle>,
        keys: Vec<String>,
    ) -> Result<(), KvError> {
        kv::check_batch(keys.iter().map(String::as_str))?;
        self.in_bucket(
            &bucket,
            Access::Write,
            "store delete_many",
            move |data, scope| Ok(data.store.delete_many(scope, &keys)?),
        )
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
