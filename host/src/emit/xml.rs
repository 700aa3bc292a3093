//! XML (`application/xml`, also `text/xml`), in django-piston's shape: a `<response>`
//! root, each list item a `<resource>` element, each object key an element.
//!
//! Lossless where django-piston was not: a key that is not a safe XML name becomes
//! `<item key="...">`; `null` is an empty element with `nil="true"`; a string with
//! characters XML cannot carry (most control characters) is written as base64 with
//! `encoding="base64"`; carriage returns are written as character references so that
//! parsers do not fold them. Problem documents use RFC 9457's `<problem>` root and
//! namespace.

use super::scaffold::{KeyText, SerializeError, write_escaped};
use super::{Data, EmitError, Emitter, Format, ItemWriter, Options};
use base64::Engine as _;
use serde::ser::{self, Error as _, Impossible, Serialize};
use std::fmt::Display;
use std::io::Write as _;

/// XML.
pub struct Xml;

const DECLARATION: &[u8] = b"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n";

impl Emitter for Xml {
    fn format(&self) -> &'static Format {
        &Format {
            name: "xml",
            media_types: &["application/xml", "text/xml"],
            extensions: &["xml"],
            problem_media_type: "application/problem+xml",
        }
    }

    fn document(
        &self,
        value: &Data<'_, '_>,
        _: Options,
        out: &mut Vec<u8>,
    ) -> Result<(), EmitError> {
        out.extend_from_slice(DECLARATION);
        write(value, Name::Tag("response", ""), out)
    }

    fn problem(
        &self,
        value: &Data<'_, '_>,
        _: Options,
        out: &mut Vec<u8>,
    ) -> Result<(), EmitError> {
        out.extend_from_slice(DECLARATION);
        write(
            value,
            Name::Tag("problem", " xmlns=\"urn:ietf:rfc:7807\""),
            out,
        )
    }

    fn items(&self, _: Options) -> Box<dyn ItemWriter> {
        Box::new(Resources)
    }
}

fn write(value: &Data<'_, '_>, name: Name<'_>, out: &mut Vec<u8>) -> Result<(), EmitError> {
    value
        .serialize(Element { out, name })
        .map_err(EmitError::from_display)
}

/// A stream: `<response>`, a `<resource>` per item, `</response>`.
struct Resources;

impl ItemWriter for Resources {
    fn begin(&mut self, out: &mut Vec<u8>) -> Result<(), EmitError> {
        out.extend_from_slice(DECLARATION);
        out.extend_from_slice(b"<response>");
        Ok(())
    }

    fn batch(&mut self, items: &[Data<'_, '_>], out: &mut Vec<u8>) -> Result<(), EmitError> {
        items.iter().try_for_each(|item| write(item, RESOURCE, out))
    }

    fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), EmitError> {
        out.extend_from_slice(b"</response>\n");
        Ok(())
    }
}

/// The element a value is written as.
#[derive(Clone, Copy)]
enum Name<'a> {
    /// Named as is (the root, a list item, an object member whose key is a safe name),
    /// with extra attributes (the root's namespace).
    Tag(&'a str, &'static str),
    /// An object member whose key is not a safe name: `<item key="...">`.
    Item(&'a str),
}

/// A list item's element.
const RESOURCE: Name<'static> = Name::Tag("resource", "");

impl<'a> Name<'a> {
    /// An object member's element, its key's safety decided once for both its tags.
    fn key(key: &'a str) -> Name<'a> {
        if is_safe_name(key) {
            Name::Tag(key, "")
        } else {
            Name::Item(key)
        }
    }

    fn open(self, out: &mut Vec<u8>, extra: &str) {
        out.push(b'<');
        match self {
            Name::Tag(tag, attributes) => {
                out.extend_from_slice(tag.as_bytes());
                out.extend_from_slice(attributes.as_bytes());
            }
            Name::Item(key) => {
                let start = out.len();
                out.extend_from_slice(b"item key=\"");
                if escape(key, true, out).is_err() {
                    out.truncate(start);
                    out.extend_from_slice(b"item key-base64=\"");
                    out.extend_from_slice(
                        base64::engine::general_purpose::STANDARD
                            .encode(key)
                            .as_bytes(),
                    );
                }
                out.push(b'"');
            }
        }
        out.extend_from_slice(extra.as_bytes());
        out.push(b'>');
    }

    fn close(self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"</");
        out.extend_from_slice(match self {
            Name::Tag(tag, _) => tag.as_bytes(),
            Name::Item(_) => b"item",
        });
        out.push(b'>');
    }

