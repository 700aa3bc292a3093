//! Authentication: who is calling, decided by the host before any plugin runs.
//!
//! Each scheme is an [`Authenticator`]: it looks at the request head and answers
//! "not my credentials" (`Ok(None)`), a [`Principal`], or a [`Refusal`]. A resource's
//! chain of authenticators (from `piston.toml`) is tried in order by the [`Gate`], which
//! also enforces anonymous methods, required scopes and the failed-login limit, and
//! builds the 401 (one `WWW-Authenticate` challenge per scheme) or 403 answer.
//!
//! Everything here reads client input before it knows who the client is, so every
//! parser is bounded: credentials longer than [`MAX_CREDENTIAL_BYTES`] are refused before
//! they are decoded, no parser recurses or goes back over its input, and numbers from
//! the client are compared with checked or saturating arithmetic.
//!
//! Credentials live in their own SQLite file ([`AuthStore`]); the `piston users`,
//! `piston tokens` and `piston oauth` commands manage them. A scheme the host does not
//! have is an authenticator plugin (`plugin`), found in the registry by the name the
//! chain gives it.

pub(crate) mod basic;
pub(crate) mod bearer;
mod database;
pub(crate) mod digest;
mod gate;
pub(crate) mod jwt;
mod lockout;
pub mod oauth;
mod oauth_schema;
mod password;
mod plugin;
pub mod settings;
mod store;

pub use self::bearer::{TOKEN_PREFIX, issue_token};
pub use self::gate::{Denied, Gate};
pub use self::password::{digest_secrets, hash as hash_password};
pub use self::store::{AuthStore, AuthStoreError, Token, User, now};

use crate::runtime::wit;
use async_trait::async_trait;
use http::header::{AUTHORIZATION, HeaderValue};
use http::{HeaderMap, StatusCode};
use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;

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

/// The most bytes of credentials (the `Authorization` value after its scheme) any
/// scheme decodes; longer ones are refused unread.
pub const MAX_CREDENTIAL_BYTES: usize = 8 * 1024;

/// The account credentials claim, named before they are checked: what the failed-login
/// limit counts per account (see `lockout`).
///
/// Kept as 16 bytes of SHA-256 of the kind and the name, so that a table of accounts
/// costs the same per entry however long the names clients send.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Account([u8; 16]);

impl Account {
    /// A user of the credentials database, by username (Basic, Digest, the OAuth
    /// authorization page: one account however the password is sent).
    pub fn user(username: &str) -> Account {
        Account::named("user", username)
    }

    /// An identity of another `kind` (`token`, `jwt`, `oauth`...), by name.
    pub fn named(kind: &str, name: &str) -> Account {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        hash.update(kind.as_bytes());
        hash.update([0]);
        hash.update(name.as_bytes());
        let digest = hash.finalize();
        let mut bytes = [0; 16];
        bytes.copy_from_slice(&digest[..16]);
        Account(bytes)
    }
}

impl std::fmt::Debug for Account {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "Account({})", hex::encode(self.0))
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
    /// The credentials could not be checked: a backend they need (the coordination
    /// backend, the store) does not answer. 503 with `Retry-After`; not a failed login.
    pub unavailable: bool,
    /// The account the refused credentials claimed, when the scheme names one: the
    /// failed login counts against it (and against it from this client address) as
    /// well as against the address.
    pub account: Option<Account>,
}

impl Refusal {
    /// Wrong, expired or malformed credentials: 401, a failed login.
    pub fn unauthorized(detail: impl Into<Cow<'static, str>>) -> Refusal {
        Refusal {
            status: StatusCode::UNAUTHORIZED,
            detail: detail.into(),
            stale: false,
            unavailable: false,
            account: None,
        }
    }

    /// Credentials longer than [`MAX_CREDENTIAL_BYTES`]: refused unread.
    pub fn too_long(scheme: &str) -> Refusal {
        Refusal::unauthorized(format!(
            "the {scheme} credentials are longer than {MAX_CREDENTIAL_BYTES} bytes"
        ))
    }

    /// The same refusal, counted against `account`.
    pub fn for_account(self, account: Option<Account>) -> Refusal {
        Refusal { account, ..self }
    }

    /// Credentials that cannot be checked now because a backend they need (the
    /// credentials' database, the coordination backend) does not answer (its
    /// reachability logs why): 503 with `Retry-After`, neither a failed login nor a
    /// pass.
    pub fn unavailable() -> Refusal {
        Refusal {
            status: StatusCode::SERVICE_UNAVAILABLE,
            detail: CANNOT_CHECK.into(),
            stale: false,
            unavailable: true,
            account: None,
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

    /// The scheme of the `Authorization` header, if there is one (and is short enough
    /// to be a scheme name: it goes into error messages).
    fn scheme(&self) -> Option<&'a str> {
        let value = self.headers.get(AUTHORIZATION)?.to_str().ok()?;
        let scheme = value.split(' ').next().unwrap_or(value);
        (scheme.len() <= 32).then_some(scheme)
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

    /// The account the request's credentials for this scheme claim, named without
    /// checking them (and without any expensive work): the gate refuses the request
    /// before [`authenticate`](Authenticator::authenticate) when that account, or that
    /// account from this client address, is over its failed-login limit. `None` when
    /// the request has no credentials for this scheme, or they name no account (then
    /// only the client address is counted).
    fn account(&self, _head: &RequestHead<'_>) -> Option<Account> {
        None
    }

    /// Authenticates one request: `Ok(None)` when it carries no credentials for this
    /// scheme. A refusal of credentials that name an account carries it.
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

/// The user called `username`, read on the credentials' read lane. A database that
/// cannot be read refuses the request (and says why in the log) rather than letting it
/// through.
async fn read_user(users: &Arc<AuthStore>, username: &str) -> Result<Option<User>, Refusal> {
    let name = username.to_owned();
    users
        .reading(move |users| users.user(&name))
        .await
        .map_err(|error| {
            tracing::debug!("cannot read the user: {error}");
            Refusal::unavailable()
        })
}

/// What a client is told when its credentials cannot be checked now.
const CANNOT_CHECK: &str = "the credentials cannot be checked right now; try again shortly";
