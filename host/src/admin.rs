//! The admin API, on its own listener (`server.admin_listen`, loopback by default):
//! `health`, `resources` (what `piston list` shows, with statuses and load errors;
//! `piston list --url` reads it), and Prometheus metrics at `/metrics`.
//!
//! Never on the public listener, so no proxy setup or forwarded header can expose it
//! (the public listener answers 404 under `/_piston/`). It answers clients connecting
//! from loopback — the peer itself, forwarding headers are not read here — unless
//! `server.admin_token` is set: then any client presenting it as a bearer token is
//! served too (for an admin listener bound beyond loopback).

use crate::emit::Negotiated;
use crate::oci::{Origin, SourceStatus, SourceStatuses};
use crate::pipeline::REQUEST_ID;
use crate::problem::Problem;
use crate::reachability::Backend;
use crate::registry::{Entry, Registry, Snapshot};
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Extension, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::any;
use http::HeaderValue;
use http::StatusCode;
use http::header::AUTHORIZATION;
use http::header::CONTENT_TYPE;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use subtle::ConstantTimeEq;

/// The path prefix of the admin API.
pub const PREFIX: &str = "/_piston/";

/// What the admin endpoints need.
pub struct Admin {
    registry: Arc<Registry>,
    token: arc_swap::ArcSwapOption<String>,
    answered: AtomicU64,
    /// What `health` probes and reports.
    backends: Vec<Arc<dyn Backend>>,
    /// How each plugin's registry source stands.
    sources: Arc<SourceStatuses>,
}

impl Admin {
    /// The admin API over `registry` and `backends`; `token`, if set, admits
    /// non-loopback clients.
    pub fn new(
        registry: Arc<Registry>,
        token: Option<String>,
        backends: Vec<Arc<dyn Backend>>,
        sources: Arc<SourceStatuses>,
    ) -> Admin {
        Admin {
            registry,
            token: arc_swap::ArcSwapOption::from_pointee(token),
            answered: AtomicU64::new(0),
            backends,
            sources,
        }
    }

    /// How each plugin's registry source stands now.
    pub fn sources(&self) -> Arc<BTreeMap<String, SourceStatus>> {
        self.sources.load_full()
    }

    /// Uses `token` from now on (the configuration was reloaded).
    pub fn set_token(&self, token: Option<String>) {
        self.token.store(token.map(Arc::new));
    }

    fn admit(&self, request: &Request) -> Result<(), Problem> {
        if let Some(token) = &*self.token.load() {
            let offered = request
                .headers()
                .get(AUTHORIZATION)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.strip_prefix("Bearer "))
                .unwrap_or_default();
            if bool::from(offered.as_bytes().ct_eq(token.as_bytes())) {
                return Ok(());
            }
        }
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|connected| connected.0.ip());
        if peer.is_some_and(|peer| peer.is_loopback() || is_mapped_loopback(peer)) {
            return Ok(());
        }
        Err(Problem::new(StatusCode::FORBIDDEN).detail(
            "the admin API answers loopback clients, or clients with the admin token (server.admin_token)",
        ))
    }
}

/// Where Prometheus scrapes the metrics, as it expects them.
pub const METRICS: &str = "/metrics";

/// The admin API's routes: `health`, `resources` and the metrics, behind the admission
/// check, with a request id on every answer.
pub fn routes(admin: Arc<Admin>) -> Router {
    Router::new()
        .route(&format!("{PREFIX}health"), any(health_endpoint))
        .route(&format!("{PREFIX}resources"), any(resources_endpoint))
        .route(METRICS, any(metrics_endpoint))
        .fallback(
            async |Extension(AdminRequest(id)): Extension<AdminRequest>, request: Request| {
                not_found(request.uri().path()).into_response(&id, Negotiated::json())
            },
        )
        .layer(middleware::from_fn_with_state(admin.clone(), admitted))
        .with_state(admin)
}

/// The id of an admitted admin request, for the endpoints that refuse it.
#[derive(Clone)]
struct AdminRequest(Arc<str>);

