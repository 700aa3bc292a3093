//! YAML (`application/yaml`, also `application/x-yaml`), in block style, readable by
//! YAML 1.1 and 1.2 parsers alike.
//!
//! Written by hand rather than by a YAML library: the 1.2 emitters leave `yes`, `no`,
//! `on` and `off` unquoted and write `1e300`, which YAML 1.1 parsers — PyYAML, what
//! django-piston's users read YAML with — take for booleans and a string. Here a
//! string is written plain only when it cannot be read as anything else, otherwise
//! double-quoted, and floats always carry a dot and a signed exponent. A stream is one
//! block sequence, each item written as it arrives.

use super::scaffold::{KeyText, SerializeError, write_escaped};
use super::{Data, EmitError, Emitter, Format, ItemWriter, Options};
use serde::ser::{self, Error as _, Impossible, Serialize};
use std::convert::Infallible;
use std::fmt::Display;
use std::io::Write as _;

/// YAML.
pub struct Yaml;

impl Emitter for Yaml {
    fn format(&self) -> &'static Format {
        &Format {
            name: "yaml",
            media_types: &["application/yaml", "application/x-yaml", "text/yaml"],
            extensions: &["yaml", "yml"],
            problem_media_type: "application/yaml",
        }
    }

    fn document(
        &self,
        value: &Data<'_, '_>,
        _: Options,
        out: &mut Vec<u8>,
    ) -> Result<(), EmitError> {
        write(value, Place::Document, 0, out)
    }

    fn items(&self, _: Options) -> Box<dyn ItemWriter> {
        Box::new(Sequence { empty: true })
    }
}

fn write(
    value: &Data<'_, '_>,
    place: Place,
    indent: usize,
    out: &mut Vec<u8>,
) -> Result<(), EmitError> {
    value
        .serialize(Node { out, indent, place })
        .map_err(EmitError::from_display)
}

struct Sequence {
    empty: bool,
}

impl ItemWriter for Sequence {
    fn begin(&mut self, _: &mut Vec<u8>) -> Result<(), EmitError> {
        Ok(())
    }

    fn batch(&mut self, items: &[Data<'_, '_>], out: &mut Vec<u8>) -> Result<(), EmitError> {
        for item in items {
            out.extend_from_slice(b"- ");
            write(item, Place::Dash, 0, out)?;
            self.empty = false;
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), EmitError> {
        if self.empty {
            out.extend_from_slice(b"[]\n");
        }
        Ok(())
    }
}

/// Where a value starts.
#[derive(Clone, Copy)]
enum Place {
    /// At the start of the document.
    Document,
    /// After `key:` on its line.
    Key,
    /// After `- ` on its line.
    Dash,
}

/// Serializes one value at a place, with the indentation of its line.
struct Node<'o> {
    out: &'o mut Vec<u8>,
    indent: usize,
    place: Place,
}

impl Node<'_> {
    /// Writes a scalar's line, its text written by `text` straight into the output.
    fn line(
        self,
        text: impl FnOnce(&mut Vec<u8>) -> Result<(), SerializeError>,
    ) -> Result<(), SerializeError> {
        if let Place::Key = self.place {
            self.out.push(b' ');
        }
        text(self.out)?;
        self.out.push(b'\n');
        Ok(())
    }

    fn scalar(self, text: &[u8]) -> Result<(), SerializeError> {
        self.line(|out| {
            out.extend_from_slice(text);
            Ok(())
        })
    }

    fn string(self, text: &str) -> Result<(), SerializeError> {
        self.line(|out| {
            write_string(text, out);
            Ok(())
        })
    }

    fn display(self, value: impl Display) -> Result<(), SerializeError> {
        self.line(|out| write!(out, "{value}").map_err(SerializeError::custom))
    }

    /// The indentation of a collection's entries, and whether the first goes on the
    /// current line.
    fn open(&mut self) -> (usize, bool) {
        match self.place {
            Place::Document => (0, true),
            Place::Key => (self.indent + 2, false),
            Place::Dash => (self.indent + 2, true),
        }
    }
}

