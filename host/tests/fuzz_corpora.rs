//! Replays the fuzz corpora: every file of `fuzz/corpus/TARGET/` goes through the
//! entry point its fuzz target calls (`piston_host::fuzzing::TARGET`), so `cargo test`
//! keeps every input the fuzzers kept, crash reproducers included, passing.
//!
//! A target whose corpus is missing or empty fails, and so does a fuzz target or a
//! corpus this file does not list: renaming a target cannot quietly stop its replay.

use std::path::{Path, PathBuf};

macro_rules! targets {
    ($($target:ident),* $(,)?) => {
        const TARGETS: &[&str] = &[$(stringify!($target)),*];
        $(
            #[test]
            fn $target() {
                replay(stringify!($target), piston_host::fuzzing::$target);
            }
        )*
    };
}

targets!(
    decode_json,
    decode_yaml,
    decode_xml,
    decode_form,
    decode_multipart,
    decode_pickle,
    decode_msgpack,
    negotiate,
    fields,
    authorization,
    forwarded,
    config,
    query,
);

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

fn replay(target: &str, entry: fn(&[u8])) {
    let dir = fuzz_dir().join("corpus").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("no corpus for `{target}` in {}: {error}", dir.display()))
        .map(|entry| entry.expect("a corpus entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "the corpus of `{target}` is empty");
    for file in files {
        let data = std::fs::read(&file).expect("a corpus file");
        if std::panic::catch_unwind(|| entry(&data)).is_err() {
            panic!("`{target}` fails on {}", file.display());
        }
    }
}

/// The names in `dir` (files without their extension, or folders), sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", dir.display()))
        .map(|entry| entry.expect("an entry").path())
        .filter_map(|path| Some(path.file_stem()?.to_str()?.to_owned()))
        .collect();
    names.sort();
    names
}

#[test]
fn every_fuzz_target_and_corpus_is_replayed() {
    let mut listed: Vec<String> = TARGETS.iter().map(|name| (*name).to_owned()).collect();
    listed.sort();
    assert_eq!(names(&fuzz_dir().join("fuzz_targets")), listed);
    assert_eq!(names(&fuzz_dir().join("corpus")), listed);
}
