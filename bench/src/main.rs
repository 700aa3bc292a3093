//! Piston's load benchmarks. Each measures Piston side by side with a baseline in the
//! same run and reports the ratio, so that the numbers mean the same on any machine.
//!
//! Run with `cargo xtask bench` (it builds the plugins and these binaries in release
//! mode); results replace this benchmark's section of `docs/benchmarks.md`.
//!
//! The server under test is pinned to CPU 0 and the load generator (wrk, installed
//! from Debian if missing) to CPU 1, so they do not compete for a core.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const CONTENT: &str = include_str!("../hello-world.txt");

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
    out: PathBuf,
    seconds: u32,
    rounds: usize,
    connections: u32,
}

impl Options {
    fn parse() -> Result<Options> {
        let mut options = Options {
            plugins: PathBuf::from("target/plugins"),
            out: PathBuf::from("docs/benchmarks.md"),
            seconds: 10,
            rounds: 3,
            connections: 32,
        };
        let mut args = std::env::args().skip(1);
        while let Some(flag) = args.next() {
            let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
            match flag.as_str() {
                "--plugins" => options.plugins = value()?.into(),
                "--out" => options.out = value()?.into(),
                "--seconds" => options.seconds = number(&value()?)?,
                "--rounds" => options.rounds = number(&value()?)?,
                "--connections" => options.connections = number(&value()?)?,
                other => {
                    return Err(format!(
                        "unknown argument `{other}`; usage: piston-bench [--plugins DIR] [--out FILE] \
                         [--seconds N] [--rounds N] [--connections N]"
                    ));
                }
            }
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
    ensure_wrk()?;
    let bin_dir = std::env::current_exe()
        .map_err(|error| error.to_string())?
        .parent()
        .ok_or("no binary directory")?
        .to_owned();
    let work = std::env::temp_dir().join(format!("piston-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(|error| error.to_string())?;
    let result = foundation(&options, &bin_dir, &work);
    let _ = std::fs::remove_dir_all(&work);
    let section = result?;
    write_section(&options.out, "foundation", &section)?;
    println!("{section}");
    println!("written to {}", options.out.display());
    Ok(())
}

/// One server configuration under load.
struct Contender {
    label: &'static str,
    path: &'static str,
    start: Box<dyn Fn() -> Result<Server>>,
}

/// `GET /posts/hello-world` on the blog plugin (warm pool, then one instance per
/// request) against a native axum handler serializing the same JSON.
fn foundation(options: &Options, bin_dir: &Path, work: &Path) -> Result<String> {
    let piston = bin_dir.join("piston");
    let baseline = bin_dir.join("bench-baseline");
    let plugins = work.join("plugins");
    std::fs::create_dir_all(&plugins).map_err(|error| error.to_string())?;
    let blog = options.plugins.join("blog.wasm");
    std::fs::copy(&blog, plugins.join("blog.wasm"))
        .map_err(|error| format!("{}: {error} (run `cargo xtask plugins`)", blog.display()))?;
    std::fs::write(
        work.join("request.toml"),
        "[plugins.blog]\nisolation = \"request\"\n",
    )
    .map_err(|error| error.to_string())?;

    let serve = |config: Option<&'static str>| {
        let piston = piston.clone();
        let work = work.to_owned();
        move || -> Result<Server> {
            let mut command = pinned(&piston, 0);
            command
                .arg("serve")
                .arg("--listen")
                .arg("127.0.0.1:0")
                .arg("--plugins")
                .arg(work.join("plugins"))
                .arg("--data")
                .arg(work.join("data"))
                .env("PISTON_LOG", "warn");
            if let Some(config) = config {
                command.arg("--config").arg(work.join(config));
            }
            let server = Server::start(command, "piston listening on ")?;
            server.post_json(
                "/posts",
                &serde_json::json!({ "title": "Hello World", "content": CONTENT.trim_end() }),
            )?;
            Ok(server)
        }
    };
    let native = || {
        let baseline = baseline.clone();
        let database = work.join("baseline.db");
        move || {
            let mut command = pinned(&baseline, 0);
            command.arg("127.0.0.1:0").arg(&database);
            Server::start(command, "listening on ")
        }
    };
    let contenders = [
        Contender {
            label: "native axum: the JSON built in memory",
            path: "/posts/hello-world",
            start: Box::new(native()),
        },
        Contender {
            label: "native axum: the plugin's work (SQLite read, JSON in and out)",
            path: "/stored/posts/hello-world",
            start: Box::new(native()),
        },
        Contender {
            label: "Piston, warm instance pool",
            path: "/posts/hello-world",
            start: Box::new(serve(None)),
        },
        Contender {
            label: "Piston, `isolation = \"request\"`",
            path: "/posts/hello-world",
            start: Box::new(serve(Some("request.toml"))),
        },
    ];

    let mut results: Vec<Vec<Load>> = contenders.iter().map(|_| Vec::new()).collect();
    for round in 1..=options.rounds {
        for (contender, loads) in contenders.iter().zip(&mut results) {
            let server = (contender.start)()?;
            let url = format!("{}{}", server.url, contender.path);
            server.expect_ok(contender.path)?;
            wrk(&url, 2, options.connections)?; // warm-up
            let load = wrk(&url, options.seconds, options.connections)?;
            eprintln!(
                "round {round}/{}: {:<62} {:>8.0} req/s  p50 {:>6.0} µs  p99 {:>6.0} µs",
                options.rounds,
                contender.label,
                load.requests_per_second,
                load.p50_micros,
                load.p99_micros
            );
            loads.push(load);
        }
    }

    let medians: Vec<Load> = results.iter().map(|loads| median(loads)).collect();
    let native = medians[0].requests_per_second;
    let same_work = medians[1].requests_per_second;
    let mut table = String::from(
        "| server | requests/s | p50 latency | p99 latency | vs native | vs native doing the plugin's work |\n\
         |---|---:|---:|---:|---:|---:|\n",
    );
    for (contender, load) in contenders.iter().zip(&medians) {
        table.push_str(&format!(
            "| {} | {:.0} | {:.0} µs | {:.0} µs | {:.2} | {:.2} |\n",
            contender.label,
            load.requests_per_second,
            load.p50_micros,
            load.p99_micros,
            load.requests_per_second / native,
            load.requests_per_second / same_work,
        ));
    }
    let pool_ratio = medians[2].requests_per_second / native;
    let pool_same_work = medians[2].requests_per_second / same_work;
    Ok(format!(
        "## Foundation: `GET /posts/hello-world`\n\n\
         {machine}. Server pinned to CPU 0, wrk (1 thread, {connections} connections, {seconds} s \
         after a 2 s warm-up) on CPU 1; median of {rounds} rounds, contenders interleaved. \
         The blog plugin reads the post from the embedded SQLite store on every request, \
         deserializes it and serializes the view; the first native baseline builds and \
         serializes the same JSON from memory, the second does what the plugin does.\n\n\
         {table}\n\
         Target: the warm pool reaches at least 0.60 of native. Against native serializing \
         from memory: **{pool_ratio:.2}, {verdict}**. Against native doing the same work as \
         the plugin: **{pool_same_work:.2}**.\n\n\
         Reproduce: `cargo xtask bench`.\n",
        machine = machine(),
        connections = options.connections,
        seconds = options.seconds,
        rounds = options.rounds,
        verdict = if pool_ratio >= 0.60 { "met" } else { "not met" },
    ))
}

/// A server process, killed when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    /// Starts `command` and waits for the line announcing its address.
    fn start(mut command: Command, announcement: &'static str) -> Result<Server> {
        command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
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
                if let Some(url) = line.strip_prefix(announcement) {
                    let _ = sender.send(url.to_owned());
                }
            }
        });
        match receiver.recv_timeout(Duration::from_secs(120)) {
            Ok(url) => Ok(Server { child, url }),
            Err(_) => {
                let _ = child.kill();
                Err(format!("{command:?} did not start"))
            }
        }
    }

    fn address(&self) -> &str {
        self.url.trim_start_matches("http://")
    }

    /// Sends one request and returns the status.
    fn request(&self, head: &str, body: &str) -> Result<u16> {
        let mut stream = TcpStream::connect(self.address()).map_err(|error| error.to_string())?;
        write!(
            stream,
            "{head} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.address(),
            body.len()
        )
        .map_err(|error| error.to_string())?;
        let mut response = String::new();
        stream
            .read_to_string(&mut response)
            .map_err(|error| error.to_string())?;
        response
            .split_whitespace()
            .nth(1)
            .and_then(|status| status.parse().ok())
            .ok_or_else(|| format!("no HTTP status in: {response}"))
    }

    fn post_json(&self, path: &str, body: &serde_json::Value) -> Result {
        match self.request(&format!("POST {path}"), &body.to_string())? {
            201 | 409 => Ok(()),
            status => Err(format!("POST {path} answered {status}")),
        }
    }

    fn expect_ok(&self, path: &str) -> Result {
        match self.request(&format!("GET {path}"), "")? {
            200 => Ok(()),
            status => Err(format!("GET {path} answered {status}")),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `program` pinned to `cpu` when the machine has more than one.
fn pinned(program: &Path, cpu: usize) -> Command {
    if cpus() > 1 {
        let mut command = Command::new("taskset");
        command.arg("-c").arg(cpu.to_string()).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |count| count.get())
}

/// What one wrk run measured.
#[derive(Debug, Clone, Copy)]
struct Load {
    requests_per_second: f64,
    p50_micros: f64,
    p99_micros: f64,
}

fn wrk(url: &str, seconds: u32, connections: u32) -> Result<Load> {
    let mut command = pinned(Path::new("wrk"), 1);
    command
        .arg("-t1")
        .arg(format!("-c{connections}"))
        .arg(format!("-d{seconds}s"))
        .arg("--latency")
        .arg(url);
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
    if text.contains("Non-2xx") || text.contains("Socket errors") {
        return Err(format!("errors under load:\n{text}"));
    }
    let field = |prefix: &str| {
        text.lines()
            .map(str::trim)
            .find_map(|line| line.strip_prefix(prefix))
            .map(str::trim)
            .ok_or_else(|| format!("no `{prefix}` in wrk's output:\n{text}"))
    };
    Ok(Load {
        requests_per_second: number(field("Requests/sec:")?)?,
        p50_micros: micros(field("50%")?)?,
        p99_micros: micros(field("99%")?)?,
    })
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

fn median(loads: &[Load]) -> Load {
    let mut sorted = loads.to_vec();
    sorted.sort_by(|a, b| a.requests_per_second.total_cmp(&b.requests_per_second));
    sorted[sorted.len() / 2]
}

/// Installs wrk from Debian if it is missing.
fn ensure_wrk() -> Result {
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
fn machine() -> String {
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
fn write_section(path: &Path, name: &str, section: &str) -> Result {
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
