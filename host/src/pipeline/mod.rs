//! The request flow: one function a step, each failing with the problem it answers.
//!
//! ```text
//! route → method → negotiate → auth → throttle → fields → decode → validate → invoke → respond
//!  404     405       406   401/403/429 429/503    400   413/415/400   400      500/503
//! ```
//!
//! Every answer after the throttle step carries the `RateLimit-*` headers of a
//! throttled resource, errors included. Every
//! error becomes an RFC 9457 problem in the negotiated format (JSON if negotiation
//! itself failed) carrying the request id, which is also on every log line of the
//! request.

mod respond;
mod stream;

use self::respond::{Shaping, respond, without_body};
use crate::auth::oauth::is_form;
use crate::auth::{Gate, RequestHead};
use crate::client::ClientAddresses;
use crate::decode::{self, BodyLimits};
use crate::emit::Negotiated;
use crate::negotiate::{self, Asked};
use crate::problem::Problem;
use crate::registry::{Registry, ResourceSpec, RouteTarget, Routed};
use crate::runtime::{CallError, Checkout, CheckoutError, Response as GuestResponse, wit};
use crate::throttle::{Caller, Throttler};
use crate::vocab::Method;
use arc_swap::ArcSwap;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::response::Response;
use http::header::{ACCEPT, ALLOW, HeaderName, HeaderValue, RETRY_AFTER};
use http::request::Parts;
use http::{HeaderMap, StatusCode};
use std::hash::{BuildHasher, RandomState};
use std::net::{Ipv4Addr, SocketAddr};
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

    /// Answers one request. Never fails: errors are problem documents.
    ///
    /// There is no tracing span per request (creating and formatting one cost more than
    /// a tenth of a request's time); every log line about a request carries its id.
    pub async fn handle(&self, request: Request) -> Response {
        let id = self.ids.next();
        let started = Instant::now();
        let (parts, body) = request.into_parts();
        let mut format = Negotiated::json();
        let mut body = Some(body);
        let mut response = match self.run(&parts, &mut body, &id, &mut format).await {
            Ok(response) => response,
            Err(problem) => {
                log_problem(&problem, &id, &parts);
                if let Some(unread) = body {
                    // Read what the client is still sending, so that it gets the answer
                    // (not a reset connection) and can send its next request on it —
                    // a Digest client repeats its PUT after the first 401.
                    decode::discard(&parts.headers, unread, self.policy().body).await;
                }
                problem.into_response(&id, format)
            }
        };
        if let Ok(value) = HeaderValue::from_str(&id) {
            response.headers_mut().insert(REQUEST_ID, value);
        }
        tracing::debug!(
            request_id = %id,
            method = %parts.method,
            path = parts.uri.path(),
            status = response.status().as_u16(),
            micros = started.elapsed().as_micros() as u64,
            "answered"
        );
        response
    }

    /// The steps. `format` is updated as soon as the output format is known, so that
    /// errors are emitted in it.
    async fn run(
        &self,
        parts: &Parts,
        body: &mut Option<Body>,
        id: &str,
        format: &mut Negotiated,
    ) -> Result<Response, Problem> {
        let policy = self.policy.load_full();
        let path = parts.uri.path();
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(Ipv4Addr::UNSPECIFIED.into(), |connected| connected.0.ip());
        let mut head = RequestHead {
            method: &parts.method,
            uri: &parts.uri,
            headers: &parts.headers,
            client: policy.clients.resolve(peer, &parts.headers),
            form: None,
            request_id: id,
        };
        if let Some(provider) = policy.gate.oauth_provider()
            && let Some(endpoint) = provider.endpoint(path)
        {
            return provider
                .handle(
                    endpoint,
                    &head,
                    parts,
                    body.take().unwrap_or_default(),
                    policy.body,
                )
                .await;
        }

        let query = Query::parse(parts.uri.query())?;
        let suffix = negotiate::split_suffix(path);
        let mut asked = Asked {
            suffix: suffix.map(|(_, emitter)| emitter),
            format: query.format.as_deref(),
            indent: query.indent.as_deref(),
            accept: parts
                .headers
                .get(ACCEPT)
                .and_then(|accept| accept.to_str().ok()),
        };
        if let Ok(negotiated) = negotiate::negotiate(asked) {
            *format = negotiated;
        }

        let (
            Routed {
                target,
                params: raw_params,
            },
            suffixed,
        ) = self.route(path, suffix)?;
        if !suffixed {
            asked.suffix = None;
        }
        let (method, head_only) = match check_method(&parts.method, target.resource())? {
            Verb::Options => return Ok(options(target.resource())),
            Verb::Call { method, head } => (method, head),
        };
        *format = negotiate::negotiate(asked)?;
        let plugin = target.plugin.spec.name.as_str();
        let form = match body.take_if(|_| {
            method.has_body()
                && is_form(&parts.headers)
                && policy.gate.reads_forms(plugin, &target.resource().name)
        }) {
            Some(body) => Some(decode::read_body(&parts.headers, body, policy.body).await?),
            None => None,
        };
        head.form = form.as_deref();
        let principal = policy
            .gate
            .check(plugin, target.resource(), method, &head, &*self.registry)
            .await?;
        let caller = match &principal {
            Some(principal) => Caller::Principal(&principal.id),
            None => Caller::Address(head.client),
        };
        let limit = policy
            .throttle
            .check(plugin, target.resource(), method, caller)
            .await?;
        let served = async {
            let filter = target
                .resource()
                .filter
                .narrow(query.fields.as_deref(), query.exclude.as_deref())
                .map_err(|error| Problem::new(StatusCode::BAD_REQUEST).detail(error.to_string()))?;
            let data = match (form, body.take()) {
                (Some(form), _) => decode::decode(&parts.headers, &form, policy.body.max_depth)?,
                (None, Some(body)) if method.has_body() => {
                    decode::body(&parts.headers, body, policy.body).await?
                }
                (None, _) => None,
            };
            if let Some(schema) = target.resource().schema(method) {
                schema.validator.check(method, data.as_deref())?;
            }

            let request = wit::Request {
                resource_name: target.resource().name.clone(),
                method: method.to_wit(),
                path: parts.uri.path().to_owned(),
                params: decode_params(raw_params)?,
                query: query.pairs,
                headers: guest_headers(&parts.headers, target.resource()),
                principal: principal.map(crate::auth::Principal::into_wit),
                data,
            };
            let (instance, answer) = invoke(&target, &request, id).await?;
            let shaping = Shaping {
                format: *format,
                filter,
                public_url: &policy.public_url,
            };
            let response = respond(&target, instance, answer, shaping, id)?;
            Ok::<Response, Problem>(if head_only {
                without_body(response)
            } else {
                response
            })
        }
        .await;
        match (limit, served) {
            (None, served) => served,
            (Some(limit), Ok(mut response)) => {
                limit.apply(response.headers_mut());
                Ok(response)
            }
            (Some(limit), Err(problem)) => Err(limit.annotate(problem)),
        }
    }

    /// Step 1: the resource for the path, the raw path params, and whether a format
    /// suffix was split off to find it (`/posts/hello.yaml` routes as `/posts/hello`
    /// unless the whole path has a route of its own).
    fn route(
        &self,
        path: &str,
        suffix: Option<(&str, &'static dyn crate::emit::Emitter)>,
    ) -> Result<(Routed, bool), Problem> {
        let snapshot = self.registry.snapshot();
        if let Some((stem, _)) = suffix
            && let Some(routed) = snapshot.route(stem)
        {
            return Ok((routed, true));
        }
        let routed = snapshot.route(path).ok_or_else(|| {
            Problem::new(StatusCode::NOT_FOUND).detail(format!("no resource is served at `{path}`"))
        })?;
        Ok((routed, false))
    }
}

