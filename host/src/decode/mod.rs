//! Request bodies, turned into the one JSON document a guest receives.
//!
//! Owns reading a body — the size limit (checked against `Content-Length` before
//! reading, and while reading, so an oversized body is never held in memory), the read
//! timeout — and the [`Decoder`]s, one file a format: JSON, YAML, XML, form,
//! multipart, Python pickle and MessagePack. Each bounds the nesting depth and the
//! size of what it produces, so no body can make the host recurse or allocate without
//! limit. Every failure is a 4xx problem saying what and where.

mod form;
mod json;
mod msgpack;
mod multipart;
mod pickle;
mod xml;
mod yaml;

use crate::problem::Problem;
use crate::transcode::Transcoder;
use axum::body::Body;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, StatusCode};
use http_body_util::BodyExt;
use serde::Serialize;
use std::time::Duration;

/// Every body format.
pub static DECODERS: [&dyn Decoder; 7] = [
    &json::Json,
    &yaml::Yaml,
    &xml::Xml,
    &form::Form,
    &multipart::Multipart,
    &pickle::Pickle,
    &msgpack::MsgPack,
];

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

/// What a decoder may produce, relative to the body: aliases (YAML), memo references
/// (pickle) and base64 (files) make the JSON larger than what was sent.
const EXPANSION: usize = 4;

/// The object key serde_json's `raw_value` feature (which the host uses) reserves: an
/// object whose first key it is reads as the raw JSON text of its value, not as an
/// object, so the schema validator would check another document than the guest gets.
/// No decoded body may hold it.
const RESERVED_KEY: &str = "$serde_json::private::RawValue";

/// Bounds on what a decoder produces.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The deepest nesting of arrays and objects.
    pub max_depth: usize,
    /// The largest JSON text, in bytes.
    pub max_output: usize,
}

/// Why a body could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The body is not valid in its format; the message says what and where.
    #[error("{0}")]
    Malformed(String),
    /// The body nests deeper than allowed.
    #[error("the body nests deeper than {0} levels")]
    TooDeep(usize),
    /// The decoded document would be larger than allowed: aliases or references that
    /// expand (a "billion laughs").
    #[error("the body expands to more than {0} bytes of data (repeated aliases or references?)")]
    TooLarge(usize),
    /// The body's media type parameters are not supported (a charset other than
    /// UTF-8).
    #[error("{0}")]
    Unsupported(String),
}

/// Why a request's body was refused.
#[derive(Debug)]
pub enum BodyError {
    /// The body, or its `Content-Length`, is not what it claims to be; the message says
    /// what and where (400).
    Malformed(String),
    /// The body is larger than `max_bytes` (413).
    TooLarge { max_bytes: u64 },
    /// The body did not arrive in time (408).
    Timeout(Duration),
    /// No decoder reads the body's media type, or one of its parameters (415).
    Unsupported(String),
    /// The decoder panicked (500).
    DecoderPanicked,
}

impl From<BodyError> for Problem {
    fn from(error: BodyError) -> Problem {
        match error {
            BodyError::Malformed(detail) => Problem::new(StatusCode::BAD_REQUEST)
                .title("Malformed Body")
                .detail(detail),
            BodyError::TooLarge { max_bytes } => Problem::new(StatusCode::PAYLOAD_TOO_LARGE)
                .detail(format!("the request body is larger than {max_bytes} bytes")),
            BodyError::Timeout(timeout) => Problem::new(StatusCode::REQUEST_TIMEOUT).detail(
                format!("the request body did not arrive within {timeout:?}"),
            ),
            BodyError::Unsupported(what) => Problem::new(StatusCode::UNSUPPORTED_MEDIA_TYPE)
                .detail(format!("{what}; supported: {}", supported())),
            BodyError::DecoderPanicked => Problem::new(StatusCode::INTERNAL_SERVER_ERROR)
                .detail("the request body could not be decoded")
                .cause("the body decoder panicked"),
        }
    }
}

/// One body format.
pub trait Decoder: Send + Sync {
    /// The media types it reads (`type/subtype`, lower-case).
    fn media_types(&self) -> &'static [&'static str];

    /// A structured-syntax suffix it also reads in any `application/*+suffix` type.
    fn suffix(&self) -> Option<&'static str> {
        None
    }

    /// What an empty body is in this format, when it is something: a form with no
    /// fields is `{}`. Otherwise an empty body is no body.
    fn empty(&self) -> Option<&'static str> {
        None
    }

    /// The body as one JSON text.
    fn decode(
        &self,
        body: &[u8],
        content_type: &mime::Mime,
        limits: Limits,
    ) -> Result<String, DecodeError>;
}

