//! What every suite uses: the binaries and plugins, servers under test, wrk, and the
//! results file.

use crate::{Options, Result, number};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The content of the post the suites read.
const CONTENT: &str = include_str!("../hello-world.txt");

/// The native baseline doing the blog plugin's work: its label and path.
pub const NATIVE_SAME_WORK: (&str, &str) = (
    "native axum: the plugin's work (SQLite read, JSON in and out)",
    "/stored/posts/hello-world",
);

/// Where the binaries and plugins are, and a scratch directory removed at the end.
pub struct Bench {
    pub bin_dir: PathBuf,
    pub plugins: PathBuf,
    pub lang_plugins: PathBuf,
    pub work: Scratch,
}

impl Bench {
    pub fn new(options: &Options) -> Result<Bench> {
        let bin_dir = std::env::current_exe()
            .map_err(|error| error.to_string())?
            .parent()
            .ok_or("no binary directory")?
            .to_owned();
        Ok(Bench {
            bin_dir,
            plugins: options.plugins.clone(),
            lang_plugins: options.lang_plugins.clone(),
            work: Scratch::new()?,
        })
    }

    /// A directory holding copies of `plugins` (from `--plugins`), for one server.
    pub fn plugin_dir(&self, name: &str, plugins: &[&str]) -> Result<PathBuf> {
        self.plugin_dir_from(&self.plugins, name, plugins)
    }

    /// A directory holding copies of `plugins` from `source`, for one server.
    pub fn plugin_dir_from(&self, source: &Path, name: &str, plugins: &[&str]) -> Result<PathBuf> {
        let dir = self.work.path().join(name);
        std::fs::create_dir_all(&dir).map_err(|error| error.to_string())?;
        for plugin in plugins {
            let file = source.join(format!("{plugin}.wasm"));
            std::fs::copy(&file, dir.join(format!("{plugin}.wasm"))).map_err(|error| {
                format!("{}: {error} (run `cargo xtask plugins`)", file.display())
            })?;
        }
        Ok(dir)
    }

    /// `piston serve` on a free port, pinned to CPU 0, over `plugins`, with `config`.
    pub fn piston(&self, plugins: &Path, data: &str, config: Option<&str>) -> Result<Server> {
        self.piston_binary(&self.bin_dir.join("piston"), plugins, data, config)
    }

    /// As [`Bench::piston`], with another `piston` binary.
    pub fn piston_binary(
        &self,
        binary: &Path,
        plugins: &Path,
        data: &str,
        config: Option<&str>,
    ) -> Result<Server> {
        let mut command = pinned(binary, 0);
        command
            .arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--plugins")
            .arg(plugins)
            .arg("--data")
            .arg(self.work.path().join(data))
            .env_remove("PISTON_LOG");
        if let Some(config) = config {
            let path = self.work.path().join(format!("{data}.toml"));
            std::fs::write(&path, config).map_err(|error| error.to_string())?;
            command.arg("--config").arg(path);
        }
        Server::start(command, "piston listening on ")
    }

    /// The native baselines (`bench-baseline`) on a free port, pinned to CPU 0.
    pub fn native(&self) -> Result<Server> {
        let mut command = pinned(&self.bin_dir.join("bench-baseline"), 0);
        command
            .arg("127.0.0.1:0")
            .arg(self.work.path().join("baseline.db"));
        Server::start(command, "listening on ")
    }
}

/// A plugin configuration section giving `plugin` a fresh instance for every request.
pub fn request_isolation(plugin: &str) -> String {
    format!("[plugins.{plugin}]\nisolation = \"request\"\n")
}

