//! OAuth consumers and tokens in the credentials database (nonces are the
//! coordination backend's).
//!
//! Consumer and token secrets are kept as they are: HMAC signatures can only be
//! checked with them (the file is readable by its owner only).
//!
//! Nothing a client can make grows without bound:
//!
//! - temporary credentials are deleted once expired (whether approved, denied or left),
//!   each time new ones are made, and a consumer may have at most a bounded number
//!   waiting at once.

use crate::auth::database::{Row, Sql};
use crate::auth::store::{AuthStore, AuthStoreError};

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

const CONSUMER_COLUMNS: &str = "key, secret, name, callback, revoked, created_at";

impl AuthStore {
    /// Registers a consumer.
    pub fn add_consumer(&self, consumer: &Consumer) -> Result<(), AuthStoreError> {
        self.write(|sql| {
            sql.execute(
                &format!(
                    "INSERT INTO oauth_consumers ({CONSUMER_COLUMNS}) VALUES (?1, ?2, ?3, ?4, 0, ?5)"
                ),
                &[
                    (&consumer.key).into(),
                    (&consumer.secret).into(),
                    (&consumer.name).into(),
                    consumer.callback.as_ref().into(),
                    consumer.created_at.into(),
                ],
            )
        })?;
        Ok(())
    }

    /// A consumer by key.
    pub fn consumer(&self, key: &str) -> Result<Option<Consumer>, AuthStoreError> {
        self.read(|sql| {
            sql.query_opt(
                &format!("SELECT {CONSUMER_COLUMNS} FROM oauth_consumers WHERE key = ?1"),
                &[key.into()],
            )?
            .map(|row| consumer_row(&row))
            .transpose()
        })
    }

    /// Every consumer, oldest first.
    pub fn consumers(&self) -> Result<Vec<Consumer>, AuthStoreError> {
        self.read(|sql| {
            sql.query(
                &format!("SELECT {CONSUMER_COLUMNS} FROM oauth_consumers ORDER BY created_at, key"),
                &[],
            )?
            .iter()
            .map(consumer_row)
            .collect()
        })
    }

    /// Revokes a consumer (and with it, every token it holds).
    pub fn revoke_consumer(&self, key: &str) -> Result<(), AuthStoreError> {
        let revoked = self.write(|sql| {
            sql.execute(
                "UPDATE oauth_consumers SET revoked = 1 WHERE key = ?1",
                &[key.into()],
            )
        })?;
        if revoked == 0 {
            return Err(AuthStoreError::NotFound(key.to_owned()));
        }
        Ok(())
    }

    /// Stores temporary credentials, after deleting every expired one: `false` (and
    /// nothing stored) when their consumer already has `max_pending` waiting.
    pub fn add_request_token(
        &self,
        token: &OAuthToken,
        now: i64,
        max_pending: u64,
    ) -> Result<bool, AuthStoreError> {
        self.write(|sql| {
            sql.execute(
                "DELETE FROM oauth_tokens WHERE kind = 'request' AND expires_at <= ?1",
                &[now.into()],
            )?;
            let pending = sql
                .query_opt(
                    "SELECT count(*) FROM oauth_tokens WHERE consumer = ?1 AND kind = 'request'",
                    &[(&token.consumer).into()],
                )?
                .map_or(Ok(0), |row| row.int(0))?;
            if u64::try_from(pending).unwrap_or(0) >= max_pending {
                return Ok(false);
            }
            insert_token(sql, token)?;
            Ok(true)
        })
    }

    /// A token by its public value.
    pub fn oauth_token(&self, token: &str) -> Result<Option<OAuthToken>, AuthStoreError> {
        self.read(|sql| {
            sql.query_opt(
                &format!("SELECT {TOKEN_COLUMNS} FROM oauth_tokens WHERE token = ?1"),
                &[token.into()],
            )?
            .map(|row| token_row(&row))
            .transpose()
        })
    }

    /// Records `username`'s approval of a request token, once: `false` if it was
    /// already approved (or is gone).
    pub fn approve_request_token(
        &self,
        token: &str,
        username: &str,
        verifier: &str,
    ) -> Result<bool, AuthStoreError> {
        let approved = self.write(|sql| {
            sql.execute(
                "UPDATE oauth_tokens SET username = ?2, verifier = ?3
                 WHERE token = ?1 AND kind = 'request' AND username IS NULL AND revoked = 0",
                &[token.into(), username.into(), verifier.into()],
            )
        })?;
        Ok(approved == 1)
    }

    /// Exchanges an approved request token for `access`, once: `false` if the request
    /// token was already exchanged (or is gone).
    pub fn exchange_request_token(
        &self,
        request: &str,
        access: &OAuthToken,
    ) -> Result<bool, AuthStoreError> {
        self.write(|sql| {
            let consumed = sql.execute(
                "DELETE FROM oauth_tokens WHERE token = ?1 AND kind = 'request' AND username IS NOT NULL",
                &[request.into()],
            )?;
            if consumed != 1 {
                return Ok(false);
            }
            insert_token(sql, access)?;
            Ok(true)
        })
    }

