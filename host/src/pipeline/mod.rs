//! The request flow: one function a step, each failing with its own [`Refusal`], which
//! becomes a problem document in one place.
//!
//! ```text
//! route → method → negotiate → admit → fields → body → validate → invoke → respond
//!  404     405       406    401/403/429   400   400/408    400   500/503    500
//!                             429/503           413/415
//! ```
//!
//! Every answer after the admission step carries the `RateLimit-*` headers of a
//! throttled resource, errors included. Every error becomes an RFC 9457 problem in the
//! negotiated format (JSON if negotiation itself failed, or came after the error)
//! carrying the request id, which is also on every log line of the request.

mod body;
mod observe;
mod query;
mod refusal;
mod respond;
mod stream;
#[cfg(test)]
mod tests;

use self::body::RequestBody;
use self::observe::Served;
pub(crate) use self::query::Query;
pub(crate) use self::refusal::Refusal;
use self::respond::{Shaping, respond, without_body};
use crate::auth::oauth::{Endpoint, is_form};
use crate::auth::{AuthStore, Gate, Principal, RequestHead};
use crate::client::ClientAddresses;
use crate::config::Settings;
use crate::coordination::Coordination;
use crate::decode::{self, BodyLimits};
use crate::emit::Negotiated;
use crate::negotiate::{self, Asked};
use crate::openapi::{self, ApiDocs, Page};
use crate::problem::Problem;
use crate::registry::{Registry, ResourceSpec, RouteTarget, Routed};
use crate::runtime::{Checkout, Response as GuestResponse, wit};
use crate::telemetry::{self, RequestSpans, SpanKind, TRACEPARENT, TraceContext};
use crate::throttle::{Caller, RateLimit, Throttler};
use crate::vocab::{Method, MethodSet};
use arc_swap::ArcSwap;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::response::Response;
use http::header::{ACCEPT, ALLOW, CONTENT_TYPE, HeaderName, HeaderValue};
use http::request::Parts;
use http::{HeaderMap, StatusCode};
use std::hash::{BuildHasher, RandomState};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// The header carrying the request id on every response.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Runs requests through the steps.
pub struct Pipeline {
    registry: Arc<Registry>,
    policy: ArcSwap<Policy>,
    ids: RequestIds,
}

/// The operator's choices the steps apply, from `piston.toml`. Replaced whole when the
/// configuration is reloaded; a request finishes under the policy it started with.
pub struct Policy {
    /// What every host must agree on; made once, kept across reloads.
    pub coordination: Arc<Coordination>,
    /// Authentication.
    pub gate: Gate,
    /// Rate limits.
    pub throttle: Throttler,
    /// Who the client is behind proxies.
    pub clients: ClientAddresses,
    /// Request body limits.
    pub body: BodyLimits,
    /// The prefix of `resource_uri`s, without a trailing slash (empty: relative URIs).
    pub public_url: Arc<str>,
    /// The generated documentation, unless `server.docs` turned it off.
    pub docs: Option<ApiDocs>,
    /// Whether every request gets an access line (`server.access_log`).
    pub access_log: bool,
}

/// A refusal, the format its problem document is written in (the negotiated one once
/// negotiation has succeeded, JSON before), and the rate limit it reports once the
/// request has been counted.
struct Refused {
    refusal: Refusal,
    format: Negotiated,
    limit: Option<RateLimit>,
}

impl Policy {
    /// The policy `settings` describe. `previous`, when reconfiguring, hands over what
    /// must survive a reload (the coordination backend with the failed logins and
    /// nonces it holds, the throttle counters, the Digest nonce key).
    pub fn new(
        settings: &Settings,
        auth_store: &Arc<AuthStore>,
        previous: Option<&Policy>,
    ) -> Result<Policy, String> {
        let coordination = match previous {
            Some(previous) => previous.coordination.clone(),
            None => Arc::new(
                Coordination::new(&settings.coordination)
                    .map_err(|error| format!("coordination: {error}"))?,
            ),
        };
        let gate = Gate::new(
            &settings.auth,
            auth_store.clone(),
            &settings.server.public_url,
            &coordination,
            previous.map(|policy| &policy.gate),
        )
        .map_err(|error| format!("authentication: {error}"))?;
        let throttle = Throttler::new(&settings.throttle, previous.map(|policy| &policy.throttle))
            .map_err(|error| format!("throttling: {error}"))?;
        let clients = ClientAddresses::new(
            settings.server.trusted_proxies.clone(),
            settings.server.forwarded_header,
        );
        Ok(Policy {
            coordination,
            gate,
            throttle,
            clients,
            body: BodyLimits {
                max_bytes: settings.body_bytes,
                max_depth: settings.max_depth,
                timeout: settings.server.body_timeout,
            },
            public_url: settings.server.public_url.trim_end_matches('/').into(),
            docs: settings.server.docs.then(|| ApiDocs::new(settings)),
            access_log: settings.server.access_log,
        })
    }
}

