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

use super::{Bounded, DecodeError, Decoder, Limits};
use base64::Engine as _;
use std::collections::HashMap;
use std::io::Write;

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

/// The largest integer, in bytes of two's complement.
const MAX_INT_BYTES: usize = 128;

/// The most decimal digits of an integer of [`MAX_INT_BYTES`]: 2^1023 has 308 (and
/// any number of 308 digits is below the largest double, about 1.8 × 10^308).
const MAX_INT_DIGITS: usize = 308;

/// The work the machine may do per body byte, and in any case.
const WORK_PER_BYTE: usize = 16;
const WORK_FLOOR: usize = 1024;

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

/// The memo: the arena indices of values, by id. Python numbers entries from 0, so
/// ids below the body's length are kept in a vector; any other id goes in a map.
struct Memo {
    dense: Vec<Option<u32>>,
    sparse: HashMap<u32, u32>,
    dense_ids: usize,
    /// How many ids have an entry.
    len: usize,
}

impl Memo {
    fn new(dense_ids: usize) -> Memo {
        Memo {
            dense: Vec::new(),
            sparse: HashMap::new(),
            dense_ids,
            len: 0,
        }
    }

    fn insert(&mut self, id: u32, index: u32) {
        let slot = id as usize;
        let added = if slot < self.dense_ids {
            if self.dense.len() <= slot {
                self.dense.resize(slot + 1, None);
            }
            self.dense[slot].replace(index).is_none()
        } else {
            self.sparse.insert(id, index).is_none()
        };
        self.len += usize::from(added);
    }

    fn get(&self, id: u32) -> Option<u32> {
        let slot = id as usize;
        if slot < self.dense_ids {
            self.dense.get(slot).copied().flatten()
        } else {
            self.sparse.get(&id).copied()
        }
    }
}

struct Machine<'a> {
    input: &'a [u8],
    position: usize,
    max_depth: usize,
    /// Every value built; the stack and the memo hold indices into it.
    nodes: Vec<Node<'a>>,
    stack: Vec<u32>,
    /// The stack's length at each open `MARK`, innermost last.
    marks: Vec<usize>,
    memo: Memo,
    work_left: usize,
}

fn malformed(reason: impl std::fmt::Display, offset: usize) -> DecodeError {
    DecodeError::Malformed(format!(
        "malformed pickle at byte offset {offset}: {reason}"
    ))
}

fn stack_underflow(offset: usize) -> DecodeError {
    malformed("an opcode needs a value the stack does not have", offset)
}

