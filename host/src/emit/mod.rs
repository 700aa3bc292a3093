//! Output formats: what a guest returns, emitted as the client asked.
//!
//! Owns the [`Emitter`] abstraction and its formats, one file each: JSON, YAML, XML,
//! Python pickle, MessagePack and JSON Lines. Adding a format is one file and one line
//! in [`EMITTERS`]. Guest data reaches an emitter as [`Data`]: the guest's JSON text
//! read through the resource's field filter, with `resource_uri` added to each item,
//! copied event by event into the format's serializer — never parsed into a tree first.
//! When the client wants plain JSON and nothing is filtered, the guest's text goes out
//! as it came, only checked.
//!
//! This file holds the [`Emitter`] traits and the list of formats; `data` reads guest
//! JSON through a [`View`], `resource_uri` fills in each item's URI, and `scaffold` is
//! what the hand-written serializers (YAML, XML) share.

#[macro_use]
mod scaffold;

mod data;
mod filtered;
mod json;
mod jsonl;
mod msgpack;
mod pickle;
mod resource_uri;
mod xml;
mod yaml;

use bytes::Bytes;

pub use self::data::{Data, View};
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

/// The chosen format: what [`negotiate`](crate::negotiate) picks and every answer,
/// problem documents included, is written with.
#[derive(Clone, Copy)]
pub struct Negotiated {
    /// Its emitter.
    pub emitter: &'static dyn Emitter,
    /// How to emit.
    pub options: Options,
}

impl Negotiated {
    /// JSON, compact: the default, and the format of errors when negotiation fails.
    pub fn json() -> Negotiated {
        Negotiated {
            emitter: EMITTERS[0],
            options: Options::default(),
        }
    }
}

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

/// `json` emitted whole by `emitter`, unfiltered: what a format's own tests look at.
#[cfg(test)]
pub(crate) fn unfiltered(emitter: &dyn Emitter, json: &str) -> String {
    let everything = crate::fields::FieldFilter::everything();
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
    use crate::fields::{FieldFilter, UriTemplate};

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
