//! Multipart form bodies (`multipart/form-data`): one object; text fields are strings,
//! files are `{"filename", "content_type", "size", "content"}` with the content in
//! base64. Repeated names become lists. The whole body is already within the size
//! limit when it gets here.

use super::form::add;
use super::{DecodeError, Decoder, Limits, to_json};
use base64::Engine as _;
use futures_util::FutureExt as _;
use serde_json::{Map, Value, json};

/// Multipart forms.
pub struct Multipart;

impl Decoder for Multipart {
    fn media_types(&self) -> &'static [&'static str] {
        &["multipart/form-data"]
    }

    fn decode(
        &self,
        body: &[u8],
        content_type: &mime::Mime,
        limits: Limits,
    ) -> Result<String, DecodeError> {
        let boundary = content_type
            .get_param(mime::BOUNDARY)
            .ok_or_else(|| {
                DecodeError::Malformed("multipart/form-data without a boundary parameter".into())
            })?
            .to_string();
        // The body is in memory, so every step of the parser is ready at once.
        let fields = read(body.to_vec(), boundary)
            .now_or_never()
            .unwrap_or_else(|| {
                Err(DecodeError::Malformed(
                    "the multipart body is incomplete".into(),
                ))
            })?;
        to_json(&Value::Object(fields), limits)
    }
}

async fn read(body: Vec<u8>, boundary: String) -> Result<Map<String, Value>, DecodeError> {
    let chunks =
        futures_util::stream::once(
            async move { Ok::<_, std::io::Error>(bytes::Bytes::from(body)) },
        );
    let mut parts = multer::Multipart::new(chunks, boundary);
    let mut fields = Map::new();
    while let Some(part) = parts.next_field().await.map_err(malformed)? {
        let name = part
            .name()
            .ok_or_else(|| DecodeError::Malformed("a multipart part has no name".into()))?
            .to_owned();
        let filename = part.file_name().map(str::to_owned);
        let content_type = part.content_type().map(ToString::to_string);
        let content = part.bytes().await.map_err(malformed)?;
        let value = match filename {
            Some(filename) => json!({
                "filename": filename,
                "content_type": content_type.unwrap_or_else(|| "application/octet-stream".into()),
                "size": content.len(),
                "content": base64::engine::general_purpose::STANDARD.encode(&content),
            }),
            None => Value::String(String::from_utf8(content.to_vec()).map_err(|_| {
                DecodeError::Malformed(format!("multipart field `{name}` is not UTF-8 text"))
            })?),
        };
        add(&mut fields, name, value);
    }
    Ok(fields)
}

fn malformed(error: multer::Error) -> DecodeError {
    DecodeError::Malformed(format!("malformed multipart body: {error}"))
}
