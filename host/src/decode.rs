//! Request bodies, turned into the one JSON document a guest receives.
//!
//! Owns the body size limit (checked against `Content-Length` before reading, and
//! while reading, so an oversized body is never held in memory), the read timeout, and
//! the accepted content types. Every failure is a 4xx problem saying what and where.

use crate::problem::Problem;
use axum::body::Body;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, StatusCode};
use http_body_util::BodyExt;
use std::time::Duration;

/// The media types a body may have.
pub const SUPPORTED: &str = "application/json (or any application/*+json)";

/// Bounds on reading a body.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    /// The largest body, in bytes.
    pub max_bytes: u64,
    /// The deepest nesting of arrays and objects.
    pub max_depth: usize,
    /// How long the client may take to send it.
    pub timeout: Duration,
}

/// After refusing a body as too large, how much more of it the host reads and
/// discards, so the client (still sending) gets to read the 413 instead of a reset
/// connection. Past this the connection is closed.
const DRAIN_BYTES: u64 = 1024 * 1024;

/// Reads and checks the body: `None` when it is empty, else its JSON text.
pub async fn json_body(
    headers: &HeaderMap,
    body: Body,
    limits: BodyLimits,
) -> Result<Option<String>, Problem> {
    if let Some(length) = content_length(headers)? {
        if length > limits.max_bytes {
            if length <= limits.max_bytes + DRAIN_BYTES {
                drain(body, limits.timeout).await;
            }
            return Err(too_large(limits.max_bytes));
        }
        if length == 0 {
            return Ok(None);
        }
    }
    let content_type = headers
        .get(CONTENT_TYPE)
        .map(|value| value.to_str().unwrap_or(""));
    let bytes = match tokio::time::timeout(limits.timeout, read(body, limits.max_bytes)).await {
        Ok(Read::Whole(bytes)) => bytes,
        Ok(Read::TooLarge(rest)) => {
            drain(rest, limits.timeout).await;
            return Err(too_large(limits.max_bytes));
        }
        Ok(Read::Failed(problem)) => return Err(problem),
        Err(_) => {
            return Err(Problem::new(StatusCode::REQUEST_TIMEOUT).detail(format!(
                "the request body did not arrive within {:?}",
                limits.timeout
            )));
        }
    };
    if bytes.is_empty() {
        return Ok(None);
    }
    check_json_type(content_type)?;
    check_depth(&bytes, limits.max_depth)?;
    let text = String::from_utf8(bytes).map_err(|error| {
        bad_body(format!(
            "the body is not UTF-8 (invalid byte at offset {})",
            error.utf8_error().valid_up_to()
        ))
    })?;
    serde_json::from_str::<serde::de::IgnoredAny>(&text).map_err(|error| {
        bad_body(format!(
            "malformed JSON at line {} column {}: {}",
            error.line(),
            error.column(),
            strip_position(&error.to_string())
        ))
    })?;
    Ok(Some(text))
}

fn content_length(headers: &HeaderMap) -> Result<Option<u64>, Problem> {
    let Some(value) = headers.get(CONTENT_LENGTH) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .map(Some)
        .ok_or_else(|| bad_body("the Content-Length header is not a number".to_owned()))
}

enum Read {
    Whole(Vec<u8>),
    /// Over the limit; what is kept is the unread rest.
    TooLarge(Body),
    Failed(Problem),
}

/// Reads at most `max_bytes`; a longer body is given up as soon as it is seen to be,
/// without holding more than the limit.
async fn read(mut body: Body, max_bytes: u64) -> Read {
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = match frame {
            Ok(frame) => frame,
            Err(error) => {
                return Read::Failed(bad_body(format!(
                    "the request body could not be read: {error}"
                )));
            }
        };
        if let Ok(chunk) = frame.into_data() {
            if (bytes.len() + chunk.len()) as u64 > max_bytes {
                return Read::TooLarge(body);
            }
            bytes.extend_from_slice(&chunk);
        }
    }
    Read::Whole(bytes)
}

/// Reads and discards up to [`DRAIN_BYTES`] of what is left of a refused body.
async fn drain(mut body: Body, timeout: Duration) {
    let discard = async {
        let mut discarded = 0u64;
        while let Some(Ok(frame)) = body.frame().await {
            if let Ok(chunk) = frame.into_data() {
                discarded += chunk.len() as u64;
                if discarded > DRAIN_BYTES {
                    return;
                }
            }
        }
    };
    let _ = tokio::time::timeout(timeout, discard).await;
}