/// The media types bodies may have, for error messages.
pub fn supported() -> String {
    let mut types: Vec<&str> = DECODERS
        .iter()
        .flat_map(|decoder| decoder.media_types().iter().copied())
        .collect();
    types.push("application/*+json");
    types.push("application/*+xml");
    types.join(", ")
}

/// Bodies up to this size are decoded where they were read: it takes microseconds.
const INLINE_DECODE_BYTES: usize = 64 * 1024;

/// Decodes as [`decode`] does; a large body on a blocking thread, at most one per CPU
/// at a time, so that bodies that take milliseconds to decode never hold up the
/// workers serving other requests, nor take every blocking thread.
pub async fn decode_off_the_workers(
    headers: &HeaderMap,
    bytes: Vec<u8>,
    max_depth: usize,
) -> Result<Option<String>, BodyError> {
    static DECODING: std::sync::LazyLock<std::sync::Arc<tokio::sync::Semaphore>> =
        std::sync::LazyLock::new(|| {
            let cpus = std::thread::available_parallelism().map_or(1, usize::from);
            std::sync::Arc::new(tokio::sync::Semaphore::new(cpus))
        });
    if bytes.len() <= INLINE_DECODE_BYTES {
        return decode(headers, &bytes, max_depth);
    }
    let Ok(permit) = DECODING.clone().acquire_owned().await else {
        return decode(headers, &bytes, max_depth);
    };
    let headers = headers.clone();
    tokio::task::spawn_blocking(move || {
        // Held until the decoding ends, even if the request is given up meanwhile.
        let _permit = permit;
        decode(&headers, &bytes, max_depth)
    })
    .await
    .unwrap_or(Err(BodyError::DecoderPanicked))
}

/// Reads the whole body within the size limit and the read timeout.
pub async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limits: BodyLimits,
) -> Result<Vec<u8>, BodyError> {
    if let Some(length) = content_length(headers)? {
        if length > limits.max_bytes {
            if length <= limits.max_bytes + DRAIN_BYTES {
                drain(body, limits.timeout).await;
            }
            return Err(BodyError::TooLarge {
                max_bytes: limits.max_bytes,
            });
        }
        if length == 0 {
            return Ok(Vec::new());
        }
    }
    match tokio::time::timeout(limits.timeout, read(body, limits.max_bytes)).await {
        Ok(Read::Whole(bytes)) => Ok(bytes),
        Ok(Read::TooLarge(rest)) => {
            drain(rest, limits.timeout).await;
            Err(BodyError::TooLarge {
                max_bytes: limits.max_bytes,
            })
        }
        Ok(Read::Failed(error)) => Err(error),
        Err(_) => Err(BodyError::Timeout(limits.timeout)),
    }
}

/// Decodes a body read whole by its `Content-Type`: `None` when it is empty (but for
/// a format where empty means something), else its JSON text, nested at most
/// `max_depth` deep.
pub fn decode(
    headers: &HeaderMap,
    bytes: &[u8],
    max_depth: usize,
) -> Result<Option<String>, BodyError> {
    let content_type = headers
        .get(CONTENT_TYPE)
        .map(|value| value.to_str().unwrap_or(""));
    if bytes.is_empty() {
        let empty = decoder_for(content_type)
            .ok()
            .and_then(|(decoder, _)| decoder.empty());
        return Ok(empty.map(str::to_owned));
    }
    let (decoder, mime) = decoder_for(content_type)?;
    let decode_limits = Limits {
        max_depth,
        max_output: bytes.len().saturating_mul(EXPANSION).max(64 * 1024),
    };
    let json = decoder
        .decode(bytes, &mime, decode_limits)
        .map_err(|error| match error {
            DecodeError::Unsupported(what) => BodyError::Unsupported(what),
            DecodeError::Malformed(_) | DecodeError::TooDeep(_) | DecodeError::TooLarge(_) => {
                BodyError::Malformed(error.to_string())
            }
        })?;
    // Decoders write keys unescaped; the JSON decoder also refuses an escaped one.
    if json.contains(RESERVED_KEY) {
        return Err(BodyError::Malformed(format!(
            "`{RESERVED_KEY}` is reserved"
        )));
    }
    Ok(Some(json))
}