/// Admits the request or refuses it, and names the answer either way.
async fn admitted(State(admin): State<Arc<Admin>>, mut request: Request, next: Next) -> Response {
    let id: Arc<str> = format!(
        "admin-{:08x}",
        admin.answered.fetch_add(1, Ordering::Relaxed) + 1
    )
    .into();
    let mut response = match admin.admit(&request) {
        Ok(()) => {
            request.extensions_mut().insert(AdminRequest(id.clone()));
            next.run(request).await
        }
        Err(problem) => problem.into_response(&id, Negotiated::json()),
    };
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

async fn health_endpoint(State(admin): State<Arc<Admin>>) -> Response {
    let (backends, all_up) = crate::reachability::report(&admin.backends).await;
    json_response(&health(&admin.registry.current(), backends, all_up))
}

async fn resources_endpoint(State(admin): State<Arc<Admin>>) -> Response {
    json_response(&resources_document(
        &admin.registry.current(),
        &admin.sources(),
    ))
}

async fn metrics_endpoint(Extension(AdminRequest(id)): Extension<AdminRequest>) -> Response {
    let Some(metrics) = crate::telemetry::metrics() else {
        return Problem::new(StatusCode::NOT_FOUND)
            .detail("metrics are off: `server.metrics = false` in piston.toml")
            .into_response(&id, Negotiated::json());
    };
    let mut response = Response::new(Body::from(metrics.render()));
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response
}

fn is_mapped_loopback(address: std::net::IpAddr) -> bool {
    match address {
        std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
        std::net::IpAddr::V4(_) => false,
    }
}

fn not_found(path: &str) -> Problem {
    Problem::new(StatusCode::NOT_FOUND).detail(format!(
        "`{path}` is not an admin endpoint; there are `{PREFIX}health`, `{PREFIX}resources` and `{METRICS}`"
    ))
}

fn json_response(document: &Value) -> Response {
    let mut response = Response::new(Body::from(document.to_string()));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// Whether the server is up (`degraded` while a backend does not answer), how many
/// plugins serve or failed, and each backend's state.
fn health(snapshot: &Snapshot, backends: Value, all_up: bool) -> Value {
    let (mut loaded, mut failed) = (0, 0);
    for entry in snapshot.entries() {
        match entry {
            Entry::Failed(_) => failed += 1,
            _ => loaded += 1,
        }
    }
    let status = if all_up { "ok" } else { "degraded" };
    json!({"status": status, "plugins": loaded, "failed": failed, "backends": backends})
}

/// What `piston list --json` prints and the admin API's `resources` answers: every
/// plugin file, with its plugin's full spec, or why it did not load, or why its newer
/// content was refused while this version serves; for a pulled plugin, the source and
/// manifest digest it was pulled from and why its source cannot be updated, and for a
/// source never pulled, why.
pub fn resources_document(snapshot: &Snapshot, sources: &BTreeMap<String, SourceStatus>) -> Value {
    let mut entries: Vec<Value> = snapshot
        .entries()
        .iter()
        .map(|entry| {
            let mut document = match entry {
                Entry::Loaded(plugin) => json!({
                    "file": plugin.file,
                    "sha256": plugin.digest,
                    "status": "ok",
                    "plugin": plugin.spec,
                    "allowed_outbound_hosts": plugin.settings.allowed_outbound_hosts.entries(),
                }),
                Entry::Authenticator(authenticator) => json!({
                    "file": authenticator.file,
                    "sha256": authenticator.digest,
                    "status": "ok",
                    "authenticator": authenticator.spec,
                    "allowed_outbound_hosts":
                        authenticator.settings.allowed_outbound_hosts.entries(),
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
            if let Some(origin) = entry_origin(entry) {
                document["source"] = json!(origin.source);
                document["digest"] = json!(origin.digest);
            }
            document
        })
        .collect();
    for status in sources.values() {
        let error = status.error.as_deref();
        match entries
            .iter_mut()
            .find(|entry| entry["file"].as_str() == status.file.to_str())
        {
            Some(entry) => {
                // What is on disk serves: the source's newest record of it (a tag
                // moved to another manifest of the same component) is the one to show.
                let serving = entry["sha256"].as_str().map(|hex| format!("sha256:{hex}"));
                match &status.pulled {
                    Some(pulled) if serving.as_deref() == Some(pulled.layer.as_str()) => {
                        entry["source"] = json!(pulled.source);
                        entry["digest"] = json!(pulled.digest);
                    }
                    _ if entry.get("source").is_none() => entry["source"] = json!(status.source),
                    _ => {}
                }
                if let Some(error) = error {
                    entry["source_error"] = json!(error);
                }
            }
            // Nothing on disk to load: the entry says why.
            None => entries.push(json!({
                "file": status.file,
                "source": status.source,
                "status": "error",
                "error": error.unwrap_or("not pulled yet"),
            })),
        }
    }
    Value::Array(entries)
}

/// Where a loaded entry was pulled from.
fn entry_origin(entry: &Entry) -> Option<&Origin> {
    match entry {
        Entry::Loaded(plugin) => plugin.origin.as_ref(),
        Entry::Authenticator(authenticator) => authenticator.origin.as_ref(),
        Entry::Failed(_) => None,
    }
}
