//! Authentication: who is calling, decided by the host before any plugin runs.
//!
//! Each scheme is an [`Authenticator`]: it looks at the request head and answers
//! "not my credentials" (`Ok(None)`), a [`Principal`], or a [`Refusal`]. A resource's
//! chain of authenticators (from `piston.toml`) is tried in order by the [`Gate`], which
//! also enforces anonymous methods, required scopes and the failed-login limit, and
//! builds the 401 (one `WWW-Authenticate` challenge per scheme) or 403 answer.
//!
//! Credentials live in their own SQLite file ([`AuthStore`]); the `piston users`,
//! `piston tokens` and `piston oauth` commands manage them. A scheme the host does not
//! have is an authenticator plugin (`plugin`), found in the registry by the name the
//! chain gives it.

mod basic;
mod bearer;
mod digest;
mod gate;
mod jwt;
mod lockout;
pub mod oauth;
mod password;
mod plugin;
pub mod settings;
mod store;

pub use self::bearer::{TOKEN_PREFIX, issue_token};
pub use self::gate::{AuthenticatorPlugins, Gate};
pub use self::password::{digest_secrets, hash as hash_password};
pub use self::settings::AuthSettings;
pub use self::store::{AuthStore, AuthStoreError, DigestSecrets, Token, User, now};

use crate::runtime::wit;
use async_trait::async_trait;
use http::header::{AUTHORIZATION, HeaderValue};
use http::{HeaderMap, StatusCode};
use std::borrow::Cow;
use std::net::IpAddr;

/// Who is calling.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    /// A username, or a token's subject.
    pub id: String,
    /// The authenticator that established it (`basic`, `jwt`, a plugin's name...).
    pub scheme: String,
    /// What the credential is limited to; `None` when it is not limited (a password,
    /// an API token made without scopes).
    pub scopes: Option<Vec<String>>,
    /// What else is known (a user's `first_name`, a JWT's payload).
    pub claims: Option<serde_json::Map<String, serde_json::Value>>,
}

impl Principal {
    /// The principal as the guest receives it.
    pub fn into_wit(self) -> wit::Principal {
        wit::Principal {
            id: self.id,
            scheme: self.scheme,
            scopes: self.scopes.unwrap_or_default(),
            claims: self
                .claims
                .map(|claims| serde_json::Value::Object(claims).to_string()),
        }
    }

    /// Whether the credential allows everything in `required`.
    fn has_scopes(&self, required: &[String]) -> bool {
        match &self.scopes {
            None => true,
            Some(granted) => required.iter().all(|scope| granted.contains(scope)),
        }
    }
}

/// Why credentials were refused. The detail goes to the client: it never holds a
/// secret or the value that was expected.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// 401 for credentials that are wrong, expired or malformed; 403 for valid ones
    /// that may not do this.
    pub status: StatusCode,
    /// What is wrong, for the client.
    pub detail: Cow<'static, str>,
    /// Digest: the nonce expired but the credentials were right; the client should
    /// retry with a fresh nonce (`stale=true`). Not a failed login.
    pub stale: bool,
}

impl Refusal {
    /// Wrong, expired or malformed credentials: 401, a failed login.
    pub fn unauthorized(detail: impl Into<Cow<'static, str>>) -> Refusal {
        Refusal {
            status: StatusCode::UNAUTHORIZED,
            detail: detail.into(),
            stale: false,
        }
    }

    /// An expired Digest nonce: 401 with `stale=true`, not a failed login.
    pub fn stale(detail: impl Into<Cow<'static, str>>) -> Refusal {
        Refusal {
            stale: true,
            ..Refusal::unauthorized(detail)
        }
    }

    /// Whether this refusal counts towards the client's failed-login limit.
    fn is_failed_login(&self) -> bool {
        self.status == StatusCode::UNAUTHORIZED && !self.stale
    }
}

/// What an authenticator may look at: the request before its body is read.
#[derive(Debug, Clone, Copy)]
pub struct RequestHead<'a> {
    /// The method.
    pub method: &'a http::Method,
    /// The request target.
    pub uri: &'a http::Uri,
    /// Every header.
    pub headers: &'a HeaderMap,
    /// The client's address, after the trusted-proxy rules.
    pub client: IpAddr,
    /// A form-encoded body, read before authentication when an OAuth signature may
    /// cover it.
    pub form: Option<&'a [u8]>,
    /// The host's id for the request, for log lines about it.
    pub request_id: &'a str,
}

impl<'a> RequestHead<'a> {
    /// The credentials in the `Authorization` header if it uses `scheme` (compared
    /// without case, RFC 9110 §11.1), without the scheme and its space.
    pub fn credentials(&self, scheme: &str) -> Option<&'a str> {
        let value = self.headers.get(AUTHORIZATION)?.to_str().ok()?;
        let (given, rest) = value.split_once(' ').unwrap_or((value, ""));
        given
            .eq_ignore_ascii_case(scheme)
            .then(|| rest.trim_start_matches(' '))
    }

    /// The scheme of the `Authorization` header, if there is one.
    fn scheme(&self) -> Option<&'a str> {
        let value = self.headers.get(AUTHORIZATION)?.to_str().ok()?;
        Some(value.split(' ').next().unwrap_or(value))
    }
}

/// One authentication scheme.
#[async_trait]
pub trait Authenticator: Send + Sync {
    /// The name `piston.toml` uses for it, and the principal's `scheme`.
    fn name(&self) -> &str;

    /// The `WWW-Authenticate` challenges it adds to a 401. `refusal` is set when this
    /// authenticator refused the request (so Digest can say `stale=true`, Bearer can
    /// say `error="invalid_token"`).
    fn challenges(&self, refusal: Option<&Refusal>, out: &mut Vec<HeaderValue>);

    /// Authenticates one request: `Ok(None)` when it carries no credentials for this
    /// scheme.
    async fn authenticate(&self, head: &RequestHead<'_>) -> Result<Option<Principal>, Refusal>;
}

/// `bytes` random bytes as base64url text: tokens, secrets, nonces.
fn random_text(bytes: usize) -> Result<String, AuthStoreError> {
    use base64::Engine;
    let mut random = vec![0u8; bytes];
    getrandom::fill(&mut random)
        .map_err(|error| AuthStoreError::Backend(format!("no randomness: {error}")))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random))
}

/// A header value from text that is known to be visible ASCII, else from its escape.
fn header_value(text: String) -> HeaderValue {
    HeaderValue::try_from(text).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

/// `text` as an RFC 9110 quoted-string.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}
