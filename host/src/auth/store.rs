//! Users, API tokens and OAuth credentials: in their own SQLite file, or in the
//! PostgreSQL database every host shares (see [`super::database`]).
//!
//! Kept apart from plugin data (which the server holds exclusively) so that `piston
//! users` and `piston tokens` can change them while a server runs; the server sees the
//! change on the next request. Passwords are stored only as argon2id hashes, tokens only
//! as SHA-256 hashes. Digest's per-realm secrets and OAuth's shared secrets must be kept
//! as such to check signatures: the SQLite file is created readable by its owner only.
//!
//! The server runs its calls on the database's lanes: a lookup must not hold up an
//! async worker, least of all while a command holds the file's write lock. Nothing is
//! cached in memory, since commands and other hosts change the credentials behind the
//! server's back: a password change or a revocation is seen by every host on its next
//! request.

use super::Principal;
use super::database::{CredentialsDatabase, Row, Sql};
use crate::postgres::Database;
use crate::sqlite::{Lane, Readers};
use rusqlite::Connection;
use std::path::Path;
use std::sync::{Arc, Mutex};
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
    /// The database cannot be reached: the request that needed it is answered 503.
    #[error("the credentials database is unreachable: {0}")]
    Unavailable(String),
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
    database: CredentialsDatabase,
}

/// How long a call waits for another process's lock on the file (a command writing).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

const USER_COLUMNS: &str = "username, password_hash, digest_realm, digest_md5, digest_sha256, first_name, version, created_at";
const TOKEN_COLUMNS: &str = "id, hash, username, scopes, expires_at, revoked, created_at";

