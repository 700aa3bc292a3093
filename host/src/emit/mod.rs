//! Output formats: what a guest returns, emitted as the client asked.
//!
//! Owns the [`Emitter`] abstraction and its formats, one file each: JSON, YAML, XML,
//! Python pickle, MessagePack and JSON Lines. Adding a format is one file and one line
//! in [`EMITTERS`]. Guest data reaches an emitter as [`Data`]: the guest's JSON text
//! read through the resource's field filter, with `resource_uri` added to each item,
//! copied event by event into the format's serializer — never parsed into a tree first.
//! When the client wants plain JSON and nothing is filtered, the guest's text goes out
//! as it came, only checked.

mod json;
mod jsonl;
mod msgpack;
mod pickle;
mod xml;
mod yaml;

use crate::fields::{FieldFilter, RESOURCE_URI, Shape, UriTemplate};
use crate::transcode::Transcoder;
use bytes::Bytes;
use serde::ser::{Error as _, SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;
use std::borrow::Cow;

pub use self::json::Json;

/// Every format, in the order the host prefers them when a client accepts several
/// equally.
pub static EMITTERS: [&dyn Emitter; 6] = [
    &json::Json,
    &yaml::Yaml,
    &xml::Xml,
    &msgpack::MsgPack,
    &pickle::Pickle,
    &jsonl::JsonLines,
];

/// The deepest the guest's data may nest (serde_json refuses deeper documents anyway).
const MAX_DEPTH: usize = 128;

/// How the client asked for the output, beyond its format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Pretty-print with this many spaces (formats that can; JSON).
    pub indent: Option<u8>,
}

/// Why data could not be emitted (a guest's malformed JSON, most likely).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct EmitError(String);

impl EmitError {
    fn from_display(error: impl std::fmt::Display) -> EmitError {
        EmitError(error.to_string())
    }
}

/// One output format.
pub trait Emitter: Send + Sync {
    /// The format's name, as `?format=` gives it.
    fn name(&self) -> &'static str;

    /// The media types it answers to; the first is the `Content-Type` it sends.
    fn media_types(&self) -> &'static [&'static str];

    /// Path suffixes that select it (`/posts/hello.yaml`), without the dot.
    fn extensions(&self) -> &'static [&'static str];

    /// The `Content-Type` of a problem document in this format.
    fn problem_media_type(&self) -> &'static str {
        self.media_types()[0]
    }

    /// Writes one whole document.
    fn document(
        &self,
        value: &dyn erased_serde::Serialize,
        options: Options,
        out: &mut Vec<u8>,
    ) -> Result<(), EmitError>;

    /// Writes an RFC 9457 problem document (the same as a document unless the format
    /// has its own shape for problems).
    fn problem(
        &self,
        value: &dyn erased_serde::Serialize,
        options: Options,
        out: &mut Vec<u8>,
    ) -> Result<(), EmitError> {
        self.document(value, options, out)
    }

    /// A writer for a stream of items, emitted as they arrive.
    fn items(&self, options: Options) -> Box<dyn ItemWriter>;
}

impl std::fmt::Debug for dyn Emitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Writes a stream of items in one format, batch by batch, so that memory stays flat.
pub trait ItemWriter: Send {
    /// What comes before the first item.
    fn begin(&mut self, out: &mut Vec<u8>) -> Result<(), EmitError>;

    /// One batch of items.
    fn batch(
        &mut self,
        items: &[&dyn erased_serde::Serialize],
        out: &mut Vec<u8>,
    ) -> Result<(), EmitError>;

    /// What comes after the last item.
    fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), EmitError>;
}

/// What of the guest's data a client sees: the field filter, and how to make
/// `resource_uri`s (the template and the public base URL).
pub struct View<'a> {
    /// The resource's filter, narrowed for this request.
    pub filter: &'a FieldFilter,
    /// The item URI template, if the resource has one and the filter shows it.
    pub uri: Option<(&'a UriTemplate, &'a str)>,
}

impl View<'_> {
    /// Whether the guest's JSON can go out untouched.
    fn is_identity(&self) -> bool {
        self.filter.is_identity() && self.uri.is_none()
    }
}

/// A guest's whole answer, emitted in `emitter`'s format for `view`.
pub fn document(
    emitter: &dyn Emitter,
    options: Options,
    json: String,
    view: &View<'_>,
) -> Result<Bytes, EmitError> {
    if emitter.name() == Json.name() && options.indent.is_none() && view.is_identity() {
        serde_json::from_str::<serde::de::IgnoredAny>(&json).map_err(not_json)?;
        return Ok(Bytes::from(json));
    }
    let mut out = Vec::with_capacity(json.len() + 64);
    emitter.document(&Data::document(&json, view), options, &mut out)?;
    Ok(Bytes::from(out))
}

/// One batch of streamed items (each a JSON text) for `writer`.
pub fn batch(
    writer: &mut dyn ItemWriter,
    items: &[String],
    view: &View<'_>,
    out: &mut Vec<u8>,
) -> Result<(), EmitError> {
    let data: Vec<Data<'_, '_>> = items.iter().map(|item| Data::item(item, view)).collect();
    let values: Vec<&dyn erased_serde::Serialize> = data
        .iter()
        .map(|item| item as &dyn erased_serde::Serialize)
        .collect();
    writer.batch(&values, out)
}

fn not_json(error: serde_json::Error) -> EmitError {
    EmitError(format!(
        "the plugin returned data that is not JSON: {error}"
    ))
}

/// Guest JSON on its way out: serializing it copies it, filtered, into the serializer.
pub struct Data<'j, 'v> {
    json: &'j str,
    view: &'v View<'v>,
    item: bool,
}

