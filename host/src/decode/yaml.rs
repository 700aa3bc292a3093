//! YAML bodies (`application/yaml`, `application/x-yaml`, `text/yaml`): one document,
//! read into JSON. Aliases are expanded, within the output bound, so an alias bomb
//! ("billion laughs") is refused rather than expanded; tags are not supported.

use super::{DecodeError, Decoder, Limits, text, transcode_to_json};

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
        let text = text(body, content_type)?;
        transcode_to_json(serde_yaml::Deserializer::from_str(text), limits, |error| {
            format!("malformed YAML: {error}")
        })
    }
}
