//! Plugin data: the key-value store behind `wasi:keyvalue`.
//!
//! Owns the [`KeyValueStore`] trait and its embedded SQLite backend. A store holds
//! every plugin's data, each in its own namespace (the plugin's name) so one plugin
//! can never read another's. The runtime's `wasi:keyvalue` host calls this trait; a
//! shared backend for several hosts is another implementation of it, chosen by config.
//!
//! Each namespace has a storage quota, counted the same way by every backend (see
//! [`entry_bytes`]), and the database files are kept private to the host's user
//! ([`make_private`]).

mod cache;
mod metered;
mod postgres;
pub mod settings;
mod sqlite;

pub use self::metered::Metered;
pub use self::postgres::PostgresStore;
pub use self::sqlite::SqliteStore;

use crate::sqlite::Lane;
use std::fmt;
use std::path::{Path, PathBuf};

/// The largest key, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;
/// The largest bucket name, in bytes.
pub const MAX_BUCKET_BYTES: usize = 128;
/// The largest value, in bytes.
pub const MAX_VALUE_BYTES: usize = 16 * 1024 * 1024;
/// How many keys one `list_keys` page or one batch call may carry.
pub const MAX_BATCH: usize = 1000;
/// The most value bytes one `set_many` may carry.
pub const MAX_SET_MANY_BYTES: usize = 32 * 1024 * 1024;
/// The most value bytes one `get_many` may return.
pub const MAX_GET_MANY_BYTES: usize = 32 * 1024 * 1024;
/// What every entry costs against its namespace's quota beyond its bucket's, key's and
/// value's bytes, so that many small entries count too.
pub const ENTRY_OVERHEAD_BYTES: u64 = 64;

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
    /// A write would take the namespace past its storage quota. Nothing of the write
    /// was stored, and nothing already stored was lost.
    #[error(
        "the plugin's storage quota of {} is full ({} used; this write needs {} more): \
         delete data or ask the operator to raise limits.storage_mib",
        Bytes(*quota_bytes),
        Bytes(*used_bytes),
        Bytes(*needed_bytes)
    )]
    QuotaExceeded {
        /// The namespace's quota.
        quota_bytes: u64,
        /// What the namespace holds now.
        used_bytes: u64,
        /// How much the write would add.
        needed_bytes: u64,
    },
    /// A database file could not be created or made private to the host's user.
    #[error("cannot create {} or restrict it to its owner (mode 0600): {error}", path.display())]
    Private {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// The backend failed.
    #[error("store backend: {0}")]
    Backend(String),
    /// The backend cannot be reached: the request that needed it is answered 503.
    #[error("the store is unreachable: {0}")]
    Unavailable(String),
}

/// One page of keys and where the next one starts (`None`: this was the last).
#[derive(Debug, PartialEq, Eq)]
pub struct KeyPage {
    /// The keys, in ascending byte order.
    pub keys: Vec<String>,
    /// The cursor for the next page.
    pub cursor: Option<u64>,
}

impl KeyPage {
    /// The page of `keys` read at `offset`, asking for one more than [`MAX_BATCH`]: the
    /// extra key, dropped, says that another page follows.
    pub fn cut(mut keys: Vec<String>, offset: u64) -> KeyPage {
        let cursor = (keys.len() > MAX_BATCH).then(|| {
            keys.truncate(MAX_BATCH);
            offset + MAX_BATCH as u64
        });
        KeyPage { keys, cursor }
    }
}

/// A place to address data: a plugin's namespace and one of its buckets, and how much
/// the namespace may hold.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    /// The plugin's namespace.
    pub namespace: &'a str,
    /// The bucket within it.
    pub bucket: &'a str,
    /// The most bytes the whole namespace may hold, counted by [`entry_bytes`]
    /// (`u64::MAX`: no quota). Writes obey it; reads ignore it.
    pub quota_bytes: u64,
}

/// Whether a store call only reads, or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// `get`, `exists`, `list_keys`, `get_many`, `usage`.
    Read,
    /// Everything else.
    Write,
}

