//! Write [Piston] authenticator plugins in Rust: an authentication scheme the host
//! does not have built in (an API key header, a signed cookie, a company SSO token).
//!
//! The host calls the plugin for requests to resources whose chain in `piston.toml`
//! names it, before the body is read. The plugin looks at the request head and says
//! "not my credentials", "this is who is calling", or "refused".
//!
//! ```
//! use piston_guest_auth::{Authenticate, Identity, Refusal, RequestHead};
//!
//! struct Staff;
//!
//! impl Authenticate for Staff {
//!     const CHALLENGE: &'static str = r#"Staff header="x-staff-badge""#;
//!
//!     fn authenticate(head: &RequestHead) -> Result<Option<Identity>, Refusal> {
//!         match head.header("x-staff-badge") {
//!             None => Ok(None),
//!             Some("1234") => Ok(Some(Identity::new("alice").scopes(["posts:write"]))),
//!             Some(_) => Err(Refusal::unauthorized("unknown badge")),
//!         }
//!     }
//! }
//!
//! // In the plugin crate (a `cdylib` built for `wasm32-wasip2`):
//! // piston_guest_auth::export_authenticator!(Staff);
//! ```
//!
//! The plugin's name (what `piston.toml` chains use, and the `scheme` of the
//! principals it establishes) and version come from its `Cargo.toml`. Its settings
//! ([`config`]) and data ([`kv`]) work as in a handler plugin.
//!
//! [Piston]: https://github.com/piston-rs/piston

#![warn(missing_docs)]

pub mod bindings;

pub use piston_guest::{config, kv};

use crate::bindings::exports::piston::handler::authentication as wit;
use piston_guest::Principal;

/// A custom authentication scheme.
pub trait Authenticate {
    /// The `WWW-Authenticate` challenge the host sends on a 401 to a request that
    /// offered no credentials, e.g. `ApiKey header="x-api-key"`.
    const CHALLENGE: &'static str;

    /// Authenticates one request: `Ok(None)` when it carries no credentials for this
    /// scheme (the host tries the next authenticator, then anonymous access).
    fn authenticate(head: &RequestHead) -> Result<Option<Identity>, Refusal>;
}

/// What the host knows of a request before its body is read.
pub struct RequestHead {
    inner: wit::RequestHead,
}

impl RequestHead {
    /// The method, upper-case.
    pub fn method(&self) -> &str {
        &self.inner.method
    }

    /// The request path.
    pub fn path(&self) -> &str {
        &self.inner.path
    }

    /// The raw query string, without the `?`.
    pub fn query(&self) -> &str {
        &self.inner.query
    }

    /// The first value of the header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.inner
            .headers
            .iter()
            .find(|(given, _)| given.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Every header, names lower-case, in the order received.
    pub fn headers(&self) -> &[(String, String)] {
        &self.inner.headers
    }

    /// The client's IP address, after the host's trusted-proxy rules.
    pub fn client_addr(&self) -> &str {
        &self.inner.client_addr
    }
}

/// Who is calling, as this scheme established it.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    id: String,
    scopes: Vec<String>,
    claims: serde_json::Map<String, serde_json::Value>,
}

impl Identity {
    /// The caller `id` (a username, a key's owner), with no scope limit.
    pub fn new(id: impl Into<String>) -> Identity {
        Identity {
            id: id.into(),
            scopes: Vec::new(),
            claims: serde_json::Map::new(),
        }
    }

    /// Limits the credential to these scopes (resources may require some).
    pub fn scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Identity {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Adds a claim handlers can read from the principal.
    pub fn claim(
        mut self,
        name: impl Into<String>,
        value: impl Into<serde_json::Value>,
    ) -> Identity {
        self.claims.insert(name.into(), value.into());
        self
    }

    fn into_principal(self) -> Principal {
        Principal {
            id: self.id,
            // The host sets the scheme to the plugin's name.
            scheme: String::new(),
            scopes: self.scopes,
            claims: (!self.claims.is_empty())
                .then(|| serde_json::Value::Object(self.claims).to_string()),
        }
    }
}

/// Why credentials are refused. The detail goes to the client: never put a secret or
/// the expected value in it.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    status: u16,
    detail: String,
}

impl Refusal {
    /// Credentials that are wrong, expired or malformed: 401, counted as a failed
    /// login for the client's address.
    pub fn unauthorized(detail: impl Into<String>) -> Refusal {
        Refusal {
            status: 401,
            detail: detail.into(),
        }
    }

    /// Valid credentials that may not do this: 403.
    pub fn forbidden(detail: impl Into<String>) -> Refusal {
        Refusal {
            status: 403,
            detail: detail.into(),
        }
    }
}

/// Exports an authenticator plugin for a type implementing [`Authenticate`].
///
/// ```ignore
/// piston_guest_auth::export_authenticator!(ApiKeys);
/// ```
#[macro_export]
macro_rules! export_authenticator {
    ($authenticator:ty) => {
        #[doc(hidden)]
        pub struct __PistonAuthenticator;

        impl $crate::bindings::exports::piston::handler::authentication::Guest
            for __PistonAuthenticator
        {
            fn describe()
            -> $crate::bindings::exports::piston::handler::authentication::AuthenticatorInfo {
                $crate::__private::info(
                    ::core::env!("CARGO_PKG_NAME"),
                    ::core::env!("CARGO_PKG_VERSION"),
                    <$authenticator as $crate::Authenticate>::CHALLENGE,
                )
            }

            fn authenticate(
                head: $crate::bindings::exports::piston::handler::authentication::RequestHead,
            ) -> $crate::__private::Answer {
                $crate::__private::authenticate::<$authenticator>(head)
            }
        }

        $crate::bindings::__export_authenticator_world!(
            __PistonAuthenticator with_types_in $crate::bindings
        );
    };
}

#[doc(hidden)]
pub mod __private {
    use super::{Authenticate, RequestHead, wit};

    /// What `authenticate` returns over the contract.
    pub type Answer = Result<Option<piston_guest::Principal>, wit::Refusal>;

    pub fn info(name: &str, version: &str, challenge: &str) -> wit::AuthenticatorInfo {
        wit::AuthenticatorInfo {
            name: name.to_owned(),
            version: version.to_owned(),
            challenge: challenge.to_owned(),
        }
    }

    pub fn authenticate<A: Authenticate>(head: wit::RequestHead) -> Answer {
        match A::authenticate(&RequestHead { inner: head }) {
            Ok(identity) => Ok(identity.map(super::Identity::into_principal)),
            Err(refusal) => Err(wit::Refusal {
                status: refusal.status,
                detail: refusal.detail,
            }),
        }
    }
}
