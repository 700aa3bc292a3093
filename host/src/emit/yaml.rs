//! YAML (`application/yaml`, also `application/x-yaml`). A stream is one block
//! sequence, each item written as it arrives.

use super::{EmitError, Emitter, ItemWriter, Options};

/// YAML.
pub struct Yaml;

fn write(value: &dyn erased_serde::Serialize, out: &mut Vec<u8>) -> Result<(), EmitError> {
    serde_yaml::to_writer(out, value).map_err(EmitError::from_display)
}

impl Emitter for Yaml {
    fn name(&self) -> &'static str {
        "yaml"
    }

    fn media_types(&self) -> &'static [&'static str] {
        &["application/yaml", "application/x-yaml", "text/yaml"]
    }

    fn extensions(&self) -> &'static [&'static str] {
        &["yaml", "yml"]
    }

    fn document(
        &self,
        value: &dyn erased_serde::Serialize,
        _: Options,
        out: &mut Vec<u8>,
    ) -> Result<(), EmitError> {
        write(value, out)
    }

    fn items(&self, _: Options) -> Box<dyn ItemWriter> {
        Box::new(Sequence { empty: true })
    }
}

struct Sequence {
    empty: bool,
}

impl ItemWriter for Sequence {
    fn begin(&mut self, _: &mut Vec<u8>) -> Result<(), EmitError> {
        Ok(())
    }

    /// Each item is written as its own document, then indented under a `- `.
    fn batch(
        &mut self,
        items: &[&dyn erased_serde::Serialize],
        out: &mut Vec<u8>,
    ) -> Result<(), EmitError> {
        let mut item_yaml = Vec::new();
        for item in items {
            item_yaml.clear();
            write(*item, &mut item_yaml)?;
            for (index, line) in item_yaml.split_inclusive(|&byte| byte == b'\n').enumerate() {
                out.extend_from_slice(if index == 0 { b"- " } else { b"  " });
                out.extend_from_slice(line);
            }
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