/// Refuses JSON nested deeper than `max_depth`, found with one pass over the bytes
/// before any parser recurses into it.
fn check_depth(bytes: &[u8], max_depth: usize) -> Result<(), Problem> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (offset, &byte) in bytes.iter().enumerate() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max_depth {
                    return Err(bad_body(format!(
                        "the body nests deeper than {max_depth} levels (at byte offset {offset})"
                    )));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

fn check_json_type(content_type: Option<&str>) -> Result<(), Problem> {
    let unsupported = |what: String| {
        Problem::new(StatusCode::UNSUPPORTED_MEDIA_TYPE)
            .detail(format!("{what}; supported: {SUPPORTED}"))
    };
    let Some(content_type) = content_type else {
        return Err(unsupported(
            "the request has a body but no Content-Type".to_owned(),
        ));
    };
    let mut parts = content_type.split(';');
    let essence = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    let is_json = essence == "application/json"
        || essence
            .strip_prefix("application/")
            .is_some_and(|subtype| subtype.ends_with("+json"));
    if !is_json {
        return Err(unsupported(format!(
            "Content-Type `{content_type}` is not supported"
        )));
    }
    for parameter in parts {
        let (name, value) = parameter.split_once('=').unwrap_or((parameter, ""));
        if name.trim().eq_ignore_ascii_case("charset") {
            let charset = value.trim().trim_matches('"');
            if !charset.eq_ignore_ascii_case("utf-8") {
                return Err(unsupported(format!(
                    "charset `{charset}` is not supported (JSON is UTF-8)"
                )));
            }
        }
    }
    Ok(())
}

fn too_large(max_bytes: u64) -> Problem {
    Problem::new(StatusCode::PAYLOAD_TOO_LARGE)
        .detail(format!("the request body is larger than {max_bytes} bytes"))
}

fn bad_body(detail: String) -> Problem {
    Problem::new(StatusCode::BAD_REQUEST)
        .title("Malformed Body")
        .detail(detail)
}

/// serde_json ends its messages with the position, which the detail already gives.
fn strip_position(message: &str) -> &str {
    message
        .rfind(" at line ")
        .map_or(message, |index| &message[..index])
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    const LIMITS: BodyLimits = BodyLimits {
        max_bytes: 64,
        max_depth: 4,
        timeout: Duration::from_secs(5),
    };

    fn headers(content_type: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_str(content_type).unwrap());
        headers
    }

    async fn decode(content_type: &str, body: &'static str) -> Result<Option<String>, Problem> {
        json_body(&headers(content_type), Body::from(body), LIMITS).await
    }

    #[tokio::test]
    async fn json_passes_through_untouched() {
        let text = decode("application/json; charset=utf-8", "{\"a\": [1, 2]}")
            .await
            .unwrap();
        assert_eq!(text.as_deref(), Some("{\"a\": [1, 2]}"));
        assert!(
            decode("application/merge-patch+json", "{}")
                .await
                .unwrap()
                .is_some()
        );
        assert_eq!(decode("application/json", "").await.unwrap(), None);
    }

    #[tokio::test]
    async fn bad_bodies_say_what_and_where() {
        let problem = decode("application/json", "{\"a\":\n  tru}")
            .await
            .unwrap_err();
        assert_eq!(problem.status(), 400);
        let rendered = format!("{problem:?}");
        assert!(rendered.contains("line 2 column"), "{rendered}");

        let problem = decode("text/plain", "{}").await.unwrap_err();
        assert_eq!(problem.status(), 415);
        let problem = decode("application/json; charset=latin1", "{}")
            .await
            .unwrap_err();
        assert_eq!(problem.status(), 415);

        let long = "[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]";
        assert_eq!(
            decode("application/json", long).await.unwrap_err().status(),
            413
        );
    }

    #[tokio::test]
    async fn declared_oversize_is_refused_before_reading() {
        let mut headers = headers("application/json");
        headers.insert(CONTENT_LENGTH, HeaderValue::from_static("1000000"));
        let problem = json_body(&headers, Body::from("{}"), LIMITS)
            .await
            .unwrap_err();
        assert_eq!(problem.status(), 413);
    }

    #[tokio::test]
    async fn nesting_is_bounded_outside_strings_only() {
        assert!(decode("application/json", "[[[[1]]]]").await.is_ok());
        let problem = decode("application/json", "[[[[[1]]]]]").await.unwrap_err();
        assert!(format!("{problem:?}").contains("deeper than 4 levels (at byte offset 4)"));
        assert!(
            decode("application/json", r#"["[[[[[\"[[[["]"#)
                .await
                .is_ok()
        );
        assert!(
            decode("application/json", "[{},{},[],[[[]]]]")
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn invalid_utf8_gives_the_offset() {
        let body = Body::from(vec![b'"', b'a', 0xff, b'"']);
        let problem = json_body(&headers("application/json"), body, LIMITS)
            .await
            .unwrap_err();
        assert!(format!("{problem:?}").contains("offset 2"));
    }
}
