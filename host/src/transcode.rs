//! Copying a value from any serde deserializer into any serde serializer, event by
//! event, without building it in memory — filtering fields and bounding depth on the
//! way.
//!
//! Decoding uses it to turn a YAML or MessagePack body into JSON; emitting uses it to
//! turn the guest's JSON into the client's format through the resource's
//! [`Shape`](crate::fields::Shape). A value nested deeper than the bound is an error, so
//! neither a body nor a guest can make the host recurse without limit.

use crate::fields::Shape;
use base64::Engine as _;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::ser::{self, Serialize, SerializeMap, SerializeSeq, Serializer};
use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;

/// A value still in its deserializer; serializing it reads it.
pub struct Transcoder<'s, D> {
    deserializer: RefCell<Option<D>>,
    shape: Option<Shape<'s>>,
    depth_left: usize,
}

impl<'s, 'de, D: Deserializer<'de>> Transcoder<'s, D> {
    /// The next value of `deserializer`, with only what `shape` shows (everything when
    /// `None`), refused if it nests deeper than `max_depth` arrays and objects.
    pub fn new(deserializer: D, shape: Option<Shape<'s>>, max_depth: usize) -> Self {
        Transcoder {
            deserializer: RefCell::new(Some(deserializer)),
            shape,
            depth_left: max_depth,
        }
    }
}

impl<'s, 'de, D: Deserializer<'de>> Serialize for Transcoder<'s, D> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let deserializer = self
            .deserializer
            .borrow_mut()
            .take()
            .ok_or_else(|| ser::Error::custom("a transcoded value can be serialized once"))?;
        let mut failure = None;
        let visitor = Copy {
            serializer,
            shape: self.shape,
            depth_left: self.depth_left,
            failure: &mut failure,
        };
        deserializer
            .deserialize_any(visitor)
            .map_err(|error| failure.take().unwrap_or_else(|| ser::Error::custom(error)))
    }
}

/// Visits one value and writes it to the serializer. A serializer error is kept aside
/// (the visitor can only return the deserializer's error type) and handed back up.
struct Copy<'f, 's, S: Serializer> {
    serializer: S,
    shape: Option<Shape<'s>>,
    depth_left: usize,
    failure: &'f mut Option<S::Error>,
}

impl<S: Serializer> Copy<'_, '_, S> {
    fn keep<T, E: de::Error>(
        failure: &mut Option<S::Error>,
        result: Result<T, S::Error>,
    ) -> Result<T, E> {
        keep(failure, result)
    }

    fn nested<E: de::Error>(&self) -> Result<usize, E> {
        self.depth_left
            .checked_sub(1)
            .ok_or_else(|| E::custom(format_args!("the data nests too deeply")))
    }
}

