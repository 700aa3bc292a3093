//! OAuth 1.0a (RFC 5849), as a provider: consumers registered with `piston oauth
//! consumers add` get temporary credentials, send the user to an authorization page,
//! exchange the approved credentials (with the verifier) for token credentials, and
//! sign resource requests with them.
//!
//! What django-piston got wrong is fixed here: consumer status is enforced on every
//! request, nonces are remembered only for the timestamp window (and a replay within
//! it is refused), tokens can be revoked, and no error shows the expected signature or
//! the base string.
//!
//! Against abuse: the endpoints are throttled per client address (`throttle`); what a
//! client sends is bounded before it is parsed (`signature`); cheap checks (the
//! timestamp, the consumer, the token, all looked up by key) come before the
//! signature is computed and the nonce is recorded; timestamps are compared without
//! arithmetic that can overflow; expired temporary credentials are purged as new ones
//! are written (`store`). Nonces are recorded by the [`Coordination`] backend, so a
//! replay is refused on whichever host it reaches, and it forgets them when their
//! window has passed; when it cannot answer, the request is refused with 503. A failed
//! login counts against the token the request names, else its consumer key.

mod page;
mod provider;
pub(crate) mod signature;
mod store;
mod throttle;

pub use self::provider::{Endpoint, Provider, is_form};
pub use self::store::{Consumer, OAuthToken, TokenKind};
pub(super) use self::throttle::EndpointThrottle;

use self::signature::Signed;
use super::store::{AuthStore, AuthStoreError};
use super::{Account, Authenticator, Principal, Refusal, RequestHead, header_value, quoted};
use crate::coordination::{Coordination, NonceUse, OAuthNonce};
use crate::reachability::RETRY_AFTER;
use async_trait::async_trait;
use http::header::HOST;
use http::{HeaderValue, StatusCode};
use std::sync::Arc;
use std::time::Duration;

/// Checks a callback a consumer is to be registered with: an absolute http(s) URL
/// without user name, password or fragment; else what is wrong with it.
pub fn check_registered_callback(callback: &str) -> Result<(), &'static str> {
    provider::web_url(callback).map(drop)
}

/// Registers a consumer called `name` with a new key and secret; `callback`, when
/// given, is where every callback it asks for must lead: the same scheme, host and
/// port, and a path at or under its path (see `provider`).
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
    /// For a 429: seconds until the client may try again.
    pub retry_after: Option<u64>,
}

impl OAuthError {
    fn bad_request(detail: impl Into<String>) -> OAuthError {
        OAuthError {
            status: StatusCode::BAD_REQUEST,
            detail: detail.into(),
            retry_after: None,
        }
    }

    fn unauthorized(detail: impl Into<String>) -> OAuthError {
        OAuthError {
            status: StatusCode::UNAUTHORIZED,
            detail: detail.into(),
            retry_after: None,
        }
    }

    /// The nonce cannot be recorded: the coordination backend does not answer.
    fn unavailable() -> OAuthError {
        OAuthError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            detail: "the request cannot be checked right now; try again shortly".to_owned(),
            retry_after: Some(RETRY_AFTER.as_secs()),
        }
    }
}

impl From<AuthStoreError> for OAuthError {
    fn from(error: AuthStoreError) -> OAuthError {
        tracing::debug!("OAuth credentials: {error}");
        OAuthError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            detail: "the credentials cannot be checked right now; try again shortly".to_owned(),
            retry_after: Some(crate::reachability::RETRY_AFTER.as_secs()),
        }
    }
}

/// Which token a signed request must carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedToken {
    /// None: a request for temporary credentials.
    Absent,
    /// Approved temporary credentials, to exchange.
    Request,
    /// Token credentials, to call a resource.
    Access,
}

/// A request whose signature, timestamp and nonce checked out.
#[derive(Debug)]
pub struct Verified {
    /// Who signed it.
    pub consumer: Consumer,
    /// With which token.
    pub token: Option<OAuthToken>,
    /// Its nonce, recorded last.
    nonce: OAuthNonce,
}