/// A string as a YAML scalar: plain when no parser could read it as anything else,
/// otherwise double-quoted with escapes.
fn write_string(text: &str, out: &mut Vec<u8>) {
    if is_plain(text) {
        out.extend_from_slice(text.as_bytes());
        return;
    }
    out.reserve(text.len() + 2);
    out.push(b'"');
    let Ok(()) = write_escaped(text, out, needs_care, escape);
    out.push(b'"');
}

/// The bytes that may start a character a double-quoted scalar cannot hold as it is:
/// ASCII controls, `"` and `\`, and the first bytes of the non-printable characters
/// beyond ASCII (U+0080 to U+009F, U+2028 and U+2029, U+FEFF, U+FFFE and U+FFFF).
fn needs_care(byte: u8) -> bool {
    matches!(byte, 0..=0x1F | b'"' | b'\\' | 0x7F | 0xC2 | 0xE2 | 0xEF)
}

/// A character's escape in a double-quoted scalar, if it needs one.
fn escape(c: char) -> Result<Option<Escaped>, Infallible> {
    let short = |letter| Some(Escaped([b'\\', letter, 0, 0, 0, 0], 2));
    Ok(match c {
        '"' => short(b'"'),
        '\\' => short(b'\\'),
        '\n' => short(b'n'),
        '\t' => short(b't'),
        '\r' => short(b'r'),
        c if is_printable(c) => None,
        c => {
            // Every character that is not printable is below U+10000: four digits.
            const HEX: &[u8; 16] = b"0123456789abcdef";
            let code = u32::from(c);
            let digit = |shift: u32| HEX[(code >> shift & 0xF) as usize];
            Some(Escaped(
                [b'\\', b'u', digit(12), digit(8), digit(4), digit(0)],
                6,
            ))
        }
    })
}

/// An escape sequence: `\n` or `\u0007`, its bytes and how many there are.
struct Escaped([u8; 6], usize);

impl AsRef<[u8]> for Escaped {
    fn as_ref(&self) -> &[u8] {
        &self.0[..self.1]
    }
}

/// Letters, digits and a few marks, starting with a letter, and not one of the words
/// YAML 1.1 reads as a boolean or null.
fn is_plain(text: &str) -> bool {
    const SPECIAL: [&str; 9] = ["yes", "no", "true", "false", "on", "off", "null", "y", "n"];
    let mut bytes = text.bytes();
    let starts_well = bytes
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == b'_');
    starts_well
        && bytes.all(|byte| {
            byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'.' | b'/' | b'-' | b' ')
        })
        && !text.ends_with(' ')
        && !SPECIAL.iter().any(|word| word.eq_ignore_ascii_case(text))
}

/// Characters YAML allows unescaped in a double-quoted scalar (and that no parser
/// takes for a line break).
fn is_printable(c: char) -> bool {
    matches!(c, '\u{20}'..='\u{7E}' | '\u{A0}'..='\u{D7FF}' | '\u{E000}'..='\u{FEFE}' | '\u{FF00}'..='\u{FFFD}' | '\u{10000}'..)
        && !matches!(c, '\u{2028}' | '\u{2029}')
}

/// A float as both YAML versions read it: with a dot, and a signed exponent if any.
fn float_text(value: f64) -> Result<String, SerializeError> {
    if !value.is_finite() {
        return Err(SerializeError(format!(
            "{value} has no YAML form shared by every parser"
        )));
    }
    let text = serde_json::to_string(&value).map_err(|error| SerializeError(error.to_string()))?;
    let (mantissa, exponent) = match text.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => (mantissa, Some(exponent)),
        None => (text.as_str(), None),
    };
    let mut out = mantissa.to_owned();
    if !out.contains('.') {
        out.push_str(".0");
    }
    if let Some(exponent) = exponent {
        out.push('e');
        if !exponent.starts_with(['-', '+']) {
            out.push('+');
        }
        out.push_str(exponent);
    }
    Ok(out)
}

