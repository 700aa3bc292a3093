//! The request flow: one function a step, each failing with the problem it answers.
//!
//! ```text
//! route → method → decode → invoke → respond
//!  404     405       413/415/400/408   500/503
//! ```
//!
//! Authentication, throttling, validation, format negotiation and field filtering slot
//! in between as their own steps. Every error becomes an RFC 9457 problem carrying the
//! request id, which is also on every log line of the request.

use crate::decode::{self, BodyLimits};
use crate::emit::{self, JsonArray};
use crate::problem::Problem;
use crate::registry::{Method, Registry, ResourceSpec, RouteTarget};
use crate::runtime::{
    Body as GuestBody, CallError, Instance, ResourceAny, Response as GuestResponse, wit,
};
use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use bytes::Bytes;
use http::header::{ALLOW, CONTENT_LENGTH, CONTENT_TYPE, HeaderName, HeaderValue};
use http::request::Parts;
use http::{HeaderMap, StatusCode};
use http_body::Body as _;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// How many items a stream hands over per call.
const STREAM_BATCH: u32 = 64;

/// The header carrying the request id on every response.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Runs requests through the steps.
pub struct Pipeline {
    registry: Arc<Registry>,
    body: BodyLimits,
    ids: RequestIds,
}

impl Pipeline {
    /// A pipeline routing through `registry`.
    pub fn new(registry: Arc<Registry>, body: BodyLimits) -> Pipeline {
        Pipeline {
            registry,
            body,
            ids: RequestIds::new(),
        }
    }

