//! Hot-drop: how long from a plugin file landing in the watched directory to the first
//! answer from it, with a cold and a warm compile cache, for a small Rust plugin and
//! large Python and JavaScript ones; and how many requests fail while a plugin is replaced again and
//! again under load.

use crate::harness::{Bench, Load, machine, wrk_counting};
use crate::{Options, Result};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a change may take before the benchmark gives up on it.
const GIVE_UP: Duration = Duration::from_secs(300);

/// A plugin to drop in, and a request it answers.
struct Subject {
    name: &'static str,
    wasm: PathBuf,
    probe: &'static str,
}

pub fn run(options: &Options, bench: &Bench) -> Result<String> {
    let subjects = [
        Subject {
            name: "small Rust plugin (`arbitrary`)",
            wasm: options.plugins.join("arbitrary.wasm"),
            probe: "/other/jane/some-data",
        },
        Subject {
            name: "large Python plugin (`blog-py`)",
            wasm: options.lang_plugins.join("blog-py.wasm"),
            probe: "/posts",
        },
        Subject {
            name: "large JavaScript plugin (`blog-js`)",
            wasm: options.lang_plugins.join("blog-js.wasm"),
            probe: "/posts",
        },
    ];
    let mut landing = String::from(
        "| plugin | size | cold compile cache | warm compile cache |\n|---|---:|---:|---:|\n",
    );
    for (index, subject) in subjects.iter().enumerate() {
        let size = std::fs::metadata(&subject.wasm)
            .map_err(|error| {
                format!(
                    "{}: {error}; `cargo xtask plugins` builds it",
                    subject.wasm.display()
                )
            })?
            .len();
        let (cold, warm) = time_to_first_answer(bench, subject, index, options.rounds)?;
        landing.push_str(&format!(
            "| {} | {:.1} MiB | {:.0} ms | {:.0} ms |\n",
            subject.name,
            size as f64 / (1024.0 * 1024.0),
            cold.as_secs_f64() * 1000.0,
            warm.as_secs_f64() * 1000.0
        ));
    }
    let swaps = swaps_under_load(options, bench)?;
    Ok(format!(
        "## Hot-drop\n\n{machine}.\n\n\
         ### From a file landing to its first answer\n\n\
         The plugin is written beside the watched directory and renamed into it (the \
         recommended way); the clock starts at the rename and stops at the first `200` from \
         the new plugin, polled every 5 ms. Cold: a server with an empty compile cache; warm: \
         the same file removed and dropped in again. Median of {rounds} rounds. The floor is \
         the watcher's 100 ms debounce plus 150 ms for the file to settle.\n\n{landing}\n\
         ### Replacing a plugin under load\n\n{swaps}\n\
         Reproduce: `cargo xtask bench -- hot-reload`.\n",
        machine = machine(),
        rounds = options.rounds,
    ))
}

/// Median times from landing to first answer, cold and warm.
fn time_to_first_answer(
    bench: &Bench,
    subject: &Subject,
    index: usize,
    rounds: usize,
) -> Result<(Duration, Duration)> {
    let bytes = std::fs::read(&subject.wasm)
        .map_err(|error| format!("{}: {error}", subject.wasm.display()))?;
    let (mut cold, mut warm) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let plugins = bench.plugin_dir(&format!("landing-{index}-{round}"), &[])?;
        let server = bench.piston(&plugins, &format!("landing-{index}-{round}"), None)?;
        let target = plugins.join("subject.wasm");
        cold.push(land(&server, &bytes, &target, subject.probe)?);
        std::fs::remove_file(&target).map_err(|error| error.to_string())?;
        wait_for(&server, subject.probe, 404)?;
        warm.push(land(&server, &bytes, &target, subject.probe)?);
        eprintln!(
            "hot-reload {}/{rounds}: {}: cold {:?}, warm {:?}",
            round + 1,
            subject.name,
            cold[round],
            warm[round]
        );
    }
    Ok((median(cold), median(warm)))
}

/// Writes `bytes` beside `target`, renames it into place, and times the first answer.
fn land(
    server: &crate::harness::Server,
    bytes: &[u8],
    target: &Path,
    probe: &str,
) -> Result<Duration> {
    let staged = target.with_extension("staged");
    std::fs::write(&staged, bytes).map_err(|error| error.to_string())?;
    let landed = Instant::now();
    std::fs::rename(&staged, target).map_err(|error| error.to_string())?;
    wait_for(server, probe, 200)?;
    Ok(landed.elapsed())
}

fn wait_for(server: &crate::harness::Server, probe: &str, status: u16) -> Result {
    let started = Instant::now();
    while server.request(&format!("GET {probe}"), "")? != status {
        if started.elapsed() > GIVE_UP {
            return Err(format!(
                "GET {probe} did not answer {status} within {GIVE_UP:?}"
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// wrk on the blog while its file is replaced every half second by a variant (the same
/// component with a custom section added, so a different file the host must load).
fn swaps_under_load(options: &Options, bench: &Bench) -> Result<String> {
    let plugins = bench.plugin_dir("swap-plugins", &["blog"])?;
    let server = bench.piston(&plugins, "swap", None)?;
    server.seed_hello_world()?;
    let original = std::fs::read(plugins.join("blog.wasm")).map_err(|error| error.to_string())?;
    let variant = with_custom_section(&original, "piston-bench", b"variant");
    let url = format!("{}/posts/hello-world", server.url);
    let seconds = options.seconds.max(5);
    let load = std::thread::scope(|scope| -> Result<(Load, u64, usize)> {
        let measuring = scope.spawn(|| wrk_counting(&url, seconds, options.connections));
        let started = Instant::now();
        let mut swaps = 0;
        std::thread::sleep(Duration::from_millis(500));
        while started.elapsed() + Duration::from_millis(1000) < Duration::from_secs(seconds.into())
        {
            let bytes = if swaps % 2 == 0 { &variant } else { &original };
            let staged = plugins.join("blog.staged");
            std::fs::write(&staged, bytes).map_err(|error| error.to_string())?;
            std::fs::rename(&staged, plugins.join("blog.wasm"))
                .map_err(|error| error.to_string())?;
            swaps += 1;
            std::thread::sleep(Duration::from_millis(500));
        }
        let (load, failed, _) = measuring
            .join()
            .map_err(|_| "the load generator panicked".to_owned())??;
        Ok((load, failed, swaps))
    })?;
    let (load, failed, swaps) = load;
    let total = load.requests_per_second * f64::from(seconds);
    Ok(format!(
        "`GET /posts/hello-world` on the blog plugin under wrk ({connections} connections, \
         {seconds} s) while `blog.wasm` is replaced {swaps} times, every 0.5 s, alternating \
         between two different files of the same plugin (each replacement is compiled — \
         from the cache after the first two — described, checked and swapped in).\n\n\
         | swaps | requests | failed requests | requests/s | p99 latency |\n|---:|---:|---:|---:|---:|\n\
         | {swaps} | {total:.0} | {failed} | {:.0} | {:.0} µs |\n",
        load.requests_per_second,
        load.p99_micros,
        connections = options.connections,
    ))
}

/// `wasm` with a custom section appended: the same component, another file.
fn with_custom_section(wasm: &[u8], name: &str, payload: &[u8]) -> Vec<u8> {
    let mut content = leb128(name.len());
    content.extend_from_slice(name.as_bytes());
    content.extend_from_slice(payload);
    let mut out = wasm.to_vec();
    out.push(0);
    out.extend(leb128(content.len()));
    out.extend(content);
    out
}

fn leb128(mut value: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}
