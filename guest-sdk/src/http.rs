//! Outbound HTTP: call another service from a handler.
//!
//! The host sends the request only to hosts the operator lists in the plugin's
//! `allowed_outbound_hosts` (`piston.toml`), within the call's caps (requests per call,
//! response size) and its deadline. Redirects come back as they are (3xx with a
//! `location`); the host follows none.
//!
//! ```no_run
//! # fn main() -> Result<(), piston_guest::http::HttpError> {
//! let response = piston_guest::http::get("https://api.example.com/authors/ada")?;
//! if response.status == 200 {
//!     let author: serde_json::Value = response.json()?;
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Every failure is an [`HttpError`] whose [`kind`](HttpError::kind) says what
//! happened, with the same names in the Python and JavaScript SDKs.

use crate::bindings::wasi::http::outgoing_handler;
use crate::bindings::wasi::http::types::{
    ErrorCode, Fields, IncomingBody, Method, OutgoingBody, OutgoingRequest, Scheme,
};
use crate::bindings::wasi::io::streams::StreamError;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt;

/// How much of the body one read asks for.
const READ_CHUNK: u64 = 64 * 1024;
/// How much one write may hand the host (`wasi:io` allows 4096 bytes per
/// `blocking-write-and-flush`).
const WRITE_CHUNK: usize = 4096;

/// An upstream's answer, whole.
#[derive(Debug, Clone)]
pub struct Response {
    /// The HTTP status.
    pub status: u16,
    /// The headers, names lower-case, in the order they came.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of the header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The body as UTF-8 text (invalid sequences replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, HttpError> {
        serde_json::from_slice(&self.body).map_err(|error| {
            HttpError::new(
                ErrorKind::Body,
                format!("the response is not the JSON expected: {error}"),
            )
        })
    }
}

/// What went wrong with an outbound request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The URL is not in the plugin's `allowed_outbound_hosts`.
    Denied,
    /// The host resolves to an internal address (loopback, private, link-local) that
    /// no entry names.
    Prohibited,
    /// The call has already sent as many requests as it may.
    Limit,
    /// The response body is longer than the call may receive.
    TooLarge,
    /// The upstream did not answer in time.
    Timeout,
    /// The URL or a header cannot be sent.
    InvalidRequest,
    /// The response body could not be read, or is not what was expected.
    Body,
    /// Anything else: DNS, connection, TLS, protocol.
    Failed,
}

impl ErrorKind {
    /// The kind's name, as every SDK spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Denied => "denied",
            ErrorKind::Prohibited => "prohibited",
            ErrorKind::Limit => "limit",
            ErrorKind::TooLarge => "too-large",
            ErrorKind::Timeout => "timeout",
            ErrorKind::InvalidRequest => "invalid-request",
            ErrorKind::Body => "body",
            ErrorKind::Failed => "failed",
        }
    }
}

/// An outbound request that failed. `?` in a handler turns it into a failure (500, the
/// message in the host log); match on [`kind`](HttpError::kind) to answer otherwise.
#[derive(Debug, Clone)]
pub struct HttpError {
    kind: ErrorKind,
    message: String,
}

impl HttpError {
    fn new(kind: ErrorKind, message: impl Into<String>) -> HttpError {
        HttpError {
            kind,
            message: message.into(),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// What went wrong, in words.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "outbound request {}: {}",
            self.kind.as_str(),
            self.message
        )
    }
}

impl std::error::Error for HttpError {}

impl From<ErrorCode> for HttpError {
    fn from(code: ErrorCode) -> HttpError {
        let kind = match &code {
            ErrorCode::HttpRequestDenied => ErrorKind::Denied,
            ErrorCode::DestinationIpProhibited => ErrorKind::Prohibited,
            ErrorCode::ConnectionLimitReached => ErrorKind::Limit,
            ErrorCode::HttpResponseBodySize(_) => ErrorKind::TooLarge,
            ErrorCode::ConnectionTimeout
            | ErrorCode::ConnectionReadTimeout
            | ErrorCode::HttpResponseTimeout => ErrorKind::Timeout,
            ErrorCode::HttpRequestUriInvalid
            | ErrorCode::HttpRequestMethodInvalid
            | ErrorCode::HttpRequestUriTooLong => ErrorKind::InvalidRequest,
            _ => ErrorKind::Failed,
        };
        let message = match kind {
            ErrorKind::Denied => "the host is not in the plugin's allowed_outbound_hosts".into(),
            ErrorKind::Prohibited => {
                "the host resolves to an internal address no allowed_outbound_hosts entry names"
                    .into()
            }
            ErrorKind::Limit => "the call has sent as many requests as it may".into(),
            ErrorKind::TooLarge => "the response body is larger than the call may receive".into(),
            _ => format!("{code:?}"),
        };
        HttpError::new(kind, message)
    }
}

/// `GET url`.
pub fn get(url: &str) -> Result<Response, HttpError> {
    send("GET", url, &[], None)
}

/// `POST url` with `body` of `content_type`.
pub fn post(url: &str, content_type: &str, body: &[u8]) -> Result<Response, HttpError> {
    send("POST", url, &[("content-type", content_type)], Some(body))
}

/// `POST url` with `value` as a JSON body.
pub fn post_json<T: Serialize + ?Sized>(url: &str, value: &T) -> Result<Response, HttpError> {
    let body = serde_json::to_vec(value).map_err(|error| {
        HttpError::new(
            ErrorKind::InvalidRequest,
            format!("the body is not JSON: {error}"),
        )
    })?;
    post(url, "application/json", &body)
}