    fn empty(self, out: &mut Vec<u8>, extra: &str) {
        self.open(out, extra);
        out.pop();
        out.extend_from_slice(b"/>");
    }
}

/// A name any XML parser takes as is: ASCII, not starting with `xml` (reserved), no
/// colon (namespaces), and not one of the names that mean a list item (`resource`) or
/// a keyed member (`item`) in this shape.
fn is_safe_name(name: &str) -> bool {
    if name == "resource" || name == "item" {
        return false;
    }
    let mut bytes = name.bytes();
    let starts_well = bytes
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == b'_');
    starts_well
        && bytes.all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'-' | b'.'))
        && !name
            .get(..3)
            .is_some_and(|prefix| prefix.eq_ignore_ascii_case("xml"))
}

/// Whether XML 1.0 can carry `c`.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Text with a character XML 1.0 cannot carry.
struct NotXmlText;

/// Escapes text for element content, or for an attribute value (where whitespace
/// other than spaces must be referenced to survive normalization). Stops at the first
/// character XML cannot carry, having written part of the text: the caller takes it
/// back and writes the text as base64.
fn escape(text: &str, attribute: bool, out: &mut Vec<u8>) -> Result<(), NotXmlText> {
    // ASCII controls, the marks with references, and the first byte of U+FFFE and
    // U+FFFF: the only characters beyond ASCII that XML cannot carry.
    let stop = |byte| matches!(byte, 0..=0x1F | b'&' | b'<' | b'>' | b'"' | 0xEF);
    write_escaped(text, out, stop, |c| {
        Ok(Some(match c {
            '&' => b"&amp;".as_slice(),
            '<' => b"&lt;",
            '>' => b"&gt;",
            '"' if attribute => b"&quot;",
            '\r' => b"&#xD;",
            '\t' if attribute => b"&#x9;",
            '\n' if attribute => b"&#xA;",
            c if is_xml_char(c) => return Ok(None),
            _ => return Err(NotXmlText),
        }))
    })
}

/// Serializes one value as one element.
struct Element<'o, 'n> {
    out: &'o mut Vec<u8>,
    name: Name<'n>,
}

impl Element<'_, '_> {
    fn text(self, text: &str) -> Result<(), SerializeError> {
        let start = self.out.len();
        self.name.open(self.out, "");
        if escape(text, false, self.out).is_err() {
            self.out.truncate(start);
            self.name.open(self.out, " encoding=\"base64\"");
            self.out.extend_from_slice(
                base64::engine::general_purpose::STANDARD
                    .encode(text)
                    .as_bytes(),
            );
        }
        self.name.close(self.out);
        Ok(())
    }

    /// An element whose text `text` writes straight into the output: text that needs
    /// no escaping.
    fn verbatim<E: Display>(
        self,
        text: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
    ) -> Result<(), SerializeError> {
        self.name.open(self.out, "");
        text(self.out).map_err(SerializeError::custom)?;
        self.name.close(self.out);
        Ok(())
    }

    /// A number or boolean.
    fn display(self, value: impl Display) -> Result<(), SerializeError> {
        self.verbatim(|out| write!(out, "{value}"))
    }
}

impl<'o, 'n> ser::Serializer for Element<'o, 'n> {
    type Ok = ();
    type Error = SerializeError;
    type SerializeSeq = Children<'o, 'n>;
    type SerializeTuple = Children<'o, 'n>;
    type SerializeTupleStruct = Children<'o, 'n>;
    type SerializeTupleVariant = Impossible<(), SerializeError>;
    type SerializeMap = Members<'o, 'n>;
    type SerializeStruct = Members<'o, 'n>;
    type SerializeStructVariant = Impossible<(), SerializeError>;

    scalars_as_text!(
        serialize_bool: bool,
        serialize_i8: i8,
        serialize_i16: i16,
        serialize_i32: i32,
        serialize_i64: i64,
        serialize_i128: i128,
        serialize_u8: u8,
        serialize_u16: u16,
        serialize_u32: u32,
        serialize_u64: u64,
        serialize_u128: u128,
    );