impl AuthStore {
    /// Opens (creating if needed) the SQLite database at `path`.
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
        Ok(AuthStore::on(CredentialsDatabase::Sqlite {
            writer: Mutex::new(connection),
            readers,
            reads,
            writes,
        }))
    }

    /// The credentials in the PostgreSQL database every host shares (its schema is the
    /// database's, see [`crate::postgres`]).
    pub fn postgres(database: Arc<Database>) -> AuthStore {
        AuthStore::on(CredentialsDatabase::Postgres(database))
    }

    fn on(database: CredentialsDatabase) -> AuthStore {
        AuthStore { database }
    }

    /// Runs `read`, which only reads.
    pub(super) fn read<T: Send>(
        &self,
        read: impl FnOnce(&mut dyn Sql) -> Result<T, AuthStoreError> + Send,
    ) -> Result<T, AuthStoreError> {
        self.database.read(read)
    }

    /// Runs `write` in a transaction.
    pub(super) fn write<T: Send>(
        &self,
        write: impl FnOnce(&mut dyn Sql) -> Result<T, AuthStoreError> + Send,
    ) -> Result<T, AuthStoreError> {
        self.database.write(write)
    }

    /// Runs `call`, which only reads, on the store's read lane, and waits for it without
    /// holding up the async worker.
    pub async fn reading<T: Send + 'static>(
        self: &Arc<Self>,
        call: impl FnOnce(&AuthStore) -> T + Send + 'static,
    ) -> T {
        let store = self.clone();
        self.database.reads().run(move || call(&store)).await
    }

    /// Runs `call`, which writes, on the store's write lane, and waits for it without
    /// holding up the async worker.
    pub async fn writing<T: Send + 'static>(
        self: &Arc<Self>,
        call: impl FnOnce(&AuthStore) -> T + Send + 'static,
    ) -> T {
        let store = self.clone();
        self.database.writes().run(move || call(&store)).await
    }

    /// The server secret called `name` (32 random bytes), made the first time it is
    /// asked for. Kept in the database so that what it signs (Digest nonces, OAuth
    /// forms) survives restarts and is shared by every server using the database.
    pub fn secret(&self, name: &str) -> Result<[u8; 32], AuthStoreError> {
        let mut fresh = [0u8; 32];
        getrandom::fill(&mut fresh)
            .map_err(|error| AuthStoreError::Backend(format!("no randomness: {error}")))?;
        let stored = self.write(|sql| {
            sql.execute(
                "INSERT INTO secrets (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
                &[name.into(), fresh.as_slice().into()],
            )?;
            match sql.query_opt("SELECT value FROM secrets WHERE name = ?1", &[name.into()])? {
                Some(row) => row.bytes(0),
                None => Err(AuthStoreError::Backend(format!("secret `{name}` vanished"))),
            }
        })?;
        stored
            .try_into()
            .map_err(|_| AuthStoreError::Backend(format!("secret `{name}` is not 32 bytes")))
    }

    /// Adds a user.
    pub fn add_user(&self, user: &User) -> Result<(), AuthStoreError> {
        let inserted = self.write(|sql| {
            sql.execute(
                &format!(
                    "INSERT INTO users ({USER_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                     ON CONFLICT (username) DO NOTHING"
                ),
                &[
                    (&user.username).into(),
                    (&user.password_hash).into(),
                    (&user.digest.realm).into(),
                    (&user.digest.md5).into(),
                    (&user.digest.sha256).into(),
                    user.first_name.as_ref().into(),
                    user.version.into(),
                    user.created_at.into(),
                ],
            )
        })?;
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
        let updated = self.write(|sql| {
            sql.execute(
                "UPDATE users SET password_hash = ?2, digest_realm = ?3, digest_md5 = ?4,
                 digest_sha256 = ?5, version = version + 1 WHERE username = ?1",
                &[
                    username.into(),
                    password_hash.into(),
                    (&digest.realm).into(),
                    (&digest.md5).into(),
                    (&digest.sha256).into(),
                ],
            )
        })?;
        if updated == 0 {
            return Err(AuthStoreError::NotFound(username.to_owned()));
        }
        Ok(())
    }

    /// Removes a user, and revokes their API tokens.
    pub fn remove_user(&self, username: &str) -> Result<(), AuthStoreError> {
        let removed = self.write(|sql| {
            let removed =
                sql.execute("DELETE FROM users WHERE username = ?1", &[username.into()])?;
            sql.execute(
                "UPDATE api_tokens SET revoked = 1 WHERE username = ?1",
                &[username.into()],
            )?;
            Ok(removed)
        })?;
        if removed == 0 {
            return Err(AuthStoreError::NotFound(username.to_owned()));
        }
        Ok(())
    }

    /// A user by name.
    pub fn user(&self, username: &str) -> Result<Option<User>, AuthStoreError> {
        self.read(|sql| {
            sql.query_opt(
                &format!("SELECT {USER_COLUMNS} FROM users WHERE username = ?1"),
                &[username.into()],
            )?
            .map(|row| user_row(&row))
            .transpose()
        })
    }

    /// Every user, by name.
    pub fn users(&self) -> Result<Vec<User>, AuthStoreError> {
        self.read(|sql| {
            sql.query(
                &format!("SELECT {USER_COLUMNS} FROM users ORDER BY username"),
                &[],
            )?
            .iter()
            .map(user_row)
            .collect()
        })
    }

    /// Stores a new API token (its hash), for a user who exists.
    pub fn add_token(&self, token: &Token) -> Result<(), AuthStoreError> {
        let scopes = serde_json::to_string(&token.scopes)
            .map_err(|error| AuthStoreError::Backend(error.to_string()))?;
        let inserted = self.write(|sql| {
            sql.execute(
                &format!(
                    "INSERT INTO api_tokens ({TOKEN_COLUMNS})
                     SELECT ?1, ?2, ?3, ?4, ?5, 0, ?6 WHERE EXISTS
                         (SELECT 1 FROM users WHERE username = ?3)"
                ),
                &[
                    (&token.id).into(),
                    token.hash.as_slice().into(),
                    (&token.username).into(),
                    scopes.as_str().into(),
                    token.expires_at.into(),
                    token.created_at.into(),
                ],
            )
        })?;
        if inserted == 0 {
            return Err(AuthStoreError::NotFound(token.username.clone()));
        }
        Ok(())
    }

    /// The token with this hash.
    pub fn token_by_hash(&self, hash: &[u8]) -> Result<Option<Token>, AuthStoreError> {
        self.read(|sql| {
            sql.query_opt(
                &format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE hash = ?1"),
                &[hash.into()],
            )?
            .map(|row| token_row(&row))
            .transpose()
        })
    }

    /// Every token, newest first.
    pub fn tokens(&self) -> Result<Vec<Token>, AuthStoreError> {
        self.read(|sql| {
            sql.query(
                &format!("SELECT {TOKEN_COLUMNS} FROM api_tokens ORDER BY created_at DESC, id"),
                &[],
            )?
            .iter()
            .map(token_row)
            .collect()
        })
    }

    /// Revokes a token by its id.
    pub fn revoke_token(&self, id: &str) -> Result<(), AuthStoreError> {
        let revoked = self.write(|sql| {
            sql.execute(
                "UPDATE api_tokens SET revoked = 1 WHERE id = ?1",
                &[id.into()],
            )
        })?;
        if revoked == 0 {
            return Err(AuthStoreError::NotFound(id.to_owned()));
        }
        Ok(())
    }
}

fn user_row(row: &Row) -> Result<User, AuthStoreError> {
    Ok(User {
        username: row.text(0)?,
        password_hash: row.text(1)?,
        digest: DigestSecrets {
            realm: row.text(2)?,
            md5: row.text(3)?,
            sha256: row.text(4)?,
        },
        first_name: row.opt_text(5)?,
        version: row.int(6)?,
        created_at: row.int(7)?,
    })
}

