//! `resource_uri`: each item of a resource with an item URI template gets the URI of
//! itself, filled from its own fields, as it is copied out.

use super::filtered::{MAX_DEPTH, Raw, transcode};
use crate::fields::{RESOURCE_URI, Shape, UriTemplate};
use crate::transcode::{copy_value, keep};
use serde::ser::{Error as _, SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;
use std::borrow::Cow;

/// A whole answer: each object of a list gets its `resource_uri`, as does an object
/// alone.
pub(super) fn document<S: Serializer>(
    json: &str,
    shape: Shape<'_>,
    template: &UriTemplate,
    base: &str,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    if !json.trim_start().starts_with('[') {
        return item(json, shape, template, base, serializer);
    }
    let elements: Vec<&RawValue> = serde_json::from_str(json).map_err(S::Error::custom)?;
    let mut seq = serializer.serialize_seq(Some(elements.len()))?;
    for element in elements {
        seq.serialize_element(&Item {
            json: element.get(),
            shape,
            template,
            base,
        })?;
    }
    seq.end()
}

/// One item that may get a `resource_uri`.
struct Item<'a> {
    json: &'a str,
    shape: Shape<'a>,
    template: &'a UriTemplate,
    base: &'a str,
}

impl Serialize for Item<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        item(self.json, self.shape, self.template, self.base, serializer)
    }
}

/// An item: an object gets its `resource_uri`, filled from its own fields (shown or
/// not) — any `resource_uri` of the guest's own is replaced; anything else is copied as
/// it is. The object is read once: only the fields the template names are looked at
/// twice.
pub(super) fn item<S: Serializer>(
    json: &str,
    shape: Shape<'_>,
    template: &UriTemplate,
    base: &str,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    if !json.trim_start().starts_with('{') {
        return transcode(json, shape, serializer);
    }
    let mut deserializer = serde_json::Deserializer::from_str(json);
    let mut failure = None;
    let visitor = ItemFields {
        serializer,
        shape,
        template,
        base,
        failure: &mut failure,
    };
    let ok = serde::Deserializer::deserialize_map(&mut deserializer, visitor)
        .map_err(|error| failure.take().unwrap_or_else(|| S::Error::custom(error)))?;
    deserializer.end().map_err(S::Error::custom)?;
    Ok(ok)
}

/// Copies an object's members through a shape, keeping aside the fields a URI template
/// needs, and ends it with the `resource_uri`.
struct ItemFields<'f, 'a, S: Serializer> {
    serializer: S,
    shape: Shape<'a>,
    template: &'a UriTemplate,
    base: &'a str,
    failure: &'f mut Option<S::Error>,
}

impl<'de, S: Serializer> serde::de::Visitor<'de> for ItemFields<'_, '_, S> {
    type Value = S::Ok;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut entries: A) -> Result<S::Ok, A::Error> {
        let failure = self.failure;
        let mut out = keep(failure, self.serializer.serialize_map(None))?;
        let mut captured: Vec<(Cow<'de, str>, &'de RawValue)> = Vec::new();
        while let Some(key) = entries.next_key::<Cow<'de, str>>()? {
            if key == RESOURCE_URI {
                entries.next_value::<serde::de::IgnoredAny>()?;
                continue;
            }
            let child = self.shape.child(&key);
            if self.template.names(&key) {
                let raw: &'de RawValue = entries.next_value()?;
                if let Some(child) = child {
                    keep(
                        failure,
                        out.serialize_entry(
                            &key,
                            &Raw {
                                json: raw.get(),
                                shape: child,
                            },
                        ),
                    )?;
                }
                captured.push((key, raw));
            } else if let Some(child) = child {
                keep(failure, out.serialize_key(&key))?;
                copy_value(&mut entries, &mut out, Some(child), MAX_DEPTH, failure)?;
            } else {
                entries.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        if let Some(uri) = self
            .template
            .fill(self.base, |path| field_text(&captured, path))
        {
            keep(failure, out.serialize_entry(RESOURCE_URI, &uri))?;
        }
        keep(failure, out.end())
    }
}

/// A field's value as text for a URI: a string's contents, or a number's or boolean's
/// JSON text. Dotted paths look into nested objects.
fn field_text<'a>(
    fields: &[(Cow<'a, str>, &'a RawValue)],
    path: &[String],
) -> Option<Cow<'a, str>> {
    let (first, rest) = path.split_first()?;
    let raw = fields.iter().find(|(key, _)| key == first)?.1;
    if rest.is_empty() {
        let text = raw.get();
        return match serde_json::from_str::<Cow<'a, str>>(text) {
            Ok(string) => Some(string),
            Err(_)
                if text.starts_with([
                    '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 't', 'f',
                ]) =>
            {
                Some(Cow::Borrowed(text))
            }
            Err(_) => None,
        };
    }
    let nested: ObjectFields<'a> = serde_json::from_str(raw.get()).ok()?;
    field_text(&nested.0, rest)
}

/// An object's members, in order, their values left as JSON text.
struct ObjectFields<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for ObjectFields<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Members;

        impl<'de> serde::de::Visitor<'de> for Members {
            type Value = ObjectFields<'de>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut fields = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    fields.push(entry);
                }
                Ok(ObjectFields(fields))
            }
        }

        deserializer.deserialize_map(Members)
    }
}