/// The query string: the host's own parameters, and the rest for the guest.
#[derive(Debug, Default)]
pub(crate) struct Query {
    /// `?format=`: the output format.
    format: Option<String>,
    /// `?indent=`: pretty-printing.
    indent: Option<String>,
    /// `?fields=`: fewer fields.
    fields: Option<String>,
    /// `?exclude=`: fields to hide.
    exclude: Option<String>,
    /// Everything else, in order, for the guest.
    pairs: Vec<(String, String)>,
}

/// The most query parameters a request may pass to a guest.
const MAX_QUERY_PAIRS: usize = 256;

impl Query {
    pub(crate) fn parse(query: Option<&str>) -> Result<Query, Problem> {
        let mut parsed = Query::default();
        for (name, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            let slot = match &*name {
                "format" => &mut parsed.format,
                "indent" => &mut parsed.indent,
                "fields" => &mut parsed.fields,
                "exclude" => &mut parsed.exclude,
                _ => {
                    if parsed.pairs.len() == MAX_QUERY_PAIRS {
                        return Err(Problem::new(StatusCode::BAD_REQUEST).detail(format!(
                            "the query string has more than {MAX_QUERY_PAIRS} parameters"
                        )));
                    }
                    parsed.pairs.push((name.into_owned(), value.into_owned()));
                    continue;
                }
            };
            *slot = Some(value.into_owned());
        }
        Ok(parsed)
    }
}

/// What the method step decided.
enum Verb {
    /// Answer `OPTIONS` from the spec.
    Options,
    /// Call the guest (`head`: with `GET`, then drop the body).
    Call { method: Method, head: bool },
}

