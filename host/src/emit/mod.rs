//! Output formats: what a guest returns, emitted as the client asked.
//!
//! Owns the [`Emitter`] abstraction and its formats, one file each: JSON, YAML, XML,
//! Python pickle, MessagePack and JSON Lines. Adding a format is one file and one line
//! in [`EMITTERS`]. Guest data reaches an emitter as [`Data`]: the guest's JSON text
//! read through the resource's field filter, with `resource_uri` added to each item,
//! copied event by event into the format's serializer — never parsed into a tree first.
//! When the client wants plain JSON and nothing is filtered, the guest's text goes out
//! as it came, only checked.

/// The methods of a `Serializer` for a text format that write a scalar as its `Display`
/// text, through the serializer's own `display` method.
macro_rules! scalars_as_text {
    ($($method:ident: $type:ty),* $(,)?) => {
        $(
            fn $method(self, value: $type) -> Result<Self::Ok, Self::Error> {
                self.display(value)
            }
        )*
    };
}

/// The methods of a `Serializer` for a text format that write a wrapper (`Some`, a
/// newtype) as what it wraps, and a unit as `serialize_none` writes nothing.
macro_rules! wrappers_as_inner {
    () => {
        fn serialize_some<T: ?Sized + serde::Serialize>(
            self,
            value: &T,
        ) -> Result<Self::Ok, Self::Error> {
            value.serialize(self)
        }

        fn serialize_unit(self) -> Result<Self::Ok, Self::Error> {
            self.serialize_none()
        }

        fn serialize_unit_struct(self, _: &'static str) -> Result<Self::Ok, Self::Error> {
            self.serialize_none()
        }

        fn serialize_newtype_struct<T: ?Sized + serde::Serialize>(
            self,
            _: &'static str,
            value: &T,
        ) -> Result<Self::Ok, Self::Error> {
            value.serialize(self)
        }

        fn serialize_newtype_variant<T: ?Sized + serde::Serialize>(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            value: &T,
        ) -> Result<Self::Ok, Self::Error> {
            value.serialize(self)
        }
    };
}

/// `SerializeTuple` and `SerializeTupleStruct` for a type whose `SerializeSeq` writes
/// tuples as it writes lists.
macro_rules! tuples_as_lists {
    ($type:ty) => {
        impl serde::ser::SerializeTuple for $type {
            type Ok = ();
            type Error = <Self as serde::ser::SerializeSeq>::Error;

            fn serialize_element<T: ?Sized + serde::Serialize>(
                &mut self,
                value: &T,
            ) -> Result<(), Self::Error> {
                serde::ser::SerializeSeq::serialize_element(self, value)
            }

            fn end(self) -> Result<(), Self::Error> {
                serde::ser::SerializeSeq::end(self)
            }
        }

        impl serde::ser::SerializeTupleStruct for $type {
            type Ok = ();
            type Error = <Self as serde::ser::SerializeSeq>::Error;

            fn serialize_field<T: ?Sized + serde::Serialize>(
                &mut self,
                value: &T,
            ) -> Result<(), Self::Error> {
                serde::ser::SerializeSeq::serialize_element(self, value)
            }

            fn end(self) -> Result<(), Self::Error> {
                serde::ser::SerializeSeq::end(self)
            }
        }
    };
}

mod json;
mod jsonl;
mod msgpack;
mod pickle;
mod xml;
mod yaml;

use crate::fields::{FieldFilter, RESOURCE_URI, Shape, UriTemplate};
use crate::transcode::{Transcoder, copy_value, keep};
use bytes::Bytes;
use serde::ser::{Error as _, Impossible, SerializeMap, SerializeSeq};
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

/// What a format is called and answers to.
pub struct Format {
    /// The name `?format=` gives.
    pub name: &'static str,
    /// The media types it answers to; the first is the `Content-Type` it sends.
    pub media_types: &'static [&'static str],
    /// Path suffixes that select it (`/posts/hello.yaml`), without the dot.
    pub extensions: &'static [&'static str],
    /// The `Content-Type` of a problem document in this format.
    pub problem_media_type: &'static str,
}

/// One output format.
pub trait Emitter: Send + Sync {
    /// Its names and media types.
    fn format(&self) -> &'static Format;

    /// Writes one whole document.
    fn document(
        &self,
        value: &Data<'_, '_>,
        options: Options,
        out: &mut Vec<u8>,
    ) -> Result<(), EmitError>;

    /// Writes an RFC 9457 problem document (the same as a document unless the format
    /// has its own shape for problems).
    fn problem(
        &self,
        value: &Data<'_, '_>,
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
        f.write_str(self.format().name)
    }
}

