//! The admin API, on the same server under `/_piston/`: `health`, and `resources`
//! (what `piston list` shows, with statuses and load errors; `piston list --url` reads
//! it).
//!
//! Served to loopback clients only (after the trusted-proxy rules, so a request a
//! local proxy forwards for a remote client is remote), unless `server.admin_token`
//! is set: then any client presenting it as a bearer token is served too.

use crate::client::ClientAddresses;
use crate::problem::Problem;
use crate::registry::{Entry, Registry, Snapshot};
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::response::Response;
use http::HeaderValue;
use http::StatusCode;
use http::header::AUTHORIZATION;
use http::header::CONTENT_TYPE;
use http::request::Parts;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// The path prefix of the admin API.
pub const PREFIX: &str = "/_piston/";

/// What the admin endpoints need.
pub struct Admin {
    registry: Arc<Registry>,
    clients: ClientAddresses,
    token: Option<String>,
}

impl Admin {
    /// The admin API over `registry`; `token`, if set, admits non-loopback clients.
    pub fn new(registry: Arc<Registry>, clients: ClientAddresses, token: Option<String>) -> Admin {
        Admin {
            registry,
            clients,
            token,
        }
    }

    /// Answers `request` if it is for the admin API.
    pub fn answer(&self, request: &Parts) -> Option<Result<Response, Problem>> {
        let endpoint = request.uri.path().strip_prefix(PREFIX)?;
        if let Err(problem) = self.admit(request) {
            return Some(Err(problem));
        }
        let snapshot = self.registry.current();
        Some(match endpoint {
            "health" => Ok(json_response(&health(&snapshot))),
            "resources" => Ok(json_response(&resources_document(&snapshot))),
            _ => Err(Problem::new(StatusCode::NOT_FOUND).detail(format!(
                "the admin API has `{PREFIX}health` and `{PREFIX}resources`"
            ))),
        })
    }

    fn admit(&self, request: &Parts) -> Result<(), Problem> {
        if let Some(token) = &self.token {
            let offered = request
                .headers
                .get(AUTHORIZATION)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.strip_prefix("Bearer "))
                .unwrap_or_default();
            if bool::from(offered.as_bytes().ct_eq(token.as_bytes())) {
                return Ok(());
            }
        }
        let peer = request
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|connected| connected.0.ip());
        let client = peer.map(|peer| self.clients.resolve(peer, &request.headers));
        if client.is_some_and(|client| client.is_loopback()) {
            return Ok(());
        }
        Err(Problem::new(StatusCode::FORBIDDEN).detail(
            "the admin API answers loopback clients, or clients with the admin token (server.admin_token)",
        ))
    }
}

fn json_response(document: &Value) -> Response {
    let mut response = Response::new(Body::from(document.to_string()));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// Whether the server is up, and how many plugins serve or failed.
fn health(snapshot: &Snapshot) -> Value {
    let (mut loaded, mut failed) = (0, 0);
    for entry in snapshot.entries() {
        match entry {
            Entry::Failed(_) => failed += 1,
            _ => loaded += 1,
        }
    }
    json!({"status": "ok", "plugins": loaded, "failed": failed})
}

/// What `piston list --json` prints and the admin API's `resources` answers: every
/// plugin file, with its plugin's full spec, or why it did not load, or why its newer
/// content was refused while this version serves.
pub fn resources_document(snapshot: &Snapshot) -> Value {
    let entries = snapshot
        .entries()
        .iter()
        .map(|entry| {
            let mut document = match entry {
                Entry::Loaded(plugin) => json!({
                    "file": plugin.file,
                    "sha256": plugin.digest,
                    "status": "ok",
                    "plugin": plugin.spec,
                }),
                Entry::Authenticator(authenticator) => json!({
                    "file": authenticator.file,
                    "sha256": authenticator.digest,
                    "status": "ok",
                    "authenticator": authenticator.spec,
                }),
                Entry::Failed(failure) => json!({
                    "file": failure.file,
                    "status": "error",
                    "error": failure.error,
                }),
            };
            let file = document["file"].as_str().map(std::path::PathBuf::from);
            if let Some(refused) = file.as_deref().and_then(|file| snapshot.held_back(file)) {
                document["update_refused"] = json!(refused);
            }
            document
        })
        .collect();
    Value::Array(entries)
}