impl Refused {
    fn in_json(refusal: Refusal) -> Refused {
        Refused::in_format(refusal, Negotiated::json())
    }

    fn in_format(refusal: Refusal, format: Negotiated) -> Refused {
        Refused {
            refusal,
            format,
            limit: None,
        }
    }

    /// The problem document: the one place a refusal is put into words.
    fn into_problem(self) -> Problem {
        let problem = Problem::from(self.refusal);
        match self.limit {
            Some(limit) => limit.annotate(problem),
            None => problem,
        }
    }
}

/// What every step may read of the request, and where the steps note what served it.
struct Incoming<'a> {
    parts: &'a Parts,
    body: &'a mut RequestBody,
    id: &'a str,
    policy: &'a Policy,
    client: IpAddr,
    served: &'a mut Served,
}

impl Pipeline {
    /// A pipeline routing through `registry` under `policy`.
    pub fn new(registry: Arc<Registry>, policy: Policy) -> Pipeline {
        Pipeline {
            registry,
            policy: ArcSwap::from_pointee(policy),
            ids: RequestIds::new(),
        }
    }

    /// The policy requests are served under now.
    pub fn policy(&self) -> Arc<Policy> {
        self.policy.load_full()
    }

    /// Serves new requests under `policy`.
    pub fn reconfigure(&self, policy: Policy) {
        self.policy.store(Arc::new(policy));
    }

    /// Answers one request for a plugin resource. Never fails: errors are problem
    /// documents.
    ///
    /// There is no tracing span per request (creating and formatting one cost more than
    /// a tenth of a request's time); every log line about a request carries its id.
    pub async fn handle(&self, request: Request) -> Response {
        self.answer(request, async |incoming| self.run(incoming).await)
            .await
    }

    /// Answers one request to an OAuth 1.0a endpoint, or, when the provider is not
    /// configured, as any other path (no resource may be served there: 404).
    pub async fn oauth(&self, endpoint: Endpoint, request: Request) -> Response {
        self.answer(request, async |incoming| {
            // Asked of the policy this request is served under: a reload meanwhile
            // cannot take the provider away halfway.
            let Some(provider) = incoming.policy.gate.oauth_provider() else {
                return self.run(incoming).await;
            };
            let Incoming {
                parts,
                body,
                id,
                policy,
                client,
                ..
            } = incoming;
            let head = RequestHead {
                method: &parts.method,
                uri: &parts.uri,
                headers: &parts.headers,
                client,
                form: None,
                request_id: id,
            };
            provider
                .handle(endpoint, &head, parts, body.take_unread(), policy.body)
                .await
                .map_err(|problem| Refused::in_json(Refusal::Endpoint(problem)))
        })
        .await
    }

    /// Answers one request for the generated documentation, or, when `server.docs`
    /// turned it off, as any other path (no resource may be served there: 404).
    pub async fn docs(&self, page: Page, request: Request) -> Response {
        self.answer(request, async |incoming| {
            let Some(docs) = &incoming.policy.docs else {
                return self.run(incoming).await;
            };
            let parts = incoming.parts;
            let allowed: MethodSet = [Method::Get].into_iter().collect();
            let head = match parts.method {
                http::Method::GET => false,
                http::Method::HEAD => true,
                http::Method::OPTIONS => return Ok(options(allowed)),
                _ => {
                    return Err(Refused::in_json(Refusal::MethodNotAllowed {
                        method: parts.method.clone(),
                        allowed,
                    }));
                }
            };
            let response = match page {
                Page::Json | Page::Yaml => {
                    let rendered = docs.rendered(&self.registry.current());
                    let (body, content_type) = match page {
                        Page::Json => (rendered.json.clone(), "application/json"),
                        _ => (rendered.yaml.clone(), "application/yaml"),
                    };
                    let mut response = Response::new(Body::from(body));
                    response
                        .headers_mut()
                        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
                    response
                }
                Page::Redirect => openapi::page::redirect(),
                Page::Asset => {
                    let file = parts.uri.path().trim_start_matches(openapi::page::PAGE);
                    openapi::page::asset(file).ok_or_else(|| {
                        Refused::in_json(Refusal::NotFound {
                            path: parts.uri.path().to_owned(),
                        })
                    })?
                }
            };
            Ok(if head {
                without_body(response)
            } else {
                response
            })
        })
        .await
    }

