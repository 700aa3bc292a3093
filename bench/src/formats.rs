//! Formats: `GET /posts/hello-world` in every output format against the same in JSON,
//! and a stream of a million items — how much memory it takes, and how soon it starts.

use crate::harness::{Bench, interleaved, machine, ratio_table};
use crate::{Options, Result};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const FORMATS: [&str; 6] = ["json", "yaml", "xml", "msgpack", "pickle", "jsonl"];
const STREAMED_ITEMS: u64 = 1_000_000;
/// How much the host may grow while streaming (the bound).
const STREAM_BUDGET: u64 = 64 * 1024 * 1024;

pub fn run(options: &Options, bench: &Bench) -> Result<String> {
    let throughput = throughput(options, bench)?;
    let streaming = streaming(bench)?;
    Ok(format!(
        "## Formats\n\n{machine}.\n\n### `GET /posts/hello-world` in each format\n\n\
         Piston, warm pool, the blog plugin; wrk as above; median of {rounds} rounds, formats \
         interleaved. The same data through each emitter, relative to JSON.\n\n{throughput}\n\
         ### Streaming {STREAMED_ITEMS} items\n\n\
         `GET /export/rows?count={STREAMED_ITEMS}` on the export plugin, read by one client as \
         fast as it can. The host's resident memory is sampled every 5 ms while the stream \
         runs; \"first byte\" is when the first chunk of items arrives, \"last byte\" when the \
         stream ends (the guest produces each item only when the host asks for it, so a first \
         byte long before the last means the items were sent as they were made).\n\n{streaming}\n\
         Reproduce: `cargo xtask bench -- formats`.\n",
        machine = machine(),
        rounds = options.rounds,
    ))
}

fn throughput(options: &Options, bench: &Bench) -> Result<String> {
    let plugins = bench.plugin_dir("formats-plugins", &["blog"])?;
    let server = bench.piston(&plugins, "formats", None)?;
    server.seed_hello_world()?;
    let contenders: Vec<(String, String)> = FORMATS
        .iter()
        .map(|format| {
            let url = format!("{}/posts/hello-world?format={format}", server.url);
            ((*format).to_owned(), url)
        })
        .collect();
    let medians = interleaved("formats", options, &contenders)?;
    let table = ratio_table("format", "JSON", &contenders, &medians);
    Ok(table)
}

fn streaming(bench: &Bench) -> Result<String> {
    let plugins = bench.plugin_dir("stream-plugins", &["export"])?;
    let mut table = String::from(
        "| format | bytes | first byte | last byte | idle RSS | peak RSS while streaming | growth | within 64 MiB |\n\
         |---|---:|---:|---:|---:|---:|---:|---|\n",
    );
    for format in ["json", "jsonl", "msgpack"] {
        let server = bench.piston(&plugins, "stream", None)?;
        let pid = server.pid();
        let path = format!("/export/rows?count=10&format={format}");
        server.expect_ok(&path)?;
        std::thread::sleep(Duration::from_millis(200));
        let idle = rss(pid)?;
        let peak = Arc::new(AtomicU64::new(idle));
        let done = Arc::new(AtomicBool::new(false));
        let sampler = std::thread::spawn({
            let (peak, done) = (peak.clone(), done.clone());
            move || {
                while !done.load(Ordering::Relaxed) {
                    if let Ok(now) = rss(pid) {
                        peak.fetch_max(now, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        });
        let stream = read_stream(
            server.address(),
            &format!("/export/rows?count={STREAMED_ITEMS}&format={format}"),
        );
        done.store(true, Ordering::Relaxed);
        let _ = sampler.join();
        let stream = stream?;
        let peak = peak.load(Ordering::Relaxed);
        let growth = peak.saturating_sub(idle);
        eprintln!(
            "stream {format}: {} bytes, first byte {:?}, last {:?}, idle {} KiB, peak {} KiB",
            stream.bytes,
            stream.first_byte,
            stream.last_byte,
            idle / 1024,
            peak / 1024
        );
        table.push_str(&format!(
            "| {format} | {} | {:.0} ms | {:.0} ms | {:.1} MiB | {:.1} MiB | {:.1} MiB | {} |\n",
            stream.bytes,
            stream.first_byte.as_secs_f64() * 1000.0,
            stream.last_byte.as_secs_f64() * 1000.0,
            mib(idle),
            mib(peak),
            mib(growth),
            if growth <= STREAM_BUDGET {
                "yes"
            } else {
                "**no**"
            }
        ));
    }
    Ok(table)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// A process's resident memory, in bytes.
fn rss(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|error| error.to_string())?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| {
            value
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map(|kib| kib * 1024)
        .ok_or_else(|| "no VmRSS".to_owned())
}

struct Streamed {
    bytes: u64,
    first_byte: Duration,
    last_byte: Duration,
}

/// Reads a whole chunked response, timing its first body bytes and its end.
fn read_stream(address: &str, path: &str) -> Result<Streamed> {
    let mut stream = TcpStream::connect(address).map_err(|error| error.to_string())?;
    let started = Instant::now();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|error| error.to_string())?;
    let mut buffer = vec![0; 256 * 1024];
    let mut head = Vec::new();
    let mut bytes = 0u64;
    let mut first_byte = None;
    loop {
        let read = stream
            .read(&mut buffer)
            .map_err(|error| error.to_string())?;
        if read == 0 {
            break;
        }
        if first_byte.is_none() {
            head.extend_from_slice(&buffer[..read]);
            // The first body bytes: past the header block and the first chunk's size line.
            if let Some(end) = find(&head, b"\r\n\r\n") {
                if !head.starts_with(b"HTTP/1.1 200") {
                    return Err(format!(
                        "the stream answered: {}",
                        String::from_utf8_lossy(&head[..end])
                    ));
                }
                let body = &head[end + 4..];
                if find(body, b"\r\n").is_some_and(|line| body.len() > line + 2) {
                    first_byte = Some(started.elapsed());
                }
            }
        }
        bytes += read as u64;
    }
    Ok(Streamed {
        bytes,
        first_byte: first_byte.ok_or("no body arrived")?,
        last_byte: started.elapsed(),
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}
