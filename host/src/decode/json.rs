//! JSON bodies (`application/json` and any `application/*+json`): checked and passed
//! on as they came.

use super::{DecodeError, Decoder, Limits, RESERVED_KEY, text};

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
        serde_json::from_str::<Checked>(text).map_err(|error| {
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

/// A JSON value read only to check it, keeping nothing. Unlike `IgnoredAny`, it reads
/// every string and number as a value: a string with a lone surrogate escape
/// (`"\ud800"`) or a number out of range (`1e400`), which no JSON reader can turn into
/// a value, is malformed here rather than where the guest or the schema reads it; and
/// so is the reserved key, however it is escaped.
struct Checked;

impl<'de> serde::Deserialize<'de> for Checked {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Checked, D::Error> {
        deserializer.deserialize_any(Checked)
    }
}

impl<'de> serde::de::Visitor<'de> for Checked {
    type Value = Checked;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Checked, E> {
        if text == RESERVED_KEY {
            return Err(E::custom(format_args!("`{RESERVED_KEY}` is reserved")));
        }
        Ok(Checked)
    }

    fn visit_unit<E>(self) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut items: A) -> Result<Checked, A::Error> {
        while items.next_element::<Checked>()?.is_some() {}
        Ok(Checked)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut entries: A) -> Result<Checked, A::Error> {
        while entries.next_entry::<Checked, Checked>()?.is_some() {}
        Ok(Checked)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(text: &str) -> Result<String, DecodeError> {
        let limits = Limits {
            max_depth: 8,
            max_output: 1 << 20,
        };
        Json.decode(text.as_bytes(), &mime::APPLICATION_JSON, limits)
    }

    #[test]
    fn what_passes_is_what_json_readers_read() {
        let text = r#"{"emoji": "\ud83d\ude00", "n": [1e308, -0, 18446744073709551615]}"#;
        assert_eq!(decode(text).unwrap(), text);
        serde_json::from_str::<serde_json::Value>(text).unwrap();
        for unreadable in [
            r#"{"lone": "\ud800"}"#,
            r#"["\udfff"]"#,
            "[1e400]",
            r#"{"\ud800": 1}"#,
        ] {
            assert!(serde_json::from_str::<serde_json::Value>(unreadable).is_err());
            assert!(
                matches!(decode(unreadable), Err(DecodeError::Malformed(_))),
                "{unreadable}"
            );
        }
    }
}