fn token_row(row: &Row) -> Result<Token, AuthStoreError> {
    Ok(Token {
        id: row.text(0)?,
        hash: row.bytes(1)?,
        username: row.text(2)?,
        scopes: serde_json::from_str(&row.text(3)?).unwrap_or_default(),
        expires_at: row.opt_int(4)?,
        revoked: row.int(5)? != 0,
        created_at: row.int(6)?,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::oauth::{OAuthToken, TokenKind};

    fn user(username: &str) -> User {
        User {
            username: username.to_owned(),
            password_hash: "$argon2id$...".to_owned(),
            digest: DigestSecrets {
                realm: "API".to_owned(),
                md5: "m".repeat(32),
                sha256: "s".repeat(64),
            },
            first_name: Some("Ada".to_owned()),
            version: 1,
            created_at: 1000,
        }
    }

    fn random_name(prefix: &str) -> String {
        let mut bytes = [0u8; 6];
        getrandom::fill(&mut bytes).unwrap();
        format!("{prefix}-{}", hex::encode(bytes))
    }

    /// What one host writes, another (`other`, on the same database) reads at once.
    fn credentials_are_shared(one: &AuthStore, other: &AuthStore) {
        let name = random_name("ada");
        one.add_user(&user(&name)).unwrap();
        assert!(matches!(
            other.add_user(&user(&name)),
            Err(AuthStoreError::Duplicate(_))
        ));
        let read = other.user(&name).unwrap().expect("the user");
        assert_eq!(read.first_name.as_deref(), Some("Ada"));
        assert!(
            other
                .users()
                .unwrap()
                .iter()
                .any(|user| user.username == name)
        );

        let token = Token {
            id: random_name("id"),
            hash: random_name("hash").into_bytes(),
            username: name.clone(),
            scopes: vec!["posts:read".to_owned()],
            expires_at: None,
            revoked: false,
            created_at: 1000,
        };
        one.add_token(&token).unwrap();
        let found = other
            .token_by_hash(&token.hash)
            .unwrap()
            .expect("the token");
        assert_eq!((found.scopes, found.revoked), (token.scopes.clone(), false));
        assert!(matches!(
            one.add_token(&Token {
                username: random_name("nobody"),
                ..token.clone()
            }),
            Err(AuthStoreError::NotFound(_))
        ));

        // A password change and a revocation are seen by the other at once.
        other
            .set_password(&name, "$argon2id$new", &read.digest)
            .unwrap();
        assert_eq!(one.user(&name).unwrap().unwrap().version, 2);
        other.revoke_token(&token.id).unwrap();
        assert!(one.token_by_hash(&token.hash).unwrap().unwrap().revoked);

        // OAuth: a request token made on one host is approved and exchanged on the other.
        let consumer = crate::auth::oauth::register_consumer(one, "Printer", None).unwrap();
        assert_eq!(
            other.consumer(&consumer.key).unwrap().unwrap().name,
            "Printer"
        );
        let request = OAuthToken {
            token: random_name("request"),
            secret: "s".to_owned(),
            kind: TokenKind::Request,
            consumer: consumer.key.clone(),
            username: None,
            callback: Some("oob".to_owned()),
            verifier: None,
            expires_at: Some(now() + 600),
            revoked: false,
            created_at: now(),
        };
        assert!(one.add_request_token(&request, now(), 10).unwrap());
        assert!(
            other
                .approve_request_token(&request.token, &name, "v")
                .unwrap()
        );
        assert!(
            !one.approve_request_token(&request.token, &name, "v")
                .unwrap()
        );
        let access = OAuthToken {
            token: random_name("access"),
            kind: TokenKind::Access,
            username: Some(name.clone()),
            expires_at: None,
            ..request.clone()
        };
        assert!(one.exchange_request_token(&request.token, &access).unwrap());
        assert!(
            !other
                .exchange_request_token(&request.token, &access)
                .unwrap()
        );
        let stored = other.oauth_token(&access.token).unwrap().unwrap();
        assert_eq!(
            (stored.kind, stored.username),
            (TokenKind::Access, Some(name.clone()))
        );

        assert_eq!(
            one.secret("shared").unwrap(),
            other.secret("shared").unwrap()
        );
        one.remove_user(&name).unwrap();
        assert!(other.user(&name).unwrap().is_none());
    }

    #[test]
    fn sqlite_credentials_are_seen_by_every_connection() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth.db");
        credentials_are_shared(
            &AuthStore::open(&path).unwrap(),
            &AuthStore::open(&path).unwrap(),
        );
    }

    /// A command and the server write the one file at once: every write waits its turn,
    /// none fails with "database is locked".
    #[test]
    fn sqlite_writers_in_two_connections_queue_rather_than_fail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth.db");
        let stores = [
            AuthStore::open(&path).unwrap(),
            AuthStore::open(&path).unwrap(),
        ];
        std::thread::scope(|scope| {
            for (n, store) in stores.iter().cycle().take(8).enumerate() {
                scope.spawn(move || {
                    for round in 0..25 {
                        let name = format!("writer{n}-{round}");
                        store.add_user(&user(&name)).unwrap();
                        store.secret(&format!("secret-{round}")).unwrap();
                        store.remove_user(&name).unwrap();
                    }
                });
            }
        });
        assert!(stores[0].users().unwrap().is_empty());
    }

    #[test]
    fn postgres_credentials_are_seen_by_every_host() {
        let host = || AuthStore::postgres(Arc::new(crate::postgres::testing::database()));
        credentials_are_shared(&host(), &host());
    }
}
