//! JSON Lines (`application/jsonl`): one compact JSON value per line — made for
//! streams; a single answer is one line.

use super::{Data, EmitError, Emitter, Format, ItemWriter, Options};

/// JSON Lines.
pub struct JsonLines;

impl Emitter for JsonLines {
    fn format(&self) -> &'static Format {
        &Format {
            name: "jsonl",
            media_types: &[
                "application/jsonl",
                "application/x-ndjson",
                "application/jsonlines",
            ],
            extensions: &["jsonl"],
            problem_media_type: "application/jsonl",
        }
    }

    fn document(
        &self,
        value: &Data<'_, '_>,
        _: Options,
        out: &mut Vec<u8>,
    ) -> Result<(), EmitError> {
        super::json::write(value, Options::default(), out)?;
        out.push(b'\n');
        Ok(())
    }

    fn items(&self, _: Options) -> Box<dyn ItemWriter> {
        Box::new(Lines)
    }
}

struct Lines;

impl ItemWriter for Lines {
    fn begin(&mut self, _: &mut Vec<u8>) -> Result<(), EmitError> {
        Ok(())
    }

    fn batch(&mut self, items: &[Data<'_, '_>], out: &mut Vec<u8>) -> Result<(), EmitError> {
        for item in items {
            super::json::write(item, Options::default(), out)?;
            out.push(b'\n');
        }
        Ok(())
    }

    fn finish(&mut self, _: &mut Vec<u8>) -> Result<(), EmitError> {
        Ok(())
    }
}
