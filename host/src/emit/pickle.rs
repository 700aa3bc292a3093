//! Python pickle (`application/python-pickle`), protocol 3: what Python 3's
//! `pickle.loads` reads. Only data is written (dicts, lists, strings, numbers, `None`),
//! never a reference to code. A stream is one list, built batch by batch with the
//! `APPENDS` opcode, so it too arrives as it is produced.

use super::{Data, EmitError, Emitter, Format, ItemWriter, Options};
use serde::Serialize;
use serde_pickle::{SerOptions, Serializer};

/// Python pickle.
pub struct Pickle;

const PROTO_3: [u8; 2] = [0x80, 3];
const EMPTY_LIST: u8 = b']';
const MARK: u8 = b'(';
const APPENDS: u8 = b'e';
const STOP: u8 = b'.';

impl Emitter for Pickle {
    fn format(&self) -> &'static Format {
        &Format {
            name: "pickle",
            media_types: &["application/python-pickle", "application/x-python-pickle"],
            extensions: &["pickle", "pkl"],
            problem_media_type: "application/python-pickle",
        }
    }

    fn document(
        &self,
        value: &Data<'_, '_>,
        _: Options,
        out: &mut Vec<u8>,
    ) -> Result<(), EmitError> {
        serde_pickle::to_writer(out, &value, SerOptions::new()).map_err(EmitError::from_display)
    }

    fn items(&self, _: Options) -> Box<dyn ItemWriter> {
        Box::new(PickleList)
    }
}

struct PickleList;

impl ItemWriter for PickleList {
    fn begin(&mut self, out: &mut Vec<u8>) -> Result<(), EmitError> {
        out.extend_from_slice(&PROTO_3);
        out.push(EMPTY_LIST);
        Ok(())
    }

    fn batch(&mut self, items: &[Data<'_, '_>], out: &mut Vec<u8>) -> Result<(), EmitError> {
        if items.is_empty() {
            return Ok(());
        }
        out.push(MARK);
        for item in items {
            item.serialize(&mut Serializer::new(&mut *out, SerOptions::new()))
                .map_err(EmitError::from_display)?;
        }
        out.push(APPENDS);
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), EmitError> {
        out.push(STOP);
        Ok(())
    }
}