/// Sends `method url` with `headers` and an optional `body`, and reads the whole answer.
pub fn send(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Result<Response, HttpError> {
    let length = body.map(|body| body.len().to_string());
    let mut headers = headers.to_vec();
    if let Some(length) = &length {
        // A declared length rather than chunks: not every upstream takes a chunked body.
        headers.push(("content-length", length));
    }
    let request = build(method, url, &headers)?;
    let outgoing = request
        .body()
        .map_err(|()| invalid("the request body was already taken"))?;
    let pending = outgoing_handler::handle(request, None)?;
    if let Some(body) = body {
        let stream = outgoing
            .write()
            .map_err(|()| invalid("the request body was already taken"))?;
        for chunk in body.chunks(WRITE_CHUNK) {
            if let Err(error) = stream.blocking_write_and_flush(chunk) {
                // The host stopped taking the body: the response says why.
                drop(stream);
                let _ = OutgoingBody::finish(outgoing, None);
                return Err(answer(&pending)
                    .err()
                    .unwrap_or_else(|| stream_error(error)));
            }
        }
    }
    OutgoingBody::finish(outgoing, None)?;
    let response = answer(&pending)?;

    let status = response.status();
    let headers = response
        .headers()
        .entries()
        .into_iter()
        .map(|(name, value)| (name, String::from_utf8_lossy(&value).into_owned()))
        .collect();
    let incoming = response
        .consume()
        .map_err(|()| HttpError::new(ErrorKind::Body, "the response body was already taken"))?;
    let body = read_all(&incoming)?;
    let _ = IncomingBody::finish(incoming);
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// The request `method url` with `headers`, not yet sent.
fn build(method: &str, url: &str, headers: &[(&str, &str)]) -> Result<OutgoingRequest, HttpError> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| invalid(format!("`{url}` is not an absolute http(s) URL")))?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        other => {
            return Err(invalid(format!(
                "the scheme `{other}` is not http or https"
            )));
        }
    };
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(split);
    if authority.is_empty() {
        return Err(invalid(format!("`{url}` names no host")));
    }
    let path = match path {
        "" => "/".to_owned(),
        query if query.starts_with('?') => format!("/{query}"),
        path => path.to_owned(),
    };
    let fields = headers
        .iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), value.as_bytes().to_vec()))
        .collect::<Vec<_>>();
    let fields = Fields::from_list(&fields)
        .map_err(|error| invalid(format!("a header cannot be sent: {error:?}")))?;
    let request = OutgoingRequest::new(fields);
    let method = match method.to_ascii_uppercase().as_str() {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "PATCH" => Method::Patch,
        "DELETE" => Method::Delete,
        "OPTIONS" => Method::Options,
        other => Method::Other(other.to_owned()),
    };
    let set = [
        request.set_method(&method),
        request.set_scheme(Some(&scheme)),
        request.set_authority(Some(authority)),
        request.set_path_with_query(Some(&path)),
    ];
    if set.iter().any(Result::is_err) {
        return Err(invalid(format!("`{method:?} {url}` cannot be sent")));
    }
    Ok(request)
}

/// Waits for the response's head.
fn answer(
    pending: &crate::bindings::wasi::http::types::FutureIncomingResponse,
) -> Result<crate::bindings::wasi::http::types::IncomingResponse, HttpError> {
    loop {
        match pending.get() {
            Some(Ok(result)) => return result.map_err(HttpError::from),
            Some(Err(())) => {
                return Err(HttpError::new(
                    ErrorKind::Failed,
                    "the response was already taken",
                ));
            }
            None => pending.subscribe().block(),
        }
    }
}

/// Reads a body to its end.
fn read_all(incoming: &IncomingBody) -> Result<Vec<u8>, HttpError> {
    let stream = incoming
        .stream()
        .map_err(|()| HttpError::new(ErrorKind::Body, "the response body was already taken"))?;
    let mut body = Vec::new();
    loop {
        match stream.blocking_read(READ_CHUNK) {
            Ok(chunk) => body.extend_from_slice(&chunk),
            Err(StreamError::Closed) => return Ok(body),
            Err(error) => return Err(stream_error(error)),
        }
    }
}

/// A failed read or write, by the HTTP error behind it when there is one.
fn stream_error(error: StreamError) -> HttpError {
    match error {
        StreamError::Closed => HttpError::new(ErrorKind::Body, "the stream closed early"),
        StreamError::LastOperationFailed(error) => {
            match crate::bindings::wasi::http::types::http_error_code(&error) {
                Some(code) => HttpError::from(code),
                None => body_error(error.to_debug_string()),
            }
        }
    }
}

/// A body that failed for a reason the host only gave in words (`wasi:http` has no
/// error code for a response body cut short).
fn body_error(message: String) -> HttpError {
    let lower = message.to_ascii_lowercase();
    if lower.contains("body size exceeds limit") || lower.contains("responsebodysize") {
        HttpError::new(
            ErrorKind::TooLarge,
            "the response body is larger than the call may receive",
        )
    } else if lower.contains("timeout") || lower.contains("timed out") {
        HttpError::new(ErrorKind::Timeout, message)
    } else {
        HttpError::new(ErrorKind::Body, message)
    }
}

fn invalid(message: impl Into<String>) -> HttpError {
    HttpError::new(ErrorKind::InvalidRequest, message)
}
