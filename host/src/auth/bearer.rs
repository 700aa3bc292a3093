//! Opaque API tokens (`Authorization: Bearer pst_...`, RFC 6750).
//!
//! A token is 32 random bytes, shown once when made and stored only as its SHA-256:
//! a stolen database does not hold usable tokens, and since the token has 256 bits of
//! entropy a plain hash is enough (no salt or slow hash is needed). Tokens may be
//! limited to scopes and may expire; revoking one takes effect on the next request.
//!
//! A failed login counts against the token's id (the start of its hash, as `piston
//! tokens list` shows it). A token is 47 characters: anything longer than
//! [`MAX_CREDENTIAL_BYTES`] is refused before it is hashed.

use super::store::{AuthStore, AuthStoreError, Token, now};
use super::{
    Account, Authenticator, MAX_CREDENTIAL_BYTES, Principal, Refusal, RequestHead, header_value,
    quoted, random_text,
};
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
        id: token_id(&token),
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

/// A token's public id. Derived from the hash: it tells nothing about the token, and is
/// stable.
fn token_id(token: &str) -> String {
    hex::encode(&token_hash(token)[..6])
}

/// The account a token's failed logins count against: its id.
fn token_account(token: &str) -> Account {
    Account::named("token", &token_id(token))
}

/// An API token from the request, if it carries one (a bearer credential that is not
/// an API token is perhaps a JWT, for the next authenticator).
fn api_token<'a>(head: &RequestHead<'a>) -> Option<&'a str> {
    head.credentials("Bearer")
        .filter(|token| token.starts_with(TOKEN_PREFIX))
        .map(str::trim)
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

    fn account(&self, head: &RequestHead<'_>) -> Option<Account> {
        api_token(head)
            .filter(|token| token.len() <= MAX_CREDENTIAL_BYTES)
            .map(token_account)
    }

    async fn authenticate(&self, head: &RequestHead<'_>) -> Result<Option<Principal>, Refusal> {
        let Some(token) = api_token(head) else {
            return Ok(None);
        };
        if token.len() > MAX_CREDENTIAL_BYTES {
            return Err(Refusal::too_long("Bearer"));
        }
        let account = Some(token_account(token));
        let hash = token_hash(token);
        // The token and its user, in one trip to the store.
        let (record, user) = self
            .store
            .reading(move |store| {
                let record = store.token_by_hash(&hash)?;
                let user = match &record {
                    Some(record) => store.user(&record.username)?,
                    None => None,
                };
                Ok::<_, AuthStoreError>((record, user))
            })
            .await
            .map_err(|error| {
                tracing::debug!("cannot read the token: {error}");
                Refusal::unavailable()
            })?;
        let record = record.filter(|record| !record.revoked).ok_or_else(|| {
            Refusal::unauthorized("the token is not valid (unknown or revoked)")
                .for_account(account)
        })?;
        if record.expires_at.is_some_and(|expires| expires <= now()) {
            return Err(Refusal::unauthorized("the token has expired").for_account(account));
        }
        let user =
            user.ok_or_else(|| Refusal::unauthorized("the token's user no longer exists"))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oversized_tokens_are_refused_unhashed_and_refusals_name_the_token() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(AuthStore::open(&dir.path().join("auth.db")).unwrap());
        let tokens = ApiTokens::new(store, "piston");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let (method, uri) = (http::Method::GET, http::Uri::from_static("/"));
        let answer = |headers: &http::HeaderMap| -> Result<Option<Principal>, Refusal> {
            let head = RequestHead {
                method: &method,
                uri: &uri,
                headers,
                client: "192.0.2.1".parse().unwrap(),
                form: None,
                request_id: "test",
            };
            let account = tokens.account(&head);
            let answer = runtime.block_on(tokens.authenticate(&head));
            if let Err(refusal) = &answer {
                assert_eq!(refusal.account, account, "the account the gate checked");
            }
            answer
        };
        let mut headers = http::HeaderMap::new();
        let huge = format!("Bearer {TOKEN_PREFIX}{}", "a".repeat(1 << 20));
        headers.insert(http::header::AUTHORIZATION, huge.parse().unwrap());
        let refusal = answer(&headers).unwrap_err();
        assert!(refusal.detail.contains("longer than"), "{}", refusal.detail);

        let forged = format!("Bearer {TOKEN_PREFIX}forged");
        headers.insert(http::header::AUTHORIZATION, forged.parse().unwrap());
        let refusal = answer(&headers).unwrap_err();
        assert_eq!(refusal.account, Some(token_account("pst_forged")));

        headers.insert(
            http::header::AUTHORIZATION,
            "Bearer eyJ.a.b".parse().unwrap(),
        );
        assert_eq!(
            answer(&headers),
            Ok(None),
            "a JWT is for the next authenticator"
        );
    }
}
