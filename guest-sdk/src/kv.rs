//! The key-value store: the plugin's persistent data.
//!
//! Each plugin sees only its own data (the host namespaces it by plugin name), in
//! buckets opened by name. The embedded host keeps it in SQLite; a cluster of hosts in
//! a shared store. Values are bytes; the `_json` methods store serde values as JSON.
//!
//! An instance keeps the buckets it opened: opening one again (on the next request the
//! instance serves) costs nothing, and each operation is one call into the host.

use crate::bindings::wasi::keyvalue::{atomics, batch, store};
use crate::{Error, Result};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::cell::RefCell;
use std::rc::Rc;

/// A named bucket of keys in the plugin's store. Cheap to clone.
#[derive(Clone)]
pub struct Bucket {
    name: Rc<str>,
    inner: Rc<store::Bucket>,
}

thread_local! {
    /// The buckets this instance has opened, by name.
    static OPEN: RefCell<Vec<Bucket>> = const { RefCell::new(Vec::new()) };
}

impl Bucket {
    /// Opens the bucket called `name` (created on first write). `""` is the default
    /// bucket.
    pub fn open(name: &str) -> Result<Bucket> {
        if let Some(open) =
            OPEN.with_borrow(|open| open.iter().find(|bucket| &*bucket.name == name).cloned())
        {
            return Ok(open);
        }
        let inner = store::open(name).map_err(|error| failure("open", name, error))?;
        let bucket = Bucket {
            name: name.into(),
            inner: Rc::new(inner),
        };
        OPEN.with_borrow_mut(|open| open.push(bucket.clone()));
        Ok(bucket)
    }

    /// The value stored under `key`, if any.
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.inner
            .get(key)
            .map_err(|error| self.failure("get", error))
    }

    /// The value under `key`, deserialized from JSON.
    pub fn get_json<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        match self.get(key)? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|error| {
                Error::failure(format!(
                    "bucket `{}` key `{key}` holds data that does not deserialize: {error}",
                    self.name
                ))
            }),
        }
    }

    /// Stores `value` under `key`, replacing what was there.
    pub fn set(&self, key: &str, value: &[u8]) -> Result<()> {
        self.inner
            .set(key, value)
            .map_err(|error| self.failure("set", error))
    }

    /// Stores `value` as JSON under `key`.
    pub fn set_json<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<()> {
        let bytes = serde_json::to_vec(value)
            .map_err(|error| Error::failure(format!("cannot serialize key `{key}`: {error}")))?;
        self.set(key, &bytes)
    }

    /// Removes `key` (no error if it is absent).
    pub fn delete(&self, key: &str) -> Result<()> {
        self.inner
            .delete(key)
            .map_err(|error| self.failure("delete", error))
    }

    /// Whether `key` holds a value.
    pub fn exists(&self, key: &str) -> Result<bool> {
        self.inner
            .exists(key)
            .map_err(|error| self.failure("exists", error))
    }

    /// Every key in the bucket, in ascending order. For a large bucket, prefer
    /// [`Bucket::key_pages`], which holds one page at a time.
    pub fn keys(&self) -> Result<Vec<String>> {
        let mut keys = Vec::new();
        for page in self.key_pages() {
            keys.extend(page?);
        }
        Ok(keys)
    }

    /// The keys in ascending order, a page (up to a thousand) at a time, fetched as the
    /// iterator is advanced.
    pub fn key_pages(&self) -> KeyPages {
        KeyPages {
            bucket: self.clone(),
            cursor: Some(None),
        }
    }

    /// Adds `delta` to the number stored under `key` (0 if absent) atomically and
    /// returns the new value.
    pub fn increment(&self, key: &str, delta: u64) -> Result<u64> {
        atomics::increment(&self.inner, key, delta)
            .map_err(|error| self.failure("increment", error))
    }

    /// The values of several keys at once, in the order asked (`None` where absent).
    pub fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        let found =
            batch::get_many(&self.inner, keys).map_err(|error| self.failure("get many", error))?;
        Ok(found
            .into_iter()
            .map(|entry| entry.map(|(_, value)| value))
            .collect())
    }

    /// Stores several keys at once.
    pub fn set_many(&self, entries: &[(String, Vec<u8>)]) -> Result<()> {
        batch::set_many(&self.inner, entries).map_err(|error| self.failure("set many", error))
    }

    /// Removes several keys at once.
    pub fn delete_many(&self, keys: &[String]) -> Result<()> {
        batch::delete_many(&self.inner, keys).map_err(|error| self.failure("delete many", error))
    }

    fn failure(&self, operation: &str, error: store::Error) -> Error {
        failure(operation, &self.name, error)
    }
}

/// Pages of a bucket's keys; see [`Bucket::key_pages`].
pub struct KeyPages {
    bucket: Bucket,
    /// Where the next page starts; `None` once the last page was returned.
    cursor: Option<Option<u64>>,
}

impl Iterator for KeyPages {
    type Item = Result<Vec<String>>;

    fn next(&mut self) -> Option<Self::Item> {
        let cursor = self.cursor.take()?;
        match self.bucket.inner.list_keys(cursor) {
            Ok(page) => {
                self.cursor = page.cursor.map(Some);
                Some(Ok(page.keys))
            }
            Err(error) => Some(Err(self.bucket.failure("list keys", error))),
        }
    }
}

fn failure(operation: &str, bucket: &str, error: store::Error) -> Error {
    let reason = match error {
        store::Error::NoSuchStore => "no such store".to_owned(),
        store::Error::AccessDenied => "access denied".to_owned(),
        store::Error::Other(reason) => reason,
    };
    Error::failure(format!(
        "key-value {operation} in bucket `{bucket}`: {reason}"
    ))
}
