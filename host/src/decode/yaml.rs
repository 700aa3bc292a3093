//! YAML bodies (`application/yaml`, `application/x-yaml`, `text/yaml`): one document,
//! read into JSON. Aliases are expanded, within the output bound, so an alias bomb
//! ("billion laughs") is refused rather than expanded; tags are not supported.

use super::{DecodeError, Decoder, Limits, require_utf8, transcode_to_json, utf8};

/// YAML.
pub struct Yaml;

impl Decoder for Yaml {
    fn media_types(&self) -> &'static [&'static str] {
        &[
            "application/yaml",
            "application/x-yaml",
            "text/yaml",
            "text/x-yaml",
        ]
    }

    fn suffix(&self) -> Option<&'static str> {
        Some("yaml")
    }

    fn decode(
        &self,
        body: &[u8],
        content_type: &mime::Mime,
        limits: Limits,
    ) -> Result<String, DecodeError> {
        require_utf8(content_type)?;
        let text = utf8(body)?;
        transcode_to_json(serde_yaml::Deserializer::from_str(text), limits, |error| {
            format!("malformed YAML: {error}")
        })
    }
}