impl<'a> Machine<'a> {
    fn new(input: &'a [u8], max_depth: usize) -> Machine<'a> {
        Machine {
            input,
            position: 0,
            max_depth,
            nodes: vec![Node::None, Node::Bool(true), Node::Bool(false)],
            stack: Vec::new(),
            marks: Vec::new(),
            memo: Memo::new(input.len()),
            work_left: input
                .len()
                .saturating_mul(WORK_PER_BYTE)
                .saturating_add(WORK_FLOOR),
        }
    }

    /// Draws `units` of work from the budget.
    fn spend(&mut self, units: usize, offset: usize) -> Result<(), DecodeError> {
        self.work_left = self.work_left.checked_sub(units).ok_or_else(|| {
            malformed(
                "the pickle takes more work to read than its size allows",
                offset,
            )
        })?;
        Ok(())
    }

    fn take(&mut self, count: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .position
            .checked_add(count)
            .filter(|end| *end <= self.input.len())
            .ok_or_else(|| malformed("it ends in the middle of a value", self.position))?;
        let bytes = &self.input[self.position..end];
        self.position = end;
        Ok(bytes)
    }

    fn byte(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn u32_le(&mut self) -> Result<u32, DecodeError> {
        let bytes = self.take(4)?;
        Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    fn u64_le(&mut self) -> Result<u64, DecodeError> {
        let bytes = self.take(8)?;
        Ok(u64::from_le_bytes(bytes.try_into().expect("eight bytes")))
    }

    /// A length read from the input, checked against what is left of it.
    fn length(&mut self, length: u64) -> Result<usize, DecodeError> {
        usize::try_from(length)
            .ok()
            .filter(|length| self.input.len() - self.position >= *length)
            .ok_or_else(|| {
                malformed(
                    format!("a length of {length} bytes is past its end"),
                    self.position,
                )
            })
    }

    fn line(&mut self) -> Result<&'a str, DecodeError> {
        let rest = &self.input[self.position..];
        let end = rest
            .iter()
            .position(|&byte| byte == b'\n')
            .ok_or_else(|| malformed("a text argument without its newline", self.position))?;
        let line = std::str::from_utf8(&rest[..end])
            .map_err(|_| malformed("a text argument is not UTF-8", self.position))?;
        self.position += end + 1;
        Ok(line)
    }

    /// The stack's length at the innermost open `MARK`: values below it are out of
    /// reach until the mark is closed.
    fn floor(&self) -> usize {
        self.marks.last().copied().unwrap_or(0)
    }

    /// Adds a value to the arena and pushes it.
    fn push(&mut self, node: Node<'a>, offset: usize) -> Result<(), DecodeError> {
        let index = u32::try_from(self.nodes.len())
            .map_err(|_| malformed("the pickle holds too many values", offset))?;
        self.nodes.push(node);
        self.stack.push(index);
        Ok(())
    }

    fn pop(&mut self, offset: usize) -> Result<u32, DecodeError> {
        if self.stack.len() <= self.floor() {
            return Err(stack_underflow(offset));
        }
        self.stack.pop().ok_or_else(|| stack_underflow(offset))
    }

    fn top(&self, offset: usize) -> Result<u32, DecodeError> {
        if self.stack.len() <= self.floor() {
            return Err(stack_underflow(offset));
        }
        self.stack
            .last()
            .copied()
            .ok_or_else(|| stack_underflow(offset))
    }

    /// Everything pushed since the innermost `MARK`, which is closed.
    fn since_mark(&mut self, offset: usize) -> Result<Vec<u32>, DecodeError> {
        let mark = self
            .marks
            .pop()
            .ok_or_else(|| malformed("an opcode needs a MARK there is not", offset))?;
        let count = self
            .stack
            .len()
            .checked_sub(mark)
            .ok_or_else(|| stack_underflow(offset))?;
        self.spend(count, offset)?;
        Ok(self.stack.split_off(mark))
    }

    fn depth(&self, index: u32) -> u32 {
        match &self.nodes[index as usize] {
            Node::Tuple { depth, .. }
            | Node::List { depth, .. }
            | Node::Set { depth, .. }
            | Node::Dict { depth, .. } => *depth,
            _ => 0,
        }
    }

    /// The depth of a container holding `values`, if it is within the limit.
    fn depth_over(&self, values: impl Iterator<Item = u32>) -> Result<u32, DecodeError> {
        let deepest = values.map(|value| self.depth(value)).max().unwrap_or(0);
        let depth = deepest.saturating_add(1);
        if usize::try_from(depth).is_ok_and(|depth| depth <= self.max_depth) {
            Ok(depth)
        } else {
            Err(DecodeError::TooDeep(self.max_depth))
        }
    }

    /// Pushes a new sequence (tuple, list or set) of `items`.
    fn sequence(
        &mut self,
        items: Vec<u32>,
        kind: fn(Vec<u32>, u32) -> Node<'a>,
        offset: usize,
    ) -> Result<(), DecodeError> {
        let depth = self.depth_over(items.iter().copied())?;
        self.push(kind(items, depth), offset)
    }

    /// Adds `values` to the list (`APPEND`, `APPENDS`) or the set (`ADDITEMS`) on top of
    /// the stack.
    fn extend(&mut self, values: &[u32], to_set: bool, offset: usize) -> Result<(), DecodeError> {
        let target = self.top(offset)?;
        let depth = self.depth_over(values.iter().copied())?;
        match (&mut self.nodes[target as usize], to_set) {
            (Node::List { items, depth: old }, false) | (Node::Set { items, depth: old }, true) => {
                items.extend_from_slice(values);
                *old = (*old).max(depth);
                Ok(())
            }
            (_, false) => Err(malformed("APPEND to something that is not a list", offset)),
            (_, true) => Err(malformed("ADDITEMS to something that is not a set", offset)),
        }
    }

    /// Adds keys and values, alternating, to the dict on top of the stack.
    fn set_items(&mut self, values: &[u32], offset: usize) -> Result<(), DecodeError> {
        if !values.len().is_multiple_of(2) {
            return Err(malformed("SETITEMS with an odd number of values", offset));
        }
        let target = self.top(offset)?;
        let depth = self.depth_over(values.iter().skip(1).step_by(2).copied())?;
        match &mut self.nodes[target as usize] {
            Node::Dict {
                entries,
                depth: old,
            } => {
                entries.extend(values.chunks_exact(2).map(|pair| (pair[0], pair[1])));
                *old = (*old).max(depth);
                Ok(())
            }
            _ => Err(malformed("SETITEM on something that is not a dict", offset)),
        }
    }

    fn memoize(&mut self, id: u32, offset: usize) -> Result<(), DecodeError> {
        self.spend(1, offset)?;
        let index = self.top(offset)?;
        self.memo.insert(id, index);
        Ok(())
    }

    fn recall(&mut self, id: u32, offset: usize) -> Result<(), DecodeError> {
        self.spend(1, offset)?;
        let index = self
            .memo
            .get(id)
            .ok_or_else(|| malformed(format!("memo entry {id} was never stored"), offset))?;
        self.stack.push(index);
        Ok(())
    }

    fn string(&mut self, length: usize, offset: usize) -> Result<(), DecodeError> {
        let bytes = self.take(length)?;
        let text =
            std::str::from_utf8(bytes).map_err(|_| malformed("a string is not UTF-8", offset))?;
        self.push(Node::Str(text), offset)
    }

    fn bytes(&mut self, length: usize, offset: usize) -> Result<(), DecodeError> {
        let bytes = self.take(length)?;
        self.push(Node::Bytes(bytes), offset)
    }

    /// A little-endian two's-complement integer (`LONG1`, `LONG4`) of `length` bytes.
    fn integer(&mut self, length: usize, offset: usize) -> Result<(), DecodeError> {
        if length > MAX_INT_BYTES {
            return Err(malformed(
                format!("an integer of {length} bytes is larger than the {MAX_INT_BYTES} allowed"),
                offset,
            ));
        }
        let bytes = self.take(length)?;
        let node = if bytes.len() <= 8 {
            let negative = bytes.last().is_some_and(|byte| byte & 0x80 != 0);
            let mut buffer = if negative { [0xff; 8] } else { [0; 8] };
            buffer[..bytes.len()].copy_from_slice(bytes);
            Node::Int(i64::from_le_bytes(buffer))
        } else {
            Node::BigInt(little_endian_decimal(bytes).into())
        };
        self.push(node, offset)
    }

    /// An integer written in decimal (`INT`, `LONG`): a sign, then digits.
    fn decimal(&mut self, text: &str, offset: usize) -> Result<(), DecodeError> {
        let (negative, digits) = match text.as_bytes().first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, text),
        };
        if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(malformed(format!("`{text}` is not an integer"), offset));
        }
        let significant = digits.trim_start_matches('0');
        if significant.len() > MAX_INT_DIGITS {
            return Err(malformed(
                format!(
                    "an integer of {} digits is larger than the {MAX_INT_DIGITS} allowed",
                    significant.len()
                ),
                offset,
            ));
        }
        let node = match text.parse() {
            Ok(value) => Node::Int(value),
            Err(_) if negative => Node::BigInt(format!("-{significant}").into()),
            Err(_) => Node::BigInt(significant.into()),
        };
        self.push(node, offset)
    }

    /// Runs the pickle to its `STOP`: the arena, and the index of the value built.
    fn run(mut self) -> Result<(Vec<Node<'a>>, u32), DecodeError> {
        loop {
            let offset = self.position;
            self.spend(1, offset)?;
            let opcode = self.byte()?;
            match opcode {
                // Framing.
                0x80 => {
                    let protocol = self.byte()?;
                    if !(2..=5).contains(&protocol) {
                        return Err(malformed(
                            format!("protocol {protocol} is not supported (use 2 to 5)"),
                            offset,
                        ));
                    }
                }
                0x95 => {
                    self.u64_le()?;
                }
                b'.' => {
                    let root = self.pop(offset)?;
                    if !self.stack.is_empty() || !self.marks.is_empty() {
                        return Err(malformed("values left on the stack at STOP", offset));
                    }
                    if self.position != self.input.len() {
                        return Err(malformed("bytes after STOP", self.position));
                    }
                    return Ok((self.nodes, root));
                }
                b'(' => self.marks.push(self.stack.len()),
                b'0' => {
                    // As in Python: with nothing above the innermost mark, the mark.
                    if self.stack.len() > self.floor() {
                        self.stack.pop();
                    } else if self.marks.pop().is_none() {
                        return Err(stack_underflow(offset));
                    }
                }
                b'1' => {
                    self.since_mark(offset)?;
                }
                b'2' => {
                    let index = self.top(offset)?;
                    self.stack.push(index);
                }
                // Scalars.
                b'N' => self.stack.push(NONE),
                0x88 => self.stack.push(TRUE),
                0x89 => self.stack.push(FALSE),
                b'J' => {
                    let value = self.u32_le()? as i32;
                    self.push(Node::Int(i64::from(value)), offset)?;
                }
                b'K' => {
                    let value = self.byte()?;
                    self.push(Node::Int(i64::from(value)), offset)?;
                }
                b'M' => {
                    let bytes = self.take(2)?;
                    let value = u16::from_le_bytes([bytes[0], bytes[1]]);
                    self.push(Node::Int(i64::from(value)), offset)?;
                }
                0x8a => {
                    let length = usize::from(self.byte()?);
                    self.integer(length, offset)?;
                }
                0x8b => {
                    let length = self.u32_le()?;
                    let length = usize::try_from(length).unwrap_or(usize::MAX);
                    self.integer(length, offset)?;
                }
                b'I' => match self.line()? {
                    "00" => self.stack.push(FALSE),
                    "01" => self.stack.push(TRUE),
                    digits => self.decimal(digits, offset)?,
                },
                b'L' => {
                    let line = self.line()?;
                    self.decimal(line.strip_suffix('L').unwrap_or(line), offset)?;
                }
                b'G' => {
                    let bytes = self.take(8)?;
                    let value = f64::from_be_bytes(bytes.try_into().expect("eight bytes"));
                    self.push(Node::Float(value), offset)?;
                }
                b'F' => {
                    let line = self.line()?;
                    let value = line
                        .parse()
                        .map_err(|_| malformed(format!("`{line}` is not a float"), offset))?;
                    self.push(Node::Float(value), offset)?;
                }
                0x8c => {
                    let length = usize::from(self.byte()?);
                    self.string(length, offset)?;
                }
                b'X' => {
                    let length = self.u32_le()?;
                    let length = self.length(u64::from(length))?;
                    self.string(length, offset)?;
                }
                0x8d => {
                    let length = self.u64_le()?;
                    let length = self.length(length)?;
                    self.string(length, offset)?;
                }
                b'C' | b'U' => {
                    let length = usize::from(self.byte()?);
                    self.bytes(length, offset)?;
                }
                b'B' | b'T' => {
                    let length = self.u32_le()?;
                    let length = self.length(u64::from(length))?;
                    self.bytes(length, offset)?;
                }
                0x8e | 0x96 => {
                    let length = self.u64_le()?;
                    let length = self.length(length)?;
                    self.bytes(length, offset)?;
                }
                // Containers.
                b']' => self.sequence(Vec::new(), list, offset)?,
                b')' => self.sequence(Vec::new(), tuple, offset)?,
                0x8f => self.sequence(Vec::new(), set, offset)?,
                b'}' => self.push(empty_dict(), offset)?,
                b'l' => {
                    let items = self.since_mark(offset)?;
                    self.sequence(items, list, offset)?;
                }
                b't' => {
                    let items = self.since_mark(offset)?;
                    self.sequence(items, tuple, offset)?;
                }
                0x91 => {
                    let items = self.since_mark(offset)?;
                    self.sequence(items, set, offset)?;
                }
                0x85..=0x87 => {
                    let count = usize::from(opcode - 0x84);
                    if self.stack.len() < self.floor() + count {
                        return Err(stack_underflow(offset));
                    }
                    self.spend(count, offset)?;
                    let items = self.stack.split_off(self.stack.len() - count);
                    self.sequence(items, tuple, offset)?;
                }
                b'd' => {
                    let items = self.since_mark(offset)?;
                    self.push(empty_dict(), offset)?;
                    self.set_items(&items, offset)?;
                }
                b'a' => {
                    self.spend(1, offset)?;
                    let item = self.pop(offset)?;
                    self.extend(&[item], false, offset)?;
                }
                b'e' => {
                    let items = self.since_mark(offset)?;
                    self.extend(&items, false, offset)?;
                }
                0x90 => {
                    let items = self.since_mark(offset)?;
                    self.extend(&items, true, offset)?;
                }
                b's' => {
                    self.spend(2, offset)?;
                    let value = self.pop(offset)?;
                    let key = self.pop(offset)?;
                    self.set_items(&[key, value], offset)?;
                }
                b'u' => {
                    let items = self.since_mark(offset)?;
                    self.set_items(&items, offset)?;
                }
                // The memo.
                b'p' => {
                    let line = self.line()?;
                    let id = line
                        .parse()
                        .map_err(|_| malformed(format!("`{line}` is not a memo id"), offset))?;
                    self.memoize(id, offset)?;
                }
                b'q' => {
                    let id = u32::from(self.byte()?);
                    self.memoize(id, offset)?;
                }
                b'r' => {
                    let id = self.u32_le()?;
                    self.memoize(id, offset)?;
                }
                0x94 => {
                    let id = u32::try_from(self.memo.len)
                        .map_err(|_| malformed("too many memo entries", offset))?;
                    self.memoize(id, offset)?;
                }
                b'g' => {
                    let line = self.line()?;
                    let id = line
                        .parse()
                        .map_err(|_| malformed(format!("`{line}` is not a memo id"), offset))?;
                    self.recall(id, offset)?;
                }
                b'h' => {
                    let id = u32::from(self.byte()?);
                    self.recall(id, offset)?;
                }
                b'j' => {
                    let id = self.u32_le()?;
                    self.recall(id, offset)?;
                }
                b'c'
                | 0x93
                | b'R'
                | b'b'
                | b'i'
                | b'o'
                | 0x81
                | 0x92
                | 0x82..=0x84
                | b'P'
                | b'Q'
                | 0x97
                | 0x98 => {
                    return Err(malformed(
                        format!(
                            "opcode {opcode:#04x} names a class or calls a function; only data (dicts, lists, \
                             strings, numbers, booleans, None) is accepted"
                        ),
                        offset,
                    ));
                }
                b'S' | b'V' => {
                    return Err(malformed(
                        "protocol 0 strings are not supported; pickle with protocol 2 or later",
                        offset,
                    ));
                }
                other => return Err(malformed(format!("unknown opcode {other:#04x}"), offset)),
            }
        }
    }
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

