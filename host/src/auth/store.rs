//! Users, API tokens and OAuth credentials, in their own SQLite file.
//!
//! Kept apart from plugin data (which the server holds exclusively) so that `piston
//! users` and `piston tokens` can change them while a server runs; the server sees the
//! change on the next request. Passwords are stored only as argon2id hashes, tokens only
//! as SHA-256 hashes. Digest's per-realm secrets and OAuth's shared secrets must be kept
//! as such to check signatures: the file is created readable by its owner only.
//!
//! Like plugin data, the file has one writer and a few readers (see [`crate::sqlite`]),
//! and the server runs its calls on the store's lanes: a lookup must not hold up an
//! async worker, least of all while a command holds the file's write lock. Nothing is
//! cached in memory, since the commands change the file behind the server's back.

use super::Principal;
use crate::sqlite::{Lane, Readers};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// Why an operation on the credentials failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthStoreError {
    /// The name is taken.
    #[error("`{0}` already exists")]
    Duplicate(String),
    /// There is no such user, token or consumer.
    #[error("there is no `{0}`")]
    NotFound(String),
    /// The database failed.
    #[error("credentials database: {0}")]
    Backend(String),
}

impl From<rusqlite::Error> for AuthStoreError {
    fn from(error: rusqlite::Error) -> AuthStoreError {
        AuthStoreError::Backend(error.to_string())
    }
}

/// A user's Digest secrets for one realm: `H(username:realm:password)` in each
/// algorithm, hex.
#[derive(Debug, Clone)]
pub struct DigestSecrets {
    /// The realm they were made for.
    pub realm: String,
    /// MD5 HA1.
    pub md5: String,
    /// SHA-256 HA1.
    pub sha256: String,
}

/// A user as stored.
#[derive(Debug, Clone)]
pub struct User {
    /// The name they log in with.
    pub username: String,
    /// argon2id, in PHC string form.
    pub password_hash: String,
    /// For Digest authentication.
    pub digest: DigestSecrets,
    /// Shown to plugins in the principal's claims.
    pub first_name: Option<String>,
    /// Bumped on every password change, so cached verifications expire with it.
    pub version: i64,
    /// Seconds since the epoch.
    pub created_at: i64,
}

impl User {
    /// The principal a user authenticated by `scheme` is: not limited by scopes, with
    /// their `first_name` as a claim.
    pub fn principal(&self, scheme: &str) -> Principal {
        let claims = self.first_name.as_ref().map(|first_name| {
            let mut claims = serde_json::Map::new();
            claims.insert("first_name".to_owned(), first_name.clone().into());
            claims
        });
        Principal {
            id: self.username.clone(),
            scheme: scheme.to_owned(),
            scopes: None,
            claims,
        }
    }
}

