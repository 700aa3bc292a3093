//! The pickle decoder's tests: data of every kind, the opcodes it refuses, and bodies
//! built to make it slow, deep or large.

use super::integer::little_endian_decimal;
use super::machine::Machine;
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
        let pickle = program(&[b"]".to_vec(), b"(]".repeat(depth), b"e".repeat(depth)].concat());
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
        largest.starts_with("16158503035655503650") && largest.ends_with("77926805529798115327")
    );
    assert_eq!(largest.len(), 617);
    let smallest = little_endian_decimal(&[[0; 255].as_slice(), &[0x80]].concat());
    assert!(
        smallest.starts_with("-1615850303565550365") && smallest.ends_with("77926805529798115328")
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
