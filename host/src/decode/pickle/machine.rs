//! The unpickling machine: runs the data opcodes of a pickle into an arena of
//! [`Node`]s, within the depth limit and a work budget.

use super::integer::{MAX_INT_BYTES, MAX_INT_DIGITS, little_endian_decimal};
use super::{FALSE, NONE, Node, TRUE, empty_dict, list, set, tuple};
use crate::decode::DecodeError;
use std::collections::HashMap;

/// The work the machine may do per body byte, and in any case.
const WORK_PER_BYTE: usize = 16;
const WORK_FLOOR: usize = 1024;

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

pub(super) struct Machine<'a> {
    input: &'a [u8],
    position: usize,
    max_depth: usize,
    /// Every value built; the stack and the memo hold indices into it.
    nodes: Vec<Node<'a>>,
    stack: Vec<u32>,
    /// The stack's length at each open `MARK`, innermost last.
    marks: Vec<usize>,
    memo: Memo,
    /// What is left of the work budget.
    pub(super) work_left: usize,
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
    pub(super) fn new(input: &'a [u8], max_depth: usize) -> Machine<'a> {
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
    pub(super) fn run(mut self) -> Result<(Vec<Node<'a>>, u32), DecodeError> {
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