/// Decimal digits of a little-endian two's-complement integer. Each step divides the
/// magnitude, in 32-bit limbs, by 10^9, so the work is quadratic in the length, which
/// [`MAX_INT_BYTES`] keeps small (a few thousand divisions).
fn little_endian_decimal(bytes: &[u8]) -> String {
    const BILLION: u64 = 1_000_000_000;
    let negative = bytes.last().is_some_and(|byte| byte & 0x80 != 0);
    let mut magnitude = bytes.to_vec();
    if negative {
        // Two's complement negation: invert, then add one.
        let mut carry = true;
        for byte in &mut magnitude {
            *byte = !*byte;
            if carry {
                let (sum, overflow) = byte.overflowing_add(1);
                *byte = sum;
                carry = overflow;
            }
        }
    }
    // Most significant limb first.
    let mut limbs: Vec<u32> = magnitude
        .chunks(4)
        .rev()
        .map(|chunk| {
            chunk
                .iter()
                .rev()
                .fold(0, |limb, &byte| limb << 8 | u32::from(byte))
        })
        .collect();
    // Groups of nine digits, least significant first.
    let mut groups = Vec::new();
    let mut start = 0;
    loop {
        while limbs.get(start) == Some(&0) {
            start += 1;
        }
        if start == limbs.len() {
            break;
        }
        let mut remainder = 0u64;
        for limb in &mut limbs[start..] {
            let value = remainder << 32 | u64::from(*limb);
            *limb = (value / BILLION) as u32;
            remainder = value % BILLION;
        }
        groups.push(remainder as u32);
    }
    let mut text = String::with_capacity(groups.len() * 9 + 1);
    if negative {
        text.push('-');
    }
    let mut groups = groups.iter().rev();
    text.push_str(&groups.next().copied().unwrap_or(0).to_string());
    for group in groups {
        text.push_str(&format!("{group:09}"));
    }
    text
}

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
fn write_json(nodes: &[Node], root: u32, limits: Limits) -> Result<String, DecodeError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::time::{Duration, Instant};

    const LIMITS: Limits = Limits {
        max_depth: 16,
        max_output: 4096,
    };

    /// Far longer than any of these bodies takes (milliseconds), far shorter than
    /// copying shared values or scanning the stack would.
    const QUICK: Duration = Duration::from_secs(5);

    fn decode_text(pickle: &[u8], limits: Limits) -> Result<String, DecodeError> {
        Pickle.decode(pickle, &mime::APPLICATION_OCTET_STREAM, limits)
    }

    fn decode(pickle: &[u8]) -> Result<serde_json::Value, DecodeError> {
        let json = decode_text(pickle, LIMITS)?;
        Ok(serde_json::from_str(&json).unwrap())
    }

    /// Runs `test` on a thread with a small stack, which recursion as deep as a large
    /// body would overflow (aborting the test run).
    fn on_small_stack<T: Send + 'static>(test: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(test)
            .unwrap()
            .join()
            .unwrap()
    }

    /// A pickle of protocol 4 running `opcodes`, then STOP.
    fn program(opcodes: &[u8]) -> Vec<u8> {
        let mut pickle = vec![0x80, 4];
        pickle.extend_from_slice(opcodes);
        pickle.push(b'.');
        pickle
    }

    /// `LONG4` of `length` bytes, the last one 1.
    fn long4(length: u32) -> Vec<u8> {
        let mut opcode = vec![0x8b];
        opcode.extend_from_slice(&length.to_le_bytes());
        opcode.resize(opcode.len() + length as usize - 1, 0x11);
        opcode.push(1);
        opcode
    }

    /// A pickle of protocol 2 pushing one value with a text opcode (`I`, `L`).
    fn text(opcode: u8, argument: &str) -> Vec<u8> {
        [&[0x80, 2, opcode], argument.as_bytes(), b"\n."].concat()
    }

    /// How deep a JSON text nests.
    fn json_depth(json: &str) -> usize {
        let (mut depth, mut deepest, mut in_string, mut escaped) = (0, 0, false, false);
        for byte in json.bytes() {
            match (in_string, escaped, byte) {
                (true, true, _) => escaped = false,
                (true, false, b'\\') => escaped = true,
                (true, false, b'"') | (false, _, b'"') => in_string = !in_string,
                (false, _, b'[' | b'{') => {
                    depth += 1;
                    deepest = deepest.max(depth);
                }
                (false, _, b']' | b'}') => depth -= 1,
                _ => {}
            }
        }
        deepest
    }

    #[test]
    fn reads_python_pickles() {
        // pickle.dumps({'title': 'Hi', 'n': [1, -2, 3.5, None, True], 'big': 2**70, 'b': b'\x00'}, protocol=4)
        let pickle = b"\x80\x04\x95E\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x05title\x94\x8c\x02Hi\x94\x8c\x01n\x94]\x94(K\x01J\xfe\xff\xff\xffG@\x0c\x00\x00\x00\x00\x00\x00N\x88e\x8c\x03big\x94\x8a\t\x00\x00\x00\x00\x00\x00\x00\x00@\x8c\x01b\x94C\x01\x00\x94u.";
        assert_eq!(
            decode(pickle).unwrap(),
            serde_json::json!({"title": "Hi", "n": [1, -2, 3.5, null, true], "big": 1180591620717411303424_u128 as f64, "b": "AA=="})
        );
        // pickle.dumps([(1, 2), {1, 2}, {'k': b'xyz', 7: 1.5}, 'é' * 3], protocol=2): sets
        // and bytes are made by calling functions before protocol 3.
        let pickle = b"\x80\x02]q\x00(K\x01K\x02\x86q\x01c__builtin__\nset\nq\x02]q\x03(K\x01K\x02e\x85q\x04Rq\x05}q\x06(X\x01\x00\x00\x00kq\x07c_codecs\nencode\nq\x08X\x03\x00\x00\x00xyzq\tX\x06\x00\x00\x00latin1q\n\x86q\x0bRq\x0cK\x07G?\xf8\x00\x00\x00\x00\x00\x00uX\x06\x00\x00\x00\xc3\xa9\xc3\xa9\xc3\xa9q\re.";
        let error = decode(pickle).unwrap_err().to_string();
        assert!(error.contains("byte offset 13"), "{error}");
        // pickle.dumps([(1, 2), {1, 2}, {'k': b'xyz', 7: 1.5}, 'é' * 3], protocol=5)
        let pickle = b"\x80\x05\x955\x00\x00\x00\x00\x00\x00\x00]\x94(K\x01K\x02\x86\x94\x8f\x94(K\x01K\x02\x90}\x94(\x8c\x01k\x94C\x03xyz\x94K\x07G?\xf8\x00\x00\x00\x00\x00\x00u\x8c\x06\xc3\xa9\xc3\xa9\xc3\xa9\x94e.";
        assert_eq!(
            decode(pickle).unwrap(),
            serde_json::json!([[1, 2], [1, 2], {"k": "eHl6", "7": 1.5}, "ééé"])
        );
    }

    #[test]
    fn refuses_code() {
        // pickle.dumps(os.system) style: GLOBAL 'os system'
        let error = decode(b"\x80\x02cos\nsystem\nq\x00.")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("names a class or calls a function"),
            "{error}"
        );
        let error = decode(b"\x80\x04\x8c\x02os\x8c\x06system\x93.")
            .unwrap_err()
            .to_string();
        assert!(error.contains("0x93"), "{error}");
    }

    #[test]
    fn bounds_shared_references_and_cycles() {
        // l = [0]*8; then lists of 8 references to the previous one, nested: 8^6 leaves.
        let mut bomb = b"\x80\x04](K\x00K\x00K\x00K\x00K\x00K\x00K\x00K\x00e\x94".to_vec();
        for level in 0u8..6 {
            bomb.push(b'0');
            bomb.extend_from_slice(b"](");
            for _ in 0..8 {
                bomb.extend_from_slice(&[b'h', level]);
            }
            bomb.extend_from_slice(b"e\x94");
        }
        bomb.push(b'.');
        assert!(
            matches!(decode(&bomb), Err(DecodeError::TooLarge(4096))),
            "{:?}",
            decode(&bomb).err()
        );
        // l = []; l.append(l)
        let cycle = b"\x80\x04]\x94h\x00a.";
        assert!(matches!(decode(cycle), Err(DecodeError::TooDeep(16))));
        // l = []; l.append((l,)): the tuple was built when the list was empty, so only
        // the writer sees the cycle.
        let cycle = b"\x80\x04]\x94h\x00\x85\x94a.";
        assert!(matches!(decode(cycle), Err(DecodeError::TooDeep(16))));
    }

    #[test]
    fn refuses_truncation_and_lies_about_length() {
        assert!(decode(b"\x80\x04\x8d\xff\xff\xff\xff\xff\xff\xff\x7f").is_err());
        assert!(decode(b"\x80\x04]").is_err());
        assert!(decode(b"").is_err());
        assert!(decode(b"\x80\x04N.extra").is_err());
        assert!(decode(b"\x80\x04(\x85.").is_err());
        assert!(decode(b"\x80\x040.").is_err());
    }

    #[test]
    fn pops_and_marks_behave_as_in_python() {
        // POP with nothing above a mark pops the mark; values below a mark are out of
        // reach until it is closed.
        assert_eq!(decode(b"\x80\x04(0N.").unwrap(), serde_json::Value::Null);
        assert!(decode(b"\x80\x04N(2.").is_err());
        // Python ignores a mark left open at STOP; this machine refuses it.
        assert!(decode(b"\x80\x04(N.").is_err());
        assert_eq!(
            decode(b"\x80\x04K\x01(K\x02K\x03tK\x04\x87.").unwrap(),
            serde_json::json!([1, [2, 3], 4])
        );
    }

    #[test]
    fn a_million_nested_tuples_are_refused_while_building() {
        let elapsed = on_small_stack(|| {
            let mut pickle = vec![0x80, 4, b'N'];
            pickle.extend(vec![0x85; 1_000_000]);
            pickle.push(b'.');
            let limits = Limits {
                max_depth: 64,
                max_output: 4 << 20,
            };
            let start = Instant::now();
            let result = decode_text(&pickle, limits);
            assert!(
                matches!(result, Err(DecodeError::TooDeep(64))),
                "{result:?}"
            );
            // Refused at the 65th TUPLE1, not after reading the rest.
            let deep = program(&[&b"N"[..], &[0x85; 64]].concat());
            assert!(decode_text(&deep, limits).is_ok());
            let too_deep = program(&[&b"N"[..], &[0x85; 65]].concat());
            assert!(matches!(
                decode_text(&too_deep, limits),
                Err(DecodeError::TooDeep(64))
            ));
            start.elapsed()
        });
        assert!(elapsed < QUICK, "{elapsed:?}");
    }

    #[test]
    fn nothing_recurses_even_without_a_depth_limit() {
        on_small_stack(|| {
            let mut pickle = vec![0x80, 4, b'N'];
            pickle.extend(vec![0x85; 1_000_000]);
            pickle.push(b'.');
            let limits = Limits {
                max_depth: usize::MAX,
                max_output: 4 << 20,
            };
            let json = decode_text(&pickle, limits).unwrap();
            assert_eq!(json.len(), 2_000_004);
            assert!(json.starts_with("[[[") && json.contains("[null]") && json.ends_with("]]]"));
        });
    }

    #[test]
    fn deep_lists_built_with_marks_are_refused() {
        on_small_stack(|| {
            // ((((…N llll…: lists made from marks.
            let depth = 300_000;
            let pickle = program(&[vec![b'('; depth], vec![b'N'], vec![b'l'; depth]].concat());
            let start = Instant::now();
            assert!(matches!(decode(&pickle), Err(DecodeError::TooDeep(16))));
            // ](](](…eee…: empty lists appended into the one below.
            let pickle =
                program(&[b"]".to_vec(), b"(]".repeat(depth), b"e".repeat(depth)].concat());
            assert!(matches!(decode(&pickle), Err(DecodeError::TooDeep(16))));
            assert_eq!(
                decode(&program(b"](](]ee")).unwrap(),
                serde_json::json!([[[]]])
            );
            assert!(start.elapsed() < QUICK);
        });
    }

    #[test]
    fn repeated_references_to_a_long_integer_are_not_copied() {
        // The largest integer allowed, then a million DUPs of it into one list.
        let mut opcodes = vec![b'('];
        opcodes.extend(long4(128));
        opcodes.extend(vec![b'2'; 1_000_000]);
        opcodes.push(b'l');
        let pickle = program(&opcodes);
        let limits = Limits {
            max_depth: 64,
            max_output: pickle.len() * 4,
        };
        let start = Instant::now();
        let result = decode_text(&pickle, limits);
        assert!(
            matches!(result, Err(DecodeError::TooLarge(_))),
            "{result:?}"
        );
        assert!(start.elapsed() < QUICK);
        // A few of them fit.
        let pickle = program(&[&b"("[..], &long4(128), b"222l"].concat());
        let json = decode_text(&pickle, limits).unwrap();
        assert_eq!(json.len(), 4 * 306 + 3 + 2);
    }

    #[test]
    fn integers_are_capped() {
        let start = Instant::now();
        let pickle = program(&long4(1 << 20));
        let error = decode(&pickle).unwrap_err().to_string();
        assert!(
            error.contains("offset 2") && error.contains("1048576 bytes"),
            "{error}"
        );
        // Refused by its length, before its bytes are looked for.
        let error = decode(b"\x80\x04\x8b\xff\xff\xff\xff.")
            .unwrap_err()
            .to_string();
        assert!(error.contains("larger than the 128 allowed"), "{error}");
        let digits = "7".repeat(309);
        let error = decode(&text(b'L', &format!("{digits}L")))
            .unwrap_err()
            .to_string();
        assert!(error.contains("309 digits"), "{error}");
        let error = decode(&text(b'I', &"9".repeat(1 << 20)))
            .unwrap_err()
            .to_string();
        assert!(error.contains("offset 2"), "{error}");
        assert!(start.elapsed() < QUICK);

        // int.from_bytes(b'\x11' * 127 + b'\x01', 'little') has 306 digits.
        let json = decode_text(&program(&long4(128)), LIMITS).unwrap();
        assert_eq!(json.len(), 306);
        let digits = format!("-{}", "9".repeat(308));
        let json = decode_text(&text(b'L', &format!("{digits}L")), LIMITS).unwrap();
        assert_eq!(json, digits);
        // The largest integers allowed are within a double's range: JSON readers read them.
        let largest = [[0xff; 127].as_slice(), &[0x7f]].concat();
        let smallest = [[0; 127].as_slice(), &[0x80]].concat();
        for bytes in [largest, smallest] {
            let pickle = program(&[&[0x8b, 128, 0, 0, 0][..], &bytes].concat());
            let json = decode_text(&pickle, LIMITS).unwrap();
            assert!(
                serde_json::from_str::<serde_json::Value>(&json).is_ok(),
                "{json}"
            );
        }
        assert!(serde_json::from_str::<serde_json::Value>(&"9".repeat(308)).is_ok());
    }

    #[test]
    fn text_integers() {
        assert_eq!(decode(b"\x80\x02I-12\n.").unwrap(), serde_json::json!(-12));
        assert_eq!(decode(b"\x80\x02I01\n.").unwrap(), serde_json::json!(true));
        assert_eq!(
            decode_text(b"\x80\x02L-000099999999999999999999999L\n.", LIMITS).unwrap(),
            "-99999999999999999999999"
        );
        assert!(decode(b"\x80\x02L--5\n.").is_err());
        assert!(decode(b"\x80\x02L\n.").is_err());
        assert!(decode(b"\x80\x02L0x10\n.").is_err());
    }

    #[test]
    fn a_list_appended_to_itself_is_refused_quickly() {
        on_small_stack(|| {
            let pickle = program(&[b"]\x94".to_vec(), b"h\x00a".repeat(300_000)].concat());
            let start = Instant::now();
            assert!(matches!(decode(&pickle), Err(DecodeError::TooDeep(16))));
            assert!(start.elapsed() < QUICK);
        });
    }

    #[test]
    fn the_memo_and_the_stack_stay_linear() {
        let start = Instant::now();
        // A million memo entries for one list.
        let pickle = program(&[b"]".to_vec(), vec![0x94; 1_000_000]].concat());
        assert_eq!(decode(&pickle).unwrap(), serde_json::json!([]));
        // Half a million values, marks opened and closed over them, then all popped
        // but one.
        let pickle = program(
            &[
                b"N".repeat(500_000),
                b"(1".repeat(200_000),
                b"(".to_vec(),
                b"0".repeat(500_000),
            ]
            .concat(),
        );
        assert_eq!(decode(&pickle).unwrap(), serde_json::Value::Null);
        assert!(start.elapsed() < QUICK);
    }

    #[test]
    fn the_work_budget_refuses_a_costly_pickle() {
        let pickle = program(&[b"(".to_vec(), b"N".repeat(100), b"l".to_vec()].concat());
        let mut machine = Machine::new(&pickle, 16);
        machine.work_left = 150;
        let error = machine.run().err().unwrap().to_string();
        assert!(error.contains("more work"), "{error}");
        assert!(Machine::new(&pickle, 16).run().is_ok());
    }

    #[test]
    fn bytes_are_written_in_pieces() {
        let mut opcodes = b"B".to_vec();
        opcodes.extend_from_slice(&10_000u32.to_le_bytes());
        opcodes.extend(vec![0xfb; 10_000]);
        let pickle = program(&opcodes);
        let limits = Limits {
            max_depth: 4,
            max_output: 20_000,
        };
        let json = decode_text(&pickle, limits).unwrap();
        assert_eq!(json.len(), 10_000_usize.div_ceil(3) * 4 + 2);
        assert!(
            json.starts_with("\"+/v7") && json.ends_with("+w==\""),
            "{}",
            &json[..10]
        );
        let pickle = program(&[&b"("[..], &opcodes, b"22l"].concat());
        assert!(matches!(
            decode_text(&pickle, limits),
            Err(DecodeError::TooLarge(20_000))
        ));
    }

    #[test]
    fn big_integers() {
        assert_eq!(
            little_endian_decimal(&[0, 0, 0, 0, 0, 0, 0, 0, 0x40]),
            "1180591620717411303424"
        );
        assert_eq!(little_endian_decimal(&[0xff; 9]), "-1");
        assert_eq!(
            little_endian_decimal(&[0, 0, 0, 0, 0, 0, 0, 0, 0x80]),
            "-2361183241434822606848"
        );
        // 2**1024
        let mut bytes = vec![0; 128];
        bytes.push(1);
        assert_eq!(
            little_endian_decimal(&bytes),
            "179769313486231590772930519078902473361797697894230657273430081157732675805500963\
             132708477322407536021120113879871393357658789768814416622492847430639474124377767\
             893424865485276302219601246094119453082952085005768838150682342462881473913110540\
             827237163350510684586298239947245938479716304835356329624224137216"
        );
        // 2**2047 - 1 and -2**2047.
        let largest = little_endian_decimal(&[[0xff; 255].as_slice(), &[0x7f]].concat());
        assert!(
            largest.starts_with("16158503035655503650")
                && largest.ends_with("77926805529798115327")
        );
        assert_eq!(largest.len(), 617);
        let smallest = little_endian_decimal(&[[0; 255].as_slice(), &[0x80]].concat());
        assert!(
            smallest.starts_with("-1615850303565550365")
                && smallest.ends_with("77926805529798115328")
        );
        assert_eq!(smallest.len(), 618);
    }

    /// Opcodes for data, with arguments, and a few that are refused.
    fn opcode() -> impl Strategy<Value = Vec<u8>> {
        let fixed: &[&[u8]] = &[
            b"N",
            b"\x88",
            b"\x89",
            b"K\x07",
            b"M\x01\x02",
            b"J\xff\xff\xff\xff",
            b"\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x80",
            b"\x8a\x00",
            b"G?\xf8\x00\x00\x00\x00\x00\x00",
            b"G\x7f\xf8\x00\x00\x00\x00\x00\x00",
            b"F1.5\n",
            b"I7\n",
            b"L123456789012345678901234567890L\n",
            b"\x8c\x02hi",
            b"X\x01\x00\x00\x00\"",
            b"C\x02\x00\xff",
            b"]",
            b"}",
            b")",
            b"\x8f",
            b"(",
            b"l",
            b"t",
            b"d",
            b"a",
            b"e",
            b"s",
            b"u",
            b"\x85",
            b"\x86",
            b"\x87",
            b"\x90",
            b"\x91",
            b"0",
            b"1",
            b"2",
            b"\x94",
            b"q\x00",
            b"q\x01",
            b"h\x00",
            b"h\x01",
            b"h\x02",
            b"p3\n",
            b"g3\n",
            b"r\x00\x00\x00\x00",
            b"j\x00\x00\x00\x00",
            b"\x95\x00\x00\x00\x00\x00\x00\x00\x00",
            b"R",
        ];
        prop_oneof![
            9 => prop::sample::select(fixed).prop_map(<[u8]>::to_vec),
            1 => any::<u8>().prop_map(|byte| vec![byte]),
        ]
    }

    fn check(pickle: &[u8], limits: Limits) -> Result<(), TestCaseError> {
        if let Ok(json) = decode_text(pickle, limits) {
            prop_assert!(
                serde_json::from_str::<serde::de::IgnoredAny>(&json).is_ok(),
                "{}",
                json
            );
            prop_assert!(json.len() <= limits.max_output);
            prop_assert!(json_depth(&json) <= limits.max_depth, "{}", json);
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..256), prefix in any::<bool>()) {
            let pickle = if prefix { [&b"\x80\x04"[..], &body].concat() } else { body };
            check(&pickle, LIMITS)?;
        }

        #[test]
        fn arbitrary_data_opcodes_never_panic(
            opcodes in prop::collection::vec(opcode(), 0..64),
            max_depth in 0..6_usize,
            max_output in 0..512_usize,
        ) {
            let pickle = program(&opcodes.concat());
            check(&pickle, Limits { max_depth, max_output })?;
            check(&pickle, LIMITS)?;
        }
    }
}
