//! Steps 9–10: the guest's answer, checked, shaped and emitted as an HTTP response.

use super::refusal::{GuestProblem, Refusal};
use super::stream::{self, StreamView};
use crate::emit::Negotiated;
use crate::emit::{self, View};
use crate::fields::FieldFilter;
use crate::registry::RouteTarget;
use crate::runtime::{Body as GuestBody, Checkout, Response as GuestResponse};
use axum::body::Body;
use axum::response::Response;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderName, HeaderValue, VARY};
use http::{HeaderMap, StatusCode};
use http_body::Body as _;
use std::sync::Arc;

/// How the answer is to be shown: the negotiated format, the narrowed field filter, and
/// the public base URL for `resource_uri`s.
pub(super) struct Shaping<'a> {
    pub(super) format: Negotiated,
    pub(super) filter: FieldFilter,
    pub(super) public_url: &'a Arc<str>,
}

/// The most headers a guest's answer may set.
const MAX_GUEST_HEADERS: usize = 64;

/// The most bytes of header names and values a guest's answer may set.
const MAX_GUEST_HEADER_BYTES: usize = 64 * 1024;

/// The most field violations a guest's problem may list.
const MAX_VIOLATIONS: usize = 1000;

/// The guest's answer as an HTTP response. The instance goes back to its pool when
/// the checkout is dropped: here, unless a stream still needs it.
pub(super) async fn respond(
    target: &RouteTarget,
    mut instance: Checkout,
    answer: GuestResponse,
    shaping: Shaping<'_>,
    request_id: &str,
) -> Result<Response, Refusal> {
    let plugin = target.plugin.spec.name.as_str();
    let checked = check_answer(&answer, instance.output_bytes())
        .and_then(|()| status_of(&answer))
        .map_err(|reason| malformed(plugin, reason))
        .and_then(|status| Ok((status, response_headers(plugin, answer.headers)?)));
    let (status, headers) = match checked {
        Ok(checked) => checked,
        Err(refusal) => {
            if matches!(answer.body, GuestBody::Items(_)) {
                // The guest's stream is never drained or dropped: the instance keeps it.
                instance.discard();
            }
            return Err(refusal);
        }
    };
    let resource = target.resource();
    let uri = resource
        .uri_template
        .as_ref()
        .filter(|_| shaping.filter.shows_resource_uri());
    let content_type = HeaderValue::from_static(shaping.format.emitter.format().media_types[0]);
    let (content_type, body) = match answer.body {
        GuestBody::None => {
            drop(instance);
            (None, Body::empty())
        }
        GuestBody::Data(json) => {
            drop(instance);
            let view = View {
                filter: &shaping.filter,
                uri: uri.map(|template| (template, &**shaping.public_url)),
            };
            let bytes = emit::document(shaping.format.emitter, shaping.format.options, json, &view)
                .map_err(|error| malformed(plugin, error.to_string()))?;
            (Some(content_type), Body::from(bytes))
        }
        GuestBody::Raw(raw) => {
            drop(instance);
            let content_type = HeaderValue::from_str(&raw.content_type).map_err(|_| {
                malformed(
                    plugin,
                    format!("content type `{}` is not a header value", raw.content_type),
                )
            })?;
            (Some(content_type), Body::from(raw.bytes))
        }
        GuestBody::Problem(problem) => {
            drop(instance);
            if status.as_u16() < 400 {
                return Err(malformed(
                    plugin,
                    format!("a problem body with the success status {status}"),
                ));
            }
            return Err(Refusal::GuestProblem(Box::new(GuestProblem {
                status,
                problem,
                headers,
            })));
        }
        GuestBody::Items(items) => {
            let view = StreamView {
                filter: shaping.filter,
                uri: uri.map(|template| (template.clone(), shaping.public_url.clone())),
            };
            let body = stream::body(
                target.clone(),
                instance,
                items,
                shaping.format,
                view,
                request_id.to_owned(),
            )
            .await?;
            (Some(content_type), body)
        }
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let response_headers = response.headers_mut();
    if let Some(content_type) = content_type {
        response_headers.insert(CONTENT_TYPE, content_type);
    }
    response_headers.insert(VARY, HeaderValue::from_static("accept"));
    response_headers.extend(headers);
    Ok(response)
}

/// Headers a guest may not set: the host frames and types the body itself.
const RESERVED_HEADERS: [&str; 10] = [
    "content-type",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "vary",
    "x-request-id",
];

/// The answer's status, if it is a final HTTP status that goes with its body.
fn status_of(answer: &GuestResponse) -> Result<StatusCode, String> {
    let status = StatusCode::from_u16(answer.status)
        .ok()
        .filter(|status| (200..600).contains(&status.as_u16()))
        .ok_or_else(|| format!("status {} is not a final HTTP status", answer.status))?;
    let bodiless = status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED;
    if bodiless && !matches!(answer.body, GuestBody::None) {
        return Err(format!("a body with status {status}, which has none"));
    }
    Ok(status)
}

/// Checks the sizes of everything in an answer against the host's limits, before any
/// of it is copied again, parsed or emitted. (Copying it out of the guest was already
/// bounded by the call's byte budget.)
fn check_answer(answer: &GuestResponse, max_body: usize) -> Result<(), String> {
    if answer.headers.len() > MAX_GUEST_HEADERS {
        return Err(format!(
            "{} headers (at most {MAX_GUEST_HEADERS})",
            answer.headers.len()
        ));
    }
    let header_bytes: usize = answer
        .headers
        .iter()
        .map(|(name, value)| name.len() + value.len())
        .sum();
    if header_bytes > MAX_GUEST_HEADER_BYTES {
        return Err(format!(
            "{header_bytes} bytes of headers (at most {MAX_GUEST_HEADER_BYTES})"
        ));
    }
    let body_bytes = match &answer.body {
        GuestBody::None | GuestBody::Items(_) => 0,
        GuestBody::Data(json) => json.len(),
        GuestBody::Raw(raw) => raw.bytes.len() + raw.content_type.len(),
        GuestBody::Problem(problem) => {
            if problem.violations.len() > MAX_VIOLATIONS {
                return Err(format!(
                    "a problem with {} violations (at most {MAX_VIOLATIONS})",
                    problem.violations.len()
                ));
            }
            problem.title.len()
                + problem.detail.as_ref().map_or(0, String::len)
                + problem
                    .violations
                    .iter()
                    .map(|violation| violation.pointer.len() + violation.message.len())
                    .sum::<usize>()
        }
    };
    if body_bytes > max_body {
        return Err(format!(
            "a body of {body_bytes} bytes (limits.response_bytes is {max_body})"
        ));
    }
    Ok(())
}

fn response_headers(plugin: &str, pairs: Vec<(String, String)>) -> Result<HeaderMap, Refusal> {
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

/// A `HEAD` answer: the `GET` answer's status and headers, with its length but no body.
pub(super) fn without_body(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    if let Some(length) = body.size_hint().exact() {
        parts
            .headers
            .insert(CONTENT_LENGTH, HeaderValue::from(length));
    }
    Response::from_parts(parts, Body::empty())
}

fn malformed(plugin: &str, reason: String) -> Refusal {
    Refusal::Malformed {
        plugin: plugin.to_owned(),
        reason,
    }
}
