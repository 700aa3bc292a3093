//! MessagePack (`application/msgpack`). Maps keep their string keys. A stream is the
//! items one after another (MessagePack's stream form, read by e.g. Python's
//! `msgpack.Unpacker`): an array would need its length before the first item.

use super::{Data, EmitError, Emitter, Format, ItemWriter, Options};

/// MessagePack.
pub struct MsgPack;

fn write(value: &Data<'_, '_>, out: &mut Vec<u8>) -> Result<(), EmitError> {
    rmp_serde::encode::write_named(out, value).map_err(EmitError::from_display)
}

impl Emitter for MsgPack {
    fn format(&self) -> &'static Format {
        &Format {
            name: "msgpack",
            media_types: &[
                "application/msgpack",
                "application/x-msgpack",
                "application/vnd.msgpack",
            ],
            extensions: &["msgpack"],
            problem_media_type: "application/msgpack",
        }
    }

    fn document(
        &self,
        value: &Data<'_, '_>,
        _: Options,
        out: &mut Vec<u8>,
    ) -> Result<(), EmitError> {
        write(value, out)
    }

    fn items(&self, _: Options) -> Box<dyn ItemWriter> {
        Box::new(Sequence)
    }
}

struct Sequence;

impl ItemWriter for Sequence {
    fn begin(&mut self, _: &mut Vec<u8>) -> Result<(), EmitError> {
        Ok(())
    }

    fn batch(&mut self, items: &[Data<'_, '_>], out: &mut Vec<u8>) -> Result<(), EmitError> {
        items.iter().try_for_each(|item| write(item, out))
    }

    fn finish(&mut self, _: &mut Vec<u8>) -> Result<(), EmitError> {
        Ok(())
    }
}
