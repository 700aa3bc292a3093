//! Piston's load benchmarks. Each measures Piston side by side with a baseline in the
//! same run and reports the ratio, so that the numbers mean the same on any machine.
//!
//! Run with `cargo xtask bench` (it builds the plugins and these binaries in release
//! mode); each suite's results replace its section of `docs/benchmarks.md`.
//!
//! The server under test is pinned to CPU 0 and the load generator (wrk, installed
//! from Debian if missing) to CPU 1, so they do not compete for a core.

mod formats;
mod foundation;
mod harness;
mod hot_reload;
mod languages;
mod store;
mod throttle;

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("piston-bench: {message}");
            ExitCode::FAILURE
        }
    }
}

type Result<T = (), E = String> = std::result::Result<T, E>;

/// Command-line options.
struct Options {
    plugins: PathBuf,
    /// The blog plugin in the other guest languages; default: `lang-plugins` beside
    /// `plugins` (`target/lang-plugins`).
    lang_plugins: PathBuf,
    out: PathBuf,
    seconds: u32,
    rounds: usize,
    connections: u32,
    suites: Vec<String>,
    /// Another `piston` binary (an earlier build) measured beside this one in the
    /// foundation suite, to see what a change costs.
    compare: Option<PathBuf>,
}

/// Every suite, in the order they run.
const SUITES: [&str; 6] = [
    "foundation",
    "formats",
    "throttle",
    "hot-reload",
    "languages",
    "store",
];

impl Options {
    fn parse() -> Result<Options> {
        let mut options = Options {
            plugins: PathBuf::from("target/plugins"),
            lang_plugins: PathBuf::new(),
            out: PathBuf::from("docs/benchmarks.md"),
            seconds: 10,
            rounds: 3,
            connections: 32,
            suites: Vec::new(),
            compare: None,
        };
        let mut args = std::env::args().skip(1);
        while let Some(flag) = args.next() {
            let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
            match flag.as_str() {
                "--plugins" => options.plugins = value()?.into(),
                "--lang-plugins" => options.lang_plugins = value()?.into(),
                "--out" => options.out = value()?.into(),
                "--seconds" => options.seconds = number(&value()?)?,
                "--rounds" => options.rounds = number(&value()?)?,
                "--connections" => options.connections = number(&value()?)?,
                "--compare" => options.compare = Some(value()?.into()),
                suite if SUITES.contains(&suite) => options.suites.push(suite.to_owned()),
                other => {
                    return Err(format!(
                        "unknown argument `{other}`; usage: piston-bench [--plugins DIR] [--lang-plugins DIR] \
                         [--out FILE] [--seconds N] [--rounds N] [--connections N] [--compare PISTON] [{}]...",
                        SUITES.join("|")
                    ));
                }
            }
        }
        if options.lang_plugins.as_os_str().is_empty() {
            options.lang_plugins = options.plugins.with_file_name("lang-plugins");
        }
        if options.suites.is_empty() {
            options.suites = SUITES.iter().map(|suite| (*suite).to_owned()).collect();
        }
        Ok(options)
    }
}

fn number<T: std::str::FromStr>(text: &str) -> Result<T> {
    text.parse()
        .map_err(|_| format!("`{text}` is not a number"))
}

fn run() -> Result {
    let options = Options::parse()?;
    harness::ensure_wrk()?;
    let bench = harness::Bench::new(&options)?;
    for suite in &options.suites {
        let section = match suite.as_str() {
            "foundation" => foundation::run(&options, &bench),
            "formats" => formats::run(&options, &bench),
            "throttle" => throttle::run(&options, &bench),
            "hot-reload" => hot_reload::run(&options, &bench),
            "languages" => languages::run(&options, &bench),
            "store" => store::run(&options, &bench),
            other => Err(format!("no suite {other}")),
        }?;
        harness::write_section(&options.out, suite, &section)?;
        println!("{section}");
    }
    println!("written to {}", options.out.display());
    Ok(())
}