/// An API token as stored (its hash, never the token).
#[derive(Debug, Clone)]
pub struct Token {
    /// A short public id, to list and revoke it by.
    pub id: String,
    /// SHA-256 of the token.
    pub hash: Vec<u8>,
    /// Whose token it is.
    pub username: String,
    /// What it may do.
    pub scopes: Vec<String>,
    /// When it stops working (seconds since the epoch), if ever.
    pub expires_at: Option<i64>,
    /// Whether it was revoked.
    pub revoked: bool,
    /// Seconds since the epoch.
    pub created_at: i64,
}

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS users (
        username      TEXT PRIMARY KEY,
        password_hash TEXT NOT NULL,
        digest_realm  TEXT NOT NULL,
        digest_md5    TEXT NOT NULL,
        digest_sha256 TEXT NOT NULL,
        first_name    TEXT,
        version       INTEGER NOT NULL,
        created_at    INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS secrets (
        name  TEXT PRIMARY KEY,
        value BLOB NOT NULL
    );
    CREATE TABLE IF NOT EXISTS api_tokens (
        id         TEXT PRIMARY KEY,
        hash       BLOB NOT NULL UNIQUE,
        username   TEXT NOT NULL,
        scopes     TEXT NOT NULL,
        expires_at INTEGER,
        revoked    INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL
    );
";

/// The credentials database.
pub struct AuthStore {
    writer: Mutex<Connection>,
    readers: Readers,
    /// As many threads as readers, and one for the writer.
    reads: Lane,
    writes: Lane,
}

/// How long a call waits for another process's lock on the file (a command writing).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

impl AuthStore {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<AuthStore, AuthStoreError> {
        crate::store::make_private(path)
            .map_err(|error| AuthStoreError::Backend(error.to_string()))?;
        let connect = || {
            let connection = Connection::open(path)?;
            connection.busy_timeout(BUSY_TIMEOUT)?;
            Ok(connection)
        };
        let connection = connect().map_err(|error: rusqlite::Error| {
            AuthStoreError::Backend(format!("cannot open {}: {error}", path.display()))
        })?;
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        connection.execute_batch(SCHEMA)?;
        connection.execute_batch(super::oauth_schema::SCHEMA)?;
        let count = Readers::count();
        let readers = Readers::open(count, || {
            let reader = connect()?;
            reader.pragma_update(None, "query_only", true)?;
            Ok(reader)
        })?;
        let lanes = Lane::start("auth-read", count)
            .and_then(|reads| Ok((reads, Lane::start("auth-write", 1)?)));
        let (reads, writes) = lanes.map_err(|error| {
            AuthStoreError::Backend(format!("cannot start the credentials' threads: {error}"))
        })?;
        Ok(AuthStore {
            writer: Mutex::new(connection),
            readers,
            reads,
            writes,
        })
    }

    /// The connection every write goes through.
    pub(super) fn writer(&self) -> MutexGuard<'_, Connection> {
        // Every write is one statement or one transaction: a panic cannot leave it half done.
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `read` on one of the reading connections.
    pub(super) fn read<T>(
        &self,
        read: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, AuthStoreError> {
        Ok(self.readers.read(read)?)
    }

    /// Runs `call`, which only reads, on the store's read lane, and waits for it without
    /// holding up the async worker.
    pub async fn reading<T: Send + 'static>(
        self: &Arc<Self>,
        call: impl FnOnce(&AuthStore) -> T + Send + 'static,
    ) -> T {
        let store = self.clone();
        self.reads.run(move || call(&store)).await
    }

    /// Runs `call`, which writes, on the store's write lane, and waits for it without
    /// holding up the async worker.
    pub async fn writing<T: Send + 'static>(
        self: &Arc<Self>,
        call: impl FnOnce(&AuthStore) -> T + Send + 'static,
    ) -> T {
        let store = self.clone();
        self.writes.run(move || call(&store)).await
    }

    /// The server secret called `name` (32 random bytes), made the first time it is
    /// asked for. Kept in the database so that what it signs (Digest nonces, OAuth
    /// forms) survives restarts and is shared by every server using this file.
    pub fn secret(&self, name: &str) -> Result<[u8; 32], AuthStoreError> {
        let mut fresh = [0u8; 32];
        getrandom::fill(&mut fresh)
            .map_err(|error| AuthStoreError::Backend(format!("no randomness: {error}")))?;
        let connection = self.writer();
        connection.execute(
            "INSERT INTO secrets (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
            params![name, fresh.as_slice()],
        )?;
        let stored: Vec<u8> = connection.query_row(
            "SELECT value FROM secrets WHERE name = ?1",
            params![name],
            |row| row.get(0),
        )?;
        stored
            .try_into()
            .map_err(|_| AuthStoreError::Backend(format!("secret `{name}` is not 32 bytes")))
    }

    /// Adds a user.
    pub fn add_user(&self, user: &User) -> Result<(), AuthStoreError> {
        let inserted = self.writer().execute(
            "INSERT INTO users (username, password_hash, digest_realm, digest_md5, digest_sha256, first_name, version, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (username) DO NOTHING",
            params![
                user.username,
                user.password_hash,
                user.digest.realm,
                user.digest.md5,
                user.digest.sha256,
                user.first_name,
                user.version,
                user.created_at
            ],
        )?;
        if inserted == 0 {
            return Err(AuthStoreError::Duplicate(user.username.clone()));
        }
        Ok(())
    }

    /// Replaces a user's password secrets and bumps their version.
    pub fn set_password(
        &self,
        username: &str,
        password_hash: &str,
        digest: &DigestSecrets,
    ) -> Result<(), AuthStoreError> {
        let updated = self.writer().execute(
            "UPDATE users SET password_hash = ?2, digest_realm = ?3, digest_md5 = ?4, digest_sha256 = ?5,
             version = version + 1 WHERE username = ?1",
            params![username, password_hash, digest.realm, digest.md5, digest.sha256],
        )?;
        if updated == 0 {
            return Err(AuthStoreError::NotFound(username.to_owned()));
        }
        Ok(())
    }

    /// Removes a user, and revokes their API tokens.
    pub fn remove_user(&self, username: &str) -> Result<(), AuthStoreError> {
        let mut connection = self.writer();
        let transaction = connection.transaction()?;
        let removed =
            transaction.execute("DELETE FROM users WHERE username = ?1", params![username])?;
        transaction.execute(
            "UPDATE api_tokens SET revoked = 1 WHERE username = ?1",
            params![username],
        )?;
        transaction.commit()?;
        if removed == 0 {
            return Err(AuthStoreError::NotFound(username.to_owned()));
        }
        Ok(())
    }

    /// A user by name.
    pub fn user(&self, username: &str) -> Result<Option<User>, AuthStoreError> {
        self.read(|connection| {
            connection
                .prepare_cached(
                    "SELECT username, password_hash, digest_realm, digest_md5, digest_sha256, first_name, version, created_at
                     FROM users WHERE username = ?1",
                )?
                .query_row(params![username], user_row)
                .optional()
        })
    }

    /// Every user, by name.
    pub fn users(&self) -> Result<Vec<User>, AuthStoreError> {
        self.read(|connection| {
            connection
                .prepare(
                    "SELECT username, password_hash, digest_realm, digest_md5, digest_sha256, first_name, version, created_at
                     FROM users ORDER BY username",
                )?
                .query_map([], user_row)?
                .collect()
        })
    }

    /// Stores a new API token (its hash).
    pub fn add_token(&self, token: &Token) -> Result<(), AuthStoreError> {
        if self.user(&token.username)?.is_none() {
            return Err(AuthStoreError::NotFound(token.username.clone()));
        }
        let scopes = serde_json::to_string(&token.scopes)
            .map_err(|error| AuthStoreError::Backend(error.to_string()))?;
        self.writer().execute(
            "INSERT INTO api_tokens (id, hash, username, scopes, expires_at, revoked, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6)",
            params![
                token.id,
                token.hash,
                token.username,
                scopes,
                token.expires_at,
                token.created_at
            ],
        )?;
        Ok(())
    }

    /// The token with this hash.
    pub fn token_by_hash(&self, hash: &[u8]) -> Result<Option<Token>, AuthStoreError> {
        self.read(|connection| {
            connection
                .prepare_cached(
                    "SELECT id, hash, username, scopes, expires_at, revoked, created_at FROM api_tokens WHERE hash = ?1",
                )?
                .query_row(params![hash], token_row)
                .optional()
        })
    }

    /// Every token, newest first.
    pub fn tokens(&self) -> Result<Vec<Token>, AuthStoreError> {
        self.read(|connection| {
            connection
                .prepare(
                    "SELECT id, hash, username, scopes, expires_at, revoked, created_at FROM api_tokens ORDER BY created_at DESC, id",
                )?
                .query_map([], token_row)?
                .collect()
        })
    }

    /// Revokes a token by its id.
    pub fn revoke_token(&self, id: &str) -> Result<(), AuthStoreError> {
        let revoked = self.writer().execute(
            "UPDATE api_tokens SET revoked = 1 WHERE id = ?1",
            params![id],
        )?;
        if revoked == 0 {
            return Err(AuthStoreError::NotFound(id.to_owned()));
        }
        Ok(())
    }
}

fn user_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        username: row.get(0)?,
        password_hash: row.get(1)?,
        digest: DigestSecrets {
            realm: row.get(2)?,
            md5: row.get(3)?,
            sha256: row.get(4)?,
        },
        first_name: row.get(5)?,
        version: row.get(6)?,
        created_at: row.get(7)?,
    })
}

fn token_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Token> {
    let scopes: String = row.get(3)?;
    Ok(Token {
        id: row.get(0)?,
        hash: row.get(1)?,
        username: row.get(2)?,
        scopes: serde_json::from_str(&scopes).unwrap_or_default(),
        expires_at: row.get(4)?,
        revoked: row.get::<_, i64>(5)? != 0,
        created_at: row.get(6)?,
    })
}

/// Seconds since the epoch, now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
        })
}
