//! Guest JSON copied through a field filter's shape into a format's serializer: the
//! one walk both plain data and items with a `resource_uri` are made of.

use crate::fields::Shape;
use crate::transcode::Transcoder;
use serde::ser::Error as _;
use serde::{Serialize, Serializer};

/// The deepest the guest's data may nest (serde_json refuses deeper documents anyway).
pub(super) const MAX_DEPTH: usize = 128;

/// A piece of guest JSON copied through a shape.
pub(super) struct Raw<'a> {
    pub(super) json: &'a str,
    pub(super) shape: Shape<'a>,
}

impl Serialize for Raw<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        transcode(self.json, self.shape, serializer)
    }
}

pub(super) fn transcode<S: Serializer>(
    json: &str,
    shape: Shape<'_>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let mut deserializer = serde_json::Deserializer::from_str(json);
    let ok = Transcoder::new(&mut deserializer, Some(shape), MAX_DEPTH).serialize(serializer)?;
    deserializer.end().map_err(S::Error::custom)?;
    Ok(ok)
}
