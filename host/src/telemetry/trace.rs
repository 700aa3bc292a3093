//! W3C trace context (`traceparent`): a request that arrives with one continues its
//! trace, any other starts one; either way the request gets a span id of its own, on
//! its log lines and on the `traceparent` of its answer.

use http::HeaderMap;
use http::header::HeaderName;
use std::fmt;
use std::hash::{BuildHasher, RandomState};

/// The W3C trace context header.
pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// A request's place in a trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceContext {
    /// The trace the request belongs to.
    pub trace_id: u128,
    /// This request's own span.
    pub span_id: u64,
    /// The caller's span, when the request continued a trace.
    pub parent_id: Option<u64>,
    /// The trace flags (bit 0: sampled), kept as the caller sent them.
    pub flags: u8,
}

impl TraceContext {
    /// The request's context: continuing a well-formed `traceparent`, or starting a
    /// trace (sampled) when there is none or it is malformed, as the specification
    /// asks.
    pub fn for_request(headers: &HeaderMap) -> TraceContext {
        let parent = headers
            .get(TRACEPARENT)
            .and_then(|value| value.to_str().ok())
            .and_then(parse);
        match parent {
            Some((trace_id, parent_id, flags)) => TraceContext {
                trace_id,
                span_id: new_span_id(),
                parent_id: Some(parent_id),
                flags,
            },
            None => TraceContext {
                trace_id: (u128::from(random()) << 64) | u128::from(random()),
                span_id: new_span_id(),
                parent_id: None,
                flags: 1,
            },
        }
    }

    /// The trace id in a `traceparent` this context wrote: 32 lowercase hex digits.
    pub fn trace_id_in(traceparent: &str) -> &str {
        traceparent.get(3..35).unwrap_or_default()
    }

    /// The span id in a `traceparent` this context wrote: 16 lowercase hex digits.
    pub fn span_id_in(traceparent: &str) -> &str {
        traceparent.get(36..52).unwrap_or_default()
    }
}

/// The `traceparent` naming this request's span, for its answer and for calls it makes.
impl fmt::Display for TraceContext {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "00-{:032x}-{:016x}-{:02x}",
            self.trace_id, self.span_id, self.flags
        )
    }
}

/// A `traceparent` value's trace id, parent id and flags; `None` unless it is
/// well-formed (version 00 exactly; a later version's first four fields, as the
/// specification says to read them), with lowercase hex and non-zero ids.
fn parse(value: &str) -> Option<(u128, u64, u8)> {
    let value = value.trim_matches([' ', '\t']);
    let bytes = value.as_bytes();
    if !value.is_ascii() || bytes.len() < 55 || (bytes.len() > 55 && bytes[55] != b'-') {
        return None;
    }
    let field = |range: std::ops::Range<usize>| {
        let text = &value[range];
        text.bytes()
            .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte))
            .then_some(text)
    };
    let version = u8::from_str_radix(field(0..2)?, 16).ok()?;
    if version == 0xff || (version == 0 && bytes.len() != 55) {
        return None;
    }
    if bytes[2] != b'-' || bytes[35] != b'-' || bytes[52] != b'-' {
        return None;
    }
    let trace_id = u128::from_str_radix(field(3..35)?, 16).ok()?;
    let parent_id = u64::from_str_radix(field(36..52)?, 16).ok()?;
    let flags = u8::from_str_radix(field(53..55)?, 16).ok()?;
    (trace_id != 0 && parent_id != 0).then_some((trace_id, parent_id, flags))
}

/// A random non-zero span id.
pub fn new_span_id() -> u64 {
    loop {
        let id = random();
        if id != 0 {
            return id;
        }
    }
}

/// 64 random bits, cheaply: the standard library's per-thread random hash keys, which
/// change on every call. Unique ids, not secrets.
fn random() -> u64 {
    RandomState::new().hash_one(0u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn context(value: &str) -> TraceContext {
        let mut headers = HeaderMap::new();
        headers.insert(TRACEPARENT, HeaderValue::from_str(value).unwrap());
        TraceContext::for_request(&headers)
    }

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_well_formed_traceparent_is_continued_with_a_new_span() {
        let continued = context(VALID);
        let answer = continued.to_string();
        assert_eq!(
            TraceContext::trace_id_in(&answer),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(
            TraceContext::span_id_in(&answer),
            format!("{:016x}", continued.span_id)
        );
        assert_eq!(continued.parent_id, Some(0x00f0_67aa_0ba9_02b7));
        assert_ne!(continued.span_id, 0x00f0_67aa_0ba9_02b7);
        assert_eq!(continued.flags, 1);
        assert!(answer.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
        assert_eq!(
            parse(&answer).map(|(trace, _, _)| trace),
            Some(continued.trace_id)
        );
    }

    #[test]
    fn a_later_version_is_read_by_its_first_fields() {
        let later = "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-comes-next";
        assert_eq!(
            context(later).trace_id,
            0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736
        );
    }

    #[test]
    fn malformed_traceparents_start_a_new_trace() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
            "00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
            let started = context(bad);
            assert_eq!(started.parent_id, None, "{bad:?}");
            assert_ne!(started.trace_id, 0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736);
        }
        assert_ne!(context("").trace_id, context("").trace_id);
    }
}