    fn serialize_f32(self, value: f32) -> Result<(), SerializeError> {
        self.serialize_f64(f64::from(value))
    }

    fn serialize_f64(self, value: f64) -> Result<(), SerializeError> {
        // JSON's spelling of the number (`1e+300`, not three hundred digits).
        self.verbatim(|out| serde_json::to_writer(out, &value))
    }

    fn serialize_char(self, value: char) -> Result<(), SerializeError> {
        self.text(value.encode_utf8(&mut [0; 4]))
    }

    fn serialize_str(self, value: &str) -> Result<(), SerializeError> {
        self.text(value)
    }

    fn serialize_bytes(self, value: &[u8]) -> Result<(), SerializeError> {
        self.name.open(self.out, " encoding=\"base64\"");
        self.out.extend_from_slice(
            base64::engine::general_purpose::STANDARD
                .encode(value)
                .as_bytes(),
        );
        self.name.close(self.out);
        Ok(())
    }

    fn serialize_none(self) -> Result<(), SerializeError> {
        self.name.empty(self.out, " nil=\"true\"");
        Ok(())
    }

    wrappers_as_inner!();

    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), SerializeError> {
        self.text(variant)
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Children<'o, 'n>, SerializeError> {
        self.name.open(self.out, "");
        Ok(Children {
            out: self.out,
            name: self.name,
        })
    }

    fn serialize_tuple(self, length: usize) -> Result<Children<'o, 'n>, SerializeError> {
        self.serialize_seq(Some(length))
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        length: usize,
    ) -> Result<Children<'o, 'n>, SerializeError> {
        self.serialize_seq(Some(length))
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Impossible<(), SerializeError>, SerializeError> {
        Err(SerializeError(
            "enum variants with fields have no XML form".into(),
        ))
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Members<'o, 'n>, SerializeError> {
        self.name.open(self.out, "");
        Ok(Members {
            out: self.out,
            name: self.name,
            key: String::new(),
            keyed: false,
        })
    }

    fn serialize_struct(
        self,
        _: &'static str,
        length: usize,
    ) -> Result<Members<'o, 'n>, SerializeError> {
        self.serialize_map(Some(length))
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Impossible<(), SerializeError>, SerializeError> {
        Err(SerializeError(
            "enum variants with fields have no XML form".into(),
        ))
    }
}

/// A list's items, each a `<resource>`.
struct Children<'o, 'n> {
    out: &'o mut Vec<u8>,
    name: Name<'n>,
}

impl ser::SerializeSeq for Children<'_, '_> {
    type Ok = ();
    type Error = SerializeError;

    fn serialize_element<T: ?Sized + Serialize>(
        &mut self,
        value: &T,
    ) -> Result<(), SerializeError> {
        value.serialize(Element {
            out: self.out,
            name: RESOURCE,
        })
    }

    fn end(self) -> Result<(), SerializeError> {
        self.name.close(self.out);
        Ok(())
    }
}

tuples_as_lists!(Children<'_, '_>);

/// An object's members, each an element named after its key.
struct Members<'o, 'n> {
    out: &'o mut Vec<u8>,
    name: Name<'n>,
    /// The last key's text, kept between entries so that its buffer is reused.
    key: String,
    /// Whether `key` awaits its value.
    keyed: bool,
}

impl ser::SerializeMap for Members<'_, '_> {
    type Ok = ();
    type Error = SerializeError;

    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Result<(), SerializeError> {
        self.key.clear();
        let text = &mut self.key;
        key.serialize(KeyText(|key: &str| text.push_str(key)))?;
        self.keyed = true;
        Ok(())
    }

    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), SerializeError> {
        if !std::mem::take(&mut self.keyed) {
            return Err(SerializeError("a value without a key".into()));
        }
        value.serialize(Element {
            out: self.out,
            name: Name::key(&self.key),
        })
    }

    fn end(self) -> Result<(), SerializeError> {
        self.name.close(self.out);
        Ok(())
    }
}

impl ser::SerializeStruct for Members<'_, '_> {
    type Ok = ();
    type Error = SerializeError;

    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), SerializeError> {
        value.serialize(Element {
            out: self.out,
            name: Name::key(key),
        })
    }

    fn end(self) -> Result<(), SerializeError> {
        self.name.close(self.out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xml(json: &str) -> String {
        crate::emit::unfiltered(&Xml, json)
    }

    #[test]
    fn django_piston_shape() {
        assert_eq!(
            xml(r#"{"title":"a < b & c","tags":["x","y"],"n":1.5,"ok":true,"none":null}"#),
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<response><title>a &lt; b &amp; c</title>\
             <tags><resource>x</resource><resource>y</resource></tags><n>1.5</n><ok>true</ok>\
             <none nil=\"true\"/></response>"
        );
        assert!(
            xml("[1,2]")
                .ends_with("<response><resource>1</resource><resource>2</resource></response>")
        );
    }

    #[test]
    fn unsafe_keys_and_text_stay_lossless() {
        let out = xml(
            r#"{"has space":1,"xmlish":2,"1st":3,"a:b":4,"\u0001":5,"bell":"\u0007","cr":"a\rb"}"#,
        );
        assert!(out.contains("<item key=\"has space\">1</item>"), "{out}");
        assert!(out.contains("<item key=\"xmlish\">2</item>"), "{out}");
        assert!(out.contains("<item key=\"1st\">3</item>"), "{out}");
        assert!(out.contains("<item key=\"a:b\">4</item>"), "{out}");
        assert!(out.contains("<item key-base64=\"AQ==\">5</item>"), "{out}");
        assert!(
            out.contains("<bell encoding=\"base64\">Bw==</bell>"),
            "{out}"
        );
        assert!(out.contains("<cr>a&#xD;b</cr>"), "{out}");
    }

    #[test]
    fn escapes_text_and_keys_in_one_pass() {
        let body = |json| {
            xml(json)
                .strip_prefix("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<response>")
                .and_then(|rest| rest.strip_suffix("</response>"))
                .map(str::to_owned)
                .unwrap()
        };
        for (json, written) in [
            (r#"{"t":"a\"b'c\td\ne"}"#, "<t>a\"b'c\td\ne</t>"),
            (r#"{"t":"x\r\n&<>"}"#, "<t>x&#xD;\n&amp;&lt;&gt;</t>"),
            (
                r#"{"t":"\ufffd\ufeff\u00e9\u65e5 \ud83d\ude00"}"#,
                "<t>\u{fffd}\u{feff}é日 😀</t>",
            ),
            (
                r#"{"t":"a&b\u0001"}"#,
                "<t encoding=\"base64\">YSZiAQ==</t>",
            ),
            (r#"{"t":"\ufffe"}"#, "<t encoding=\"base64\">77++</t>"),
            (
                r#"{"a\"b\t\n<":1}"#,
                "<item key=\"a&quot;b&#x9;&#xA;&lt;\">1</item>",
            ),
            (
                r#"{"a&\u0001":null}"#,
                "<item key-base64=\"YSYB\" nil=\"true\"/>",
            ),
            (r#"{"\uffff":[]}"#, "<item key-base64=\"77+/\"></item>"),
            (
                r#"{"resource":1,"item":{"x":2}}"#,
                "<item key=\"resource\">1</item><item key=\"item\"><x>2</x></item>",
            ),
            (r#"{"日本":"é"}"#, "<item key=\"日本\">é</item>"),
            (
                r#"{"f":1e300,"g":-0.0,"i":-5,"u":18446744073709551615,"b":false}"#,
                "<f>1e+300</f><g>-0.0</g><i>-5</i><u>18446744073709551615</u><b>false</b>",
            ),
        ] {
            assert_eq!(body(json), written, "{json}");
        }
    }

    #[test]
    fn the_scan_stops_at_every_character_that_needs_care() {
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            let text = format!("a{c}");
            for attribute in [false, true] {
                let mut out = Vec::new();
                let carried = escape(&text, attribute, &mut out).is_ok();
                assert_eq!(carried, is_xml_char(c), "{c:?}");
                let referenced = matches!(c, '&' | '<' | '>' | '\r')
                    || attribute && matches!(c, '"' | '\t' | '\n');
                if carried {
                    assert_eq!(out == text.as_bytes(), !referenced, "{c:?}");
                }
            }
        }
    }
}