impl<'j, 'v> Data<'j, 'v> {
    /// A whole answer: an object is an item, and so is each object of a list.
    pub fn document(json: &'j str, view: &'v View<'v>) -> Self {
        Data {
            json,
            view,
            item: false,
        }
    }

    /// One item of a stream.
    pub fn item(json: &'j str, view: &'v View<'v>) -> Self {
        Data {
            json,
            view,
            item: true,
        }
    }
}

impl Serialize for Data<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let shape = self.view.filter.shape();
        match self.view.uri {
            Some((template, base)) if self.item => {
                item(self.json, shape, template, base, serializer)
            }
            Some((template, base)) if self.json.trim_start().starts_with('[') => {
                let elements: Vec<&RawValue> =
                    serde_json::from_str(self.json).map_err(S::Error::custom)?;
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
            Some((template, base)) => item(self.json, shape, template, base, serializer),
            None => transcode(self.json, shape, serializer),
        }
    }
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
/// not); anything else is copied as it is.
fn item<S: Serializer>(
    json: &str,
    shape: Shape<'_>,
    template: &UriTemplate,
    base: &str,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    if !json.trim_start().starts_with('{') {
        return transcode(json, shape, serializer);
    }
    let fields: Vec<(Cow<'_, str>, &RawValue)> = serde_json::from_str::<ObjectFields<'_>>(json)
        .map_err(S::Error::custom)?
        .0;
    let uri = template.fill(|path| field_text(&fields, path));
    let mut map = serializer.serialize_map(None)?;
    for (key, value) in &fields {
        if key == RESOURCE_URI && uri.is_some() {
            continue;
        }
        if let Some(child) = shape.child(key) {
            map.serialize_entry(
                key,
                &Raw {
                    json: value.get(),
                    shape: child,
                },
            )?;
        }
    }
    if let Some(uri) = uri {
        map.serialize_entry(RESOURCE_URI, &format!("{base}{uri}"))?;
    }
    map.end()
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

/// A piece of guest JSON copied through a shape.
struct Raw<'a> {
    json: &'a str,
    shape: Shape<'a>,
}

impl Serialize for Raw<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        transcode(self.json, self.shape, serializer)
    }
}

fn transcode<S: Serializer>(
    json: &str,
    shape: Shape<'_>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let mut deserializer = serde_json::Deserializer::from_str(json);
    let ok = Transcoder::new(&mut deserializer, Some(shape), MAX_DEPTH).serialize(serializer)?;
    deserializer.end().map_err(S::Error::custom)?;
    Ok(ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(fields: &[&str], exclude: &[&str]) -> FieldFilter {
        let strings = |items: &[&str]| {
            items
                .iter()
                .map(|item| (*item).to_owned())
                .collect::<Vec<_>>()
        };
        FieldFilter::compile(&strings(fields), &strings(exclude)).unwrap()
    }

    fn json(data: &str, view: &View<'_>) -> String {
        String::from_utf8(
            document(&Json, Options::default(), data.to_owned(), view)
                .unwrap()
                .to_vec(),
        )
        .unwrap()
    }

    #[test]
    fn identity_passes_the_text_through() {
        let everything = filter(&[], &[]);
        let view = View {
            filter: &everything,
            uri: None,
        };
        assert_eq!(json("{ \"a\" : 1 }", &view), "{ \"a\" : 1 }");
        assert!(document(&Json, Options::default(), "{\"a\": }".into(), &view).is_err());
    }

    #[test]
    fn items_get_resource_uris_from_their_own_fields() {
        let template = UriTemplate::parse("/posts/{slug}").unwrap();
        let hidden_slug = filter(&["title"], &[]);
        let view = View {
            filter: &hidden_slug,
            uri: Some((&template, "https://api.example")),
        };
        assert_eq!(
            json(r#"{"slug":"a b","title":"T","id":1}"#, &view),
            r#"{"title":"T","resource_uri":"https://api.example/posts/a%20b"}"#
        );
        assert_eq!(
            json(r#"[{"slug":"x","title":"X"},{"title":"no slug"},7]"#, &view),
            r#"[{"title":"X","resource_uri":"https://api.example/posts/x"},{"title":"no slug"},7]"#
        );
        let numeric = UriTemplate::parse("/n/{id}/{author.name}").unwrap();
        let all = filter(&[], &[]);
        let view = View {
            filter: &all,
            uri: Some((&numeric, "")),
        };
        assert_eq!(
            json(
                r#"{"id":42,"author":{"name":"jo"},"resource_uri":"stale"}"#,
                &view
            ),
            r#"{"id":42,"author":{"name":"jo"},"resource_uri":"/n/42/jo"}"#
        );
    }

    #[test]
    fn every_format_writes_a_document_and_a_stream() {
        let everything = filter(&[], &["secret"]);
        let view = View {
            filter: &everything,
            uri: None,
        };
        for emitter in EMITTERS {
            let mut out = Vec::new();
            emitter
                .document(
                    &Data::document(r#"{"a":[1,"two",null],"secret":1}"#, &view),
                    Options::default(),
                    &mut out,
                )
                .unwrap_or_else(|error| panic!("{}: {error}", emitter.name()));
            assert!(!out.is_empty(), "{}", emitter.name());
            let mut writer = emitter.items(Options::default());
            let mut stream = Vec::new();
            writer.begin(&mut stream).unwrap();
            batch(
                writer.as_mut(),
                &["1".into(), r#"{"b":2}"#.into()],
                &view,
                &mut stream,
            )
            .unwrap();
            writer.finish(&mut stream).unwrap();
            assert!(!stream.is_empty(), "{}", emitter.name());
        }
    }
}
