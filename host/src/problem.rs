//! Error responses: RFC 9457 problem documents.
//!
//! Every error a client gets from the host is a [`Problem`]: a status, a title, an
//! optional detail, field-level errors for validation failures, extension members, and
//! the request id that also appears in the log. It is emitted in the format the client
//! negotiated (JSON when negotiation itself failed). Rendering has no side effects; the
//! pipeline logs the problem's internal cause (never sent to the client) with the
//! request id.

use crate::emit::Negotiated;
use crate::emit::{Data, View};
use crate::fields::FieldFilter;
use axum::body::Body;
use axum::response::Response;
use http::StatusCode;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use serde::Serialize;
use std::borrow::Cow;

/// The media type of problem documents.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An error answer. Boxed, so results carrying one stay small on the happy path.
#[derive(Debug)]
pub struct Problem(Box<Inner>);

#[derive(Debug)]
struct Inner {
    status: StatusCode,
    title: Cow<'static, str>,
    detail: Option<String>,
    errors: Vec<FieldError>,
    extensions: serde_json::Map<String, serde_json::Value>,
    headers: Vec<(HeaderName, HeaderValue)>,
    cause: Option<String>,
}

/// One field-level error: where in the request data, and what is wrong.
#[derive(Debug, Clone, Serialize)]
pub struct FieldError {
    /// A JSON Pointer into the request data.
    pub pointer: String,
    /// What is wrong.
    pub detail: String,
}

impl Problem {
    /// A problem with the status's standard title.
    pub fn new(status: StatusCode) -> Problem {
        Problem(Box::new(Inner {
            status,
            title: Cow::Borrowed(status.canonical_reason().unwrap_or("Error")),
            detail: None,
            errors: Vec::new(),
            extensions: serde_json::Map::new(),
            headers: Vec::new(),
            cause: None,
        }))
    }

    /// Replaces the title.
    pub fn title(mut self, title: impl Into<Cow<'static, str>>) -> Problem {
        self.0.title = title.into();
        self
    }

    /// What went wrong this time, for the client.
    pub fn detail(mut self, detail: impl Into<String>) -> Problem {
        self.0.detail = Some(detail.into());
        self
    }

    /// Field-level errors.
    pub fn errors(mut self, errors: Vec<FieldError>) -> Problem {
        self.0.errors = errors;
        self
    }

    /// An extension member (RFC 9457 §3.2), e.g. the formats a 406 could have had.
    pub fn extension(mut self, name: &str, value: serde_json::Value) -> Problem {
        self.0.extensions.insert(name.to_owned(), value);
        self
    }

    /// A header the answer must carry (`Allow` on a 405, ...).
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Problem {
        self.0.headers.push((name, value));
        self
    }

    /// The internal reason, for the log only.
    pub fn cause(mut self, cause: impl Into<String>) -> Problem {
        self.0.cause = Some(cause.into());
        self
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.0.status
    }

    /// The internal reason, if any.
    pub fn cause_text(&self) -> Option<&str> {
        self.0.cause.as_deref()
    }

    /// The answer in the negotiated format, carrying `request_id`.
    pub fn into_response(self, request_id: &str, format: Negotiated) -> Response {
        let Problem(problem) = self;
        let document = Document {
            kind: "about:blank",
            title: &problem.title,
            status: problem.status.as_u16(),
            detail: problem.detail.as_deref(),
            request_id,
            errors: &problem.errors,
            extensions: &problem.extensions,
        };
        // Strings, numbers and lists: they always serialize.
        let json = serde_json::to_string(&document).unwrap_or_default();
        let everything = FieldFilter::everything();
        let view = View {
            filter: &everything,
            uri: None,
        };
        let mut body = Vec::new();
        let mut content_type = format.emitter.format().problem_media_type;
        let rendered =
            format
                .emitter
                .problem(&Data::document(&json, &view), format.options, &mut body);
        if rendered.is_err() {
            // Every format writes strings, numbers and lists; should one fail, JSON does not.
            content_type = PROBLEM_JSON;
            body = json.into_bytes();
        }
        let mut response = Response::new(Body::from(body));
        *response.status_mut() = problem.status;
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        for (name, value) in problem.headers {
            headers.append(name, value);
        }
        response
    }
}

#[derive(Serialize)]
struct Document<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    title: &'a str,
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a str>,
    request_id: &'a str,
    #[serde(skip_serializing_if = "<[FieldError]>::is_empty")]
    errors: &'a [FieldError],
    #[serde(flatten)]
    extensions: &'a serde_json::Map<String, serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::ALLOW;

    #[tokio::test]
    async fn renders_rfc_9457() {
        let response = Problem::new(StatusCode::METHOD_NOT_ALLOWED)
            .detail("POST is not allowed here")
            .header(ALLOW, HeaderValue::from_static("GET, HEAD, OPTIONS"))
            .cause("internal, never shown")
            .into_response("r-1", Negotiated::json());
        assert_eq!(response.status(), 405);
        assert_eq!(response.headers()[CONTENT_TYPE], PROBLEM_JSON);
        assert_eq!(response.headers()[ALLOW], "GET, HEAD, OPTIONS");
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let document: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            document,
            serde_json::json!({
                "type": "about:blank",
                "title": "Method Not Allowed",
                "status": 405,
                "detail": "POST is not allowed here",
                "request_id": "r-1",
            })
        );
    }

    #[tokio::test]
    async fn renders_in_the_negotiated_format() {
        let xml = crate::negotiate::negotiate(crate::negotiate::Asked {
            format: Some("xml"),
            ..Default::default()
        })
        .unwrap();
        let response = Problem::new(StatusCode::NOT_ACCEPTABLE)
            .extension("available", serde_json::json!(["application/json"]))
            .into_response("r-2", xml);
        assert_eq!(response.headers()[CONTENT_TYPE], "application/problem+xml");
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(
            text.contains("<problem xmlns=\"urn:ietf:rfc:7807\"><type>about:blank</type>"),
            "{text}"
        );
        assert!(
            text.contains("<available><resource>application/json</resource></available>"),
            "{text}"
        );
    }
}
