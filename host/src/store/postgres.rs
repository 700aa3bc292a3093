//! The shared backend: plugin data in PostgreSQL, for several hosts at once.
//!
//! # Exact under concurrency
//!
//! Every write is one transaction that first locks its namespace's row in `kv_usage`
//! (creating it if needed): writes to one namespace take turns, across every host,
//! while reads and other namespaces' writes go on. Under that lock the write reads
//! what it replaces (each statement sees every write committed before it), checks the
//! quota against the usage in the row, writes, and records the new usage. So
//! `increment` (read, add, write) is exact from any number of hosts, as are the quota
//! and the usage; counters are decimal text, as in every backend.
//!
//! # No cache
//!
//! Other hosts change the data behind this one's back, so nothing is kept in memory:
//! every read asks the database.

use super::{
    Access, KeyPage, KeyValueStore, MAX_BATCH, Scope, StoreError, check_quota, entry_bytes,
};
use crate::postgres::{Database, Failure, Session};
use crate::sqlite::Lane;
use postgres::GenericClient;
use std::collections::BTreeSet;
use std::sync::Arc;

/// Plugin data in a PostgreSQL database shared by every host.
pub struct PostgresStore {
    database: Arc<Database>,
}

impl PostgresStore {
    /// Plugin data in `database`.
    pub fn new(database: Arc<Database>) -> PostgresStore {
        PostgresStore { database }
    }
}

impl From<Failure> for StoreError {
    fn from(failure: Failure) -> StoreError {
        match failure {
            Failure::Unavailable(error) => StoreError::Unavailable(error),
            Failure::Refused(error) => StoreError::Backend(error),
        }
    }
}

/// The three parts of an entry's primary key, as stored.
fn place<'a>(scope: Scope<'a>, key: &'a str) -> [&'a [u8]; 3] {
    [
        scope.namespace.as_bytes(),
        scope.bucket.as_bytes(),
        key.as_bytes(),
    ]
}

/// Locks the namespace's usage (every write to it waits for this one to commit) and
/// returns it.
fn lock_usage<C: GenericClient>(
    session: &mut Session<'_, C>,
    namespace: &str,
) -> Result<u64, Failure> {
    let row = session.query_opt(
        "INSERT INTO kv_usage (namespace, bytes) VALUES ($1, 0)
         ON CONFLICT (namespace) DO UPDATE SET bytes = kv_usage.bytes
         RETURNING bytes",
        &[&namespace.as_bytes()],
    )?;
    Ok(row.map_or(0, |row| u64::try_from(row.get::<_, i64>(0)).unwrap_or(0)))
}

fn record_usage<C: GenericClient>(
    session: &mut Session<'_, C>,
    namespace: &str,
    usage: u64,
) -> Result<(), Failure> {
    let usage = i64::try_from(usage).unwrap_or(i64::MAX);
    session.execute(
        "UPDATE kv_usage SET bytes = $2 WHERE namespace = $1",
        &[&namespace.as_bytes(), &usage],
    )?;
    Ok(())
}

/// The value under `key`, if any.
fn get<C: GenericClient>(
    session: &mut Session<'_, C>,
    scope: Scope<'_>,
    key: &str,
) -> Result<Option<Vec<u8>>, Failure> {
    let [namespace, bucket, key] = place(scope, key);
    let row = session.query_opt(
        "SELECT value FROM kv WHERE namespace = $1 AND bucket = $2 AND key = $3",
        &[&namespace, &bucket, &key],
    )?;
    Ok(row.map(|row| row.get(0)))
}

/// What the entry under `key` counts against the quota, if there is one.
fn stored_bytes<C: GenericClient>(
    session: &mut Session<'_, C>,
    scope: Scope<'_>,
    key: &str,
) -> Result<Option<u64>, Failure> {
    let [namespace, bucket, key_bytes] = place(scope, key);
    let row = session.query_opt(
        "SELECT octet_length(value) FROM kv WHERE namespace = $1 AND bucket = $2 AND key = $3",
        &[&namespace, &bucket, &key_bytes],
    )?;
    Ok(row.map(|row| {
        let length = usize::try_from(row.get::<_, i32>(0)).unwrap_or(0);
        entry_bytes(scope.bucket, key, length)
    }))
}

