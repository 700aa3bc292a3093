//! HTML form bodies (`application/x-www-form-urlencoded`): one object of text fields;
//! a name given more than once becomes a list, in order.

use super::{DecodeError, Decoder, Limits, require_utf8, to_json};
use serde_json::{Map, Value};

/// URL-encoded forms.
pub struct Form;

impl Decoder for Form {
    fn media_types(&self) -> &'static [&'static str] {
        &["application/x-www-form-urlencoded"]
    }

    fn empty(&self) -> Option<&'static str> {
        Some("{}")
    }

    fn decode(
        &self,
        body: &[u8],
        content_type: &mime::Mime,
        limits: Limits,
    ) -> Result<String, DecodeError> {
        require_utf8(content_type)?;
        let mut fields = Map::new();
        for (name, value) in form_urlencoded::parse(body) {
            add(
                &mut fields,
                name.into_owned(),
                Value::String(value.into_owned()),
            );
        }
        to_json(&Value::Object(fields), limits)
    }
}

/// Adds a field to an object; a repeated name collects its values into a list.
pub(super) fn add(fields: &mut Map<String, Value>, name: String, value: Value) {
    match fields.get_mut(&name) {
        None => {
            fields.insert(name, value);
        }
        Some(Value::Array(values)) => values.push(value),
        Some(first) => {
            let first = std::mem::take(first);
            fields.insert(name, Value::Array(vec![first, value]));
        }
    }
}
