//! Turning what a guest returns into response bodies.
//!
//! The host speaks JSON: data the guest returns as JSON text goes out as it came,
//! checked but not parsed into a tree and re-serialized; streamed items are framed
//! into one JSON array as they arrive.

use bytes::Bytes;
use serde::de::IgnoredAny;

/// The media type of JSON bodies.
pub const JSON: &str = "application/json";

/// Why a guest's data cannot be sent.
#[derive(Debug, thiserror::Error)]
#[error("the plugin returned data that is not JSON: {0}")]
pub struct NotJson(#[from] serde_json::Error);

/// A guest's JSON document, checked, as a body.
pub fn document(text: String) -> Result<Bytes, NotJson> {
    serde_json::from_str::<IgnoredAny>(&text)?;
    Ok(Bytes::from(text))
}

/// Frames streamed items into one JSON array, a batch at a time.
#[derive(Debug, Default)]
pub struct JsonArray {
    started: bool,
}

impl JsonArray {
    /// The bytes for one batch of items (each a JSON text), opening the array on the
    /// first.
    pub fn batch(&mut self, items: &[String]) -> Result<Bytes, NotJson> {
        let mut chunk =
            Vec::with_capacity(items.iter().map(|item| item.len() + 1).sum::<usize>() + 1);
        for item in items {
            serde_json::from_str::<IgnoredAny>(item)?;
            chunk.push(if self.started { b',' } else { b'[' });
            self.started = true;
            chunk.extend_from_slice(item.as_bytes());
        }
        Ok(Bytes::from(chunk))
    }

    /// The closing bytes (`[]` for an empty stream).
    pub fn finish(self) -> Bytes {
        Bytes::from_static(if self.started { b"]" } else { b"[]" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_checked_not_rewritten() {
        assert_eq!(document("{ \"a\" : 1 }".into()).unwrap(), "{ \"a\" : 1 }");
        assert!(document("{\"a\": }".into()).is_err());
        assert!(document("".into()).is_err());
    }

    #[test]
    fn arrays_frame_batches() {
        let mut array = JsonArray::default();
        let mut out = Vec::new();
        out.extend_from_slice(&array.batch(&["1".into(), "{\"a\":2}".into()]).unwrap());
        out.extend_from_slice(&array.batch(&[]).unwrap());
        out.extend_from_slice(&array.batch(&["3".into()]).unwrap());
        out.extend_from_slice(&array.finish());
        assert_eq!(String::from_utf8(out).unwrap(), "[1,{\"a\":2},3]");
        assert_eq!(JsonArray::default().finish(), "[]");
        assert!(JsonArray::default().batch(&["nope".into()]).is_err());
    }
}