fn set<C: GenericClient>(
    session: &mut Session<'_, C>,
    scope: Scope<'_>,
    key: &str,
    value: &[u8],
) -> Result<(), Failure> {
    let [namespace, bucket, key] = place(scope, key);
    session.execute(
        "INSERT INTO kv (namespace, bucket, key, value) VALUES ($1, $2, $3, $4)
         ON CONFLICT (namespace, bucket, key) DO UPDATE SET value = excluded.value",
        &[&namespace, &bucket, &key, &value],
    )?;
    Ok(())
}

fn delete<C: GenericClient>(
    session: &mut Session<'_, C>,
    scope: Scope<'_>,
    key: &str,
) -> Result<(), Failure> {
    let [namespace, bucket, key] = place(scope, key);
    session.execute(
        "DELETE FROM kv WHERE namespace = $1 AND bucket = $2 AND key = $3",
        &[&namespace, &bucket, &key],
    )?;
    Ok(())
}

impl PostgresStore {
    /// Runs `write` in a transaction holding the namespace's usage lock, with the usage
    /// it found; `write` returns its answer and the usage after it, which is recorded.
    fn write<T: Send>(
        &self,
        namespace: &str,
        write: impl FnOnce(
            &mut Session<'_, postgres::Transaction<'_>>,
            u64,
        ) -> Result<(T, u64), StoreError>
        + Send,
    ) -> Result<T, StoreError> {
        self.database.transaction(|session| {
            let used = lock_usage(session, namespace)?;
            let (answer, usage) = write(session, used)?;
            if usage != used {
                record_usage(session, namespace, usage)?;
            }
            Ok(answer)
        })
    }
}

impl KeyValueStore for PostgresStore {
    fn cached(&self, _scope: Scope<'_>, _key: &str) -> Option<Vec<u8>> {
        None
    }

    fn get(&self, scope: Scope<'_>, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.database
            .call(|session| get(session, scope, key))
            .map_err(StoreError::from)
    }

