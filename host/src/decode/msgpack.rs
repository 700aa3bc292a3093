//! MessagePack bodies (`application/msgpack` and its older names): one value, read into
//! JSON. Binary strings become base64 text; map keys become text.

use super::{DecodeError, Decoder, Limits, transcode_to_json};

/// MessagePack.
pub struct MsgPack;

impl Decoder for MsgPack {
    fn media_types(&self) -> &'static [&'static str] {
        &[
            "application/msgpack",
            "application/x-msgpack",
            "application/vnd.msgpack",
        ]
    }

    fn decode(&self, body: &[u8], _: &mime::Mime, limits: Limits) -> Result<String, DecodeError> {
        let mut reader = body;
        let mut deserializer = rmp_serde::Deserializer::new(&mut reader);
        let result = transcode_to_json(&mut deserializer, limits, |error| {
            format!("malformed MessagePack: {error}")
        });
        let offset = body.len() - reader.len();
        let json = result.map_err(|error| match error {
            DecodeError::Malformed(message) => {
                DecodeError::Malformed(format!("{message}, at byte offset {offset}"))
            }
            other => other,
        })?;
        if !reader.is_empty() {
            return Err(DecodeError::Malformed(format!(
                "malformed MessagePack: trailing bytes after the value, at byte offset {offset}"
            )));
        }
        Ok(json)
    }
}