/// A scratch directory, removed when dropped.
pub struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Scratch> {
        let path = std::env::temp_dir().join(format!("piston-bench-{}", std::process::id()));
        std::fs::create_dir_all(&path).map_err(|error| error.to_string())?;
        Ok(Scratch(path))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A server process, killed when dropped (after a SIGTERM and a grace period if it
/// was started with [`Server::graceful`]).
pub struct Server {
    child: Child,
    pub url: String,
    graceful: bool,
}

impl Server {
    /// Starts `command` and waits for a line containing `announcement` followed by its
    /// URL.
    pub fn start(mut command: Command, announcement: &'static str) -> Result<Server> {
        command
            .stdout(Stdio::piped())
            // The servers' logs would drown the results; failures show as failed requests.
            .stderr(Stdio::null())
            .stdin(Stdio::null());
        let mut child = command
            .spawn()
            .map_err(|error| format!("cannot start {command:?}: {error}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout)
                .lines()
                .map_while(std::result::Result::ok)
            {
                let url = line
                    .find(announcement)
                    .and_then(|at| line[at + announcement.len()..].split_whitespace().next());
                if let Some(url) = url {
                    let _ = sender.send(url.to_owned());
                }
            }
        });
        match receiver.recv_timeout(Duration::from_secs(120)) {
            Ok(url) => Ok(Server {
                child,
                url,
                graceful: false,
            }),
            Err(_) => {
                let _ = child.kill();
                Err(format!("{command:?} did not start"))
            }
        }
    }

    /// Stops the server with SIGTERM when dropped, so that a server with worker
    /// processes (gunicorn) stops them.
    pub fn graceful(mut self) -> Server {
        self.graceful = true;
        self
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn address(&self) -> &str {
        self.url.trim_start_matches("http://")
    }

    /// Sends one request and returns the status.
    pub fn request(&self, head: &str, body: &str) -> Result<u16> {
        self.exchange(head, body).map(|(status, _)| status)
    }

    /// Sends one request and returns the status and the body (de-chunked).
    pub fn exchange(&self, head: &str, body: &str) -> Result<(u16, Vec<u8>)> {
        let mut stream = TcpStream::connect(self.address()).map_err(|error| error.to_string())?;
        write!(
            stream,
            "{head} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.address(),
            body.len()
        )
        .map_err(|error| error.to_string())?;
        let mut response = Vec::new();
        stream
            .read_to_end(&mut response)
            .map_err(|error| error.to_string())?;
        let text = String::from_utf8_lossy(&response);
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|status| status.parse().ok())
            .ok_or_else(|| format!("no HTTP status in: {text}"))?;
        let split = response
            .windows(4)
            .position(|window| window == b"\r\n\r\n")
            .ok_or_else(|| format!("no end of the head in: {text}"))?;
        let head = String::from_utf8_lossy(&response[..split]).to_ascii_lowercase();
        let body = &response[split + 4..];
        if head.contains("\r\ntransfer-encoding: chunked") {
            Ok((status, dechunk(body)?))
        } else {
            Ok((status, body.to_vec()))
        }
    }

    /// Creates the blog post the benchmarks read (unless it exists).
    pub fn seed_hello_world(&self) -> Result {
        let body = serde_json::json!({ "title": "Hello World", "content": post_content() });
        match self.request("POST /posts", &body.to_string())? {
            201 | 409 => Ok(()),
            status => Err(format!("creating the post answered {status}")),
        }
    }

    pub fn expect_ok(&self, path: &str) -> Result {
        match self.request(&format!("GET {path}"), "")? {
            200 => Ok(()),
            status => Err(format!("GET {path} answered {status}")),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let terminated = self.graceful
            && Command::new("kill")
                .arg("-TERM")
                .arg(self.child.id().to_string())
                .status()
                .is_ok_and(|status| status.success());
        if terminated {
            for _ in 0..100 {
                if matches!(self.child.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A chunked HTTP/1.1 body's content.
fn dechunk(mut body: &[u8]) -> Result<Vec<u8>> {
    let mut content = Vec::new();
    loop {
        let line_end = body
            .windows(2)
            .position(|window| window == b"\r\n")
            .ok_or("a chunk without its size line")?;
        let size = std::str::from_utf8(&body[..line_end])
            .ok()
            .and_then(|line| usize::from_str_radix(line.split(';').next()?.trim(), 16).ok())
            .ok_or("a chunk size that is not a number")?;
        if size == 0 {
            return Ok(content);
        }
        let chunk = body
            .get(line_end + 2..line_end + 2 + size)
            .ok_or("a chunk cut short")?;
        content.extend_from_slice(chunk);
        body = body.get(line_end + 4 + size..).ok_or("a chunk cut short")?;
    }
}

/// The content of the post the suites read.
pub fn post_content() -> &'static str {
    CONTENT.trim_end()
}

/// `program` on the load generator's CPU: the backends the servers call (Redis,
/// PostgreSQL) share it with wrk, leaving CPU 0 to the servers under test.
pub fn on_load_cpu(program: &Path) -> Command {
    pinned(program, 1)
}

/// `program` pinned to `cpu` when the machine has more than one.
pub fn pinned(program: &Path, cpu: usize) -> Command {
    if cpus() > 1 {
        let mut command = Command::new("taskset");
        command.arg("-c").arg(cpu.to_string()).arg(program);
        command
    } else {
        Command::new(program)
    }
}

pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |count| count.get())
}

/// What one wrk run measured.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub requests_per_second: f64,
    pub p50_micros: f64,
    pub p99_micros: f64,
}

pub fn wrk(url: &str, seconds: u32, connections: u32) -> Result<Load> {
    let (load, failed, text) = wrk_counting(url, seconds, connections)?;
    if failed > 0 {
        return Err(format!("errors under load:\n{text}"));
    }
    Ok(load)
}

/// wrk's measurement, how many requests failed (non-2xx answers and socket errors),
/// and its report.
pub fn wrk_counting(url: &str, seconds: u32, connections: u32) -> Result<(Load, u64, String)> {
    wrk_run(url, seconds, connections, None)
}

/// As [`wrk_counting`], sending what the Lua `script` makes (`wrk -s`), which is
/// handed a tag no other run uses (its `init` gets it as `args[1]`).
fn wrk_run(
    url: &str,
    seconds: u32,
    connections: u32,
    script: Option<&Path>,
) -> Result<(Load, u64, String)> {
    static RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut command = pinned(Path::new("wrk"), 1);
    command
        .arg("-t1")
        .arg(format!("-c{connections}"))
        .arg(format!("-d{seconds}s"))
        .arg("--latency");
    if let Some(script) = script {
        command.arg("-s").arg(script);
    }
    command.arg(url);
    if script.is_some() {
        let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        command
            .arg("--")
            .arg(format!("{}-{run}", std::process::id()));
    }
    let output = command
        .output()
        .map_err(|error| format!("cannot run wrk: {error}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "wrk failed: {text}{}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let field = |prefix: &str| {
        text.lines()
            .map(str::trim)
            .find_map(|line| line.strip_prefix(prefix))
            .map(str::trim)
            .ok_or_else(|| format!("no `{prefix}` in wrk's output:\n{text}"))
    };
    let load = Load {
        requests_per_second: number(field("Requests/sec:")?)?,
        p50_micros: micros(field("50%")?)?,
        p99_micros: micros(field("99%")?)?,
    };
    let non_2xx: u64 = field("Non-2xx or 3xx responses:").map_or(Ok(0), number)?;
    // "Socket errors: connect 0, read 0, write 0, timeout 0"
    let socket_errors: u64 = field("Socket errors:").map_or(0, |errors| {
        errors
            .split(',')
            .filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok())
            .sum()
    });
    Ok((load, non_2xx + socket_errors, text.into_owned()))
}

/// wrk's `1.23ms`, `456.00us`, `1.01s` in microseconds.
fn micros(text: &str) -> Result<f64> {
    let (number_part, scale) = if let Some(value) = text.strip_suffix("us") {
        (value, 1.0)
    } else if let Some(value) = text.strip_suffix("ms") {
        (value, 1_000.0)
    } else if let Some(value) = text.strip_suffix('s') {
        (value, 1_000_000.0)
    } else {
        return Err(format!("unknown latency `{text}`"));
    };
    Ok(number::<f64>(number_part)? * scale)
}

/// What wrk loads in one contender: one URL or several (hosts behind one name: one wrk
/// for each, at once, the connections split between them), with `GET`s or with what a
/// Lua script makes.
pub struct Target {
    pub label: String,
    pub urls: Vec<String>,
    pub script: Option<PathBuf>,
}

impl Target {
    /// `GET url`.
    pub fn get(label: &str, url: &str) -> Target {
        Target {
            label: label.to_owned(),
            urls: vec![url.to_owned()],
            script: None,
        }
    }

    /// Measures it: the requests per second of every URL added up, the worst of their
    /// latencies. Fails if a request failed.
    fn measure(&self, seconds: u32, connections: u32) -> Result<Load> {
        let share = (connections / self.urls.len() as u32).max(1);
        let runs: Vec<Result<(Load, u64, String)>> = std::thread::scope(|scope| {
            let running: Vec<_> = self
                .urls
                .iter()
                .map(|url| {
                    scope.spawn(move || wrk_run(url, seconds, share, self.script.as_deref()))
                })
                .collect();
            running
                .into_iter()
                .map(|run| {
                    run.join()
                        .unwrap_or_else(|_| Err("wrk's thread panicked".into()))
                })
                .collect()
        });
        let mut total = Load {
            requests_per_second: 0.0,
            p50_micros: 0.0,
            p99_micros: 0.0,
        };
        for run in runs {
            let (load, failed, text) = run?;
            if failed > 0 {
                return Err(format!("{}: errors under load:\n{text}", self.label));
            }
            total.requests_per_second += load.requests_per_second;
            total.p50_micros = total.p50_micros.max(load.p50_micros);
            total.p99_micros = total.p99_micros.max(load.p99_micros);
        }
        Ok(total)
    }
}

/// Measures each contender (a label and a URL) in `options.rounds` rounds, contenders
/// interleaved within a round, each after a 2 s warm-up; returns each one's median.
pub fn interleaved(
    suite: &str,
    options: &Options,
    contenders: &[(String, String)],
) -> Result<Vec<Load>> {
    let targets: Vec<Target> = contenders
        .iter()
        .map(|(label, url)| Target::get(label, url))
        .collect();
    interleaved_targets(suite, options, &targets)
}

/// As [`interleaved`], for any [`Target`]s.
pub fn interleaved_targets(
    suite: &str,
    options: &Options,
    targets: &[Target],
) -> Result<Vec<Load>> {
    let mut results: Vec<Vec<Load>> = targets.iter().map(|_| Vec::new()).collect();
    for round in 1..=options.rounds {
        for (target, loads) in targets.iter().zip(&mut results) {
            target.measure(2, options.connections)?;
            let load = target.measure(options.seconds, options.connections)?;
            eprintln!(
                "{suite} {round}/{}: {:<32} {:>8.0} req/s",
                options.rounds, target.label, load.requests_per_second
            );
            loads.push(load);
        }
    }
    Ok(results.iter().map(|loads| median(loads)).collect())
}

/// A Markdown table of throughput and latency, with each row's ratio to the first.
pub fn ratio_table(
    label: &str,
    versus: &str,
    contenders: &[(String, String)],
    loads: &[Load],
) -> String {
    let first = loads[0].requests_per_second;
    let mut table = format!(
        "| {label} | requests/s | p50 latency | p99 latency | vs {versus} |\n|---|---:|---:|---:|---:|\n"
    );
    for ((name, _), load) in contenders.iter().zip(loads) {
        table.push_str(&format!(
            "| {name} | {:.0} | {:.0} µs | {:.0} µs | {:.2} |\n",
            load.requests_per_second,
            load.p50_micros,
            load.p99_micros,
            load.requests_per_second / first
        ));
    }
    table
}

pub fn median(loads: &[Load]) -> Load {
    let mut sorted = loads.to_vec();
    sorted.sort_by(|a, b| a.requests_per_second.total_cmp(&b.requests_per_second));
    sorted[sorted.len() / 2]
}

/// Installs wrk from Debian if it is missing.
pub fn ensure_wrk() -> Result {
    if Command::new("wrk").arg("--version").output().is_ok() {
        return Ok(());
    }
    eprintln!("piston-bench: installing wrk (Debian package)");
    let apt = |args: &[&str]| {
        Command::new("apt-get")
            .args(args)
            .status()
            .is_ok_and(|status| status.success())
    };
    if apt(&["install", "-y", "wrk"]) || (apt(&["update"]) && apt(&["install", "-y", "wrk"])) {
        Ok(())
    } else {
        Err("wrk is not installed and `apt-get install wrk` failed; install wrk and retry".into())
    }
}

/// The CPU model and count, for the record.
pub fn machine() -> String {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines().find_map(|line| {
                line.strip_prefix("model name")
                    .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_owned())
            })
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    format!("Measured on {model}, {} CPUs", cpus())
}

/// Replaces the section between `<!-- bench:NAME -->` markers (or appends it).
pub fn write_section(path: &Path, name: &str, section: &str) -> Result {
    let begin = format!("<!-- bench:{name} -->");
    let end = format!("<!-- /bench:{name} -->");
    let existing = std::fs::read_to_string(path).unwrap_or_else(|_| {
        "# Benchmarks\n\nEach section is written by `cargo xtask bench`; see `bench/README.md`.\n".to_owned()
    });
    let block = format!("{begin}\n{section}{end}");
    let updated = match (existing.find(&begin), existing.find(&end)) {
        (Some(start), Some(stop)) if start < stop => {
            format!(
                "{}{block}{}",
                &existing[..start],
                &existing[stop + end.len()..]
            )
        }
        _ => format!("{}\n{block}\n", existing.trim_end()),
    };
    std::fs::write(path, updated)
        .map_err(|error| format!("cannot write {}: {error}", path.display()))
}
