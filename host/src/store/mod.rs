//! Plugin data: the key-value store behind `wasi:keyvalue`.
//!
//! Owns the [`KeyValueStore`] trait and its embedded SQLite backend. A store holds
//! every plugin's data, each in its own namespace (the plugin's name) so one plugin
//! can never read another's. The runtime's `wasi:keyvalue` host calls this trait; a
//! shared backend for several hosts is another implementation of it, chosen by config.

mod sqlite;

pub use self::sqlite::SqliteStore;

/// The largest key, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;
/// The largest bucket name, in bytes.
pub const MAX_BUCKET_BYTES: usize = 128;
/// The largest value, in bytes.
pub const MAX_VALUE_BYTES: usize = 16 * 1024 * 1024;
/// How many keys one `list_keys` page or one batch call may carry.
pub const MAX_BATCH: usize = 1000;

/// Why a store operation failed. The message is shown to the plugin (not to clients).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The plugin asked for something the store refuses (too large, malformed).
    #[error("{0}")]
    Invalid(String),
    /// The value under a key is not a decimal counter (for `increment`).
    #[error("the value under `{key}` is not a decimal counter")]
    NotACounter {
        /// The key.
        key: String,
    },
    /// The backend failed.
    #[error("store backend: {0}")]
    Backend(String),
}

/// One page of keys and where the next one starts (`None`: this was the last).
#[derive(Debug, PartialEq, Eq)]
pub struct KeyPage {
    /// The keys, in ascending byte order.
    pub keys: Vec<String>,
    /// The cursor for the next page.
    pub cursor: Option<u64>,
}

/// A place to address data: a plugin's namespace and one of its buckets.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    /// The plugin's namespace.
    pub namespace: &'a str,
    /// The bucket within it.
    pub bucket: &'a str,
}

/// Persistent key-value data for plugins.
pub trait KeyValueStore: Send + Sync {
    /// The value under `key`.
    fn get(&self, scope: Scope<'_>, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Stores `value` under `key`.
    fn set(&self, scope: Scope<'_>, key: &str, value: &[u8]) -> Result<(), StoreError>;
    /// Removes `key`; absent keys are not an error.
    fn delete(&self, scope: Scope<'_>, key: &str) -> Result<(), StoreError>;
    /// Whether `key` holds a value.
    fn exists(&self, scope: Scope<'_>, key: &str) -> Result<bool, StoreError>;
    /// Up to [`MAX_BATCH`] keys starting at `cursor`.
    fn list_keys(&self, scope: Scope<'_>, cursor: Option<u64>) -> Result<KeyPage, StoreError>;
    /// Adds `delta` to the decimal counter under `key` (absent: 0), atomically, and
    /// returns the new value.
    fn increment(&self, scope: Scope<'_>, key: &str, delta: u64) -> Result<u64, StoreError>;
    /// The values of `keys`, in order.
    fn get_many(
        &self,
        scope: Scope<'_>,
        keys: &[String],
    ) -> Result<Vec<Option<Vec<u8>>>, StoreError>;
    /// Stores every pair, atomically.
    fn set_many(&self, scope: Scope<'_>, entries: &[(String, Vec<u8>)]) -> Result<(), StoreError>;
    /// Removes every key, atomically.
    fn delete_many(&self, scope: Scope<'_>, keys: &[String]) -> Result<(), StoreError>;
}

/// Checks the sizes a plugin may use, before any backend sees them.
pub fn check_key(key: &str) -> Result<(), StoreError> {
    if key.len() > MAX_KEY_BYTES {
        return Err(StoreError::Invalid(format!(
            "key of {} bytes is longer than the {MAX_KEY_BYTES}-byte limit",
            key.len()
        )));
    }
    Ok(())
}

/// Checks a bucket name.
pub fn check_bucket(bucket: &str) -> Result<(), StoreError> {
    if bucket.len() > MAX_BUCKET_BYTES {
        return Err(StoreError::Invalid(format!(
            "bucket name of {} bytes is longer than the {MAX_BUCKET_BYTES}-byte limit",
            bucket.len()
        )));
    }
    Ok(())
}

/// Checks a value's size.
pub fn check_value(value: &[u8]) -> Result<(), StoreError> {
    if value.len() > MAX_VALUE_BYTES {
        return Err(StoreError::Invalid(format!(
            "value of {} bytes is larger than the {MAX_VALUE_BYTES}-byte limit",
            value.len()
        )));
    }
    Ok(())
}

/// Checks a batch's length and every key in it.
pub fn check_batch<'a>(keys: impl ExactSizeIterator<Item = &'a str>) -> Result<(), StoreError> {
    if keys.len() > MAX_BATCH {
        return Err(StoreError::Invalid(format!(
            "batch of {} keys is larger than the {MAX_BATCH}-key limit",
            keys.len()
        )));
    }
    keys.into_iter().try_for_each(check_key)
}
