//! JSON bodies (`application/json` and any `application/*+json`): checked and passed
//! on as they came.

use super::{DecodeError, Decoder, Limits, text};

/// JSON.
pub struct Json;

impl Decoder for Json {
    fn media_types(&self) -> &'static [&'static str] {
        &["application/json"]
    }

    fn suffix(&self) -> Option<&'static str> {
        Some("json")
    }

    fn decode(
        &self,
        body: &[u8],
        content_type: &mime::Mime,
        limits: Limits,
    ) -> Result<String, DecodeError> {
        let text = text(body, content_type)?;
        check_depth(body, limits.max_depth)?;
        serde_json::from_str::<serde::de::IgnoredAny>(text).map_err(|error| {
            DecodeError::Malformed(format!(
                "malformed JSON at line {} column {}: {}",
                error.line(),
                error.column(),
                strip_position(&error.to_string())
            ))
        })?;
        Ok(text.to_owned())
    }
}

/// Refuses JSON nested deeper than `max_depth`, found with one pass over the bytes
/// before any parser recurses into it.
fn check_depth(bytes: &[u8], max_depth: usize) -> Result<(), DecodeError> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &byte in bytes {
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
                    return Err(DecodeError::TooDeep(max_depth));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// serde_json ends its messages with the position, which the detail already gives.
fn strip_position(message: &str) -> &str {
    message
        .rfind(" at line ")
        .map_or(message, |index| &message[..index])
}