/// The body's format as a metric label: the first media type of the decoder that reads
/// it, `unsupported` when none does, `none` without a `Content-Type`. Never the
/// client's own text, so the label has a few values only.
pub fn format_label(headers: &HeaderMap) -> &'static str {
    let Some(content_type) = headers.get(CONTENT_TYPE) else {
        return "none";
    };
    match decoder_for(Some(content_type.to_str().unwrap_or(""))) {
        Ok((decoder, _)) => decoder
            .media_types()
            .first()
            .copied()
            .unwrap_or("unsupported"),
        Err(_) => "unsupported",
    }
}

/// The decoder for a `Content-Type`, or 415.
fn decoder_for(
    content_type: Option<&str>,
) -> Result<(&'static dyn Decoder, mime::Mime), BodyError> {
    let Some(content_type) = content_type else {
        return Err(BodyError::Unsupported(
            "the request has a body but no Content-Type".to_owned(),
        ));
    };
    let mime: mime::Mime = content_type
        .parse()
        .map_err(|_| BodyError::Unsupported(format!("`{content_type}` is not a media type")))?;
    let essence = mime.essence_str().to_ascii_lowercase();
    let suffix = mime
        .suffix()
        .map(|suffix| suffix.as_str().to_ascii_lowercase());
    DECODERS
        .iter()
        .find(|decoder| {
            decoder.media_types().contains(&essence.as_str())
                || (mime.type_() == mime::APPLICATION
                    && decoder.suffix().is_some()
                    && decoder.suffix() == suffix.as_deref())
        })
        .map(|decoder| (*decoder, mime.clone()))
        .ok_or_else(|| {
            BodyError::Unsupported(format!("Content-Type `{content_type}` is not supported"))
        })
}

/// Only UTF-8 text is read; a body declaring another charset is refused.
fn require_utf8(content_type: &mime::Mime) -> Result<(), DecodeError> {
    match content_type.get_param(mime::CHARSET) {
        Some(charset) if !charset.as_str().eq_ignore_ascii_case("utf-8") => Err(
            DecodeError::Unsupported(format!("charset `{charset}` is not supported (send UTF-8)")),
        ),
        _ => Ok(()),
    }
}

/// A text body: its declared charset must be UTF-8 (or absent), and so must its bytes.
fn text<'b>(body: &'b [u8], content_type: &mime::Mime) -> Result<&'b str, DecodeError> {
    require_utf8(content_type)?;
    std::str::from_utf8(body).map_err(|error| {
        DecodeError::Malformed(format!(
            "the body is not UTF-8 (invalid byte at offset {})",
            error.valid_up_to()
        ))
    })
}

/// JSON written into memory, refusing to grow past a limit.
struct Bounded {
    out: Vec<u8>,
    limit: usize,
}

impl Bounded {
    fn new(limit: usize) -> Bounded {
        Bounded {
            out: Vec::new(),
            limit,
        }
    }

    fn into_string(self) -> String {
        // Only serde_json writes here, and it writes UTF-8.
        String::from_utf8(self.out).unwrap_or_default()
    }
}

impl std::io::Write for Bounded {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if self.out.len() + bytes.len() > self.limit {
            return Err(std::io::Error::other(OVERFLOW));
        }
        self.out.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const OVERFLOW: &str = "output limit";

/// Writes a value built by a decoder (form fields, XML elements) as bounded JSON,
/// bounding its depth too: a repeated form field is a list in an object, a multipart
/// file an object in an object, however flat the body.
fn to_json(value: &serde_json::Value, limits: Limits) -> Result<String, DecodeError> {
    transcode_to_json(value, limits, |error| error)
}

/// Copies a serde-readable body into bounded JSON, bounding its depth. `describe` puts
/// a parser's error into words.
fn transcode_to_json<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
    limits: Limits,
    describe: impl Fn(String) -> String,
) -> Result<String, DecodeError> {
    let mut out = Bounded::new(limits.max_output);
    let result = Transcoder::new(deserializer, None, limits.max_depth)
        .serialize(&mut serde_json::Serializer::new(&mut out));
    match result {
        Ok(()) => Ok(out.into_string()),
        Err(error) if error.is_io() => Err(DecodeError::TooLarge(limits.max_output)),
        Err(error) if error.to_string().contains("nests too deeply") => {
            Err(DecodeError::TooDeep(limits.max_depth))
        }
        Err(error) => Err(DecodeError::Malformed(describe(error.to_string()))),
    }
}

fn content_length(headers: &HeaderMap) -> Result<Option<u64>, BodyError> {
    let Some(value) = headers.get(CONTENT_LENGTH) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .map(Some)
        .ok_or_else(|| BodyError::Malformed("the Content-Length header is not a number".to_owned()))
}

