//! Writing the machine's arena as JSON: without recursion, within the output limit.

use super::Node;
use crate::decode::{Bounded, DecodeError, Limits};
use base64::Engine as _;
use std::io::Write;

/// JSON written into a [`Bounded`] buffer, an overflow being [`DecodeError::TooLarge`].
struct Json {
    out: Bounded,
    max_output: usize,
}

impl Json {
    fn raw(&mut self, bytes: &[u8]) -> Result<(), DecodeError> {
        self.out
            .write_all(bytes)
            .map_err(|_| DecodeError::TooLarge(self.max_output))
    }

    fn serialize(&mut self, value: &impl serde::Serialize) -> Result<(), DecodeError> {
        serde_json::to_writer(&mut self.out, value)
            .map_err(|_| DecodeError::TooLarge(self.max_output))
    }

    /// Bytes as a base64 string, encoded a piece at a time so that nothing past the
    /// limit is encoded.
    fn base64(&mut self, bytes: &[u8]) -> Result<(), DecodeError> {
        const PIECE: usize = 3 * 1024;
        let mut buffer = [0; PIECE / 3 * 4];
        self.raw(b"\"")?;
        for piece in bytes.chunks(PIECE) {
            let length = base64::engine::general_purpose::STANDARD
                .encode_slice(piece, &mut buffer)
                .expect("a buffer for a whole piece");
            self.raw(&buffer[..length])?;
        }
        self.raw(b"\"")
    }

    /// A dict key, which JSON wants as a string.
    fn key(&mut self, node: &Node) -> Result<(), DecodeError> {
        match node {
            Node::Str(text) => self.serialize(text),
            Node::Int(number) => self.serialize(&number.to_string()),
            Node::BigInt(digits) => self.serialize(digits),
            Node::Bool(flag) => self.serialize(&flag.to_string()),
            Node::Float(number) => self.serialize(&number.to_string()),
            _ => Err(DecodeError::Malformed(
                "a dict key is not a string or a number".into(),
            )),
        }
    }
}

/// A container being written: what is left of it, and whether anything was written.
enum Open<'n> {
    Items(std::slice::Iter<'n, u32>, bool),
    Entries(std::slice::Iter<'n, (u32, u32)>, bool),
}

/// Writes the value at `root` as JSON. Open containers are kept on a stack of at most
/// `max_depth` (deeper, a list that contains itself included, is refused), and every
/// step writes at least one byte, so the work is bounded by `max_output`.
pub(super) fn write_json(nodes: &[Node], root: u32, limits: Limits) -> Result<String, DecodeError> {
    let mut json = Json {
        out: Bounded::new(limits.max_output),
        max_output: limits.max_output,
    };
    let mut open: Vec<Open> = Vec::new();
    let mut next = Some(root);
    loop {
        if let Some(index) = next.take() {
            match &nodes[index as usize] {
                Node::None => json.raw(b"null")?,
                Node::Bool(value) => json.raw(if *value { b"true" } else { b"false" })?,
                Node::Int(value) => json.serialize(value)?,
                Node::BigInt(digits) => json.raw(digits.as_bytes())?,
                Node::Float(value) if value.is_finite() => json.serialize(value)?,
                Node::Float(value) => {
                    return Err(DecodeError::Malformed(format!(
                        "the pickle holds {value}, which JSON cannot carry"
                    )));
                }
                Node::Str(text) => json.serialize(text)?,
                Node::Bytes(bytes) => json.base64(bytes)?,
                Node::Tuple { items, .. } | Node::List { items, .. } | Node::Set { items, .. } => {
                    if open.len() >= limits.max_depth {
                        return Err(DecodeError::TooDeep(limits.max_depth));
                    }
                    if items.is_empty() {
                        json.raw(b"[]")?;
                    } else {
                        json.raw(b"[")?;
                        open.push(Open::Items(items.iter(), false));
                    }
                }
                Node::Dict { entries, .. } => {
                    if open.len() >= limits.max_depth {
                        return Err(DecodeError::TooDeep(limits.max_depth));
                    }
                    if entries.is_empty() {
                        json.raw(b"{}")?;
                    } else {
                        json.raw(b"{")?;
                        open.push(Open::Entries(entries.iter(), false));
                    }
                }
            }
        }
        let Some(container) = open.last_mut() else {
            return Ok(json.out.into_string());
        };
        match container {
            Open::Items(items, written) => match items.next() {
                Some(&item) => {
                    if std::mem::replace(written, true) {
                        json.raw(b",")?;
                    }
                    next = Some(item);
                }
                None => {
                    json.raw(b"]")?;
                    open.pop();
                }
            },
            Open::Entries(entries, written) => match entries.next() {
                Some(&(key, value)) => {
                    if std::mem::replace(written, true) {
                        json.raw(b",")?;
                    }
                    json.key(&nodes[key as usize])?;
                    json.raw(b":")?;
                    next = Some(value);
                }
                None => {
                    json.raw(b"}")?;
                    open.pop();
                }
            },
        }
    }
}
