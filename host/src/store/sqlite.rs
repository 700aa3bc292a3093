// Over 600 lines: half is tests, against real SQLite files; the writer, the readers, the
// quota and the cache have to be read together to see that usage stays exact.
//! The embedded backend: one SQLite file (WAL) under the data directory.
//!
//! # Connections
//!
//! One writer and a few readers ([`Readers`]), all in WAL mode: a read never waits for
//! a write or for another read, so plugins reading their data do not queue behind each
//! other or behind a slow write. Writes share the one writer, because SQLite lets one
//! connection write at a time however many there are; the writer's lock (held for each
//! write, not for reads) is what makes checking the quota and writing one atomic step.
//! Separate files per plugin would let writes run side by side, but would split the
//! data every existing installation keeps in one file, and hold a file lock and a
//! writer per plugin.
//!
//! # Locking
//!
//! The connections use SQLite's `unix-excl` VFS: the process takes the file's lock
//! once, on first use, and keeps it, and the connections coordinate in memory (their
//! WAL index too, instead of a `-shm` file). A read costs no system call for locking (a
//! shared-mode read locked and unlocked the file, which was a fifth of a small
//! request's cost), and a second process pointed at the same data directory is refused
//! at start. Within the process, [`Held`] refuses a second store on the same file.
//!
//! # Cache
//!
//! Because the file is this process's alone, values read lately are kept in memory
//! ([`Cache`]) and stay exact: every write marks the keys it changes in the cache for
//! as long as it runs.

use super::cache::{CACHE_BYTES, Cache};
use super::{
    Access, ENTRY_OVERHEAD_BYTES, KeyPage, KeyValueStore, MAX_BATCH, Scope, StoreError,
    check_quota, entry_bytes,
};
use crate::sqlite::{Lane, Readers};
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// Plugin data in a SQLite database, held by one host process.
///
/// Because no other process writes the file, each namespace's usage is counted once
/// when the store opens and then kept in memory with the writer, updated by each write
/// after it commits: exact, and free to check.
pub struct SqliteStore {
    writer: Mutex<Writer>,
    readers: Readers,
    /// As many threads as readers, and one for the writer.
    reads: Lane,
    writes: Lane,
    cache: Cache,
    /// Declared last: released after every connection is closed.
    _held: Held,
}

/// The writing connection and each namespace's usage, changed together.
struct Writer {
    connection: Connection,
    /// Bytes per namespace, by [`entry_bytes`]; a namespace holding nothing is absent.
    usage: HashMap<String, u64>,
}

impl Writer {
    fn used(&self, namespace: &str) -> u64 {
        self.usage.get(namespace).copied().unwrap_or(0)
    }

    /// Records a committed write's result.
    fn record(&mut self, namespace: &str, usage: u64) {
        if usage == 0 {
            self.usage.remove(namespace);
        } else if let Some(used) = self.usage.get_mut(namespace) {
            *used = usage;
        } else {
            self.usage.insert(namespace.to_owned(), usage);
        }
    }
}

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS kv (
        namespace TEXT NOT NULL,
        bucket    TEXT NOT NULL,
        key       TEXT NOT NULL,
        value     BLOB NOT NULL,
        PRIMARY KEY (namespace, bucket, key)
    ) WITHOUT ROWID;
";

