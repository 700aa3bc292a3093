//! OAuth consumers, tokens and nonces in the credentials database.
//!
//! Consumer and token secrets are kept as they are: HMAC signatures can only be
//! checked with them (the file is readable by its owner only). Nonces are kept only as
//! long as their timestamp could still be accepted.

use crate::auth::store::{AuthStore, AuthStoreError};
use rusqlite::{Connection, OptionalExtension, params};

pub(in crate::auth) const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS oauth_consumers (
        key        TEXT PRIMARY KEY,
        secret     TEXT NOT NULL,
        name       TEXT NOT NULL,
        callback   TEXT,
        revoked    INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS oauth_tokens (
        token      TEXT PRIMARY KEY,
        secret     TEXT NOT NULL,
        kind       TEXT NOT NULL,
        consumer   TEXT NOT NULL,
        username   TEXT,
        callback   TEXT,
        verifier   TEXT,
        expires_at INTEGER,
        revoked    INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS oauth_nonces (
        consumer  TEXT NOT NULL,
        nonce     TEXT NOT NULL,
        timestamp INTEGER NOT NULL,
        PRIMARY KEY (consumer, nonce, timestamp)
    );
    CREATE INDEX IF NOT EXISTS oauth_nonces_by_time ON oauth_nonces (timestamp);
";

/// A client application registered to use OAuth.
#[derive(Debug, Clone)]
pub struct Consumer {
    /// Its public key (`oauth_consumer_key`).
    pub key: String,
    /// The shared secret it signs with.
    pub secret: String,
    /// What the user is shown on the authorization page.
    pub name: String,
    /// When set, callbacks must start with it.
    pub callback: Option<String>,
    /// A revoked consumer cannot sign anything, and its tokens stop working.
    pub revoked: bool,
    /// Seconds since the epoch.
    pub created_at: i64,
}

/// Temporary (request) credentials or token credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Temporary credentials, waiting for the user's approval and the exchange.
    Request,
    /// Token credentials, used to call resources.
    Access,
}

impl TokenKind {
    fn as_str(self) -> &'static str {
        match self {
            TokenKind::Request => "request",
            TokenKind::Access => "access",
        }
    }
}

/// An OAuth token as stored.
#[derive(Debug, Clone)]
pub struct OAuthToken {
    /// The token (`oauth_token`).
    pub token: String,
    /// Its shared secret.
    pub secret: String,
    /// Request or access.
    pub kind: TokenKind,
    /// The consumer it was issued to.
    pub consumer: String,
    /// The user who approved it (request tokens: once approved).
    pub username: Option<String>,
    /// Where to send the user after approval (`oob`: show the verifier).
    pub callback: Option<String>,
    /// The verifier the consumer must present to exchange a request token.
    pub verifier: Option<String>,
    /// When it stops working (seconds since the epoch), if ever.
    pub expires_at: Option<i64>,
    /// Whether it was revoked.
    pub revoked: bool,
    /// Seconds since the epoch.
    pub created_at: i64,
}

const TOKEN_COLUMNS: &str =
    "token, secret, kind, consumer, username, callback, verifier, expires_at, revoked, created_at";

impl AuthStore {
    /// Registers a consumer.
    pub fn add_consumer(&self, consumer: &Consumer) -> Result<(), AuthStoreError> {
        self.connection().execute(
            "INSERT INTO oauth_consumers (key, secret, name, callback, revoked, created_at)
             VALUES (?1, ?2, ?3, ?4, 0, ?5)",
            params![
                consumer.key,
                consumer.secret,
                consumer.name,
                consumer.callback,
                consumer.created_at
            ],
        )?;
        Ok(())
    }

    /// A consumer by key.
    pub fn consumer(&self, key: &str) -> Result<Option<Consumer>, AuthStoreError> {
        let connection = self.connection();
        let mut statement = connection.prepare_cached(
            "SELECT key, secret, name, callback, revoked, created_at FROM oauth_consumers WHERE key = ?1",
        )?;
        Ok(statement.query_row(params![key], consumer_row).optional()?)
    }

    /// Every consumer, oldest first.
    pub fn consumers(&self) -> Result<Vec<Consumer>, AuthStoreError> {
        let connection = self.connection();
        let mut statement = connection.prepare(
            "SELECT key, secret, name, callback, revoked, created_at FROM oauth_consumers ORDER BY created_at, key",
        )?;
        let consumers = statement
            .query_map([], consumer_row)?
            .collect::<Result<_, _>>()?;
        Ok(consumers)
    }

    /// Revokes a consumer (and with it, every token it holds).
    pub fn revoke_consumer(&self, key: &str) -> Result<(), AuthStoreError> {
        let revoked = self.connection().execute(
            "UPDATE oauth_consumers SET revoked = 1 WHERE key = ?1",
            params![key],
        )?;
        if revoked == 0 {
            return Err(AuthStoreError::NotFound(key.to_owned()));
        }
        Ok(())
    }

    /// Stores a token.
    pub fn add_oauth_token(&self, token: &OAuthToken) -> Result<(), AuthStoreError> {
        insert_token(&self.connection(), token)?;
        Ok(())
    }

    /// A token by its public value.
    pub fn oauth_token(&self, token: &str) -> Result<Option<OAuthToken>, AuthStoreError> {
        let connection = self.connection();
        let mut statement = connection.prepare_cached(&format!(
            "SELECT {TOKEN_COLUMNS} FROM oauth_tokens WHERE token = ?1"
        ))?;
        Ok(statement.query_row(params![token], token_row).optional()?)
    }

