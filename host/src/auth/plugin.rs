//! Custom authentication: an authenticator plugin (the `authenticator` world) as one
//! more [`Authenticator`] of a chain.
//!
//! The plugin sees the request head (method, path, query, every header, the client's
//! IP) and answers like a built-in scheme. The host keeps the last word on what it
//! answers: the principal's `scheme` is the plugin's name (a plugin cannot pose as
//! `basic`), a refusal is a 401 or a 403 and nothing else, and a plugin that traps,
//! runs out of time or returns malformed claims refuses the request (500 or 503)
//! rather than letting it through.
//!
//! A plugin names no account: its failed logins count against the client address only
//! (see `lockout`).

use super::gate::AuthenticatorPlugins;
use super::{Authenticator, Principal, Refusal, RequestHead, header_value};
use crate::registry::{LoadedAuthenticator, Registry};
use crate::runtime::{CallError, CheckoutError, auth_wit, wit};
use async_trait::async_trait;
use http::{HeaderValue, StatusCode};
use std::borrow::Cow;
use std::sync::Arc;

impl AuthenticatorPlugins for Registry {
    fn find(&self, name: &str) -> Option<Arc<dyn Authenticator>> {
        let authenticator = self.snapshot().authenticator(name)?.clone();
        Some(authenticator)
    }
}

#[async_trait]
impl Authenticator for LoadedAuthenticator {
    fn name(&self) -> &str {
        &self.spec.name
    }

    fn challenges(&self, _refusal: Option<&Refusal>, out: &mut Vec<HeaderValue>) {
        out.push(header_value(self.spec.challenge.clone()));
    }

    async fn authenticate(&self, head: &RequestHead<'_>) -> Result<Option<Principal>, Refusal> {
        let name = &self.spec.name;
        let id = head.request_id;
        let mut instance = self.pool.checkout().await.map_err(|error| match error {
            CheckoutError::Busy(_) => busy(name, id, error),
            CheckoutError::Start(error) => failed(name, id, error),
        })?;
        let answer = instance
            .authenticate(&wit_head(head), id)
            .await
            .map_err(|error| failed(name, id, error))?;
        drop(instance);
        match answer {
            Ok(None) => Ok(None),
            Ok(Some(principal)) => principal_from(name, id, principal).map(Some),
            Err(refusal) => Err(Refusal {
                status: match refusal.status {
                    403 => StatusCode::FORBIDDEN,
                    _ => StatusCode::UNAUTHORIZED,
                },
                detail: Cow::Owned(refusal.detail),
                stale: false,
                unavailable: false,
                account: None,
            }),
        }
    }
}

/// The request head as the plugin receives it.
fn wit_head(head: &RequestHead<'_>) -> auth_wit::RequestHead {
    auth_wit::RequestHead {
        method: head.method.as_str().to_owned(),
        path: head.uri.path().to_owned(),
        query: head.uri.query().unwrap_or_default().to_owned(),
        headers: head
            .headers
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.as_str().to_owned(), value)
            })
            .collect(),
        client_addr: head.client.to_string(),
    }
}

/// The plugin's principal, with the host's rules applied: the scheme is the plugin's
/// name, no scopes means an unrestricted credential, claims must be a JSON object.
fn principal_from(
    name: &str,
    request_id: &str,
    principal: wit::Principal,
) -> Result<Principal, Refusal> {
    let broken = |what: &str| {
        tracing::error!(
            request_id,
            authenticator = name,
            "the authenticator returned {what}"
        );
        Refusal {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            detail: Cow::Borrowed("the authenticator failed"),
            stale: false,
            unavailable: false,
            account: None,
        }
    };
    if principal.id.is_empty() {
        return Err(broken("a principal with an empty id"));
    }
    let claims = match principal.claims {
        None => None,
        Some(text) => match serde_json::from_str(&text) {
            Ok(serde_json::Value::Object(claims)) => Some(claims),
            _ => return Err(broken("claims that are not a JSON object")),
        },
    };
    Ok(Principal {
        id: principal.id,
        scheme: name.to_owned(),
        scopes: (!principal.scopes.is_empty()).then_some(principal.scopes),
        claims,
    })
}

/// A call that did not return: the request is refused, never let through.
fn failed(name: &str, request_id: &str, error: CallError) -> Refusal {
    tracing::error!(
        request_id,
        authenticator = name,
        "authenticator plugin failed: {error}"
    );
    let status = match error {
        CallError::Timeout(_) | CallError::StoreUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        CallError::Trap(_) | CallError::Memory(_) | CallError::TooMuchData(_) => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
    };
    Refusal {
        status,
        detail: Cow::Borrowed("the authenticator failed"),
        stale: false,
        unavailable: false,
        account: None,
    }
}

/// Every instance of the authenticator is busy: the request is refused for now.
fn busy(name: &str, request_id: &str, error: CheckoutError) -> Refusal {
    tracing::warn!(request_id, authenticator = name, "{error}");
    Refusal {
        status: StatusCode::SERVICE_UNAVAILABLE,
        detail: Cow::Borrowed("the authenticator is busy; try again shortly"),
        stale: false,
        unavailable: false,
        account: None,
    }
}
