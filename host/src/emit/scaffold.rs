//! Scaffolding shared by the hand-written serializers of the text formats (YAML and
//! XML): macros for the `Serializer` methods they write alike, their error type, the
//! serializer that turns a map key into text, and the scan that escapes text.
//!
//! Declared first in [`super`] with `#[macro_use]`, so the format modules after it see
//! the macros.

use serde::Serialize;
use serde::ser::Impossible;

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

/// Why a value could not be written by one of the hand-written serializers (a map key
/// that is not text, a value a format cannot hold).
#[derive(Debug)]
pub(super) struct SerializeError(pub(super) String);

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

/// Writes `text` escaped: scans its bytes for the few at which `stop` holds, copies
/// each run between them in one go, and asks `escape` about the character at each stop:
/// `Ok(None)` keeps it, `Ok(Some(replacement))` writes the replacement instead, and an
/// error ends the text there. `stop` must hold for the first byte of every character
/// `escape` would not keep; it may hold for more, and only there is a character decoded.
pub(super) fn write_escaped<R: AsRef<[u8]>, E>(
    text: &str,
    out: &mut Vec<u8>,
    stop: impl Fn(u8) -> bool,
    escape: impl Fn(char) -> Result<Option<R>, E>,
) -> Result<(), E> {
    let bytes = text.as_bytes();
    let mut run = 0;
    let mut at = 0;
    while let Some(offset) = bytes[at..].iter().position(|byte| stop(*byte)) {
        at += offset;
        // A stop inside a character (a `stop` that holds for continuation bytes) is
        // part of the run.
        let Some(c) = text.get(at..).and_then(|tail| tail.chars().next()) else {
            at += 1;
            continue;
        };
        let next = at + c.len_utf8();
        if let Some(replacement) = escape(c)? {
            out.extend_from_slice(&bytes[run..at]);
            out.extend_from_slice(replacement.as_ref());
            run = next;
        }
        at = next;
    }
    out.extend_from_slice(&bytes[run..]);
    Ok(())
}

/// Hands a map key's text to a function, for formats whose keys are text: a string key,
/// as every key of guest JSON is, without being copied first.
pub(super) struct KeyText<F>(pub(super) F);

impl<F: FnOnce(&str)> KeyText<F> {
    fn display(self, value: impl std::fmt::Display) -> Result<(), SerializeError> {
        (self.0)(&value.to_string());
        Ok(())
    }
}

/// What a key that is not text (a number aside, written as its text) is refused with.
fn not_text<T>() -> Result<T, SerializeError> {
    Err(SerializeError("object keys must be text".into()))
}

impl<F: FnOnce(&str)> serde::Serializer for KeyText<F> {
    type Ok = ();
    type Error = SerializeError;
    type SerializeSeq = Impossible<(), SerializeError>;
    type SerializeTuple = Impossible<(), SerializeError>;
    type SerializeTupleStruct = Impossible<(), SerializeError>;
    type SerializeTupleVariant = Impossible<(), SerializeError>;
    type SerializeMap = Impossible<(), SerializeError>;
    type SerializeStruct = Impossible<(), SerializeError>;
    type SerializeStructVariant = Impossible<(), SerializeError>;

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

    fn serialize_str(self, value: &str) -> Result<(), SerializeError> {
        (self.0)(value);
        Ok(())
    }

    fn serialize_char(self, value: char) -> Result<(), SerializeError> {
        self.serialize_str(value.encode_utf8(&mut [0; 4]))
    }

    fn serialize_bytes(self, _: &[u8]) -> Result<(), SerializeError> {
        not_text()
    }

    fn serialize_none(self) -> Result<(), SerializeError> {
        not_text()
    }

    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<(), SerializeError> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), SerializeError> {
        not_text()
    }

    fn serialize_unit_struct(self, _: &'static str) -> Result<(), SerializeError> {
        not_text()
    }

    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), SerializeError> {
        self.serialize_str(variant)
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), SerializeError> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), SerializeError> {
        not_text()
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, SerializeError> {
        not_text()
    }

    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, SerializeError> {
        not_text()
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, SerializeError> {
        not_text()
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, SerializeError> {
        not_text()
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, SerializeError> {
        not_text()
    }

    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, SerializeError> {
        not_text()
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, SerializeError> {
        not_text()
    }
}
