//! JSON (`application/json`): compact, or indented with `?indent=N`. Streams are one
//! array, written as the items arrive.

use super::{Data, EmitError, Emitter, Format, ItemWriter, Options};
use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter, PrettyFormatter, Serializer};

/// JSON.
pub struct Json;

const SPACES: &[u8; 16] = b"                ";

/// Writes `value` as JSON, indented if asked.
pub(super) fn write(
    value: &Data<'_, '_>,
    options: Options,
    out: &mut Vec<u8>,
) -> Result<(), EmitError> {
    match options.indent {
        Some(width) => {
            let indent = &SPACES[..usize::from(width).min(SPACES.len())];
            with(value, PrettyFormatter::with_indent(indent), out)
        }
        None => with(value, CompactFormatter, out),
    }
}

fn with<F: Formatter>(
    value: &Data<'_, '_>,
    formatter: F,
    out: &mut Vec<u8>,
) -> Result<(), EmitError> {
    let mut serializer = Serializer::with_formatter(out, formatter);
    value
        .serialize(&mut serializer)
        .map_err(EmitError::from_display)
}

impl Emitter for Json {
    fn format(&self) -> &'static Format {
        &Format {
            name: "json",
            media_types: &["application/json"],
            extensions: &["json"],
            problem_media_type: "application/problem+json",
        }
    }

    fn document(
        &self,
        value: &Data<'_, '_>,
        options: Options,
        out: &mut Vec<u8>,
    ) -> Result<(), EmitError> {
        write(value, options, out)?;
        if options.indent.is_some() {
            out.push(b'\n');
        }
        Ok(())
    }

    fn items(&self, options: Options) -> Box<dyn ItemWriter> {
        Box::new(JsonArray {
            options,
            started: false,
        })
    }
}

/// A JSON array written an item at a time.
struct JsonArray {
    options: Options,
    started: bool,
}

impl ItemWriter for JsonArray {
    fn begin(&mut self, out: &mut Vec<u8>) -> Result<(), EmitError> {
        out.push(b'[');
        Ok(())
    }

    fn batch(&mut self, items: &[Data<'_, '_>], out: &mut Vec<u8>) -> Result<(), EmitError> {
        for item in items {
            if self.started {
                out.push(b',');
            }
            if self.options.indent.is_some() {
                out.push(b'\n');
            }
            self.started = true;
            write(item, self.options, out)?;
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), EmitError> {
        if self.options.indent.is_some() && self.started {
            out.push(b'\n');
        }
        out.push(b']');
        Ok(())
    }
}
