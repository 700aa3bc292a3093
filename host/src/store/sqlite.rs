//! The embedded backend: one SQLite file (WAL) under the data directory.

use super::{KeyPage, KeyValueStore, MAX_BATCH, Scope, StoreError};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// Plugin data in a SQLite database, held by one host process.
///
/// The database is opened in exclusive locking mode: the host takes the file lock once
/// and keeps it, so a read costs no system calls for locking (in shared mode every
/// transaction locked and unlocked the file, which was a fifth of a small request's
/// cost). A second process pointed at the same data directory is refused at start.
/// Operations take microseconds, so one connection behind a mutex serves the host.
pub struct SqliteStore {
    connection: Mutex<Connection>,
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

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let connection = Connection::open(path).map_err(|error| {
            StoreError::Backend(format!("cannot open {}: {error}", path.display()))
        })?;
        connection
            .busy_timeout(Duration::from_secs(1))
            .and_then(|()| connection.pragma_update(None, "locking_mode", "EXCLUSIVE"))
            .and_then(|()| connection.pragma_update(None, "journal_mode", "WAL"))
            .and_then(|()| connection.pragma_update(None, "synchronous", "NORMAL"))
            // A write: takes the exclusive lock now, not on the first request.
            .and_then(|()| connection.execute_batch(SCHEMA))
            .map_err(|error| match error.sqlite_error_code() {
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                    StoreError::Backend(format!(
                        "{} is in use by another process: each `piston serve` needs its own data directory",
                        path.display()
                    ))
                }
                _ => StoreError::Backend(format!("cannot prepare {}: {error}", path.display())),
            })?;
        Ok(SqliteStore {
            connection: Mutex::new(connection),
        })
    }

    fn connection(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent (every write
        // is a transaction), so a poisoned lock is still usable.
        self.connection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn backend(error: rusqlite::Error) -> StoreError {
    StoreError::Backend(error.to_string())
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
    fn get(&self, scope: Scope<'_>, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        get(&self.connection(), scope, key).map_err(backend)
    }

    fn set(&self, scope: Scope<'_>, key: &str, value: &[u8]) -> Result<(), StoreError> {
        set(&self.connection(), scope, key, value).map_err(backend)
    }

    fn delete(&self, scope: Scope<'_>, key: &str) -> Result<(), StoreError> {
        delete(&self.connection(), scope, key).map_err(backend)
    }

    fn exists(&self, scope: Scope<'_>, key: &str) -> Result<bool, StoreError> {
        self.connection()
            .prepare_cached("SELECT 1 FROM kv WHERE namespace = ?1 AND bucket = ?2 AND key = ?3")
            .and_then(|mut statement| statement.exists(params![scope.namespace, scope.bucket, key]))
            .map_err(backend)
    }

    fn list_keys(&self, scope: Scope<'_>, cursor: Option<u64>) -> Result<KeyPage, StoreError> {
        let offset = cursor.unwrap_or(0);
        let offset = i64::try_from(offset)
            .map_err(|_| StoreError::Invalid(format!("cursor {offset} is out of range")))?;
        let connection = self.connection();
        let mut statement = connection
            .prepare_cached(
                "SELECT key FROM kv WHERE namespace = ?1 AND bucket = ?2
                 ORDER BY key LIMIT ?3 OFFSET ?4",
            )
            .map_err(backend)?;
        // One more than a page tells whether another page follows.
        let keys = statement
            .query_map(
                params![scope.namespace, scope.bucket, MAX_BATCH as i64 + 1, offset],
                |row| row.get::<_, String>(0),
            )
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(backend)?;
        let mut keys = keys;
        let cursor = if keys.len() > MAX_BATCH {
            keys.truncate(MAX_BATCH);
            Some(offset as u64 + MAX_BATCH as u64)
        } else {
            None
        };
        Ok(KeyPage { keys, cursor })
    }

    fn increment(&self, scope: Scope<'_>, key: &str, delta: u64) -> Result<u64, StoreError> {
        let mut connection = self.connection();
        let transaction = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend)?;
        let current = match get(&transaction, scope, key).map_err(backend)? {
            None => 0,
            Some(bytes) => std::str::from_utf8(&bytes)
                .ok()
                .and_then(|text| text.parse::<u64>().ok())
                .ok_or_else(|| StoreError::NotACounter {
                    key: key.to_owned(),
                })?,
        };
        let next = current.checked_add(delta).ok_or_else(|| {
            StoreError::Invalid(format!("incrementing `{key}` by {delta} overflows"))
        })?;
        set(&transaction, scope, key, next.to_string().as_bytes()).map_err(backend)?;
        transaction.commit().map_err(backend)?;
        Ok(next)
    }

    fn get_many(
        &self,
        scope: Scope<'_>,
        keys: &[String],
    ) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let connection = self.connection();
        keys.iter()
            .map(|key| get(&connection, scope, key).map_err(backend))
            .collect()
    }

    fn set_many(&self, scope: Scope<'_>, entries: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        let mut connection = self.connection();
        let transaction = connection.transaction().map_err(backend)?;
        for (key, value) in entries {
            set(&transaction, scope, key, value).map_err(backend)?;
        }
        transaction.commit().map_err(backend)
    }

    fn delete_many(&self, scope: Scope<'_>, keys: &[String]) -> Result<(), StoreError> {
        let mut connection = self.connection();
        let transaction = connection.transaction().map_err(backend)?;
        for key in keys {
            delete(&transaction, scope, key).map_err(backend)?;
        }
        transaction.commit().map_err(backend)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BLOG: Scope<'static> = Scope {
        namespace: "blog",
        bucket: "posts",
    };
    const OTHER: Scope<'static> = Scope {
        namespace: "other",
        bucket: "posts",
    };

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
}
