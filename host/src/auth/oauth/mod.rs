//! OAuth 1.0a (RFC 5849), as a provider: consumers registered with `piston oauth
//! consumers add` get temporary credentials, send the user to an authorization page,
//! exchange the approved credentials (with the verifier) for token credentials, and
//! sign resource requests with them.
//!
//! What django-piston got wrong is fixed here: consumer status is enforced on every
//! request, nonces are remembered only for the timestamp window (and a replay within
//! it is refused), tokens can be revoked, and no error shows the expected signature or
//! the base string.

mod page;
mod provider;
mod signature;
mod store;

pub use self::provider::{Endpoint, Provider, is_form};
pub(super) use self::store::SCHEMA;
pub use self::store::{Consumer, OAuthToken, TokenKind};

use self::signature::Signed;
use super::store::{AuthStore, AuthStoreError};
use super::{Authenticator, Principal, Refusal, RequestHead, header_value, quoted};
use async_trait::async_trait;
use http::header::HOST;
use http::{HeaderValue, StatusCode};
use std::sync::Arc;
use std::time::Duration;

/// Registers a consumer called `name` with a new key and secret; `callback`, when
/// given, is the prefix every callback it asks for must have.
pub fn register_consumer(
    store: &AuthStore,
    name: &str,
    callback: Option<String>,
) -> Result<Consumer, AuthStoreError> {
    let consumer = Consumer {
        key: super::random_text(18)?,
        secret: super::random_text(24)?,
        name: name.to_owned(),
        callback,
        revoked: false,
        created_at: super::now(),
    };
    store.add_consumer(&consumer)?;
    Ok(consumer)
}

/// Why an OAuth request is refused: 400 for a malformed one, 401 for wrong or stale
/// credentials (RFC 5849 §3.2).
#[derive(Debug)]
pub struct OAuthError {
    /// 400, 401, or 503 when the store failed.
    pub status: StatusCode,
    /// What is wrong, for the client.
    pub detail: String,
}

impl OAuthError {
    fn bad_request(detail: impl Into<String>) -> OAuthError {
        OAuthError {
            status: StatusCode::BAD_REQUEST,
            detail: detail.into(),
        }
    }

    fn unauthorized(detail: impl Into<String>) -> OAuthError {
        OAuthError {
            status: StatusCode::UNAUTHORIZED,
            detail: detail.into(),
        }
    }
}

impl From<AuthStoreError> for OAuthError {
    fn from(error: AuthStoreError) -> OAuthError {
        tracing::error!("OAuth credentials: {error}");
        OAuthError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            detail: "the credentials cannot be checked right now".to_owned(),
        }
    }
}

/// Which token a signed request must carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// None: a request for temporary credentials.
    NoToken,
    /// Approved temporary credentials, to exchange.
    RequestToken,
    /// Token credentials, to call a resource.
    AccessToken,
}

/// A request whose signature, timestamp and nonce checked out.
#[derive(Debug)]
pub struct Verified {
    /// Who signed it.
    pub consumer: Consumer,
    /// With which token.
    pub token: Option<OAuthToken>,
}

/// Checks signed requests.
pub struct Verifier {
    store: Arc<AuthStore>,
    window: Duration,
    public_url: Arc<str>,
}

impl Verifier {
    /// Accepts timestamps within `window` of now; signatures cover `public_url` (when
    /// set, the URL clients reach the server at) or the `Host` the request names.
    pub fn new(store: Arc<AuthStore>, window: Duration, public_url: &str) -> Verifier {
        Verifier {
            store,
            window,
            public_url: public_url.into(),
        }
    }

    /// The request's parameters (its `OAuth` credentials, query and form), for the
    /// URI it was sent to.
    fn collect(&self, head: &RequestHead<'_>) -> Result<Signed, OAuthError> {
        let (uri, headers) = (head.uri, head.headers);
        let base_uri = if self.public_url.is_empty() {
            let host = headers
                .get(HOST)
                .and_then(|host| host.to_str().ok())
                .or_else(|| uri.authority().map(|authority| authority.as_str()))
                .unwrap_or("localhost")
                .to_ascii_lowercase();
            let host = host.strip_suffix(":80").unwrap_or(&host);
            format!("http://{host}{}", uri.path())
        } else {
            format!("{}{}", self.public_url, uri.path())
        };
        Signed::collect(
            head.method.as_str(),
            base_uri,
            head.credentials("OAuth"),
            uri.query(),
            head.form,
        )
    }