/// How long a connection waits for a lock held by another (in this process: the
/// writer restarting the log; elsewhere: the process that holds the file).
const BUSY_TIMEOUT: Duration = Duration::from_secs(1);

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, private to the host's user.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        super::make_private(path)?;
        let held = Held::take(path)?;
        let connection = connect(path).map_err(|error| {
            StoreError::Backend(format!("cannot open {}: {error}", path.display()))
        })?;
        connection
            .pragma_update(None, "journal_mode", "WAL")
            .and_then(|()| connection.pragma_update(None, "synchronous", "NORMAL"))
            // A write: takes the file's lock now, not on the first request.
            .and_then(|()| connection.execute_batch(SCHEMA))
            .map_err(|error| match error.sqlite_error_code() {
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                    in_use(path)
                }
                _ => StoreError::Backend(format!("cannot prepare {}: {error}", path.display())),
            })?;
        let usage = count_usage(&connection).map_err(|error| {
            StoreError::Backend(format!(
                "cannot count what {} holds: {error}",
                path.display()
            ))
        })?;
        let count = Readers::count();
        let readers = Readers::open(count, || {
            let reader = connect(path)?;
            reader.pragma_update(None, "query_only", true)?;
            Ok(reader)
        })
        .map_err(|error| {
            StoreError::Backend(format!("cannot open {} to read: {error}", path.display()))
        })?;
        let lanes = Lane::start("store-read", count)
            .and_then(|reads| Ok((reads, Lane::start("store-write", 1)?)));
        let (reads, writes) = lanes.map_err(|error| {
            StoreError::Backend(format!("cannot start the store's threads: {error}"))
        })?;
        Ok(SqliteStore {
            writer: Mutex::new(Writer { connection, usage }),
            readers,
            reads,
            writes,
            cache: Cache::new(CACHE_BYTES),
            _held: held,
        })
    }

    fn writer(&self) -> MutexGuard<'_, Writer> {
        // A panic while holding the lock cannot leave SQLite inconsistent (every write
        // is a transaction), nor the usage (recorded only after a commit, in one
        // assignment), so a poisoned lock is still usable.
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A connection to the database at `path` through the `unix-excl` VFS. Readers open
/// it for writing too: the VFS keeps its locks in memory only for such connections.
fn connect(path: &Path) -> rusqlite::Result<Connection> {
    let connection = Connection::open_with_flags_and_vfs(path, OpenFlags::default(), "unix-excl")?;
    connection.busy_timeout(BUSY_TIMEOUT)?;
    Ok(connection)
}

fn in_use(path: &Path) -> StoreError {
    StoreError::Backend(format!(
        "{} is in use by another process: each `piston serve` needs its own data directory",
        path.display()
    ))
}

/// The files this process holds a store on, by device and inode.
static HELD: Mutex<BTreeSet<(u64, u64)>> = Mutex::new(BTreeSet::new());

/// This process's claim on a database file. SQLite's lock keeps other processes out; a
/// second store in this process would share that lock, and count the quota apart.
struct Held((u64, u64));

impl Held {
    fn take(path: &Path) -> Result<Held, StoreError> {
        use std::os::unix::fs::MetadataExt;
        let metadata = std::fs::metadata(path).map_err(|error| {
            StoreError::Backend(format!("cannot read {}: {error}", path.display()))
        })?;
        let file = (metadata.dev(), metadata.ino());
        if HELD
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(file)
        {
            Ok(Held(file))
        } else {
            Err(in_use(path))
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        HELD.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.0);
    }
}

fn backend(error: rusqlite::Error) -> StoreError {
    StoreError::Backend(error.to_string())
}

/// Every namespace's usage, by [`entry_bytes`]. `octet_length` counts bytes, where
/// `length` would count a text's characters.
fn count_usage(connection: &Connection) -> Result<HashMap<String, u64>, rusqlite::Error> {
    let mut statement = connection.prepare(
        "SELECT namespace,
                SUM(octet_length(bucket) + octet_length(key) + octet_length(value))
                    + ?1 * COUNT(*)
         FROM kv GROUP BY namespace",
    )?;
    let rows = statement.query_map(params![ENTRY_OVERHEAD_BYTES as i64], |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
    })?;
    let mut usage = HashMap::new();
    for row in rows {
        let (namespace, bytes) = row?;
        usage.insert(namespace, u64::try_from(bytes).unwrap_or(0));
    }
    Ok(usage)
}

fn get(
    connection: &Connection,
    scope: Scope<'_>,
    key: &str,
) -> Result<Option<Vec<u8>>, rusqlite::Error> {
    connection
        .prepare_cached("SELECT value FROM kv WHERE namespace = ?1 AND bucket = ?2 AND key = ?3")?
        .query_row(params![scope.namespace, scope.bucket, key], |row| {
            row.get(0)
        })
        .optional()
}

/// What the entry under `key` counts against the quota, if there is one.
fn stored_bytes(
    connection: &Connection,
    scope: Scope<'_>,
    key: &str,
) -> Result<Option<u64>, rusqlite::Error> {
    let length = connection
        .prepare_cached(
            "SELECT octet_length(value) FROM kv WHERE namespace = ?1 AND bucket = ?2 AND key = ?3",
        )?
        .query_row(params![scope.namespace, scope.bucket, key], |row| {
            row.get::<_, i64>(0)
        })
        .optional()?;
    Ok(length.map(|length| entry_bytes(scope.bucket, key, usize::try_from(length).unwrap_or(0))))
}

