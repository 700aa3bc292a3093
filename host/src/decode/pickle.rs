//! Python pickle bodies (`application/python-pickle`), read as data only.
//!
//! A pickle is a program for Python's unpickling machine, and in general it can call
//! any Python function (the reason django-piston disabled its pickle loader). This
//! decoder is its own small machine that knows only the opcodes for data — `None`,
//! booleans, integers, floats, strings, bytes, lists, tuples, dicts, sets and the memo —
//! for protocols 2 to 5 (what `pickle.dumps` writes), and refuses any opcode that would
//! name a class or call a function. Memo references share values instead of copying
//! them, and the JSON written is bounded, so a pickle of repeated references
//! ("pickle bomb") is refused instead of expanded. Bytes become base64 text.

use super::{Bounded, DecodeError, Decoder, Limits};
use base64::Engine as _;
use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Write;
use std::rc::Rc;

/// Python pickle.
pub struct Pickle;

impl Decoder for Pickle {
    fn media_types(&self) -> &'static [&'static str] {
        &["application/python-pickle", "application/x-python-pickle"]
    }

    fn decode(&self, body: &[u8], _: &mime::Mime, limits: Limits) -> Result<String, DecodeError> {
        let value = Machine::new(body).run()?;
        let mut out = Bounded::new(limits.max_output);
        match write_json(&value, limits.max_depth, &mut out) {
            Ok(()) => Ok(out.into_string()),
            Err(Failure::Io) => Err(DecodeError::TooLarge(limits.max_output)),
            Err(Failure::Decode(error)) => Err(error),
        }
    }
}

/// A value on the machine's stack. Containers are shared, as in Python: the memo and
/// the containers holding them point to one value.
#[derive(Clone)]
enum Value {
    None,
    Bool(bool),
    Int(i64),
    /// An integer too large for 64 bits, as decimal digits.
    BigInt(String),
    Float(f64),
    Str(Rc<str>),
    Bytes(Rc<[u8]>),
    List(Rc<RefCell<Vec<Value>>>),
    Tuple(Rc<[Value]>),
    Dict(Rc<RefCell<Vec<(Value, Value)>>>),
    Set(Rc<RefCell<Vec<Value>>>),
    /// The boundary `MARK` pushes.
    Mark,
}

struct Machine<'a> {
    input: &'a [u8],
    position: usize,
    stack: Vec<Value>,
    memo: HashMap<u32, Value>,
}

fn malformed(reason: impl std::fmt::Display, offset: usize) -> DecodeError {
    DecodeError::Malformed(format!(
        "malformed pickle at byte offset {offset}: {reason}"
    ))
}