impl<'o> ser::Serializer for Node<'o> {
    type Ok = ();
    type Error = SerializeError;
    type SerializeSeq = Items<'o>;
    type SerializeTuple = Items<'o>;
    type SerializeTupleStruct = Items<'o>;
    type SerializeTupleVariant = Impossible<(), SerializeError>;
    type SerializeMap = Entries<'o>;
    type SerializeStruct = Entries<'o>;
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
        let text = float_text(value)?;
        self.scalar(text.as_bytes())
    }

    fn serialize_char(self, value: char) -> Result<(), SerializeError> {
        self.string(value.encode_utf8(&mut [0; 4]))
    }

    fn serialize_str(self, value: &str) -> Result<(), SerializeError> {
        self.string(value)
    }

    fn serialize_bytes(self, value: &[u8]) -> Result<(), SerializeError> {
        use base64::Engine as _;
        self.string(&base64::engine::general_purpose::STANDARD.encode(value))
    }

    fn serialize_none(self) -> Result<(), SerializeError> {
        self.scalar(b"null")
    }

    wrappers_as_inner!();

    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), SerializeError> {
        self.string(variant)
    }

    fn serialize_seq(mut self, _: Option<usize>) -> Result<Items<'o>, SerializeError> {
        let (indent, inline) = self.open();
        Ok(Items {
            out: self.out,
            place: self.place,
            indent,
            next_inline: inline,
            empty: true,
        })
    }

    fn serialize_tuple(self, length: usize) -> Result<Items<'o>, SerializeError> {
        self.serialize_seq(Some(length))
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        length: usize,
    ) -> Result<Items<'o>, SerializeError> {
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
            "enum variants with fields have no YAML form here".into(),
        ))
    }

    fn serialize_map(mut self, _: Option<usize>) -> Result<Entries<'o>, SerializeError> {
        let (indent, inline) = self.open();
        Ok(Entries {
            out: self.out,
            place: self.place,
            indent,
            next_inline: inline,
            empty: true,
            key: Vec::new(),
        })
    }

    fn serialize_struct(
        self,
        _: &'static str,
        length: usize,
    ) -> Result<Entries<'o>, SerializeError> {
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
            "enum variants with fields have no YAML form here".into(),
        ))
    }
}

/// Starts an entry's line: on the current line for the first entry after a `- ` or at
/// the document's start, else on a new, indented line.
fn start_line(out: &mut Vec<u8>, indent: usize, inline: bool) {
    if !inline {
        if out.last().is_some_and(|byte| *byte != b'\n') {
            out.push(b'\n');
        }
        out.resize(out.len() + indent, b' ');
    }
}

/// What an empty collection is written as, where it starts.
fn empty(out: &mut Vec<u8>, place: Place, text: &[u8]) {
    if let Place::Key = place {
        out.push(b' ');
    }
    out.extend_from_slice(text);
    out.push(b'\n');
}

/// A sequence's items.
struct Items<'o> {
    out: &'o mut Vec<u8>,
    place: Place,
    indent: usize,
    next_inline: bool,
    empty: bool,
}

impl ser::SerializeSeq for Items<'_> {
    type Ok = ();
    type Error = SerializeError;

    fn serialize_element<T: ?Sized + Serialize>(
        &mut self,
        value: &T,
    ) -> Result<(), SerializeError> {
        start_line(self.out, self.indent, self.next_inline);
        self.next_inline = false;
        self.empty = false;
        self.out.extend_from_slice(b"- ");
        value.serialize(Node {
            out: self.out,
            indent: self.indent,
            place: Place::Dash,
        })
    }

    fn end(self) -> Result<(), SerializeError> {
        if self.empty {
            empty(self.out, self.place, b"[]");
        }
        Ok(())
    }
}

tuples_as_lists!(Items<'_>);

/// A mapping's entries.
struct Entries<'o> {
    out: &'o mut Vec<u8>,
    place: Place,
    indent: usize,
    next_inline: bool,
    empty: bool,
    key: Vec<u8>,
}

impl Entries<'_> {
    fn entry<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), SerializeError> {
        start_line(self.out, self.indent, self.next_inline);
        self.next_inline = false;
        self.empty = false;
        self.out.extend_from_slice(&self.key);
        self.out.push(b':');
        value.serialize(Node {
            out: self.out,
            indent: self.indent,
            place: Place::Key,
        })
    }
}

impl ser::SerializeMap for Entries<'_> {
    type Ok = ();
    type Error = SerializeError;

    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Result<(), SerializeError> {
        self.key.clear();
        let written = &mut self.key;
        key.serialize(KeyText(|text: &str| write_string(text, written)))
    }

    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), SerializeError> {
        self.entry(value)
    }

    fn end(self) -> Result<(), SerializeError> {
        if self.empty {
            empty(self.out, self.place, b"{}");
        }
        Ok(())
    }
}

