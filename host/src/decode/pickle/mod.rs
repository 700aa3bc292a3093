//! Python pickle bodies (`application/python-pickle`), read as data only.
//!
//! A pickle is a program for Python's unpickling machine, and in general it can call
//! any Python function (the reason django-piston disabled its pickle loader). This
//! decoder is its own small machine that knows only the opcodes for data — `None`,
//! booleans, integers, floats, strings, bytes, lists, tuples, dicts, sets and the memo —
//! for protocols 2 to 5 (what `pickle.dumps` writes), and refuses any opcode that would
//! name a class or call a function. Bytes become base64 text.
//!
//! Any client may send a pickle, so the machine's work and memory grow linearly with
//! the body, whatever it holds:
//!
//! - Values live in one arena, and a container holds the indices of its values. A memo
//!   reference or `DUP` pushes an index again, so what the pickle shares stays shared
//!   and is never copied; a list that contains itself is only an index to itself, so
//!   nothing leaks; and dropping the arena is flat, however deep the nesting.
//! - Each container knows its depth, worked out from its values as they are added,
//!   and the opcode that would nest one deeper than `max_depth` is refused. A list
//!   deepened after it was put in another (through the memo) is caught when the JSON
//!   is written: the writer keeps its own stack of open containers, at most
//!   `max_depth` tall, instead of recursing, so a cycle is refused as too deep.
//! - An integer has at most 128 bytes (308 decimal digits as text), so that it is
//!   within the range of a double, where every JSON reader (the schema validator's
//!   among them) can read it; a larger one is refused. Big integers become JSON
//!   numbers, in decimal.
//! - The machine keeps the stack positions of its `MARK`s, so no opcode searches the
//!   stack. Every opcode, every value moved into a container and every memo operation
//!   draws on a budget of 16 units per body byte; the machine needs at most 3, so
//!   the budget only catches a mistake. The memo gets at most one entry per opcode.
//! - Strings and bytes are borrowed from the body, and the arena gets at most one
//!   value per opcode (`None` and the booleans are there once), so memory is a few
//!   dozen bytes per body byte at worst.
//! - The JSON is at most `max_output` bytes, so a pickle of repeated references
//!   ("pickle bomb") is refused instead of expanded. The writer writes at least one
//!   byte per step, so its work is bounded by the same limit.
//!
//! Why not `serde-pickle`: its values are a recursive enum, so one million nested
//! tuples are built, and then dropped, by recursion deep enough to overflow the
//! stack; `DUP` and the memo copy the value they refer to, so a few bytes repeating a
//! large list ask for gigabytes before any output limit applies; it has no setting
//! that bounds either; and it calls a few Python globals (`_codecs.encode`,
//! `copy_reg._reconstructor`) that this decoder refuses.
//!
//! The machine is in `machine`, big integers in `integer`, the JSON writer in `json`;
//! this file holds the decoder and the values they share.

mod integer;
mod json;
mod machine;
#[cfg(test)]
mod tests;

use self::json::write_json;
use self::machine::Machine;
use super::{DecodeError, Decoder, Limits};

/// Python pickle.
pub struct Pickle;

impl Decoder for Pickle {
    fn media_types(&self) -> &'static [&'static str] {
        &["application/python-pickle", "application/x-python-pickle"]
    }

    fn decode(&self, body: &[u8], _: &mime::Mime, limits: Limits) -> Result<String, DecodeError> {
        let (nodes, root) = Machine::new(body, limits.max_depth).run()?;
        write_json(&nodes, root, limits)
    }
}

/// Where in the arena the machine puts `None`, `True` and `False`, once each.
const NONE: u32 = 0;
const TRUE: u32 = 1;
const FALSE: u32 = 2;

/// A value the machine built. Containers hold the arena indices of their values.
enum Node<'a> {
    None,
    Bool(bool),
    Int(i64),
    /// An integer too large for 64 bits, as decimal digits.
    BigInt(Box<str>),
    Float(f64),
    Str(&'a str),
    Bytes(&'a [u8]),
    // A container knows its depth: one more than its deepest value's, as of when
    // values were last added to it.
    Tuple {
        items: Vec<u32>,
        depth: u32,
    },
    List {
        items: Vec<u32>,
        depth: u32,
    },
    Set {
        items: Vec<u32>,
        depth: u32,
    },
    /// Keys and values, in order.
    Dict {
        entries: Vec<(u32, u32)>,
        depth: u32,
    },
}

fn list<'a>(items: Vec<u32>, depth: u32) -> Node<'a> {
    Node::List { items, depth }
}

fn tuple<'a>(items: Vec<u32>, depth: u32) -> Node<'a> {
    Node::Tuple { items, depth }
}

fn set<'a>(items: Vec<u32>, depth: u32) -> Node<'a> {
    Node::Set { items, depth }
}

fn empty_dict<'a>() -> Node<'a> {
    Node::Dict {
        entries: Vec::new(),
        depth: 1,
    }
}