    /// What every answer shares: the request id and trace context, the log line of a
    /// refusal, the problem document, draining an unread body, the metrics and the
    /// access line.
    async fn answer(
        &self,
        request: Request,
        steps: impl AsyncFnOnce(Incoming<'_>) -> Result<Response, Refused>,
    ) -> Response {
        let id = self.ids.next();
        let started = Instant::now();
        let policy = self.policy.load_full();
        let (parts, body) = request.into_parts();
        let trace = TraceContext::for_request(&parts.headers);
        let mut body = RequestBody::new(body, policy.body);
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(Ipv4Addr::UNSPECIFIED.into(), |connected| connected.0.ip());
        let client = policy.clients.resolve(peer, &parts.headers);
        let mut served = Served::default();
        let incoming = Incoming {
            parts: &parts,
            body: &mut body,
            id: &id,
            policy: &policy,
            client,
            served: &mut served,
        };
        let spans = telemetry::exporter().map(|_| RequestSpans::new(trace));
        let outcome = match spans.clone() {
            Some(spans) => spans.scope(steps(incoming)).await,
            None => steps(incoming).await,
        };
        let mut response = match outcome {
            Ok(response) => response,
            Err(refused) => {
                observe::count_refusal(&refused.refusal, &served, &parts.headers);
                let format = refused.format;
                let problem = refused.into_problem();
                log_problem(&problem, &id, &parts);
                body.discard_unread(&parts.headers).await;
                problem.into_response(&id, format)
            }
        };
        if let Ok(value) = HeaderValue::from_str(&id) {
            response.headers_mut().insert(REQUEST_ID, value);
        }
        let traceparent = trace.to_string();
        if let Ok(value) = HeaderValue::from_str(&traceparent) {
            response.headers_mut().insert(TRACEPARENT, value);
        }
        observe::answered(observe::Answered {
            parts: &parts,
            id: &id,
            traceparent: &traceparent,
            client,
            served: &served,
            response: &response,
            took: started.elapsed(),
            spans,
            access_log: policy.access_log,
        });
        response
    }

    /// The steps, top to bottom.
    async fn run(&self, mut incoming: Incoming<'_>) -> Result<Response, Refused> {
        let Incoming {
            parts, id, policy, ..
        } = incoming;
        let query = Query::parse(parts.uri.query()).map_err(Refused::in_json)?;
        let (routed, suffix) = self.route(parts.uri.path());
        // Negotiated once, here, so that even the route's and the method's refusals
        // are written in the format asked for; its own refusal waits its turn.
        let negotiated = negotiate::negotiate(Asked {
            suffix,
            format: query.format.as_deref(),
            indent: query.indent.as_deref(),
            accept: parts
                .headers
                .get(ACCEPT)
                .and_then(|accept| accept.to_str().ok()),
        });
        let error_format = negotiated
            .as_ref()
            .map_or(Negotiated::json(), |format| *format);
        let refuse = |refusal: Refusal| Refused::in_format(refusal, error_format);

        let Routed { target, params } = routed.map_err(refuse)?;
        incoming.served.target = Some(target.clone());
        let resource = target.resource();
        let (method, head_only) = match check_method(&parts.method, resource).map_err(refuse)? {
            Verb::Options => return Ok(options(resource.allowed_methods)),
            Verb::Call { method, head } => (method, head),
        };
        let format = negotiated.map_err(|error| refuse(Refusal::Format(error)))?;
        let (principal, limit) = self
            .admit(&target, method, &mut incoming)
            .await
            .map_err(refuse)?;
        let served = async {
            let filter = resource
                .filter
                .narrow(query.fields.as_deref(), query.exclude.as_deref())
                .map_err(Refusal::Fields)?;
            let data = read_data(method, &mut incoming).await?;
            if let Some(schema) = resource.schema(method) {
                schema
                    .validator
                    .check(method, data.as_deref())
                    .map_err(Refusal::Invalid)?;
            }
            let request = wit::Request {
                resource_name: resource.name.clone(),
                method: method.to_wit(),
                path: parts.uri.path().to_owned(),
                params: decode_params(params)?,
                query: query.pairs,
                headers: guest_headers(&parts.headers, resource),
                principal: principal.map(Principal::into_wit),
                data,
            };
            let called = Instant::now();
            let invoked = telemetry::timed(
                "guest call",
                SpanKind::Internal,
                Result::is_err,
                invoke(&target, &request, id),
            )
            .await;
            let guest = called.elapsed();
            incoming.served.guest = Some(guest);
            if let Some(traffic) = target.traffic() {
                traffic.guest_call(guest);
            }
            let (instance, answer) = invoked?;
            let shaping = Shaping {
                format,
                filter,
                public_url: &policy.public_url,
            };
            let response = respond(&target, instance, answer, shaping, id).await?;
            Ok::<Response, Refusal>(if head_only {
                without_body(response)
            } else {
                response
            })
        }
        .await;
        match (limit, served) {
            (None, served) => served.map_err(refuse),
            (Some(limit), Ok(mut response)) => {
                limit.apply(response.headers_mut());
                Ok(response)
            }
            (Some(limit), Err(refusal)) => Err(Refused {
                refusal,
                format,
                limit: Some(limit),
            }),
        }
    }

    /// Step 4: who is calling (authentication, which may read an OAuth form body),
    /// and whether they may call now (throttling).
    async fn admit(
        &self,
        target: &RouteTarget,
        method: Method,
        incoming: &mut Incoming<'_>,
    ) -> Result<(Option<Principal>, Option<RateLimit>), Refusal> {
        let Incoming {
            parts,
            id,
            policy,
            client,
            ..
        } = *incoming;
        let plugin = target.plugin.spec.name.as_str();
        let resource = target.resource();
        let form = if method.has_body()
            && is_form(&parts.headers)
            && policy.gate.reads_forms(plugin, &resource.name)
        {
            Some(
                incoming
                    .body
                    .read(&parts.headers)
                    .await
                    .map_err(Refusal::Body)?,
            )
        } else {
            None
        };
        let head = RequestHead {
            method: &parts.method,
            uri: &parts.uri,
            headers: &parts.headers,
            client,
            form,
            request_id: id,
        };
        let principal = telemetry::timed(
            "authenticate",
            SpanKind::Internal,
            Result::is_err,
            policy
                .gate
                .check(plugin, resource, method, &head, &*self.registry),
        )
        .await
        .map_err(Refusal::Denied)?;
        let caller = match &principal {
            Some(principal) => Caller::Principal(&principal.id),
            None => Caller::Address(client),
        };
        let limit = telemetry::timed(
            "throttle",
            SpanKind::Internal,
            Result::is_err,
            policy.throttle.check(plugin, resource, method, caller),
        )
        .await
        .map_err(Refusal::Throttled)?;
        Ok((principal, limit))
    }

    /// Step 1: the resource for the path and its raw path params, and the format
    /// suffix that applies: `/posts/hello.yaml` routes as `/posts/hello` in YAML
    /// unless the whole path has a route of its own.
    fn route(
        &self,
        path: &str,
    ) -> (
        Result<Routed, Refusal>,
        Option<&'static dyn crate::emit::Emitter>,
    ) {
        let snapshot = self.registry.snapshot();
        let suffix = negotiate::split_suffix(path);
        if let Some((stem, emitter)) = suffix
            && let Some(routed) = snapshot.route(stem)
        {
            return (Ok(routed), Some(emitter));
        }
        match snapshot.route(path) {
            Some(routed) => (Ok(routed), None),
            None => (
                Err(Refusal::NotFound {
                    path: path.to_owned(),
                }),
                suffix.map(|(_, emitter)| emitter),
            ),
        }
    }
}

/// Step 6: the body, read (unless authentication already did) and decoded into the
/// one JSON text the guest receives; `None` for methods without a body, or an empty
/// one.
async fn read_data(method: Method, incoming: &mut Incoming<'_>) -> Result<Option<String>, Refusal> {
    if !method.has_body() {
        return Ok(None);
    }
    let headers = &incoming.parts.headers;
    let bytes = incoming.body.take(headers).await.map_err(Refusal::Body)?;
    decode::decode_off_the_workers(headers, bytes, incoming.policy.body.max_depth)
        .await
        .map_err(Refusal::Body)
}

/// What the method step decided.
enum Verb {
    /// Answer `OPTIONS` from the spec.
    Options,
    /// Call the guest (`head`: with `GET`, then drop the body).
    Call { method: Method, head: bool },
}

/// Step 2: the method must be allowed — checked before anything else runs.
fn check_method(method: &http::Method, resource: &ResourceSpec) -> Result<Verb, Refusal> {
    let allowed = resource.allowed_methods;
    let verb = match *method {
        http::Method::OPTIONS => Some(Verb::Options),
        http::Method::HEAD => allowed.contains(Method::Get).then_some(Verb::Call {
            method: Method::Get,
            head: true,
        }),
        ref other => Method::from_http(other)
            .filter(|method| allowed.contains(*method))
            .map(|method| Verb::Call {
                method,
                head: false,
            }),
    };
    verb.ok_or_else(|| Refusal::MethodNotAllowed {
        method: method.clone(),
        allowed,
    })
}

/// The answer to `OPTIONS`: what is allowed.
fn options(allowed: MethodSet) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    if let Ok(allow) = HeaderValue::from_str(&allowed.allow_header()) {
        response.headers_mut().insert(ALLOW, allow);
    }
    response
}