    fn set(&self, scope: Scope<'_>, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.write(scope.namespace, |session, used| {
            let replaced = stored_bytes(session, scope, key)?;
            let usage = check_quota(
                scope.quota_bytes,
                used,
                replaced.unwrap_or(0),
                entry_bytes(scope.bucket, key, value.len()),
            )?;
            set(session, scope, key, value)?;
            Ok(((), usage))
        })
    }

    fn delete(&self, scope: Scope<'_>, key: &str) -> Result<(), StoreError> {
        self.write(scope.namespace, |session, used| {
            let Some(replaced) = stored_bytes(session, scope, key)? else {
                return Ok(((), used));
            };
            let usage = check_quota(scope.quota_bytes, used, replaced, 0)?;
            delete(session, scope, key)?;
            Ok(((), usage))
        })
    }

    fn exists(&self, scope: Scope<'_>, key: &str) -> Result<bool, StoreError> {
        let [namespace, bucket, key] = place(scope, key);
        self.database.call(|session| {
            let row = session.query_opt(
                "SELECT 1 FROM kv WHERE namespace = $1 AND bucket = $2 AND key = $3",
                &[&namespace, &bucket, &key],
            )?;
            Ok(row.is_some())
        })
    }

    fn list_keys(&self, scope: Scope<'_>, cursor: Option<u64>) -> Result<KeyPage, StoreError> {
        let offset = cursor.unwrap_or(0);
        let offset = i64::try_from(offset)
            .map_err(|_| StoreError::Invalid(format!("cursor {offset} is out of range")))?;
        let [namespace, bucket, _] = place(scope, "");
        // One more than a page tells whether another page follows.
        let rows = self.database.call(|session| {
            session.query(
                "SELECT key FROM kv WHERE namespace = $1 AND bucket = $2
                 ORDER BY key LIMIT $3 OFFSET $4",
                &[&namespace, &bucket, &(MAX_BATCH as i64 + 1), &offset],
            )
        })?;
        let keys = rows
            .iter()
            .map(|row| {
                String::from_utf8(row.get(0))
                    .map_err(|_| StoreError::Backend("a stored key is not UTF-8 text".to_owned()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(KeyPage::cut(keys, offset as u64))
    }

    fn increment(&self, scope: Scope<'_>, key: &str, delta: u64) -> Result<u64, StoreError> {
        self.write(scope.namespace, |session, used| {
            let stored = get(session, scope, key)?;
            let (next, next_text, usage) =
                super::next_counter(scope, key, stored.as_deref(), delta, used)?;
            set(session, scope, key, next_text.as_bytes())?;
            Ok((next, usage))
        })
    }

    fn get_many(
        &self,
        scope: Scope<'_>,
        keys: &[String],
    ) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        self.database.call(|session| {
            super::get_within_budget(keys, |key, left| {
                let [namespace, bucket, key] = place(scope, key);
                // The value only if it fits what is left of the answer's budget.
                let row = session.query_opt(
                    "SELECT CASE WHEN octet_length(value) <= $4 THEN value END
                     FROM kv WHERE namespace = $1 AND bucket = $2 AND key = $3",
                    &[&namespace, &bucket, &key, &(left as i32)],
                )?;
                Ok(row.map(|row| row.get::<_, Option<Vec<u8>>>(0)))
            })
        })
    }

    fn set_many(&self, scope: Scope<'_>, entries: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        self.write(scope.namespace, |session, used| {
            // Checked before anything is written.
            let (replaced, written) = super::batch_bytes(scope.bucket, entries, |key| {
                Ok(stored_bytes(session, scope, key)?)
            })?;
            let usage = check_quota(scope.quota_bytes, used, replaced, written)?;
            for (key, value) in entries {
                set(session, scope, key, value)?;
            }
            Ok(((), usage))
        })
    }

    fn delete_many(&self, scope: Scope<'_>, keys: &[String]) -> Result<(), StoreError> {
        self.write(scope.namespace, |session, used| {
            let mut replaced = 0u64;
            for key in keys.iter().map(String::as_str).collect::<BTreeSet<_>>() {
                if let Some(stored) = stored_bytes(session, scope, key)? {
                    replaced = replaced.saturating_add(stored);
                    delete(session, scope, key)?;
                }
            }
            let usage = check_quota(scope.quota_bytes, used, replaced, 0)?;
            Ok(((), usage))
        })
    }

    fn lane(&self, access: Access) -> &Lane {
        match access {
            Access::Read => self.database.reads(),
            Access::Write => self.database.writes(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::postgres::testing;
    use crate::store::MAX_VALUE_BYTES;

    /// Two hosts' stores on one database, and a namespace no other test uses.
    fn two_hosts() -> (PostgresStore, PostgresStore, String) {
        let host = || PostgresStore::new(Arc::new(testing::database()));
        let mut suffix = [0u8; 8];
        getrandom::fill(&mut suffix).unwrap();
        (host(), host(), format!("test-{}", hex::encode(suffix)))
    }

    fn scope(namespace: &str, quota_bytes: u64) -> Scope<'_> {
        Scope {
            namespace,
            bucket: "posts",
            quota_bytes,
        }
    }

    fn usage(store: &PostgresStore, namespace: &str) -> u64 {
        store
            .database
            .call(|session| {
                Ok::<_, Failure>(
                    session
                        .query_opt(
                            "SELECT bytes FROM kv_usage WHERE namespace = $1",
                            &[&namespace.as_bytes()],
                        )?
                        .map_or(0, |row| row.get::<_, i64>(0) as u64),
                )
            })
            .unwrap()
    }

    #[test]
    fn what_one_host_writes_the_other_reads() {
        let (a, b, namespace) = two_hosts();
        let blog = scope(&namespace, u64::MAX);
        let other = Scope {
            namespace: "other-plugin",
            ..blog
        };
        a.set(blog, "ключ", "значение".as_bytes()).unwrap();
        assert_eq!(
            b.get(blog, "ключ").unwrap(),
            Some("значение".as_bytes().to_vec())
        );
        assert!(b.exists(blog, "ключ").unwrap());
        assert_eq!(
            b.get(other, "ключ").unwrap(),
            None,
            "namespaces are separate"
        );
        b.set(blog, "nul\0inside", b"").unwrap();
        assert_eq!(a.get(blog, "nul\0inside").unwrap(), Some(vec![]));
        b.delete(blog, "ключ").unwrap();
        assert_eq!(a.get(blog, "ключ").unwrap(), None);
        a.delete(blog, "absent").unwrap();
    }

    #[test]
    fn list_keys_pages_in_byte_order() {
        let (a, _, namespace) = two_hosts();
        let blog = scope(&namespace, u64::MAX);
        let mut entries: Vec<(String, Vec<u8>)> = (0..MAX_BATCH + 2)
            .map(|i| (format!("k{i:05}"), vec![1]))
            .collect();
        // Byte order: upper case before lower case, ASCII before the rest.
        entries.push(("Z".to_owned(), vec![]));
        entries.push(("é".to_owned(), vec![]));
        a.set_many(blog, &entries).unwrap();
        let first = a.list_keys(blog, None).unwrap();
        assert_eq!(first.keys.len(), MAX_BATCH);
        assert_eq!(first.keys[0], "Z");
        let second = a.list_keys(blog, first.cursor).unwrap();
        assert_eq!(second.keys, ["k00999", "k01000", "k01001", "é"]);
        assert_eq!(second.cursor, None);
    }

    #[test]
    fn increments_from_two_hosts_add_up_exactly() {
        let (a, b, namespace) = two_hosts();
        let blog = scope(&namespace, u64::MAX);
        let claims = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|threads| {
            for thread in 0..8 {
                let (store, claims) = (if thread % 2 == 0 { &a } else { &b }, &claims);
                threads.spawn(move || {
                    for _ in 0..25 {
                        store.increment(blog, "hits", 1).unwrap();
                        if store.increment(blog, "claim", 1).unwrap() == 1 {
                            claims.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        }
                    }
                });
            }
        });
        assert_eq!(a.get(blog, "hits").unwrap(), Some(b"200".to_vec()));
        assert_eq!(claims.into_inner(), 1);
        a.set(blog, "text", b"hello").unwrap();
        assert!(matches!(
            b.increment(blog, "text", 1),
            Err(StoreError::NotACounter { .. })
        ));
    }

    #[test]
    fn the_quota_holds_across_hosts_racing_for_it() {
        let (a, b, namespace) = two_hosts();
        let quota = (0..10)
            .map(|i| entry_bytes("posts", &format!("k{i:02}"), 100))
            .sum::<u64>();
        let limited = scope(&namespace, quota);
        let stored = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|threads| {
            for thread in 0..8 {
                let (store, stored) = (if thread % 2 == 0 { &a } else { &b }, &stored);
                threads.spawn(move || {
                    for i in 0..5 {
                        match store.set(limited, &format!("k{:02}", thread * 5 + i), &[7; 100]) {
                            Ok(()) => {
                                stored.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            }
                            Err(StoreError::QuotaExceeded { .. }) => {}
                            Err(error) => panic!("{error}"),
                        }
                    }
                });
            }
        });
        assert_eq!(stored.into_inner(), 10);
        assert_eq!(usage(&a, &namespace), quota);
        // Deleting and shrinking always succeed; the usage follows exactly.
        let keys = a.list_keys(limited, None).unwrap().keys;
        b.delete_many(limited, &keys[..5]).unwrap();
        a.set(limited, &keys[5], &[1; 10]).unwrap();
        assert_eq!(
            usage(&b, &namespace),
            quota / 2 - entry_bytes("posts", &keys[5], 100) + entry_bytes("posts", &keys[5], 10)
        );
    }

    #[test]
    fn get_many_is_bounded_and_batches_are_atomic() {
        let (a, b, namespace) = two_hosts();
        let blog = scope(&namespace, u64::MAX);
        let big: Vec<(String, Vec<u8>)> = (0..2)
            .map(|i| (format!("big{i}"), vec![0; MAX_VALUE_BYTES]))
            .collect();
        a.set_many(blog, &big).unwrap();
        let keys: Vec<String> = ["big0", "big1", "big0"].map(str::to_owned).to_vec();
        assert!(matches!(
            b.get_many(blog, &keys),
            Err(StoreError::Invalid(message)) if message.contains("fewer keys")
        ));
        assert_eq!(
            b.get_many(blog, &keys[..1]).unwrap(),
            vec![Some(vec![0; MAX_VALUE_BYTES])]
        );
        let small = scope(&namespace, 0);
        assert!(matches!(
            b.set_many(small, &[("new".to_owned(), vec![1])]),
            Err(StoreError::QuotaExceeded { .. })
        ));
        assert_eq!(a.get(blog, "new").unwrap(), None);
    }
}