    /// Records `username`'s approval of a request token, once: `false` if it was
    /// already approved (or is gone).
    pub fn approve_request_token(
        &self,
        token: &str,
        username: &str,
        verifier: &str,
    ) -> Result<bool, AuthStoreError> {
        let approved = self.connection().execute(
            "UPDATE oauth_tokens SET username = ?2, verifier = ?3
             WHERE token = ?1 AND kind = 'request' AND username IS NULL AND revoked = 0",
            params![token, username, verifier],
        )?;
        Ok(approved == 1)
    }

    /// Exchanges an approved request token for `access`, once: `false` if the request
    /// token was already exchanged (or is gone).
    pub fn exchange_request_token(
        &self,
        request: &str,
        access: &OAuthToken,
    ) -> Result<bool, AuthStoreError> {
        let mut connection = self.connection();
        let transaction = connection.transaction()?;
        let consumed = transaction.execute(
            "DELETE FROM oauth_tokens WHERE token = ?1 AND kind = 'request' AND username IS NOT NULL",
            params![request],
        )?;
        if consumed != 1 {
            return Ok(false);
        }
        insert_token(&transaction, access)?;
        transaction.commit()?;
        Ok(true)
    }

    /// Every access token, newest first.
    pub fn access_tokens(&self) -> Result<Vec<OAuthToken>, AuthStoreError> {
        let connection = self.connection();
        let mut statement = connection.prepare(&format!(
            "SELECT {TOKEN_COLUMNS} FROM oauth_tokens WHERE kind = 'access' ORDER BY created_at DESC, token"
        ))?;
        let tokens = statement
            .query_map([], token_row)?
            .collect::<Result<_, _>>()?;
        Ok(tokens)
    }

    /// Revokes a token.
    pub fn revoke_oauth_token(&self, token: &str) -> Result<(), AuthStoreError> {
        let revoked = self.connection().execute(
            "UPDATE oauth_tokens SET revoked = 1 WHERE token = ?1",
            params![token],
        )?;
        if revoked == 0 {
            return Err(AuthStoreError::NotFound(token.to_owned()));
        }
        Ok(())
    }

    /// Records a nonce, forgetting those older than `oldest` (whose timestamps are no
    /// longer accepted anyway): `false` if it was already used.
    pub fn use_nonce(
        &self,
        consumer: &str,
        nonce: &str,
        timestamp: i64,
        oldest: i64,
    ) -> Result<bool, AuthStoreError> {
        let connection = self.connection();
        connection
            .prepare_cached("DELETE FROM oauth_nonces WHERE timestamp < ?1")?
            .execute(params![oldest])?;
        let inserted = connection
            .prepare_cached(
                "INSERT INTO oauth_nonces (consumer, nonce, timestamp) VALUES (?1, ?2, ?3)
                 ON CONFLICT DO NOTHING",
            )?
            .execute(params![consumer, nonce, timestamp])?;
        Ok(inserted == 1)
    }

    /// How many nonces are remembered.
    #[cfg(test)]
    pub fn remembered_nonces(&self) -> Result<i64, AuthStoreError> {
        Ok(self
            .connection()
            .query_row("SELECT count(*) FROM oauth_nonces", [], |row| row.get(0))?)
    }
}

fn insert_token(connection: &Connection, token: &OAuthToken) -> rusqlite::Result<usize> {
    connection.execute(
        &format!(
            "INSERT INTO oauth_tokens ({TOKEN_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
        ),
        params![
            token.token,
            token.secret,
            token.kind.as_str(),
            token.consumer,
            token.username,
            token.callback,
            token.verifier,
            token.expires_at,
            token.revoked,
            token.created_at
        ],
    )
}

fn consumer_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Consumer> {
    Ok(Consumer {
        key: row.get(0)?,
        secret: row.get(1)?,
        name: row.get(2)?,
        callback: row.get(3)?,
        revoked: row.get(4)?,
        created_at: row.get(5)?,
    })
}

fn token_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<OAuthToken> {
    let kind: String = row.get(2)?;
    Ok(OAuthToken {
        token: row.get(0)?,
        secret: row.get(1)?,
        kind: if kind == "access" {
            TokenKind::Access
        } else {
            TokenKind::Request
        },
        consumer: row.get(3)?,
        username: row.get(4)?,
        callback: row.get(5)?,
        verifier: row.get(6)?,
        expires_at: row.get(7)?,
        revoked: row.get(8)?,
        created_at: row.get(9)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_are_single_use_and_forgotten_after_their_window() {
        let dir = tempfile::tempdir().unwrap();
        let store = AuthStore::open(&dir.path().join("auth.db")).unwrap();
        assert!(store.use_nonce("app", "n1", 1000, 700).unwrap());
        assert!(
            !store.use_nonce("app", "n1", 1000, 700).unwrap(),
            "replayed"
        );
        assert!(store.use_nonce("other", "n1", 1000, 700).unwrap());
        assert!(store.use_nonce("app", "n1", 1001, 700).unwrap());
        assert_eq!(store.remembered_nonces().unwrap(), 3);
        assert!(store.use_nonce("app", "n2", 2000, 1700).unwrap());
        assert_eq!(
            store.remembered_nonces().unwrap(),
            1,
            "the old ones are gone"
        );
    }
}