/// Path params reach the guest percent-decoded.
fn decode_params(raw: Vec<(String, String)>) -> Result<Vec<(String, String)>, Refusal> {
    raw.into_iter()
        .map(
            |(name, value)| match percent_encoding::percent_decode_str(&value).decode_utf8() {
                Ok(decoded) => Ok((name, decoded.into_owned())),
                Err(_) => Err(Refusal::PathParameter { name }),
            },
        )
        .collect()
}

/// Only the headers the resource asked for cross into the guest.
fn guest_headers(headers: &HeaderMap, resource: &ResourceSpec) -> Vec<(String, String)> {
    if resource.request_headers.is_none() {
        return Vec::new();
    }
    headers
        .iter()
        .filter(|(name, _)| resource.request_headers.includes(name.as_str()))
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// Step 7: a call into a warm (or fresh) instance, which the checkout returns to its
/// pool, or discards, when it is dropped.
async fn invoke(
    target: &RouteTarget,
    request: &wit::Request,
    request_id: &str,
) -> Result<(Checkout, GuestResponse), Refusal> {
    let plugin = || target.plugin.spec.name.clone();
    let mut instance = target
        .plugin
        .pool
        .checkout()
        .await
        .map_err(|error| Refusal::Checkout {
            plugin: plugin(),
            error,
        })?;
    match instance.handle(request, request_id).await {
        Ok(Ok(answer)) => Ok((instance, answer)),
        Ok(Err(error)) => Err(Refusal::Guest {
            plugin: plugin(),
            error,
        }),
        Err(error) => Err(Refusal::Call {
            plugin: plugin(),
            error,
        }),
    }
}

fn log_problem(problem: &Problem, request_id: &str, parts: &Parts) {
    let status = problem.status().as_u16();
    let (method, path) = (&parts.method, parts.uri.path());
    match problem.cause_text() {
        Some(cause) if problem.status().is_server_error() => {
            tracing::error!(request_id, %method, path, status, "{cause}")
        }
        Some(cause) => tracing::info!(request_id, %method, path, status, "{cause}"),
        None => tracing::debug!(request_id, %method, path, status, "refused"),
    }
}

/// Request ids: unique within a process (a counter) and across restarts (a random
/// prefix), cheap to make.
struct RequestIds {
    prefix: u32,
    next: AtomicU64,
}

impl RequestIds {
    fn new() -> RequestIds {
        RequestIds {
            prefix: RandomState::new().hash_one(std::process::id()) as u32,
            next: AtomicU64::new(1),
        }
    }

    fn next(&self) -> String {
        let sequence = self.next.fetch_add(1, Ordering::Relaxed);
        format!("{:08x}-{sequence:08x}", self.prefix)
    }
}
