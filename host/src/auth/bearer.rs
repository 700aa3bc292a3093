//! Opaque API tokens (`Authorization: Bearer pst_...`, RFC 6750).
//!
//! A token is 32 random bytes, shown once when made and stored only as its SHA-256:
//! a stolen database does not hold usable tokens, and since the token has 256 bits of
//! entropy a plain hash is enough (no salt or slow hash is needed). Tokens may be
//! limited to scopes and may expire; revoking one takes effect on the next request.

use super::store::{AuthStore, AuthStoreError, Token, now};
use super::{Authenticator, Principal, Refusal, RequestHead, header_value, quoted, random_text};
use async_trait::async_trait;
use http::HeaderValue;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// What every API token starts with, so that it is recognisable (in a leaked file, by
/// secret scanners) and told apart from a JWT.
pub const TOKEN_PREFIX: &str = "pst_";

/// Makes a token for `username` and stores its hash. Returns the record and the token,
/// which is not stored anywhere and cannot be shown again.
pub fn issue_token(
    store: &AuthStore,
    username: &str,
    scopes: Vec<String>,
    expires_at: Option<i64>,
) -> Result<(Token, String), AuthStoreError> {
    let token = format!("{TOKEN_PREFIX}{}", random_text(32)?);
    let record = Token {
        // Derived from the hash: it tells nothing about the token, and is stable.
        id: hex::encode(&token_hash(&token)[..6]),
        hash: token_hash(&token),
        username: username.to_owned(),
        scopes,
        expires_at,
        revoked: false,
        created_at: now(),
    };
    store.add_token(&record)?;
    Ok((record, token))
}

fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// The `bearer` authenticator.
pub struct ApiTokens {
    store: Arc<AuthStore>,
    realm: String,
}

impl ApiTokens {
    /// Tokens from `store`, challenging with `realm`.
    pub fn new(store: Arc<AuthStore>, realm: &str) -> ApiTokens {
        ApiTokens {
            store,
            realm: quoted(realm),
        }
    }
}

#[async_trait]
impl Authenticator for ApiTokens {
    fn name(&self) -> &str {
        "bearer"
    }

    fn challenges(&self, refusal: Option<&Refusal>, out: &mut Vec<HeaderValue>) {
        out.push(bearer_challenge(&self.realm, refusal));
    }

    async fn authenticate(&self, head: &RequestHead<'_>) -> Result<Option<Principal>, Refusal> {
        let Some(token) = head.credentials("Bearer") else {
            return Ok(None);
        };
        if !token.starts_with(TOKEN_PREFIX) {
            // Not ours: perhaps a JWT, for the next authenticator.
            return Ok(None);
        }
        let record = self
            .store
            .token_by_hash(&token_hash(token.trim()))
            .map_err(|error| {
                tracing::error!("cannot read the token: {error}");
                Refusal::unauthorized("the token cannot be checked right now")
            })?
            .filter(|record| !record.revoked)
            .ok_or_else(|| Refusal::unauthorized("the token is not valid (unknown or revoked)"))?;
        if record.expires_at.is_some_and(|expires| expires <= now()) {
            return Err(Refusal::unauthorized("the token has expired"));
        }
        let user = self
            .store
            .user(&record.username)
            .ok()
            .flatten()
            .ok_or_else(|| Refusal::unauthorized("the token's user no longer exists"))?;
        let mut principal = user.principal("bearer");
        if !record.scopes.is_empty() {
            principal.scopes = Some(record.scopes);
        }
        Ok(Some(principal))
    }
}

/// `Bearer realm="..."`, with RFC 6750's `error="invalid_token"` when a token was
/// refused.
pub(super) fn bearer_challenge(quoted_realm: &str, refusal: Option<&Refusal>) -> HeaderValue {
    header_value(match refusal {
        Some(refusal) => format!(
            "Bearer realm={quoted_realm}, error=\"invalid_token\", error_description={}",
            quoted(&refusal.detail)
        ),
        None => format!("Bearer realm={quoted_realm}"),
    })
}