    /// Checks the signature, timestamp, nonce, consumer and token of a request.
    fn verify(&self, signed: &Signed, expect: Expect) -> Result<Verified, OAuthError> {
        if signed
            .get("oauth_version")
            .is_some_and(|version| version != "1.0")
        {
            return Err(OAuthError::bad_request("`oauth_version` must be 1.0"));
        }
        let key = signed.required("oauth_consumer_key")?;
        signed.signature_method()?;
        let timestamp: i64 = signed
            .required("oauth_timestamp")?
            .parse()
            .map_err(|_| OAuthError::bad_request("`oauth_timestamp` is not a number"))?;
        let nonce = signed.required("oauth_nonce")?;
        let now = super::now();
        let window = self.window.as_secs() as i64;
        if (now - timestamp).abs() > window {
            return Err(OAuthError::unauthorized(format!(
                "`oauth_timestamp` is more than {window} seconds from the server's clock (stale, or from the future)"
            )));
        }

        let consumer = self
            .store
            .consumer(key)?
            .ok_or_else(|| OAuthError::unauthorized("the consumer key is not known"))?;
        if consumer.revoked {
            return Err(OAuthError::unauthorized("the consumer has been revoked"));
        }
        let token = match expect {
            Expect::NoToken => {
                if signed
                    .get("oauth_token")
                    .is_some_and(|token| !token.is_empty())
                {
                    return Err(OAuthError::bad_request(
                        "temporary credentials are requested without `oauth_token`",
                    ));
                }
                None
            }
            Expect::RequestToken | Expect::AccessToken => {
                let kind = if expect == Expect::RequestToken {
                    TokenKind::Request
                } else {
                    TokenKind::Access
                };
                let token = self
                    .store
                    .oauth_token(signed.required("oauth_token")?)?
                    .filter(|token| {
                        token.kind == kind
                            && token.consumer == consumer.key
                            && !token.revoked
                            && token.expires_at.is_none_or(|expires| expires > now)
                    })
                    .ok_or_else(|| {
                        OAuthError::unauthorized(
                            "the token is not valid (unknown, expired or revoked)",
                        )
                    })?;
                Some(token)
            }
        };
        let token_secret = token.as_ref().map_or("", |token| token.secret.as_str());
        if !signed.verify(&consumer.secret, token_secret)? {
            return Err(OAuthError::unauthorized("the signature is invalid"));
        }
        if !self
            .store
            .use_nonce(&consumer.key, nonce, timestamp, now - window)?
        {
            return Err(OAuthError::unauthorized(
                "the nonce was already used with this timestamp (a replayed request)",
            ));
        }
        Ok(Verified { consumer, token })
    }
}

/// The `oauth1` authenticator: resource requests signed with token credentials.
pub struct OAuth1 {
    verifier: Arc<Verifier>,
    challenge: HeaderValue,
}

impl OAuth1 {
    /// Checks requests with `verifier`, challenging with `realm`.
    pub fn new(verifier: Arc<Verifier>, realm: &str) -> OAuth1 {
        OAuth1 {
            verifier,
            challenge: challenge(realm),
        }
    }
}

/// `OAuth realm="..."`.
fn challenge(realm: &str) -> HeaderValue {
    header_value(format!("OAuth realm={}", quoted(realm)))
}

#[async_trait]
impl Authenticator for OAuth1 {
    fn name(&self) -> &str {
        "oauth1"
    }

    fn challenges(&self, _refusal: Option<&Refusal>, out: &mut Vec<HeaderValue>) {
        out.push(self.challenge.clone());
    }

    async fn authenticate(&self, head: &RequestHead<'_>) -> Result<Option<Principal>, Refusal> {
        let refuse = |error: OAuthError| Refusal {
            status: error.status,
            detail: error.detail.into(),
            stale: false,
        };
        let signed = self.verifier.collect(head).map_err(refuse)?;
        if !signed.has_credentials() {
            return Ok(None);
        }
        let verified = self
            .verifier
            .verify(&signed, Expect::AccessToken)
            .map_err(refuse)?;
        let username = verified
            .token
            .and_then(|token| token.username)
            .unwrap_or_default();
        let user = self
            .verifier
            .store
            .user(&username)
            .ok()
            .flatten()
            .ok_or_else(|| Refusal::unauthorized("the token's user no longer exists"))?;
        let mut principal = user.principal("oauth1");
        principal
            .claims
            .get_or_insert_with(Default::default)
            .insert("consumer".to_owned(), verified.consumer.name.into());
        Ok(Some(principal))
    }
}