/// Writes a stream of items in one format, batch by batch, so that memory stays flat.
pub trait ItemWriter: Send {
    /// What comes before the first item.
    fn begin(&mut self, out: &mut Vec<u8>) -> Result<(), EmitError>;

    /// One batch of items.
    fn batch(&mut self, items: &[Data<'_, '_>], out: &mut Vec<u8>) -> Result<(), EmitError>;

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
    if std::ptr::eq(emitter.format(), Json.format())
        && options.indent.is_none()
        && view.is_identity()
    {
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
    writer.batch(&data, out)
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
/// not) — any `resource_uri` of the guest's own is replaced; anything else is copied as
/// it is. The object is read once: only the fields the template names are looked at
/// twice.
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
        if let Some(uri) = self.template.fill(|path| field_text(&captured, path)) {
            keep(
                failure,
                out.serialize_entry(RESOURCE_URI, &format!("{}{uri}", self.base)),
            )?;
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

/// Why a value could not be written by one of the hand-written serializers (a map key
/// that is not text, a value a format cannot hold).
#[derive(Debug)]
pub(super) struct SerializeError(String);

impl std::fmt::Display for SerializeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SerializeError {}

impl serde::ser::Error for SerializeError {
    fn custom<T: std::fmt::Display>(message: T) -> Self {
        SerializeError(message.to_string())
    }
}

/// Turns a map key into text, for formats whose keys are text.
pub(super) struct KeyText;

impl KeyText {
    fn display(self, value: impl std::fmt::Display) -> Result<String, SerializeError> {
        Ok(value.to_string())
    }
}

impl serde::Serializer for KeyText {
    type Ok = String;
    type Error = SerializeError;
    type SerializeSeq = Impossible<String, SerializeError>;
    type SerializeTuple = Impossible<String, SerializeError>;
    type SerializeTupleStruct = Impossible<String, SerializeError>;
    type SerializeTupleVariant = Impossible<String, SerializeError>;
    type SerializeMap = Impossible<String, SerializeError>;
    type SerializeStruct = Impossible<String, SerializeError>;
    type SerializeStructVariant = Impossible<String, SerializeError>;

    scalars_as_text!(
        serialize_bool: bool,
        serialize_i8: i8,
        serialize_i16: i16,
        serialize_i32: i32,
        serialize_i64: i64,
        serialize_u8: u8,
        serialize_u16: u16,
        serialize_u32: u32,
        serialize_u64: u64,
        serialize_f32: f32,
        serialize_f64: f64,
    );

    fn serialize_str(self, value: &str) -> Result<String, SerializeError> {
        Ok(value.to_owned())
    }

    fn serialize_char(self, value: char) -> Result<String, SerializeError> {
        Ok(value.to_string())
    }

    fn serialize_bytes(self, _: &[u8]) -> Result<String, SerializeError> {
        Err(SerializeError("object keys must be text".into()))
    }

    fn serialize_none(self) -> Result<String, SerializeError> {
        Err(SerializeError("object keys must be text".into()))
    }

    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<String, SerializeError> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<String, SerializeError> {
        Err(SerializeError("object keys must be text".into()))
    }

    fn serialize_unit_struct(self, _: &'static str) -> Result<String, SerializeError> {
        Err(SerializeError("object keys must be text".into()))
    }

    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<String, SerializeError> {
        Ok(variant.to_owned())
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<String, SerializeError> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<String, SerializeError> {
        Err(SerializeError("object keys must be text".into()))
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, SerializeError> {
        Err(SerializeError("object keys must be text".into()))
    }

    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, SerializeError> {
        Err(SerializeError("object keys must be text".into()))
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, SerializeError> {
        Err(SerializeError("object keys must be text".into()))
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, SerializeError> {
        Err(SerializeError("object keys must be text".into()))
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, SerializeError> {
        Err(SerializeError("object keys must be text".into()))
    }

    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, SerializeError> {
        Err(SerializeError("object keys must be text".into()))
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, SerializeError> {
        Err(SerializeError("object keys must be text".into()))
    }
}

/// `json` emitted whole by `emitter`, unfiltered: what a format's own tests look at.
#[cfg(test)]
pub(crate) fn unfiltered(emitter: &dyn Emitter, json: &str) -> String {
    let everything = FieldFilter::everything();
    let view = View {
        filter: &everything,
        uri: None,
    };
    let bytes = document(emitter, Options::default(), json.to_owned(), &view).unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
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
                .unwrap_or_else(|error| panic!("{}: {error}", emitter.format().name));
            assert!(!out.is_empty(), "{}", emitter.format().name);
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
            assert!(!stream.is_empty(), "{}", emitter.format().name);
        }
    }
}