impl<'de, S: Serializer> Visitor<'de> for Copy<'_, '_, S> {
    type Value = S::Ok;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<S::Ok, E> {
        Self::keep(self.failure, self.serializer.serialize_bool(value))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<S::Ok, E> {
        Self::keep(self.failure, self.serializer.serialize_i64(value))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<S::Ok, E> {
        Self::keep(self.failure, self.serializer.serialize_u64(value))
    }

    fn visit_i128<E: de::Error>(self, value: i128) -> Result<S::Ok, E> {
        Self::keep(self.failure, self.serializer.serialize_i128(value))
    }

    fn visit_u128<E: de::Error>(self, value: u128) -> Result<S::Ok, E> {
        Self::keep(self.failure, self.serializer.serialize_u128(value))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<S::Ok, E> {
        Self::keep(self.failure, self.serializer.serialize_f64(value))
    }

    fn visit_char<E: de::Error>(self, value: char) -> Result<S::Ok, E> {
        Self::keep(self.failure, self.serializer.serialize_char(value))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<S::Ok, E> {
        Self::keep(self.failure, self.serializer.serialize_str(value))
    }

    /// Bytes (MessagePack binaries) become base64 text: JSON, where every transcoded
    /// value starts or ends, has no bytes.
    fn visit_bytes<E: de::Error>(self, value: &[u8]) -> Result<S::Ok, E> {
        let text = base64::engine::general_purpose::STANDARD.encode(value);
        Self::keep(self.failure, self.serializer.serialize_str(&text))
    }

    fn visit_unit<E: de::Error>(self) -> Result<S::Ok, E> {
        Self::keep(self.failure, self.serializer.serialize_unit())
    }

    fn visit_none<E: de::Error>(self) -> Result<S::Ok, E> {
        Self::keep(self.failure, self.serializer.serialize_none())
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<S::Ok, D::Error> {
        let inner = Transcoder::new(deserializer, self.shape, self.depth_left);
        Self::keep(self.failure, self.serializer.serialize_some(&inner))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<S::Ok, D::Error> {
        Transcoder::new(deserializer, self.shape, self.depth_left)
            .serialize(self.serializer)
            .map_err(|error| {
                let message = error.to_string();
                *self.failure = Some(error);
                de::Error::custom(message)
            })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<S::Ok, A::Error> {
        let depth_left = self.nested()?;
        let mut out = Self::keep(
            self.failure,
            self.serializer.serialize_seq(items.size_hint()),
        )?;
        while items
            .next_element_seed(Element {
                out: &mut out,
                shape: self.shape,
                depth_left,
                failure: self.failure,
            })?
            .is_some()
        {}
        Self::keep(self.failure, out.end())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut entries: A) -> Result<S::Ok, A::Error> {
        let depth_left = self.nested()?;
        // Filtering changes the count, so the serializer learns it only at the end.
        let length = if self.shape.is_some() {
            None
        } else {
            entries.size_hint()
        };
        let mut out = Self::keep(self.failure, self.serializer.serialize_map(length))?;
        while let Some(MapKey(key)) = entries.next_key()? {
            let shape = match self.shape {
                None => None,
                Some(shape) => match shape.child(&key) {
                    Some(child) => Some(child),
                    None => {
                        entries.next_value::<IgnoredAny>()?;
                        continue;
                    }
                },
            };
            Self::keep(self.failure, out.serialize_key(&key))?;
            entries.next_value_seed(Entry {
                out: &mut out,
                shape,
                depth_left,
                failure: self.failure,
            })?;
        }
        Self::keep(self.failure, out.end())
    }
}

/// Reads one array element and writes it.
struct Element<'o, 'f, 's, O, E> {
    out: &'o mut O,
    shape: Option<Shape<'s>>,
    depth_left: usize,
    failure: &'f mut Option<E>,
}

impl<'de, O: SerializeSeq> DeserializeSeed<'de> for Element<'_, '_, '_, O, O::Error> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        let value = Transcoder::new(deserializer, self.shape, self.depth_left);
        self.out.serialize_element(&value).map_err(|error| {
            let message = error.to_string();
            *self.failure = Some(error);
            de::Error::custom(message)
        })
    }
}

/// Passes a serializer's error up through a deserializer: the error itself is kept in
/// `failure` (a visitor can only return its deserializer's error type) and a message
/// stands in for it.
pub(crate) fn keep<T, S: ser::Error, E: de::Error>(
    failure: &mut Option<S>,
    result: Result<T, S>,
) -> Result<T, E> {
    result.map_err(|error| {
        let message = error.to_string();
        *failure = Some(error);
        E::custom(message)
    })
}

/// Reads the next member value of `entries` and writes it to `out` through `shape`.
pub(crate) fn copy_value<'de, A: MapAccess<'de>, O: SerializeMap>(
    entries: &mut A,
    out: &mut O,
    shape: Option<Shape<'_>>,
    max_depth: usize,
    failure: &mut Option<O::Error>,
) -> Result<(), A::Error> {
    entries.next_value_seed(Entry {
        out,
        shape,
        depth_left: max_depth,
        failure,
    })
}

/// Reads one object member's value and writes it.
struct Entry<'o, 'f, 's, O, E> {
    out: &'o mut O,
    shape: Option<Shape<'s>>,
    depth_left: usize,
    failure: &'f mut Option<E>,
}

impl<'de, O: SerializeMap> DeserializeSeed<'de> for Entry<'_, '_, '_, O, O::Error> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        let value = Transcoder::new(deserializer, self.shape, self.depth_left);
        self.out.serialize_value(&value).map_err(|error| {
            let message = error.to_string();
            *self.failure = Some(error);
            de::Error::custom(message)
        })
    }
}

/// An object key as text: formats whose keys may be numbers or booleans (YAML,
/// MessagePack) have them written as their text, since JSON keys are strings.
struct MapKey<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for MapKey<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;

        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = MapKey<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, number or boolean key")
            }

            fn visit_borrowed_str<E: de::Error>(self, value: &'de str) -> Result<Self::Value, E> {
                Ok(MapKey(Cow::Borrowed(value)))
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
                Ok(MapKey(Cow::Owned(value.to_owned())))
            }

            fn visit_string<E: de::Error>(self, value: String) -> Result<Self::Value, E> {
                Ok(MapKey(Cow::Owned(value)))
            }

            fn visit_bytes<E: de::Error>(self, value: &[u8]) -> Result<Self::Value, E> {
                std::str::from_utf8(value)
                    .map(|text| MapKey(Cow::Owned(text.to_owned())))
                    .map_err(|_| E::custom("an object key is not UTF-8 text"))
            }

            fn visit_bool<E: de::Error>(self, value: bool) -> Result<Self::Value, E> {
                Ok(MapKey(Cow::Owned(value.to_string())))
            }

            fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
                Ok(MapKey(Cow::Owned(value.to_string())))
            }

            fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
                Ok(MapKey(Cow::Owned(value.to_string())))
            }

            fn visit_f64<E: de::Error>(self, value: f64) -> Result<Self::Value, E> {
                Ok(MapKey(Cow::Owned(value.to_string())))
            }

            fn visit_char<E: de::Error>(self, value: char) -> Result<Self::Value, E> {
                Ok(MapKey(Cow::Owned(value.to_string())))
            }
        }

        deserializer.deserialize_any(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::FieldFilter;

    fn json_to_json(
        input: &str,
        filter: Option<&FieldFilter>,
        depth: usize,
    ) -> Result<String, serde_json::Error> {
        let mut out = Vec::new();
        let mut deserializer = serde_json::Deserializer::from_str(input);
        Transcoder::new(&mut deserializer, filter.map(FieldFilter::shape), depth)
            .serialize(&mut serde_json::Serializer::new(&mut out))?;
        deserializer.end()?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn copies_every_kind_of_value() {
        let input =
            r#"{"a":[1,-2,3.5,"x",true,null,{"b":{}}],"c":"\u00e9\n","d":18446744073709551615}"#;
        assert_eq!(
            json_to_json(input, None, 64).unwrap(),
            input.replace("\\u00e9", "é")
        );
    }

    #[test]
    fn filters_while_copying() {
        let filter = FieldFilter::compile(
            &["title".into(), "author.username".into(), "posts".into()],
            &["id".into(), "re:private_".into()],
        )
        .unwrap();
        let input = r#"{"id":1,"title":"t","private_x":2,"author":{"username":"u","id":3,"email":"e"},
                        "posts":[{"id":4,"n":5},{"private_y":6}],"other":7}"#;
        assert_eq!(
            json_to_json(input, Some(&filter), 64).unwrap(),
            r#"{"title":"t","author":{"username":"u"},"posts":[{"n":5},{}]}"#
        );
    }

    #[test]
    fn bounds_depth() {
        assert!(json_to_json("[[[1]]]", None, 3).is_ok());
        let error = json_to_json("[[[[1]]]]", None, 3).unwrap_err();
        assert!(error.to_string().contains("nests too deeply"), "{error}");
        assert!(json_to_json(r#"{"a":{"b":{"c":{}}}}"#, None, 3).is_err());
    }

    #[test]
    fn non_string_keys_become_text() {
        let mut out = Vec::new();
        let yaml = serde_yaml::Deserializer::from_str("1: one\ntrue: yes\n2.5: half\n");
        Transcoder::new(yaml, None, 8)
            .serialize(&mut serde_json::Serializer::new(&mut out))
            .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"1":"one","true":"yes","2.5":"half"}"#
        );
    }
}