impl<'a> Machine<'a> {
    fn new(input: &'a [u8]) -> Machine<'a> {
        Machine {
            input,
            position: 0,
            stack: Vec::new(),
            memo: HashMap::new(),
        }
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

    /// A length read from the input, checked against what is left of it before
    /// anything is allocated for it.
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

    fn pop(&mut self) -> Result<Value, DecodeError> {
        match self.stack.pop() {
            Some(Value::Mark) | None => Err(malformed(
                "an opcode needs a value the stack does not have",
                self.position,
            )),
            Some(value) => Ok(value),
        }
    }

    fn top(&mut self) -> Result<&mut Value, DecodeError> {
        let position = self.position;
        match self.stack.last_mut() {
            Some(Value::Mark) | None => Err(malformed(
                "an opcode needs a value the stack does not have",
                position,
            )),
            Some(value) => Ok(value),
        }
    }

    /// Everything pushed since the last `MARK`, which is removed.
    fn since_mark(&mut self) -> Result<Vec<Value>, DecodeError> {
        let mark = self
            .stack
            .iter()
            .rposition(|value| matches!(value, Value::Mark))
            .ok_or_else(|| malformed("an opcode needs a MARK there is not", self.position))?;
        let values = self.stack.split_off(mark + 1);
        self.stack.pop();
        Ok(values)
    }

    fn string(&mut self, length: usize) -> Result<Value, DecodeError> {
        let offset = self.position;
        let bytes = self.take(length)?;
        let text =
            std::str::from_utf8(bytes).map_err(|_| malformed("a string is not UTF-8", offset))?;
        Ok(Value::Str(text.into()))
    }

    fn bytes(&mut self, length: usize) -> Result<Value, DecodeError> {
        Ok(Value::Bytes(self.take(length)?.into()))
    }

    fn memoize(&mut self, id: u32) -> Result<(), DecodeError> {
        let value = self.top()?.clone();
        self.memo.insert(id, value);
        Ok(())
    }

    fn recall(&mut self, id: u32) -> Result<(), DecodeError> {
        let value =
            self.memo.get(&id).cloned().ok_or_else(|| {
                malformed(format!("memo entry {id} was never stored"), self.position)
            })?;
        self.stack.push(value);
        Ok(())
    }

    fn append(&mut self, items: Vec<Value>) -> Result<(), DecodeError> {
        let position = self.position;
        match self.top()? {
            Value::List(list) => list.borrow_mut().extend(items),
            _ => {
                return Err(malformed(
                    "APPEND to something that is not a list",
                    position,
                ));
            }
        }
        Ok(())
    }

    fn set_items(&mut self, items: Vec<Value>) -> Result<(), DecodeError> {
        let position = self.position;
        if !items.len().is_multiple_of(2) {
            return Err(malformed("SETITEMS with an odd number of values", position));
        }
        match self.top()? {
            Value::Dict(dict) => {
                let mut dict = dict.borrow_mut();
                let mut items = items.into_iter();
                while let (Some(key), Some(value)) = (items.next(), items.next()) {
                    dict.push((key, value));
                }
            }
            _ => {
                return Err(malformed(
                    "SETITEM on something that is not a dict",
                    position,
                ));
            }
        }
        Ok(())
    }

    fn integer(bytes: &[u8]) -> Value {
        if bytes.is_empty() {
            return Value::Int(0);
        }
        if bytes.len() <= 8 {
            let negative = bytes[bytes.len() - 1] & 0x80 != 0;
            let mut buffer = if negative { [0xff; 8] } else { [0; 8] };
            buffer[..bytes.len()].copy_from_slice(bytes);
            return Value::Int(i64::from_le_bytes(buffer));
        }
        Value::BigInt(little_endian_decimal(bytes))
    }

    fn run(mut self) -> Result<Value, DecodeError> {
        loop {
            let offset = self.position;
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
                    let value = self.pop()?;
                    if !self.stack.is_empty() {
                        return Err(malformed("values left on the stack at STOP", offset));
                    }
                    if self.position != self.input.len() {
                        return Err(malformed("bytes after STOP", self.position));
                    }
                    return Ok(value);
                }
                b'(' => self.stack.push(Value::Mark),
                b'0' => {
                    self.stack.pop();
                }
                b'1' => {
                    self.since_mark()?;
                }
                b'2' => {
                    let value = self.top()?.clone();
                    self.stack.push(value);
                }
                // Scalars.
                b'N' => self.stack.push(Value::None),
                0x88 => self.stack.push(Value::Bool(true)),
                0x89 => self.stack.push(Value::Bool(false)),
                b'J' => {
                    let value = self.u32_le()? as i32;
                    self.stack.push(Value::Int(i64::from(value)));
                }
                b'K' => {
                    let value = self.byte()?;
                    self.stack.push(Value::Int(i64::from(value)));
                }
                b'M' => {
                    let bytes = self.take(2)?;
                    self.stack.push(Value::Int(i64::from(u16::from_le_bytes([
                        bytes[0], bytes[1],
                    ]))));
                }
                0x8a => {
                    let length = usize::from(self.byte()?);
                    let bytes = self.take(length)?;
                    self.stack.push(Self::integer(bytes));
                }
                0x8b => {
                    let length = self.u32_le()?;
                    let length = self.length(u64::from(length))?;
                    let bytes = self.take(length)?;
                    self.stack.push(Self::integer(bytes));
                }
                b'I' => {
                    let line = self.line()?;
                    let value = match line {
                        "00" => Value::Bool(false),
                        "01" => Value::Bool(true),
                        digits => Value::Int(digits.parse().map_err(|_| {
                            malformed(format!("`{digits}` is not an integer"), offset)
                        })?),
                    };
                    self.stack.push(value);
                }
                b'L' => {
                    let line = self.line()?;
                    let digits = line.trim_end_matches('L');
                    let valid = !digits.is_empty()
                        && digits
                            .trim_start_matches('-')
                            .bytes()
                            .all(|byte| byte.is_ascii_digit());
                    if !valid {
                        return Err(malformed(format!("`{line}` is not an integer"), offset));
                    }
                    self.stack.push(match digits.parse() {
                        Ok(value) => Value::Int(value),
                        Err(_) => Value::BigInt(digits.to_owned()),
                    });
                }
                b'G' => {
                    let bytes = self.take(8)?;
                    self.stack.push(Value::Float(f64::from_be_bytes(
                        bytes.try_into().expect("eight bytes"),
                    )));
                }
                b'F' => {
                    let line = self.line()?;
                    let value = line
                        .parse()
                        .map_err(|_| malformed(format!("`{line}` is not a float"), offset))?;
                    self.stack.push(Value::Float(value));
                }
                0x8c => {
                    let length = usize::from(self.byte()?);
                    let value = self.string(length)?;
                    self.stack.push(value);
                }
                b'X' => {
                    let length = self.u32_le()?;
                    let length = self.length(u64::from(length))?;
                    let value = self.string(length)?;
                    self.stack.push(value);
                }
                0x8d => {
                    let length = self.u64_le()?;
                    let length = self.length(length)?;
                    let value = self.string(length)?;
                    self.stack.push(value);
                }
                b'C' | b'U' => {
                    let length = usize::from(self.byte()?);
                    let value = self.bytes(length)?;
                    self.stack.push(value);
                }
                b'B' | b'T' => {
                    let length = self.u32_le()?;
                    let length = self.length(u64::from(length))?;
                    let value = self.bytes(length)?;
                    self.stack.push(value);
                }
                0x8e | 0x96 => {
                    let length = self.u64_le()?;
                    let length = self.length(length)?;
                    let value = self.bytes(length)?;
                    self.stack.push(value);
                }
                // Containers.
                b']' => self.stack.push(Value::List(Rc::default())),
                b'}' => self.stack.push(Value::Dict(Rc::default())),
                b')' => self.stack.push(Value::Tuple(Rc::from(Vec::new()))),
                0x8f => self.stack.push(Value::Set(Rc::default())),
                b'l' => {
                    let items = self.since_mark()?;
                    self.stack.push(Value::List(Rc::new(RefCell::new(items))));
                }
                b't' => {
                    let items = self.since_mark()?;
                    self.stack.push(Value::Tuple(items.into()));
                }
                0x85..=0x87 => {
                    let count = usize::from(opcode - 0x84);
                    let mut items = Vec::with_capacity(count);
                    for _ in 0..count {
                        items.push(self.pop()?);
                    }
                    items.reverse();
                    self.stack.push(Value::Tuple(items.into()));
                }
                b'd' => {
                    let items = self.since_mark()?;
                    self.stack.push(Value::Dict(Rc::default()));
                    self.set_items(items)?;
                }
                b'a' => {
                    let item = self.pop()?;
                    self.append(vec![item])?;
                }
                b'e' => {
                    let items = self.since_mark()?;
                    self.append(items)?;
                }
                b's' => {
                    let value = self.pop()?;
                    let key = self.pop()?;
                    self.set_items(vec![key, value])?;
                }
                b'u' => {
                    let items = self.since_mark()?;
                    self.set_items(items)?;
                }
                0x90 => {
                    let items = self.since_mark()?;
                    match self.top()? {
                        Value::Set(set) => set.borrow_mut().extend(items),
                        _ => {
                            return Err(malformed(
                                "ADDITEMS to something that is not a set",
                                offset,
                            ));
                        }
                    }
                }
                0x91 => {
                    let items = self.since_mark()?;
                    self.stack.push(Value::Set(Rc::new(RefCell::new(items))));
                }
                // The memo.
                b'p' => {
                    let line = self.line()?;
                    let id = line
                        .parse()
                        .map_err(|_| malformed(format!("`{line}` is not a memo id"), offset))?;
                    self.memoize(id)?;
                }
                b'q' => {
                    let id = u32::from(self.byte()?);
                    self.memoize(id)?;
                }
                b'r' => {
                    let id = self.u32_le()?;
                    self.memoize(id)?;
                }
                0x94 => {
                    let id = u32::try_from(self.memo.len())
                        .map_err(|_| malformed("too many memo entries", offset))?;
                    self.memoize(id)?;
                }
                b'g' => {
                    let line = self.line()?;
                    let id = line
                        .parse()
                        .map_err(|_| malformed(format!("`{line}` is not a memo id"), offset))?;
                    self.recall(id)?;
                }
                b'h' => {
                    let id = u32::from(self.byte()?);
                    self.recall(id)?;
                }
                b'j' => {
                    let id = self.u32_le()?;
                    self.recall(id)?;
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

/// Decimal digits of a little-endian two's-complement integer of any size.
fn little_endian_decimal(bytes: &[u8]) -> String {
    let negative = bytes.last().is_some_and(|byte| byte & 0x80 != 0);
    // Magnitude in base 2^32 limbs, most significant first.
    let mut magnitude: Vec<u8> = bytes.to_vec();
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
    let mut digits = Vec::new();
    let mut number: Vec<u32> = magnitude
        .iter()
        .rev()
        .map(|&byte| u32::from(byte))
        .collect();
    while number.iter().any(|&part| part != 0) {
        let mut remainder = 0u32;
        for part in &mut number {
            let value = remainder * 256 + *part;
            *part = value / 10;
            remainder = value % 10;
        }
        digits.push(b'0' + remainder as u8);
    }
    if digits.is_empty() {
        digits.push(b'0');
    }
    if negative {
        digits.push(b'-');
    }
    digits.reverse();
    String::from_utf8(digits).expect("ASCII digits")
}

enum Failure {
    Io,
    Decode(DecodeError),
}

impl From<std::io::Error> for Failure {
    fn from(_: std::io::Error) -> Failure {
        Failure::Io
    }
}

/// Writes a value as JSON, refusing to nest deeper than `depth_left` (a list that
/// contains itself included).
fn write_json(value: &Value, depth_left: usize, out: &mut Bounded) -> Result<(), Failure> {
    let nested = || {
        depth_left
            .checked_sub(1)
            .ok_or(Failure::Decode(DecodeError::TooDeep(0)))
    };
    match value {
        Value::None | Value::Mark => out.write_all(b"null")?,
        Value::Bool(value) => out.write_all(if *value { b"true" } else { b"false" })?,
        Value::Int(value) => write!(out, "{value}")?,
        Value::BigInt(digits) => out.write_all(digits.as_bytes())?,
        Value::Float(value) if value.is_finite() => {
            serde_json::to_writer(&mut *out, value).map_err(|_| Failure::Io)?;
        }
        Value::Float(value) => {
            return Err(Failure::Decode(DecodeError::Malformed(format!(
                "the pickle holds {value}, which JSON cannot carry"
            ))));
        }
        Value::Str(text) => serde_json::to_writer(&mut *out, &**text).map_err(|_| Failure::Io)?,
        Value::Bytes(bytes) => {
            let text = base64::engine::general_purpose::STANDARD.encode(bytes);
            serde_json::to_writer(&mut *out, &text).map_err(|_| Failure::Io)?;
        }
        Value::List(items) | Value::Set(items) => write_list(&items.borrow(), nested()?, out)?,
        Value::Tuple(items) => write_list(items, nested()?, out)?,
        Value::Dict(entries) => {
            let depth_left = nested()?;
            out.write_all(b"{")?;
            for (index, (key, value)) in entries.borrow().iter().enumerate() {
                if index > 0 {
                    out.write_all(b",")?;
                }
                let key = match key {
                    Value::Str(text) => text.to_string(),
                    Value::Int(number) => number.to_string(),
                    Value::BigInt(digits) => digits.clone(),
                    Value::Bool(flag) => flag.to_string(),
                    Value::Float(number) => number.to_string(),
                    _ => {
                        return Err(Failure::Decode(DecodeError::Malformed(
                            "a dict key is not a string or a number".into(),
                        )));
                    }
                };
                serde_json::to_writer(&mut *out, &key).map_err(|_| Failure::Io)?;
                out.write_all(b":")?;
                write_json(value, depth_left, out)?;
            }
            out.write_all(b"}")?;
        }
    }
    Ok(())
}

fn write_list(items: &[Value], depth_left: usize, out: &mut Bounded) -> Result<(), Failure> {
    out.write_all(b"[")?;
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            out.write_all(b",")?;
        }
        write_json(item, depth_left, out)?;
    }
    out.write_all(b"]")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(pickle: &[u8]) -> Result<serde_json::Value, DecodeError> {
        let limits = Limits {
            max_depth: 16,
            max_output: 4096,
        };
        let json = Pickle.decode(pickle, &mime::APPLICATION_OCTET_STREAM, limits)?;
        Ok(serde_json::from_str(&json).unwrap())
    }

    #[test]
    fn reads_python_pickles() {
        // pickle.dumps({'title': 'Hi', 'n': [1, -2, 3.5, None, True], 'big': 2**70, 'b': b'\x00'}, protocol=4)
        let pickle = b"\x80\x04\x95E\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x05title\x94\x8c\x02Hi\x94\x8c\x01n\x94]\x94(K\x01J\xfe\xff\xff\xffG@\x0c\x00\x00\x00\x00\x00\x00N\x88e\x8c\x03big\x94\x8a\t\x00\x00\x00\x00\x00\x00\x00\x00@\x8c\x01b\x94C\x01\x00\x94u.";
        assert_eq!(
            decode(pickle).unwrap(),
            serde_json::json!({"title": "Hi", "n": [1, -2, 3.5, null, true], "big": 1180591620717411303424_u128 as f64, "b": "AA=="})
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
        assert!(matches!(decode(cycle), Err(DecodeError::TooDeep(_))));
    }

    #[test]
    fn refuses_truncation_and_lies_about_length() {
        assert!(decode(b"\x80\x04\x8d\xff\xff\xff\xff\xff\xff\xff\x7f").is_err());
        assert!(decode(b"\x80\x04]").is_err());
        assert!(decode(b"").is_err());
        assert!(decode(b"\x80\x04N.extra").is_err());
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
    }
}
