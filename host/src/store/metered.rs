//! A store that counts its operations and failures for the metrics, around any other.

use super::{Access, KeyPage, KeyValueStore, Scope, StoreError};
use crate::sqlite::Lane;
use crate::telemetry::Metrics;
use std::sync::Arc;

/// `inner`, with every operation that reaches it counted under `backend`. Reads
/// answered from memory ([`KeyValueStore::cached`]) are not operations of the backend.
pub struct Metered {
    inner: Arc<dyn KeyValueStore>,
    backend: &'static str,
    metrics: &'static Metrics,
}

impl Metered {
    /// Counts `inner`'s operations as `backend`'s.
    pub fn new(
        inner: Arc<dyn KeyValueStore>,
        backend: &'static str,
        metrics: &'static Metrics,
    ) -> Metered {
        Metered {
            inner,
            backend,
            metrics,
        }
    }

    fn counted<T>(
        &self,
        operation: &'static str,
        outcome: Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.metrics
            .store(self.backend, operation, outcome.is_err());
        outcome
    }
}

impl KeyValueStore for Metered {
    fn cached(&self, scope: Scope<'_>, key: &str) -> Option<Vec<u8>> {
        self.inner.cached(scope, key)
    }

    fn get(&self, scope: Scope<'_>, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.counted("get", self.inner.get(scope, key))
    }

    fn set(&self, scope: Scope<'_>, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.counted("set", self.inner.set(scope, key, value))
    }

    fn delete(&self, scope: Scope<'_>, key: &str) -> Result<(), StoreError> {
        self.counted("delete", self.inner.delete(scope, key))
    }

    fn exists(&self, scope: Scope<'_>, key: &str) -> Result<bool, StoreError> {
        self.counted("exists", self.inner.exists(scope, key))
    }

    fn list_keys(&self, scope: Scope<'_>, cursor: Option<u64>) -> Result<KeyPage, StoreError> {
        self.counted("list_keys", self.inner.list_keys(scope, cursor))
    }

    fn increment(&self, scope: Scope<'_>, key: &str, delta: u64) -> Result<u64, StoreError> {
        self.counted("increment", self.inner.increment(scope, key, delta))
    }

    fn get_many(
        &self,
        scope: Scope<'_>,
        keys: &[String],
    ) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        self.counted("get_many", self.inner.get_many(scope, keys))
    }

    fn set_many(&self, scope: Scope<'_>, entries: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        self.counted("set_many", self.inner.set_many(scope, entries))
    }

    fn delete_many(&self, scope: Scope<'_>, keys: &[String]) -> Result<(), StoreError> {
        self.counted("delete_many", self.inner.delete_many(scope, keys))
    }

    fn lane(&self, access: Access) -> &Lane {
        self.inner.lane(access)
    }
}