    /// Answers one request. Never fails: errors are problem documents.
    ///
    /// There is no tracing span per request (creating and formatting one cost more than
    /// a tenth of a request's time); every log line about a request carries its id.
    pub async fn handle(&self, request: Request) -> Response {
        let id = self.ids.next();
        let started = Instant::now();
        let (parts, body) = request.into_parts();
        let mut response = match self.run(&parts, body, &id).await {
            Ok(response) => response,
            Err(problem) => {
                log_problem(&problem, &id, &parts);
                problem.into_response(&id)
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

    async fn run(&self, parts: &Parts, body: Body, id: &str) -> Result<Response, Problem> {
        let (target, raw_params) = self.route(parts.uri.path())?;
        let (method, head) = match check_method(&parts.method, target.resource())? {
            Verb::Options => return Ok(options(target.resource())),
            Verb::Call { method, head } => (method, head),
        };
        let data = if method.has_body() {
            decode::json_body(&parts.headers, body, self.body).await?
        } else {
            None
        };

        let request = wit::Request {
            resource_name: target.resource().name.clone(),
            method: method.to_wit(),
            path: parts.uri.path().to_owned(),
            params: decode_params(raw_params)?,
            query: parts
                .uri
                .query()
                .map(|query| {
                    form_urlencoded::parse(query.as_bytes())
                        .into_owned()
                        .collect()
                })
                .unwrap_or_default(),
            headers: guest_headers(&parts.headers, target.resource()),
            principal: None,
            data,
        };
        let (instance, answer) = invoke(&target, &request, id).await?;
        let response = respond(&target, instance, answer, id)?;
        Ok(if head {
            without_body(response)
        } else {
            response
        })
    }

    /// Step 1: the resource for the path, and the raw path params.
    fn route(&self, path: &str) -> Result<(RouteTarget, Vec<(String, String)>), Problem> {
        let snapshot = self.registry.snapshot();
        let routed = snapshot.route(path).ok_or_else(|| {
            Problem::new(StatusCode::NOT_FOUND).detail(format!("no resource is served at `{path}`"))
        })?;
        Ok((routed.target, routed.params))
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

/// Step 8: a call into a warm (or fresh) instance.
async fn invoke(
    target: &RouteTarget,
    request: &wit::Request,
    request_id: &str,
) -> Result<(Instance, GuestResponse), Problem> {
    let pool = &target.plugin.pool;
    let plugin = target.plugin.spec.name.as_str();
    let mut instance = pool.take().await.map_err(|error| {
        Problem::new(StatusCode::SERVICE_UNAVAILABLE)
            .detail("the handler could not be started")
            .cause(format!("plugin `{plugin}` cannot be instantiated: {error}"))
    })?;
    match instance.handle(request, request_id).await {
        Ok(Ok(answer)) => Ok((instance, answer)),
        Ok(Err(error)) => {
            pool.recycle(instance);
            Err(guest_problem(plugin, error))
        }
        Err(error) => Err(call_problem(plugin, error)),
    }
}

/// Steps 9–10: the guest's answer as an HTTP response.
fn respond(
    target: &RouteTarget,
    instance: Instance,
    answer: GuestResponse,
    request_id: &str,
) -> Result<Response, Problem> {
    let pool = &target.plugin.pool;
    let plugin = target.plugin.spec.name.as_str();
    let status = StatusCode::from_u16(answer.status)
        .ok()
        .filter(|status| (200..600).contains(&status.as_u16()))
        .ok_or_else(|| {
            malformed(
                plugin,
                format!("status {} is not a final HTTP status", answer.status),
            )
        })?;
    let headers = response_headers(plugin, answer.headers)?;
    let bodiless = status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED;
    if bodiless && !matches!(answer.body, GuestBody::None) {
        pool.recycle(instance);
        return Err(malformed(
            plugin,
            format!("a body with status {status}, which has none"),
        ));
    }
    let (content_type, body) = match answer.body {
        GuestBody::None => {
            pool.recycle(instance);
            (None, Body::empty())
        }
        GuestBody::Data(text) => {
            pool.recycle(instance);
            let bytes =
                emit::document(text).map_err(|error| malformed(plugin, error.to_string()))?;
            (
                Some(HeaderValue::from_static(emit::JSON)),
                Body::from(bytes),
            )
        }
        GuestBody::Raw(raw) => {
            pool.recycle(instance);
            let content_type = HeaderValue::from_str(&raw.content_type).map_err(|_| {
                malformed(
                    plugin,
                    format!("content type `{}` is not a header value", raw.content_type),
                )
            })?;
            (Some(content_type), Body::from(raw.bytes))
        }
        GuestBody::Problem(problem) => {
            pool.recycle(instance);
            if status.as_u16() < 400 {
                return Err(malformed(
                    plugin,
                    format!("a problem body with the success status {status}"),
                ));
            }
            return Err(guest_answered(status, problem, headers));
        }
        GuestBody::Items(stream) => (
            Some(HeaderValue::from_static(emit::JSON)),
            stream_body(target.clone(), instance, stream, request_id.to_owned()),
        ),
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    if let Some(content_type) = content_type {
        response.headers_mut().insert(CONTENT_TYPE, content_type);
    }
    response.headers_mut().extend(headers);
    Ok(response)
}

/// Headers a guest may not set: the host frames and types the body itself.
const RESERVED_HEADERS: [&str; 9] = [
    "content-type",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "x-request-id",
];

fn response_headers(plugin: &str, pairs: Vec<(String, String)>) -> Result<HeaderMap, Problem> {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| malformed(plugin, format!("`{name}` is not a header name")))?;
        let value = HeaderValue::from_str(&value).map_err(|_| {
            malformed(
                plugin,
                format!("the value of header `{name}` is not a header value"),
            )
        })?;
        if RESERVED_HEADERS.contains(&name.as_str()) {
            tracing::debug!(header = %name, "ignoring a header the host sets itself");
            continue;
        }
        headers.append(name, value);
    }
    Ok(headers)
}

/// A streamed body: a task pulls batches from the guest and frames them, at most two
/// chunks ahead of the client, so memory stays flat however long the stream is. If the
/// guest fails midway, the response is cut off (the client sees an incomplete body,
/// never a well-formed but truncated one).
fn stream_body(
    target: RouteTarget,
    mut instance: Instance,
    stream: ResourceAny,
    request_id: String,
) -> Body {
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(2);
    tokio::spawn(async move {
        let outcome = pump(&mut instance, stream, &sender).await;
        let reusable = match outcome {
            Ok(()) => true,
            Err(abort) => {
                tracing::error!(
                    request_id,
                    plugin = target.plugin.spec.name,
                    "stream aborted: {}",
                    abort.reason
                );
                let _ = sender
                    .send(Err(std::io::Error::other("plugin failed")))
                    .await;
                abort.reusable
            }
        };
        if reusable && instance.drop_stream(stream).await.is_ok() {
            target.plugin.pool.recycle(instance);
        }
    });
    Body::from_stream(futures_util::stream::unfold(
        receiver,
        |mut receiver| async move { receiver.recv().await.map(|chunk| (chunk, receiver)) },
    ))
}

/// Why a stream was cut short.
struct Abort {
    reason: String,
    /// Whether the instance is still sound (the guest failed politely rather than
    /// trapping or timing out).
    reusable: bool,
}

/// Moves items from the guest to the client until the stream ends, the client goes
/// away, or something fails.
async fn pump(
    instance: &mut Instance,
    stream: ResourceAny,
    sender: &tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
) -> Result<(), Abort> {
    let polite = |reason: String| Abort {
        reason,
        reusable: true,
    };
    let mut array = JsonArray::default();
    loop {
        let batch = match instance.next_items(stream, STREAM_BATCH).await {
            Ok(Ok(batch)) => batch,
            Ok(Err(error)) => {
                return Err(polite(format!(
                    "{}{}",
                    error.message,
                    trace_suffix(&error.trace)
                )));
            }
            Err(error) => {
                return Err(Abort {
                    reason: error.to_string(),
                    reusable: false,
                });
            }
        };
        if batch.is_empty() {
            let _ = sender.send(Ok(array.finish())).await;
            return Ok(());
        }
        if batch.len() > STREAM_BATCH as usize {
            return Err(polite(format!(
                "the plugin returned {} items when asked for {STREAM_BATCH}",
                batch.len()
            )));
        }
        let chunk = array
            .batch(&batch)
            .map_err(|error| polite(error.to_string()))?;
        if sender.send(Ok(chunk)).await.is_err() {
            // The client went away; the guest did nothing wrong.
            return Ok(());
        }
    }
}

/// A `HEAD` answer: the `GET` answer's status and headers, with its length but no body.
fn without_body(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    if let Some(length) = body.size_hint().exact() {
        parts
            .headers
            .insert(CONTENT_LENGTH, HeaderValue::from(length));
    }
    Response::from_parts(parts, Body::empty())
}

fn call_problem(plugin: &str, error: CallError) -> Problem {
    match error {
        CallError::Timeout(_) => Problem::new(StatusCode::SERVICE_UNAVAILABLE)
            .detail("the handler did not answer in time")
            .cause(format!("plugin `{plugin}`: {error}")),
        CallError::Trap(_) => Problem::new(StatusCode::INTERNAL_SERVER_ERROR)
            .detail("the handler failed")
            .cause(format!("plugin `{plugin}`: {error}")),
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

fn malformed(plugin: &str, reason: String) -> Problem {
    Problem::new(StatusCode::INTERNAL_SERVER_ERROR)
        .detail("the handler's response is malformed")
        .cause(format!(
            "plugin `{plugin}` answered with a malformed response: {reason}"
        ))
}

/// A problem the guest chose to answer with.
fn guest_answered(status: StatusCode, problem: wit::Problem, headers: HeaderMap) -> Problem {
    let mut answer = Problem::new(status).title(problem.title).errors(
        problem
            .violations
            .into_iter()
            .map(|violation| crate::problem::FieldError {
                pointer: violation.pointer,
                detail: violation.message,
            })
            .collect(),
    );
    if let Some(detail) = problem.detail {
        answer = answer.detail(detail);
    }
    headers
        .into_iter()
        .filter_map(|(name, value)| Some((name?, value)))
        .fold(answer, |answer, (name, value)| answer.header(name, value))
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
    fn request_ids_are_unique() {
        let ids = RequestIds::new();
        let first = ids.next();
        assert_ne!(first, ids.next());
        assert_eq!(first.len(), 17);
    }
}