impl ser::SerializeStruct for Entries<'_> {
    type Ok = ();
    type Error = SerializeError;

    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), SerializeError> {
        self.key.clear();
        write_string(key, &mut self.key);
        self.entry(value)
    }

    fn end(self) -> Result<(), SerializeError> {
        ser::SerializeMap::end(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(json: &str) -> String {
        crate::emit::unfiltered(&Yaml, json)
    }

    #[test]
    fn block_style() {
        assert_eq!(
            yaml(
                r#"{"title":"Hello World","tags":["a",{"b":1,"c":[]}],"author":{"name":"jo","x":{}},"n":null}"#
            ),
            "title: Hello World\ntags:\n  - a\n  - b: 1\n    c: []\nauthor:\n  name: jo\n  x: {}\n\"n\": null\n"
        );
        assert_eq!(yaml("[[1,2],[]]"), "- - 1\n  - 2\n- []\n");
        assert_eq!(yaml("7"), "7\n");
        assert_eq!(yaml("{}"), "{}\n");
    }

    #[test]
    fn quotes_what_yaml_1_1_would_misread() {
        assert_eq!(
            yaml(
                r#"{"yes":"no","on":"Off","y":"007","a: b":"x # y","":" lead","e":1e300,"f":2.5,"g":-1e-7}"#
            ),
            "\"yes\": \"no\"\n\"on\": \"Off\"\n\"y\": \"007\"\n\"a: b\": \"x # y\"\n\"\": \" lead\"\ne: 1.0e+300\nf: 2.5\ng: -1.0e-7\n"
        );
        assert_eq!(
            yaml(r#""line\nbreak\u0007\u2028""#),
            "\"line\\nbreak\\u0007\\u2028\"\n"
        );
    }

    fn string(text: &str) -> String {
        let mut out = Vec::new();
        write_string(text, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn quotes_and_escapes_only_what_needs_it() {
        for (text, written) in [
            ("plain words", "plain words"),
            ("yesterday", "yesterday"),
            ("_a/b.c-d", "_a/b.c-d"),
            ("", r#""""#),
            (" lead", r#"" lead""#),
            ("trail ", r#""trail ""#),
            ("a: b", r#""a: b""#),
            ("x # y", r#""x # y""#),
            ("#", r##""#""##),
            ("say \"hi\"", r#""say \"hi\"""#),
            ("it's", r#""it's""#),
            ("back\\slash\\", r#""back\\slash\\""#),
            ("yes", r#""yes""#),
            ("No", r#""No""#),
            ("NULL", r#""NULL""#),
            ("True", r#""True""#),
            ("off", r#""off""#),
            ("y", r#""y""#),
            ("~", r#""~""#),
            ("007", r#""007""#),
            ("1.5", r#""1.5""#),
            ("-1e3", r#""-1e3""#),
            ("two\nlines\r\n", r#""two\nlines\r\n""#),
            ("\ttab", r#""\ttab""#),
            ("\u{0}\u{1f}\u{7f}", r#""\u0000\u001f\u007f""#),
            ("\u{85}\u{9f}\u{a0}", "\"\\u0085\\u009f\u{a0}\""),
            (
                "\u{2027}\u{2028}\u{2029}\u{202a}",
                "\"\u{2027}\\u2028\\u2029\u{202a}\"",
            ),
            (
                "\u{fefe}\u{feff}\u{ff00}\u{fffd}\u{fffe}\u{ffff}\u{10000}",
                "\"\u{fefe}\\ufeff\u{ff00}\u{fffd}\\ufffe\\uffff\u{10000}\"",
            ),
            ("café 日本 😀", "\"café 日本 😀\""),
        ] {
            assert_eq!(string(text), written, "{text:?}");
        }
    }

    #[test]
    fn the_scan_stops_at_every_character_that_needs_an_escape() {
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            let needs_escape = matches!(c, '"' | '\\') || !is_printable(c);
            let kept = string(&format!("-{c}")) == format!("\"-{c}\"");
            assert_eq!(kept, !needs_escape, "{c:?}");
        }
    }
}
