//! Scaffolding shared by the hand-written serializers of the text formats (YAML and
//! XML): macros for the `Serializer` methods they write alike, their error type, and
//! the serializer that turns a map key into text.
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