fn set(
    connection: &Connection,
    scope: Scope<'_>,
    key: &str,
    value: &[u8],
) -> Result<(), rusqlite::Error> {
    connection
        .prepare_cached(
            "INSERT INTO kv (namespace, bucket, key, value) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (namespace, bucket, key) DO UPDATE SET value = excluded.value",
        )?
        .execute(params![scope.namespace, scope.bucket, key, value])?;
    Ok(())
}

fn delete(connection: &Connection, scope: Scope<'_>, key: &str) -> Result<(), rusqlite::Error> {
    connection
        .prepare_cached("DELETE FROM kv WHERE namespace = ?1 AND bucket = ?2 AND key = ?3")?
        .execute(params![scope.namespace, scope.bucket, key])?;
    Ok(())
}

impl KeyValueStore for SqliteStore {
    fn cached(&self, scope: Scope<'_>, key: &str) -> Option<Vec<u8>> {
        self.cache.get(scope, key).ok()
    }

    fn get(&self, scope: Scope<'_>, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let ticket = match self.cache.get(scope, key) {
            Ok(value) => return Ok(Some(value)),
            Err(ticket) => ticket,
        };
        let value = self
            .readers
            .read(|connection| get(connection, scope, key))
            .map_err(backend)?;
        if let Some(value) = &value {
            self.cache.fill(ticket, value);
        }
        Ok(value)
    }

    fn set(&self, scope: Scope<'_>, key: &str, value: &[u8]) -> Result<(), StoreError> {
        let mut writer = self.writer();
        let _writing = self.cache.writing(scope, [key]);
        let replaced = stored_bytes(&writer.connection, scope, key).map_err(backend)?;
        let usage = check_quota(
            scope.quota_bytes,
            writer.used(scope.namespace),
            replaced.unwrap_or(0),
            entry_bytes(scope.bucket, key, value.len()),
        )?;
        // One statement: its own transaction.
        set(&writer.connection, scope, key, value).map_err(backend)?;
        writer.record(scope.namespace, usage);
        Ok(())
    }

    fn delete(&self, scope: Scope<'_>, key: &str) -> Result<(), StoreError> {
        let mut writer = self.writer();
        let _writing = self.cache.writing(scope, [key]);
        let Some(replaced) = stored_bytes(&writer.connection, scope, key).map_err(backend)? else {
            return Ok(());
        };
        let usage = check_quota(scope.quota_bytes, writer.used(scope.namespace), replaced, 0)?;
        delete(&writer.connection, scope, key).map_err(backend)?;
        writer.record(scope.namespace, usage);
        Ok(())
    }

    fn exists(&self, scope: Scope<'_>, key: &str) -> Result<bool, StoreError> {
        self.readers
            .read(|connection| {
                connection
                    .prepare_cached(
                        "SELECT 1 FROM kv WHERE namespace = ?1 AND bucket = ?2 AND key = ?3",
                    )?
                    .exists(params![scope.namespace, scope.bucket, key])
            })
            .map_err(backend)
    }

    fn list_keys(&self, scope: Scope<'_>, cursor: Option<u64>) -> Result<KeyPage, StoreError> {
        let offset = cursor.unwrap_or(0);
        let offset = i64::try_from(offset)
            .map_err(|_| StoreError::Invalid(format!("cursor {offset} is out of range")))?;
        // One more than a page tells whether another page follows.
        let keys = self
            .readers
            .read(|connection| {
                connection
                    .prepare_cached(
                        "SELECT key FROM kv WHERE namespace = ?1 AND bucket = ?2
                         ORDER BY key LIMIT ?3 OFFSET ?4",
                    )?
                    .query_map(
                        params![scope.namespace, scope.bucket, MAX_BATCH as i64 + 1, offset],
                        |row| row.get::<_, String>(0),
                    )?
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(backend)?;
        Ok(KeyPage::cut(keys, offset as u64))
    }

    fn increment(&self, scope: Scope<'_>, key: &str, delta: u64) -> Result<u64, StoreError> {
        let mut guard = self.writer();
        let writer = &mut *guard;
        let _writing = self.cache.writing(scope, [key]);
        let used = writer.used(scope.namespace);
        let transaction = writer
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend)?;
        let stored = get(&transaction, scope, key).map_err(backend)?;
        let (next, next_text, usage) =
            super::next_counter(scope, key, stored.as_deref(), delta, used)?;
        set(&transaction, scope, key, next_text.as_bytes()).map_err(backend)?;
        transaction.commit().map_err(backend)?;
        writer.record(scope.namespace, usage);
        Ok(next)
    }

    fn get_many(
        &self,
        scope: Scope<'_>,
        keys: &[String],
    ) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        self.readers.read(|connection| {
            let mut statement = connection
                // The value only if it fits what is left of the answer's budget, so
                // that an answer too large fails before the host holds it.
                .prepare_cached(
                    "SELECT CASE WHEN octet_length(value) <= ?4 THEN value END
                     FROM kv WHERE namespace = ?1 AND bucket = ?2 AND key = ?3",
                )
                .map_err(backend)?;
            super::get_within_budget(keys, |key, left| {
                statement
                    .query_row(
                        params![scope.namespace, scope.bucket, key, left as i64],
                        |row| row.get::<_, Option<Vec<u8>>>(0),
                    )
                    .optional()
                    .map_err(backend)
            })
        })
    }

    fn set_many(&self, scope: Scope<'_>, entries: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        let mut guard = self.writer();
        let writer = &mut *guard;
        let _writing = self
            .cache
            .writing(scope, entries.iter().map(|(key, _)| key.as_str()));
        let used = writer.used(scope.namespace);
        let transaction = writer.connection.transaction().map_err(backend)?;
        // Checked before anything is written.
        let (replaced, written) = super::batch_bytes(scope.bucket, entries, |key| {
            stored_bytes(&transaction, scope, key).map_err(backend)
        })?;
        let usage = check_quota(scope.quota_bytes, used, replaced, written)?;
        for (key, value) in entries {
            set(&transaction, scope, key, value).map_err(backend)?;
        }
        transaction.commit().map_err(backend)?;
        writer.record(scope.namespace, usage);
        Ok(())
    }

    fn delete_many(&self, scope: Scope<'_>, keys: &[String]) -> Result<(), StoreError> {
        let mut guard = self.writer();
        let writer = &mut *guard;
        let _writing = self.cache.writing(scope, keys.iter().map(String::as_str));
        let used = writer.used(scope.namespace);
        let transaction = writer.connection.transaction().map_err(backend)?;
        let mut replaced = 0u64;
        for key in keys.iter().map(String::as_str).collect::<BTreeSet<_>>() {
            if let Some(stored) = stored_bytes(&transaction, scope, key).map_err(backend)? {
                replaced = replaced.saturating_add(stored);
                delete(&transaction, scope, key).map_err(backend)?;
            }
        }
        let usage = check_quota(scope.quota_bytes, used, replaced, 0)?;
        transaction.commit().map_err(backend)?;
        writer.record(scope.namespace, usage);
        Ok(())
    }

    fn lane(&self, access: Access) -> &Lane {
        match access {
            Access::Read => &self.reads,
            Access::Write => &self.writes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl SqliteStore {
        /// How many bytes `namespace` holds, as the quota counts them.
        fn usage(&self, namespace: &str) -> u64 {
            self.writer().used(namespace)
        }
    }

    use crate::store::MAX_VALUE_BYTES;
    use std::os::unix::fs::PermissionsExt;
    use std::sync::{Arc, Barrier};

    const BLOG: Scope<'static> = Scope {
        namespace: "blog",
        bucket: "posts",
        quota_bytes: u64::MAX,
    };
    const OTHER: Scope<'static> = Scope {
        namespace: "other",
        bucket: "posts",
        quota_bytes: u64::MAX,
    };

    /// `scope` with a quota of `quota_bytes`.
    fn quota(scope: Scope<'static>, quota_bytes: u64) -> Scope<'static> {
        Scope {
            quota_bytes,
            ..scope
        }
    }

    /// What a `value_bytes` value under `key` in BLOG's bucket counts.
    fn entry(key: &str, value_bytes: usize) -> u64 {
        entry_bytes(BLOG.bucket, key, value_bytes)
    }

    fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("piston.db")).unwrap();
        (dir, store)
    }

    #[test]
    fn namespaces_are_separate() {
        let (_dir, store) = store();
        store.set(BLOG, "a", b"1").unwrap();
        assert_eq!(store.get(BLOG, "a").unwrap(), Some(b"1".to_vec()));
        assert_eq!(store.get(OTHER, "a").unwrap(), None);
        assert!(!store.exists(OTHER, "a").unwrap());
        store.delete(OTHER, "a").unwrap();
        assert!(store.exists(BLOG, "a").unwrap());
    }

    #[test]
    fn list_keys_pages_in_order() {
        let (_dir, store) = store();
        let entries: Vec<(String, Vec<u8>)> = (0..MAX_BATCH + 5)
            .map(|i| (format!("k{i:05}"), vec![1]))
            .collect();
        store.set_many(BLOG, &entries).unwrap();
        let first = store.list_keys(BLOG, None).unwrap();
        assert_eq!(first.keys.len(), MAX_BATCH);
        assert_eq!(first.keys[0], "k00000");
        let second = store.list_keys(BLOG, first.cursor).unwrap();
        assert_eq!(
            second.keys,
            ["k01000", "k01001", "k01002", "k01003", "k01004"]
        );
        assert_eq!(second.cursor, None);
    }

    #[test]
    fn increment_counts_and_refuses_non_counters() {
        let (_dir, store) = store();
        assert_eq!(store.increment(BLOG, "n", 1).unwrap(), 1);
        assert_eq!(store.increment(BLOG, "n", 41).unwrap(), 42);
        assert_eq!(store.get(BLOG, "n").unwrap(), Some(b"42".to_vec()));
        store.set(BLOG, "text", b"hello").unwrap();
        assert!(matches!(
            store.increment(BLOG, "text", 1),
            Err(StoreError::NotACounter { .. })
        ));
        store
            .set(BLOG, "max", u64::MAX.to_string().as_bytes())
            .unwrap();
        assert!(matches!(
            store.increment(BLOG, "max", 1),
            Err(StoreError::Invalid(_))
        ));
    }

    #[test]
    fn one_process_holds_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("piston.db");
        let _held = SqliteStore::open(&path).unwrap();
        let error = SqliteStore::open(&path).err().expect("refused while held");
        assert!(
            error.to_string().contains("in use by another process"),
            "{error}"
        );
    }

    #[test]
    fn data_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("piston.db");
        SqliteStore::open(&path)
            .unwrap()
            .set(BLOG, "kept", b"yes")
            .unwrap();
        let reopened = SqliteStore::open(&path).unwrap();
        assert_eq!(reopened.get(BLOG, "kept").unwrap(), Some(b"yes".to_vec()));
    }

    #[test]
    fn quota_refuses_the_write_that_would_pass_it_and_loses_nothing() {
        let (_dir, store) = store();
        let full = quota(BLOG, entry("a", 100) + entry("b", 100));
        store.set(full, "a", &[1; 100]).unwrap();
        store.set(full, "b", &[2; 100]).unwrap();
        assert_eq!(store.usage("blog"), full.quota_bytes);

        let error = store.set(full, "c", b"").unwrap_err();
        assert!(
            matches!(
                error,
                StoreError::QuotaExceeded { quota_bytes, used_bytes, needed_bytes }
                    if quota_bytes == full.quota_bytes
                        && used_bytes == full.quota_bytes
                        && needed_bytes == entry("c", 0)
            ),
            "{error:?}"
        );
        assert!(error.to_string().contains("limits.storage_mib"), "{error}");
        // Growing an existing value is refused too, and keeps the old value.
        assert!(matches!(
            store.set(full, "a", &[9; 101]),
            Err(StoreError::QuotaExceeded {
                needed_bytes: 1,
                ..
            })
        ));
        assert_eq!(store.get(full, "c").unwrap(), None);
        assert_eq!(store.get(full, "a").unwrap(), Some(vec![1; 100]));
        assert_eq!(store.get(full, "b").unwrap(), Some(vec![2; 100]));
        assert_eq!(store.usage("blog"), full.quota_bytes);
    }

    #[test]
    fn shrinking_and_deleting_succeed_at_and_over_the_quota() {
        let (_dir, store) = store();
        store.set(BLOG, "a", &[1; 100]).unwrap();
        store.set(BLOG, "b", &[2; 100]).unwrap();
        store.set(BLOG, "c", &[3; 100]).unwrap();
        // The operator lowered the quota below what the plugin holds.
        let over = quota(BLOG, entry("a", 100));
        store.set(over, "a", &[4; 100]).unwrap();
        store.set(over, "a", &[5; 10]).unwrap();
        assert_eq!(store.get(over, "a").unwrap(), Some(vec![5; 10]));
        store.delete(over, "b").unwrap();
        assert_eq!(store.get(over, "b").unwrap(), None);
        store
            .delete_many(over, &["c".to_owned(), "c".to_owned(), "absent".to_owned()])
            .unwrap();
        assert_eq!(store.get(over, "c").unwrap(), None);
        assert_eq!(store.usage("blog"), entry("a", 10));
        store.delete(over, "a").unwrap();
        assert_eq!(store.usage("blog"), 0);
    }

    #[test]
    fn usage_is_recounted_exactly_on_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("piston.db");
        let other_bucket = Scope {
            bucket: "ведро",
            ..BLOG
        };
        let counted = {
            let store = SqliteStore::open(&path).unwrap();
            store.set(BLOG, "plain", b"value").unwrap();
            store.set(BLOG, "ключ", "значение".as_bytes()).unwrap();
            store.set(BLOG, "nul\0inside", b"").unwrap();
            store.set(other_bucket, "ключ", &[0; 1000]).unwrap();
            store
                .set_many(
                    BLOG,
                    &[
                        ("x".to_owned(), vec![1; 10]),
                        ("x".to_owned(), vec![1; 3]),
                        ("y".to_owned(), vec![]),
                    ],
                )
                .unwrap();
            store.increment(BLOG, "n", 99).unwrap();
            store.increment(BLOG, "n", 1).unwrap();
            store.delete(BLOG, "plain").unwrap();
            store.set(OTHER, "o", b"other").unwrap();
            let expected = entry("ключ", "значение".len())
                + entry("nul\0inside", 0)
                + entry_bytes("ведро", "ключ", 1000)
                + entry("x", 3)
                + entry("y", 0)
                + entry("n", 3);
            assert_eq!(store.usage("blog"), expected);
            expected
        };
        let reopened = SqliteStore::open(&path).unwrap();
        assert_eq!(reopened.usage("blog"), counted);
        assert_eq!(reopened.usage("other"), entry("o", 5));
        assert_eq!(reopened.usage("nobody"), 0);
    }

    #[test]
    fn set_many_is_all_or_nothing_at_the_boundary() {
        let (_dir, store) = store();
        store.set(BLOG, "kept", b"old").unwrap();
        let batch: Vec<(String, Vec<u8>)> =
            (0..10).map(|i| (format!("k{i}"), vec![i; 50])).collect();
        let exact = entry("kept", 3) + (0..10).map(|i| entry(&format!("k{i}"), 50)).sum::<u64>();

        // One byte short: none of the batch is stored, the old data is intact.
        assert!(matches!(
            store.set_many(quota(BLOG, exact - 1), &batch),
            Err(StoreError::QuotaExceeded { .. })
        ));
        for (key, _) in &batch {
            assert_eq!(store.get(BLOG, key).unwrap(), None);
        }
        assert_eq!(store.get(BLOG, "kept").unwrap(), Some(b"old".to_vec()));
        assert_eq!(store.usage("blog"), entry("kept", 3));

        // Exactly enough: all of it.
        store.set_many(quota(BLOG, exact), &batch).unwrap();
        assert_eq!(store.usage("blog"), exact);
        assert_eq!(store.get(BLOG, "k9").unwrap(), Some(vec![9; 50]));

        // At the quota, a batch that shrinks as a whole succeeds though one value grows.
        store
            .set_many(
                quota(BLOG, exact),
                &[("k0".to_owned(), vec![0; 60]), ("k1".to_owned(), vec![])],
            )
            .unwrap();
        assert_eq!(store.usage("blog"), exact - 40);
    }

    #[test]
    fn namespaces_are_counted_separately() {
        let (_dir, store) = store();
        let limit = entry("a", 100);
        store.set(quota(BLOG, limit), "a", &[1; 100]).unwrap();
        assert!(matches!(
            store.set(quota(BLOG, limit), "b", b""),
            Err(StoreError::QuotaExceeded { .. })
        ));
        store.set(quota(OTHER, limit), "a", &[1; 100]).unwrap();
        assert_eq!(store.usage("blog"), limit);
        assert_eq!(store.usage("other"), limit);
        store.delete(OTHER, "a").unwrap();
        assert_eq!(store.usage("blog"), limit);
        assert_eq!(store.usage("other"), 0);
    }

    #[test]
    fn increment_is_counted() {
        let (_dir, store) = store();
        store.increment(BLOG, "n", 9).unwrap();
        assert_eq!(store.usage("blog"), entry("n", 1));
        // 9 becomes 10: one byte more than the quota allows.
        let full = quota(BLOG, entry("n", 1));
        assert!(matches!(
            store.increment(full, "n", 1),
            Err(StoreError::QuotaExceeded {
                needed_bytes: 1,
                ..
            })
        ));
        assert_eq!(store.get(BLOG, "n").unwrap(), Some(b"9".to_vec()));
        assert_eq!(
            store.increment(quota(BLOG, entry("n", 2)), "n", 1).unwrap(),
            10
        );
        assert_eq!(store.usage("blog"), entry("n", 2));
        assert!(matches!(
            store.increment(full, "fresh", 1),
            Err(StoreError::QuotaExceeded { .. })
        ));
        assert_eq!(store.get(BLOG, "fresh").unwrap(), None);
    }

    #[test]
    fn get_many_answers_are_bounded() {
        let (_dir, store) = store();
        let keys: Vec<String> = (0..3).map(|i| format!("big{i}")).collect();
        for key in &keys {
            store.set(BLOG, key, &vec![7; MAX_VALUE_BYTES]).unwrap();
        }
        let two = store.get_many(BLOG, &keys[..2]).unwrap();
        assert!(
            two.iter()
                .all(|value| value.as_ref().map(Vec::len) == Some(MAX_VALUE_BYTES))
        );
        let error = store.get_many(BLOG, &keys).unwrap_err();
        assert!(
            matches!(&error, StoreError::Invalid(message) if message.contains("fewer keys")),
            "{error:?}"
        );
    }

    #[test]
    fn database_files_are_made_private_on_opening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("piston.db");
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        SqliteStore::open(&path)
            .unwrap()
            .set(BLOG, "kept", b"yes")
            .unwrap();
        assert_eq!(mode(&path), 0o600);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let reopened = SqliteStore::open(&path).unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(reopened.get(BLOG, "kept").unwrap(), Some(b"yes".to_vec()));
        // The write-ahead log SQLite made beside it is private too.
        reopened.set(BLOG, "more", b"data").unwrap();
        assert_eq!(mode(&dir.path().join("piston.db-wal")), 0o600);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reads_run_while_a_write_is_under_way() {
        let (_dir, store) = store();
        let store = Arc::new(store);
        store.set(BLOG, "a", b"old").unwrap();
        store.set(OTHER, "a", b"other").unwrap();
        // A slow write: on the write lane, it holds the writer with its transaction open
        // until the reads below are done.
        let (written, reads_done) = (Arc::new(Barrier::new(2)), Arc::new(Barrier::new(2)));
        let write = {
            let (store, written, reads_done) = (store.clone(), written.clone(), reads_done.clone());
            let lane = store.clone();
            tokio::spawn(async move {
                lane.lane(Access::Write)
                    .run(move || {
                        let mut writer = store.writer();
                        let _writing = store.cache.writing(BLOG, ["a"]);
                        let transaction = writer.connection.transaction().unwrap();
                        set(&transaction, BLOG, "a", b"new").unwrap();
                        written.wait();
                        reads_done.wait();
                        transaction.commit().unwrap();
                    })
                    .await
            })
        };
        written.wait();
        // Two reads, each from its plugin: the barrier opens only once both are under
        // way at the same time, while the write is.
        let both = Arc::new(Barrier::new(2));
        let read = |scope: Scope<'static>| {
            let (store, both) = (store.clone(), both.clone());
            let lane = store.clone();
            async move {
                lane.lane(Access::Read)
                    .run(move || {
                        both.wait();
                        store.get(scope, "a").unwrap()
                    })
                    .await
            }
        };
        let reads = async { tokio::join!(read(BLOG), read(OTHER)) };
        let (blog, other) = tokio::time::timeout(Duration::from_secs(60), reads)
            .await
            .expect("the reads ran while the write was under way");
        // They see what was committed before it.
        assert_eq!(blog, Some(b"old".to_vec()));
        assert_eq!(other, Some(b"other".to_vec()));
        reads_done.wait();
        write.await.unwrap();
        assert_eq!(store.get(BLOG, "a").unwrap(), Some(b"new".to_vec()));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_increments_stay_exact() {
        let (_dir, store) = store();
        let store = Arc::new(store);
        // From many tasks on the write lane, and from threads calling the store directly.
        let tasks: Vec<_> = (0..200)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move {
                    let lane = store.clone();
                    lane.lane(Access::Write)
                        .run(move || store.increment(BLOG, "n", 1).unwrap())
                        .await
                })
            })
            .collect();
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    for _ in 0..50 {
                        store.increment(BLOG, "n", 1).unwrap();
                    }
                });
            }
        });
        let mut seen = BTreeSet::new();
        for task in tasks {
            seen.insert(task.await.unwrap());
        }
        assert_eq!(store.get(BLOG, "n").unwrap(), Some(b"400".to_vec()));
        // Each task got a value of its own.
        assert_eq!(seen.len(), 200);
        assert_eq!(store.usage("blog"), entry("n", 3));
    }

    #[test]
    fn writes_racing_for_the_last_of_a_quota_take_exactly_what_fits() {
        let (_dir, store) = store();
        let key = |i: usize| format!("k{i:02}");
        let full = quota(BLOG, 5 * entry(&key(0), 100));
        let stored: usize = std::thread::scope(|scope| {
            let writers: Vec<_> = (0..16)
                .map(|i| {
                    let store = &store;
                    scope.spawn(move || store.set(full, &key(i), &[1; 100]).is_ok())
                })
                .collect();
            writers
                .into_iter()
                .map(|writer| usize::from(writer.join().unwrap()))
                .sum()
        });
        assert_eq!(stored, 5);
        assert_eq!(store.usage("blog"), full.quota_bytes);
        assert_eq!(store.list_keys(BLOG, None).unwrap().keys.len(), 5);
    }

    #[test]
    fn cached_values_follow_every_write() {
        let (_dir, store) = store();
        // Each write comes after a read that cached the key: the next read sees it.
        let read = |key: &str| {
            let value = store.get(BLOG, key).unwrap();
            assert_eq!(store.cached(BLOG, key), value);
            value
        };
        store.set(BLOG, "a", b"1").unwrap();
        assert_eq!(read("a"), Some(b"1".to_vec()));
        store.set(BLOG, "a", b"2").unwrap();
        assert_eq!(read("a"), Some(b"2".to_vec()));
        store.increment(BLOG, "n", 1).unwrap();
        read("n");
        store.increment(BLOG, "n", 1).unwrap();
        assert_eq!(read("n"), Some(b"2".to_vec()));
        store
            .set_many(
                BLOG,
                &[
                    ("a".to_owned(), b"3".to_vec()),
                    ("b".to_owned(), b"4".to_vec()),
                ],
            )
            .unwrap();
        assert_eq!(read("a"), Some(b"3".to_vec()));
        store.delete_many(BLOG, &["a".to_owned()]).unwrap();
        assert_eq!(read("a"), None);
        assert_eq!(read("b"), Some(b"4".to_vec()));
        store.delete(BLOG, "b").unwrap();
        assert_eq!(read("b"), None);
        // A write refused for the quota leaves the value, cached or not.
        store.set(BLOG, "c", b"1").unwrap();
        read("c");
        assert!(store.set(quota(BLOG, 0), "c", b"longer").is_err());
        assert_eq!(read("c"), Some(b"1".to_vec()));
        // Another plugin's key of the same name is its own.
        assert_eq!(store.cached(OTHER, "c"), None);
        assert_eq!(store.get(OTHER, "c").unwrap(), None);
    }
}