/// Checks signed requests.
pub struct Verifier {
    store: Arc<AuthStore>,
    coordination: Arc<Coordination>,
    window: Duration,
    public_url: Arc<str>,
}

impl Verifier {
    /// Accepts timestamps within `window` of now, recording nonces in `coordination`;
    /// signatures cover `public_url` (when set, the URL clients reach the server at) or
    /// the `Host` the request names.
    pub fn new(
        store: Arc<AuthStore>,
        coordination: Arc<Coordination>,
        window: Duration,
        public_url: &str,
    ) -> Verifier {
        Verifier {
            store,
            coordination,
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

    /// Checks the signature, timestamp, nonce, consumer and token of a request: the
    /// cheap checks first, then the consumer and the token (by key, on the store's read
    /// lane), then the signature, and last the nonce (a write).
    async fn verify(
        self: &Arc<Self>,
        signed: &Arc<Signed>,
        expect: ExpectedToken,
    ) -> Result<Verified, OAuthError> {
        let (verifier, checked) = (self.clone(), signed.clone());
        let verified = self
            .store
            .reading(move |_| verifier.check(&checked, expect))
            .await?;
        match self
            .coordination
            .use_nonce(&verified.nonce, self.window)
            .await
        {
            Ok(NonceUse::Fresh) => Ok(verified),
            Ok(NonceUse::Replayed) => Err(OAuthError::unauthorized(
                "the nonce was already used with this timestamp (a replayed request)",
            )),
            Ok(NonceUse::Forgotten) => Err(stale_timestamp(self.window.as_secs())),
            Err(_) => Err(OAuthError::unavailable()),
        }
    }

    /// Everything [`verify`](Verifier::verify) checks but the nonce.
    fn check(&self, signed: &Signed, expect: ExpectedToken) -> Result<Verified, OAuthError> {
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
        let window = self.window.as_secs();
        if !within_window(now, timestamp, window) {
            return Err(stale_timestamp(window));
        }

        let consumer = self
            .store
            .consumer(key)?
            .ok_or_else(|| OAuthError::unauthorized("the consumer key is not known"))?;
        if consumer.revoked {
            return Err(OAuthError::unauthorized("the consumer has been revoked"));
        }
        let token = match expect {
            ExpectedToken::Absent => {
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
            ExpectedToken::Request | ExpectedToken::Access => {
                let kind = if expect == ExpectedToken::Request {
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
        let nonce = OAuthNonce::new(&consumer.key, nonce, timestamp);
        Ok(Verified {
            consumer,
            token,
            nonce,
        })
    }
}

/// Whether a client's `timestamp` is within `window` seconds of `now`, whatever the
/// numbers (no subtraction that can overflow).
fn within_window(now: i64, timestamp: i64, window: u64) -> bool {
    now.abs_diff(timestamp) <= window
}

fn stale_timestamp(window: u64) -> OAuthError {
    OAuthError::unauthorized(format!(
        "`oauth_timestamp` is more than {window} seconds from the server's clock (stale, or from the future)"
    ))
}

/// The account a signed request's failed logins count against: its token, else its
/// consumer key.
fn claimed_account(signed: &Signed) -> Option<Account> {
    signed
        .get("oauth_token")
        .filter(|token| !token.is_empty())
        .map(|token| Account::named("oauth-token", token))
        .or_else(|| {
            signed
                .get("oauth_consumer_key")
                .map(|key| Account::named("oauth-consumer", key))
        })
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

    fn account(&self, head: &RequestHead<'_>) -> Option<Account> {
        claimed_account(&self.verifier.collect(head).ok()?)
    }

    async fn authenticate(&self, head: &RequestHead<'_>) -> Result<Option<Principal>, Refusal> {
        let refuse = |error: OAuthError| Refusal {
            status: error.status,
            detail: error.detail.into(),
            stale: false,
            // The nonce or the store could not be reached: 503, try again shortly.
            unavailable: error.status == StatusCode::SERVICE_UNAVAILABLE,
            account: None,
        };
        let signed = self.verifier.collect(head).map_err(refuse)?;
        if !signed.has_credentials() {
            return Ok(None);
        }
        let account = claimed_account(&signed);
        let verified = self
            .verifier
            .verify(&Arc::new(signed), ExpectedToken::Access)
            .await
            .map_err(|error| refuse(error).for_account(account))?;
        let username = verified
            .token
            .as_ref()
            .and_then(|token| token.username.clone())
            .unwrap_or_default();
        let user = self
            .verifier
            .store
            .reading(move |store| store.user(&username))
            .await
            .map_err(|error| {
                tracing::debug!("cannot read the token's user: {error}");
                Refusal::unavailable()
            })?;
        let user =
            user.ok_or_else(|| Refusal::unauthorized("the token's user no longer exists"))?;
        let mut principal = user.principal("oauth1");
        principal
            .claims
            .get_or_insert_with(Default::default)
            .insert("consumer".to_owned(), verified.consumer.name.into());
        Ok(Some(principal))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_compare_without_overflow() {
        let now = 1_700_000_000;
        assert!(within_window(now, now, 300));
        assert!(within_window(now, now - 300, 300));
        assert!(!within_window(now, now - 301, 300));
        assert!(!within_window(now, now + 301, 300));
        assert!(!within_window(now, i64::MIN, 300));
        assert!(!within_window(now, i64::MAX, 300));
        assert!(!within_window(i64::MIN, i64::MAX, 300));
        assert!(within_window(i64::MIN, i64::MAX, u64::MAX));
        assert!(within_window(i64::MAX, i64::MAX, 0));
    }

    fn verifier() -> (tempfile::TempDir, Arc<AuthStore>, Verifier) {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(AuthStore::open(&dir.path().join("auth.db")).unwrap());
        let verifier = Verifier::new(
            store.clone(),
            Arc::new(Coordination::memory()),
            Duration::from_secs(300),
            "https://api.example",
        );
        (dir, store, verifier)
    }

    fn signed(params: &str) -> Signed {
        Signed::collect(
            "POST",
            "https://api.example/x".to_owned(),
            Some(params),
            None,
            None,
        )
        .unwrap()
    }

    #[test]
    fn extreme_timestamps_are_stale_not_a_panic() {
        let (_dir, store, verifier) = verifier();
        let consumer = register_consumer(&store, "App", None).unwrap();
        for timestamp in ["-9223372036854775808", "9223372036854775807", "0"] {
            let request = signed(&format!(
                r#"oauth_consumer_key="{}", oauth_signature_method="PLAINTEXT", oauth_timestamp="{timestamp}", oauth_nonce="n", oauth_signature="x""#,
                consumer.key
            ));
            let error = verifier.check(&request, ExpectedToken::Absent).unwrap_err();
            assert_eq!(error.status, StatusCode::UNAUTHORIZED, "{timestamp}");
            assert!(error.detail.contains("oauth_timestamp"), "{}", error.detail);
        }
        let request = signed(
            r#"oauth_consumer_key="k", oauth_signature_method="PLAINTEXT", oauth_timestamp="99999999999999999999", oauth_nonce="n", oauth_signature="x""#,
        );
        let error = verifier.check(&request, ExpectedToken::Absent).unwrap_err();
        assert_eq!(error.status, StatusCode::BAD_REQUEST, "{}", error.detail);
    }

    #[test]
    fn failures_count_against_the_token_else_the_consumer() {
        let with_token = signed(r#"oauth_consumer_key="k", oauth_token="t""#);
        assert_eq!(
            claimed_account(&with_token),
            Some(Account::named("oauth-token", "t"))
        );
        let without = signed(r#"oauth_consumer_key="k", oauth_token="""#);
        assert_eq!(
            claimed_account(&without),
            Some(Account::named("oauth-consumer", "k"))
        );
        assert_eq!(claimed_account(&signed(r#"oauth_nonce="n""#)), None);
    }
}