/// Step 2: the method must be allowed — checked before anything else runs.
fn check_method(method: &http::Method, resource: &ResourceSpec) -> Result<Verb, Problem> {
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
    verb.ok_or_else(|| {
        let allow = allowed.allow_header();
        Problem::new(StatusCode::METHOD_NOT_ALLOWED)
            .detail(format!("{method} is not allowed here; allowed: {allow}"))
            .header(
                ALLOW,
                HeaderValue::from_str(&allow).unwrap_or(HeaderValue::from_static("OPTIONS")),
            )
    })
}

fn options(resource: &ResourceSpec) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    if let Ok(allow) = HeaderValue::from_str(&resource.allowed_methods.allow_header()) {
        response.headers_mut().insert(ALLOW, allow);
    }
    response
}

/// Path params reach the guest percent-decoded.
fn decode_params(raw: Vec<(String, String)>) -> Result<Vec<(String, String)>, Problem> {
    raw.into_iter()
        .map(|(name, value)| {
            let decoded = percent_encoding::percent_decode_str(&value)
                .decode_utf8()
                .map_err(|_| {
                    Problem::new(StatusCode::BAD_REQUEST).detail(format!(
                        "path parameter `{name}` is not valid UTF-8 once percent-decoded"
                    ))
                })?
                .into_owned();
            Ok((name, decoded))
        })
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

/// Step 8: a call into a warm (or fresh) instance, which the checkout returns to its
/// pool, or discards, when it is dropped.
async fn invoke(
    target: &RouteTarget,
    request: &wit::Request,
    request_id: &str,
) -> Result<(Checkout, GuestResponse), Problem> {
    let plugin = target.plugin.spec.name.as_str();
    let mut instance = target
        .plugin
        .pool
        .checkout()
        .await
        .map_err(|error| checkout_problem(plugin, error))?;
    match instance.handle(request, request_id).await {
        Ok(Ok(answer)) => Ok((instance, answer)),
        Ok(Err(error)) => Err(guest_problem(plugin, error)),
        Err(error) => Err(call_problem(plugin, error)),
    }
}

/// No instance for the request: the plugin is at its concurrency cap, or a new
/// instance would not start.
fn checkout_problem(plugin: &str, error: CheckoutError) -> Problem {
    match error {
        CheckoutError::Busy(limit) => Problem::new(StatusCode::SERVICE_UNAVAILABLE)
            .detail("the handler is busy; try again shortly")
            .header(RETRY_AFTER, HeaderValue::from_static("1"))
            .cause(format!(
                "plugin `{plugin}` has all {limit} of its instances busy (limits.concurrency)"
            )),
        CheckoutError::Start(error) => Problem::new(StatusCode::SERVICE_UNAVAILABLE)
            .detail("the handler could not be started")
            .cause(format!("plugin `{plugin}` cannot be instantiated: {error}")),
    }
}

fn call_problem(plugin: &str, error: CallError) -> Problem {
    match error {
        CallError::Timeout(_) => Problem::new(StatusCode::SERVICE_UNAVAILABLE)
            .detail("the handler did not answer in time")
            .cause(format!("plugin `{plugin}`: {error}")),
        CallError::Trap(_) | CallError::Memory(_) | CallError::TooMuchData(_) => {
            Problem::new(StatusCode::INTERNAL_SERVER_ERROR)
                .detail("the handler failed")
                .cause(format!("plugin `{plugin}`: {error}"))
        }
    }
}

fn guest_problem(plugin: &str, error: wit::GuestError) -> Problem {
    Problem::new(StatusCode::INTERNAL_SERVER_ERROR)
        .detail("the handler failed")
        .cause(format!(
            "plugin `{plugin}` reported an error: {}{}",
            error.message,
            trace_suffix(&error.trace)
        ))
}

/// A guest's trace for a log line: escaped onto the same line, so that one log line is
/// one event however many lines the traceback has.
fn trace_suffix(trace: &Option<String>) -> String {
    trace
        .as_ref()
        .map(|trace| format!("; trace: {trace:?}"))
        .unwrap_or_default()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_limit_counts_the_guests_parameters() {
        let guests: Vec<String> = (0..MAX_QUERY_PAIRS).map(|i| format!("p{i}=")).collect();
        let full = guests.join("&");
        let query = Query::parse(Some(&format!("format=json&{full}&indent=2"))).unwrap();
        assert_eq!(query.pairs.len(), MAX_QUERY_PAIRS);
        assert_eq!(query.indent.as_deref(), Some("2"));
        let problem = Query::parse(Some(&format!("{full}&one=more"))).unwrap_err();
        assert_eq!(problem.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn request_ids_are_unique() {
        let ids = RequestIds::new();
        let first = ids.next();
        assert_ne!(first, ids.next());
        assert_eq!(first.len(), 17);
    }
}