enum Read {
    Whole(Vec<u8>),
    /// Over the limit; what is kept is the unread rest.
    TooLarge(Body),
    Failed(BodyError),
}

/// Reads at most `max_bytes`; a longer body is given up as soon as it is seen to be,
/// without holding more than the limit.
async fn read(mut body: Body, max_bytes: u64) -> Read {
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = match frame {
            Ok(frame) => frame,
            Err(error) => {
                return Read::Failed(BodyError::Malformed(format!(
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

/// Reads and discards a body the request was refused without reading, if it is small
/// enough to be worth it (up to [`DRAIN_BYTES`], within the body timeout); a larger one
/// is left, and the connection closes after the answer.
pub async fn discard(headers: &HeaderMap, body: Body, limits: BodyLimits) {
    if content_length(headers).is_ok_and(|length| length.is_none_or(|length| length <= DRAIN_BYTES))
    {
        drain(body, limits.timeout).await;
    }
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

    /// Reads and decodes as the pipeline does.
    async fn body(
        headers: &HeaderMap,
        body: Body,
        limits: BodyLimits,
    ) -> Result<Option<String>, Problem> {
        let bytes = read_body(headers, body, limits).await?;
        Ok(decode_off_the_workers(headers, bytes, limits.max_depth).await?)
    }

    async fn decode(content_type: &str, body: &'static str) -> Result<Option<String>, Problem> {
        self::body(&headers(content_type), Body::from(body), LIMITS).await
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
    async fn an_empty_form_is_a_form_of_no_fields() {
        let form = decode("application/x-www-form-urlencoded", "")
            .await
            .unwrap();
        assert_eq!(form.as_deref(), Some("{}"));
        // Empty is no body in every other format, and whatever the type names.
        for content_type in ["application/yaml", "application/xml", "text/plain"] {
            assert_eq!(
                decode(content_type, "").await.unwrap(),
                None,
                "{content_type}"
            );
        }
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
        let problem = self::body(&headers, Body::from("{}"), LIMITS)
            .await
            .unwrap_err();
        assert_eq!(problem.status(), 413);
    }

    #[tokio::test]
    async fn nesting_is_bounded_outside_strings_only() {
        assert!(decode("application/json", "[[[[1]]]]").await.is_ok());
        let problem = decode("application/json", "[[[[[1]]]]]").await.unwrap_err();
        assert!(format!("{problem:?}").contains("deeper than 4 levels"));
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

    #[test]
    fn the_key_serde_json_reserves_is_refused() {
        // What the schema validator would read instead of the object the guest gets.
        let confusing = r#"{"$serde_json::private::RawValue": "[1]"}"#;
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(confusing).unwrap(),
            serde_json::json!([1])
        );
        for (content_type, body) in [
            ("application/json", confusing),
            (
                "application/json",
                r#"[{"\u0024serde_json::private::RawValue": 4}]"#,
            ),
            (
                "application/x-www-form-urlencoded",
                "%24serde_json%3A%3Aprivate%3A%3ARawValue=1",
            ),
            ("application/yaml", "$serde_json::private::RawValue: 1"),
        ] {
            let error = super::decode(&headers(content_type), body.as_bytes(), 4).unwrap_err();
            assert!(
                matches!(error, BodyError::Malformed(_)),
                "{body}: {error:?}"
            );
        }
    }

    #[test]
    fn forms_and_multipart_nest_within_the_bound() {
        let depth_of = |content_type: &str, body: &str, max_depth| {
            super::decode(&headers(content_type), body.as_bytes(), max_depth)
                .map_err(|error| Problem::from(error).status())
        };
        let form = "application/x-www-form-urlencoded";
        assert!(depth_of(form, "tag=a&tag=b", 2).is_ok());
        assert_eq!(
            depth_of(form, "tag=a&tag=b", 1),
            Err(StatusCode::BAD_REQUEST)
        );
        assert!(depth_of(form, "tag=a&title=b", 1).is_ok());
        let multipart = "multipart/form-data; boundary=B";
        let file = "--B\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.txt\"\r\n\r\nx\r\n--B--\r\n";
        assert!(depth_of(multipart, file, 2).is_ok());
        assert_eq!(depth_of(multipart, file, 1), Err(StatusCode::BAD_REQUEST));
    }

    #[tokio::test]
    async fn invalid_utf8_gives_the_offset() {
        let body = Body::from(vec![b'"', b'a', 0xff, b'"']);
        let problem = self::body(&headers("application/json"), body, LIMITS)
            .await
            .unwrap_err();
        assert!(format!("{problem:?}").contains("offset 2"));
    }
}