/// Persistent key-value data for plugins.
///
/// Every method blocks until its work is done; async callers run it on the store's
/// [`lane`](KeyValueStore::lane) for its kind of call.
///
/// # Quota
///
/// Every backend keeps, per namespace, the exact sum of [`entry_bytes`] over the
/// namespace's entries (its usage, [`usage`](KeyValueStore::usage)), and enforces
/// [`Scope::quota_bytes`] on every write the same way:
///
/// - A write that would raise the usage above the quota fails with
///   [`StoreError::QuotaExceeded`]; nothing of it is stored (a batch is all or
///   nothing) and nothing already stored is lost.
/// - A write that does not raise the usage (overwriting with a value no larger,
///   deleting) always succeeds, even at or over the quota (which the operator may have
///   lowered below what a plugin holds).
/// - Checking the quota and writing are one atomic step: two writes racing for the
///   last bytes of a quota cannot both succeed.
///
/// # Sizes
///
/// Callers check keys, bucket names, values and batches with the `check_*` functions
/// before calling. Answers are bounded: a `list_keys` page carries at most
/// [`MAX_BATCH`] keys (each at most [`MAX_KEY_BYTES`]), and `get_many` fails rather than
/// return more than [`MAX_GET_MANY_BYTES`] of values.
pub trait KeyValueStore: Send + Sync {
    /// The value under `key`, if the store has it in memory: answered without blocking,
    /// so async callers ask here before [`get`](KeyValueStore::get) on a lane. `None`
    /// says nothing about whether the key holds a value.
    fn cached(&self, scope: Scope<'_>, key: &str) -> Option<Vec<u8>>;
    /// The value under `key`.
    fn get(&self, scope: Scope<'_>, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Stores `value` under `key`, within the quota.
    fn set(&self, scope: Scope<'_>, key: &str, value: &[u8]) -> Result<(), StoreError>;
    /// Removes `key`; absent keys are not an error. Never refused for the quota.
    fn delete(&self, scope: Scope<'_>, key: &str) -> Result<(), StoreError>;
    /// Whether `key` holds a value.
    fn exists(&self, scope: Scope<'_>, key: &str) -> Result<bool, StoreError>;
    /// Up to [`MAX_BATCH`] keys starting at `cursor`.
    fn list_keys(&self, scope: Scope<'_>, cursor: Option<u64>) -> Result<KeyPage, StoreError>;
    /// Adds `delta` to the decimal counter under `key` (absent: 0), atomically, and
    /// returns the new value. The counter's digits count against the quota.
    fn increment(&self, scope: Scope<'_>, key: &str, delta: u64) -> Result<u64, StoreError>;
    /// The values of `keys`, in order; fails if they add up to more than
    /// [`MAX_GET_MANY_BYTES`].
    fn get_many(
        &self,
        scope: Scope<'_>,
        keys: &[String],
    ) -> Result<Vec<Option<Vec<u8>>>, StoreError>;
    /// Stores every pair, atomically, within the quota: all of them or none. A key that
    /// appears twice ends with its last value.
    fn set_many(&self, scope: Scope<'_>, entries: &[(String, Vec<u8>)]) -> Result<(), StoreError>;
    /// Removes every key, atomically. Never refused for the quota.
    fn delete_many(&self, scope: Scope<'_>, keys: &[String]) -> Result<(), StoreError>;
    /// The threads calls of `access` run on for async callers: reads never queue
    /// behind writes.
    fn lane(&self, access: Access) -> &Lane;
}

/// What one entry counts against its namespace's quota: its bucket's, key's and
/// value's lengths in bytes, plus [`ENTRY_OVERHEAD_BYTES`].
pub fn entry_bytes(bucket: &str, key: &str, value_bytes: usize) -> u64 {
    [bucket.len(), key.len(), value_bytes]
        .into_iter()
        .fold(ENTRY_OVERHEAD_BYTES, |sum, bytes| {
            sum.saturating_add(bytes as u64)
        })
}

/// The usage of a namespace holding `used` bytes after a write that replaces entries
/// counting `replaced` bytes with entries counting `written` bytes (both by
/// [`entry_bytes`]; a delete writes 0), or why the write does not fit `quota`. A write
/// that does not grow the usage always fits.
pub fn check_quota(quota: u64, used: u64, replaced: u64, written: u64) -> Result<u64, StoreError> {
    if written > replaced {
        let needed = written - replaced;
        if used.saturating_add(needed) > quota {
            return Err(StoreError::QuotaExceeded {
                quota_bytes: quota,
                used_bytes: used,
                needed_bytes: needed,
            });
        }
    }
    Ok(used.saturating_sub(replaced).saturating_add(written))
}

/// What `increment` writes under `key`, whose stored value is `stored` (absent: 0),
/// in a namespace holding `used` bytes: the new counter, its decimal text (counters are
/// decimal text in every backend), and the namespace's usage after the write; or why
/// it cannot be written.
pub fn next_counter(
    scope: Scope<'_>,
    key: &str,
    stored: Option<&[u8]>,
    delta: u64,
    used: u64,
) -> Result<(u64, String, u64), StoreError> {
    let current = match stored {
        None => 0,
        Some(bytes) => std::str::from_utf8(bytes)
            .ok()
            .and_then(|text| text.parse::<u64>().ok())
            .ok_or_else(|| StoreError::NotACounter {
                key: key.to_owned(),
            })?,
    };
    let next = current
        .checked_add(delta)
        .ok_or_else(|| StoreError::Invalid(format!("incrementing `{key}` by {delta} overflows")))?;
    let text = next.to_string();
    let usage = check_quota(
        scope.quota_bytes,
        used,
        stored.map_or(0, |bytes| entry_bytes(scope.bucket, key, bytes.len())),
        entry_bytes(scope.bucket, key, text.len()),
    )?;
    Ok((next, text, usage))
}

/// The values of `keys`, each as `fetch(key, left)` finds it: `None` for an absent
/// key, `Some(None)` for a value larger than `left`, the bytes the answer may still
/// carry. An answer past [`MAX_GET_MANY_BYTES`] fails before the host holds it.
pub fn get_within_budget(
    keys: &[String],
    mut fetch: impl FnMut(&str, usize) -> Result<Option<Option<Vec<u8>>>, StoreError>,
) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
    let mut left = MAX_GET_MANY_BYTES;
    let mut values = Vec::with_capacity(keys.len());
    for key in keys {
        match fetch(key, left)? {
            None => values.push(None),
            Some(Some(value)) => {
                left = left.saturating_sub(value.len());
                values.push(Some(value));
            }
            Some(None) => {
                return Err(StoreError::Invalid(format!(
                    "the values of these {} keys add up to more than the {} one get-many \
                     may return: ask for fewer keys at a time",
                    keys.len(),
                    Bytes(MAX_GET_MANY_BYTES as u64)
                )));
            }
        }
    }
    Ok(values)
}

/// What a `set_many` of `entries` replaces and writes, by [`entry_bytes`], counting a
/// key given twice once, with its last value; `stored(key)` is what the entry under
/// `key` counts now, if there is one.
pub fn batch_bytes(
    bucket: &str,
    entries: &[(String, Vec<u8>)],
    mut stored: impl FnMut(&str) -> Result<Option<u64>, StoreError>,
) -> Result<(u64, u64), StoreError> {
    let last: std::collections::HashMap<&str, usize> = entries
        .iter()
        .map(|(key, value)| (key.as_str(), value.len()))
        .collect();
    let (mut replaced, mut written) = (0u64, 0u64);
    for (key, value_bytes) in last {
        replaced = replaced.saturating_add(stored(key)?.unwrap_or(0));
        written = written.saturating_add(entry_bytes(bucket, key, value_bytes));
    }
    Ok((replaced, written))
}

/// A byte count as a person reads it: bytes, KiB or MiB.
struct Bytes(u64);

impl fmt::Display for Bytes {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        const KIB: u64 = 1024;
        const MIB: u64 = 1024 * 1024;
        match self.0 {
            bytes if bytes < KIB => write!(formatter, "{bytes} bytes"),
            bytes if bytes < MIB => write!(formatter, "{:.1} KiB", bytes as f64 / KIB as f64),
            bytes if bytes % MIB == 0 => write!(formatter, "{} MiB", bytes / MIB),
            bytes => write!(formatter, "{:.1} MiB", bytes as f64 / MIB as f64),
        }
    }
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

/// Checks a `set_many`'s length, every key and value in it, and its total size.
pub fn check_entries(entries: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
    check_batch(entries.iter().map(|(key, _)| key.as_str()))?;
    entries
        .iter()
        .try_for_each(|(_, value)| check_value(value))?;
    let total = entries.iter().map(|(_, value)| value.len()).sum::<usize>();
    if total > MAX_SET_MANY_BYTES {
        return Err(StoreError::Invalid(format!(
            "set-many values of {} in all are more than the {} one batch may carry: split it",
            Bytes(total as u64),
            Bytes(MAX_SET_MANY_BYTES as u64)
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

/// Makes the database file at `path` readable and writable by its owner only, before
/// a backend opens it: creates it empty with mode 0600 if it is absent (SQLite treats
/// an empty file as a new database, and gives the `-wal` and `-shm` files it creates
/// beside it the database's mode), and sets an existing file, `-wal` or `-shm` that
/// its group or others may read or write to 0600, logging which file was fixed and
/// what its mode was.
pub fn make_private(path: &Path) -> Result<(), StoreError> {
    use std::fs::{OpenOptions, Permissions};
    use std::io::ErrorKind;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};

    const PRIVATE: u32 = 0o600;
    let failed = |path: &Path, error: std::io::Error| StoreError::Private {
        path: path.to_owned(),
        error,
    };
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(PRIVATE)
        .open(path)
    {
        // The umask may have taken bits away (even the owner's): say exactly 0600.
        Ok(file) => file
            .set_permissions(Permissions::from_mode(PRIVATE))
            .map_err(|error| failed(path, error))?,
        Err(error) if error.kind() == ErrorKind::AlreadyExists => {}
        Err(error) => return Err(failed(path, error)),
    }
    let beside = |suffix: &str| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    // A new database may still find an old `-wal` or `-shm` beside it.
    for file in [path.to_owned(), beside("-wal"), beside("-shm")] {
        let mode = match std::fs::metadata(&file) {
            Ok(metadata) => metadata.permissions().mode() & 0o7777,
            Err(error) if error.kind() == ErrorKind::NotFound => continue,
            Err(error) => return Err(failed(&file, error)),
        };
        if mode & 0o077 == 0 {
            continue;
        }
        std::fs::set_permissions(&file, Permissions::from_mode(PRIVATE))
            .map_err(|error| failed(&file, error))?;
        tracing::warn!(
            file = %file.display(),
            mode_was = format_args!("{mode:04o}"),
            "the file was readable or writable by other users: made it private (0600)"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn make_private_creates_the_file_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fresh.db");
        make_private(&path).unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(std::fs::read(&path).unwrap(), b"");
    }

    #[test]
    fn make_private_fixes_an_existing_file_and_its_companions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        let wal = dir.path().join("old.db-wal");
        for file in [&path, &wal] {
            std::fs::write(file, b"content").unwrap();
            std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        make_private(&path).unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&wal), 0o600);
        assert_eq!(std::fs::read(&path).unwrap(), b"content");
        // An owner-only file is left as it is.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
        make_private(&path).unwrap();
        assert_eq!(mode(&path), 0o400);
    }

    #[test]
    fn quota_refuses_only_growth_past_it() {
        assert_eq!(check_quota(100, 90, 0, 10).unwrap(), 100);
        assert!(matches!(
            check_quota(100, 90, 0, 11),
            Err(StoreError::QuotaExceeded {
                quota_bytes: 100,
                used_bytes: 90,
                needed_bytes: 11
            })
        ));
        // Shrinking or keeping the size succeeds even over the quota.
        assert_eq!(check_quota(100, 150, 20, 10).unwrap(), 140);
        assert_eq!(check_quota(100, 150, 20, 20).unwrap(), 150);
        assert_eq!(check_quota(100, 150, 20, 0).unwrap(), 130);
    }

    #[test]
    fn quota_message_says_what_to_do() {
        let error = StoreError::QuotaExceeded {
            quota_bytes: 256 * 1024 * 1024,
            used_bytes: 268_330_000,
            needed_bytes: 1024 * 1024,
        };
        assert_eq!(
            error.to_string(),
            "the plugin's storage quota of 256 MiB is full (255.9 MiB used; this write needs \
             1 MiB more): delete data or ask the operator to raise limits.storage_mib"
        );
    }

    #[test]
    fn set_many_total_is_bounded() {
        let entries: Vec<(String, Vec<u8>)> = (0..3)
            .map(|i| (format!("k{i}"), vec![0; MAX_VALUE_BYTES]))
            .collect();
        assert!(matches!(
            check_entries(&entries),
            Err(StoreError::Invalid(message)) if message.contains("split it")
        ));
        assert!(check_entries(&entries[..2]).is_ok());
    }
}