    /// Every access token, newest first.
    pub fn access_tokens(&self) -> Result<Vec<OAuthToken>, AuthStoreError> {
        self.read(|sql| {
            sql.query(
                &format!(
                    "SELECT {TOKEN_COLUMNS} FROM oauth_tokens WHERE kind = 'access'
                     ORDER BY created_at DESC, token"
                ),
                &[],
            )?
            .iter()
            .map(token_row)
            .collect()
        })
    }

    /// Revokes a token.
    pub fn revoke_oauth_token(&self, token: &str) -> Result<(), AuthStoreError> {
        let revoked = self.write(|sql| {
            sql.execute(
                "UPDATE oauth_tokens SET revoked = 1 WHERE token = ?1",
                &[token.into()],
            )
        })?;
        if revoked == 0 {
            return Err(AuthStoreError::NotFound(token.to_owned()));
        }
        Ok(())
    }

    /// How many temporary credentials are stored.
    #[cfg(test)]
    pub fn request_tokens(&self) -> Result<i64, AuthStoreError> {
        self.read(|sql| {
            sql.query_opt(
                "SELECT count(*) FROM oauth_tokens WHERE kind = 'request'",
                &[],
            )?
            .map_or(Ok(0), |row| row.int(0))
        })
    }
}

fn insert_token(sql: &mut dyn Sql, token: &OAuthToken) -> Result<u64, AuthStoreError> {
    sql.execute(
        &format!(
            "INSERT INTO oauth_tokens ({TOKEN_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
        ),
        &[
            (&token.token).into(),
            (&token.secret).into(),
            token.kind.as_str().into(),
            (&token.consumer).into(),
            token.username.as_ref().into(),
            token.callback.as_ref().into(),
            token.verifier.as_ref().into(),
            token.expires_at.into(),
            i64::from(token.revoked).into(),
            token.created_at.into(),
        ],
    )
}

fn consumer_row(row: &Row) -> Result<Consumer, AuthStoreError> {
    Ok(Consumer {
        key: row.text(0)?,
        secret: row.text(1)?,
        name: row.text(2)?,
        callback: row.opt_text(3)?,
        revoked: row.int(4)? != 0,
        created_at: row.int(5)?,
    })
}

fn token_row(row: &Row) -> Result<OAuthToken, AuthStoreError> {
    Ok(OAuthToken {
        token: row.text(0)?,
        secret: row.text(1)?,
        kind: if row.text(2)? == "access" {
            TokenKind::Access
        } else {
            TokenKind::Request
        },
        consumer: row.text(3)?,
        username: row.opt_text(4)?,
        callback: row.opt_text(5)?,
        verifier: row.opt_text(6)?,
        expires_at: row.opt_int(7)?,
        revoked: row.int(8)? != 0,
        created_at: row.int(9)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, AuthStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = AuthStore::open(&dir.path().join("auth.db")).unwrap();
        (dir, store)
    }

    fn request_token(consumer: &str, token: &str, expires_at: i64) -> OAuthToken {
        OAuthToken {
            token: token.to_owned(),
            secret: "s".to_owned(),
            kind: TokenKind::Request,
            consumer: consumer.to_owned(),
            username: None,
            callback: Some("oob".to_owned()),
            verifier: None,
            expires_at: Some(expires_at),
            revoked: false,
            created_at: 0,
        }
    }

    #[test]
    fn expired_request_tokens_are_purged_and_pending_ones_bounded() {
        let (_dir, store) = store();
        for index in 0..3 {
            let token = request_token("app", &format!("old{index}"), 100);
            assert!(store.add_request_token(&token, 50, 10).unwrap());
        }
        store.revoke_oauth_token("old0").unwrap();
        assert_eq!(store.request_tokens().unwrap(), 3);
        // Made later: every expired one (denied or left waiting) is gone.
        assert!(
            store
                .add_request_token(&request_token("app", "new", 500), 200, 10)
                .unwrap()
        );
        assert_eq!(store.request_tokens().unwrap(), 1);
        assert!(store.oauth_token("old1").unwrap().is_none());

        for index in 0..9 {
            let token = request_token("app", &format!("more{index}"), 500);
            assert!(store.add_request_token(&token, 200, 10).unwrap());
        }
        let over = request_token("app", "over", 500);
        assert!(
            !store.add_request_token(&over, 200, 10).unwrap(),
            "ten are waiting"
        );
        assert!(store.oauth_token("over").unwrap().is_none());
        let other = request_token("other", "theirs", 500);
        assert!(
            store.add_request_token(&other, 200, 10).unwrap(),
            "per consumer"
        );
        // Once they expire, there is room again.
        assert!(store.add_request_token(&over, 500, 10).unwrap());
        assert_eq!(store.request_tokens().unwrap(), 1);
    }
}
