//! Guest languages: `GET /posts/hello-world` on the blog plugin written in Rust
//! (`blog`), Python (`blog-py`) and JavaScript (`blog-js`), each with a warm instance
//! pool and with a fresh instance per request, against the native baseline doing the
//! plugin's work and against Django REST Framework under gunicorn (`bench/drf`)
//! serving the same post.

use crate::harness::{
    Bench, NATIVE_SAME_WORK, Server, interleaved, machine, pinned, post_content, request_isolation,
};
use crate::{Options, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The request every contender answers.
const PATH: &str = "/posts/hello-world";

/// The bench crate's directory: `drf/` is in it, the repository's `.venv` beside it.
const BENCH_DIR: &str = env!("CARGO_MANIFEST_DIR");

/// gunicorn's sync workers, all on the server's one core.
const DRF_WORKERS: u32 = 2;

/// The target: a Python handler on Piston serves at least this many times what DRF does.
const DRF_TARGET: f64 = 10.0;

/// One implementation of the blog plugin.
struct Plugin {
    language: &'static str,
    /// Its file's name and the name it describes itself with (its `[plugins.NAME]`).
    name: &'static str,
    /// Built with the example plugins (`--plugins`), or else into `--lang-plugins`.
    example: bool,
}

const PLUGINS: [Plugin; 3] = [
    Plugin {
        language: "Rust",
        name: "blog",
        example: true,
    },
    Plugin {
        language: "Python",
        name: "blog-py",
        example: false,
    },
    Plugin {
        language: "JavaScript",
        name: "blog-js",
        example: false,
    },
];

impl Plugin {
    fn source<'a>(&self, bench: &'a Bench) -> &'a Path {
        if self.example {
            &bench.plugins
        } else {
            &bench.lang_plugins
        }
    }

    fn file(&self, bench: &Bench) -> PathBuf {
        self.source(bench).join(format!("{}.wasm", self.name))
    }
}

/// A server under test.
struct Contender {
    label: String,
    server: Server,
    path: &'static str,
}

pub fn run(options: &Options, bench: &Bench) -> Result<String> {
    let missing: Vec<String> = PLUGINS
        .iter()
        .map(|plugin| plugin.file(bench))
        .filter(|file| !file.exists())
        .map(|file| file.display().to_string())
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "languages: missing {}; build them with `cargo xtask plugins` \
             (or name their directory with --plugins / --lang-plugins)",
            missing.join(", ")
        ));
    }

    let mut contenders = vec![Contender {
        label: NATIVE_SAME_WORK.0.to_owned(),
        server: bench.native()?,
        path: NATIVE_SAME_WORK.1,
    }];
    // One compile cache for every Piston server: each plugin is compiled once.
    let cache = bench.work.path().join("languages-cache");
    let mut python_warm = 0;
    let cache_config = format!(
        "[server]\ncache = {}\n",
        serde_json::Value::from(cache.display().to_string())
    );
    for plugin in &PLUGINS {
        let (pool, per_request) = start_pistons(bench, plugin, &cache_config)
            .map_err(|error| format!("{}: {error}", plugin.file(bench).display()))?;
        let who = format!("Piston, {} `{}`", plugin.language, plugin.name);
        if plugin.language == "Python" {
            python_warm = contenders.len();
        }
        contenders.push(Contender {
            label: format!("{who}, warm instance pool"),
            server: pool,
            path: PATH,
        });
        contenders.push(Contender {
            label: format!("{who}, `isolation = \"request\"`"),
            server: per_request,
            path: PATH,
        });
    }
    contenders.push(Contender {
        label: format!("Django REST Framework, gunicorn ({DRF_WORKERS} sync workers)"),
        server: drf(bench).map_err(|error| format!("the DRF baseline: {error}"))?,
        path: PATH,
    });

    let mut body_sizes = Vec::new();
    for contender in &contenders {
        let (status, body) = contender
            .server
            .exchange(&format!("GET {}", contender.path), "")?;
        if status != 200 {
            return Err(format!(
                "{}: GET {} answered {status}",
                contender.label, contender.path
            ));
        }
        body_sizes.push(body.len());
    }

    let urls: Vec<(String, String)> = contenders
        .iter()
        .map(|contender| {
            (
                contender.label.clone(),
                format!("{}{}", contender.server.url, contender.path),
            )
        })
        .collect();
    let medians = interleaved("languages", options, &urls)?;
    let native = medians[0].requests_per_second;
    let django = medians[medians.len() - 1].requests_per_second;
    let mut table = String::from(
        "| server | requests/s | p50 latency | p99 latency | response body | vs native | vs DRF |\n\
         |---|---:|---:|---:|---:|---:|---:|\n",
    );
    for ((contender, load), bytes) in contenders.iter().zip(&medians).zip(&body_sizes) {
        table.push_str(&format!(
            "| {} | {:.0} | {:.0} µs | {:.0} µs | {bytes} B | {:.2} | {:.1} |\n",
            contender.label,
            load.requests_per_second,
            load.p50_micros,
            load.p99_micros,
            load.requests_per_second / native,
            load.requests_per_second / django,
        ));
    }
    let versus_django = medians[python_warm].requests_per_second / django;
    Ok(format!(
        "## Guest languages: `GET /posts/hello-world`\n\n\
         {machine}. Server pinned to CPU 0, wrk (1 thread, {connections} connections, \
         {seconds} s after a 2 s warm-up) on CPU 1; median of {rounds} rounds, servers \
         interleaved. The blog plugin written in each guest language — Rust \
         (`plugins/blog`), Python (`blog-py`), JavaScript (`blog-js`) — serves the same \
         routes: it reads the post from the plugin's SQLite store, computes \
         `content_size` and returns the view, which the host filters by the resource's \
         fields and gives its `resource_uri`. Each runs with a warm instance pool and with \
         a fresh instance for every request. The native baseline is the foundation's: axum \
         doing the plugin's work.\n\n\
         The Python baseline is Django REST Framework (`bench/drf`, versions pinned in \
         `bench/drf/requirements.txt`) under gunicorn, {DRF_WORKERS} sync workers, pinned \
         to CPU 0 like the others: DEBUG off, no middleware, a persistent SQLite \
         connection, the JSON renderer only. A `RetrieveAPIView` reads the post by slug \
         with its author in one query and a `ModelSerializer` renders it with the nested \
         author (username and first name), `content_size` (a `SerializerMethodField`) and \
         a hyperlinked `resource_uri`. gunicorn's sync workers close the connection after \
         every response, so wrk connects anew for each request to DRF, while the other \
         servers keep connections alive. The posts on Piston were created anonymously, so \
         their `author` is null; the response body column shows what each server \
         sent.\n\n\
         {table}\n\
         Target: a Python handler on Piston serves at least {DRF_TARGET:.0}× what the same \
         endpoint does on DRF under gunicorn ({DRF_WORKERS} sync workers on one core). \
         `blog-py` with a warm pool against DRF: **{versus_django:.1}×, {verdict}**.\n\n\
         Reproduce: `cargo xtask bench -- languages` (it builds every blog and installs \
         DRF and gunicorn into `.venv`; it needs Python 3 with venv, Node.js and npm).\n",
        machine = machine(),
        connections = options.connections,
        seconds = options.seconds,
        rounds = options.rounds,
        verdict = if versus_django >= DRF_TARGET {
            "met"
        } else {
            "not met"
        },
    ))
}

/// Piston serving `plugin` with a warm pool and with per-request isolation, each with
/// the post created.
fn start_pistons(bench: &Bench, plugin: &Plugin, cache_config: &str) -> Result<(Server, Server)> {
    let plugins = bench.plugin_dir_from(
        plugin.source(bench),
        &format!("languages-{}", plugin.name),
        &[plugin.name],
    )?;
    let pool = bench.piston(
        &plugins,
        &format!("languages-{}-pool", plugin.name),
        Some(cache_config),
    )?;
    pool.seed_hello_world()?;
    let per_request = bench.piston(
        &plugins,
        &format!("languages-{}-request", plugin.name),
        Some(&format!("{cache_config}{}", request_isolation(plugin.name))),
    )?;
    per_request.seed_hello_world()?;
    Ok((pool, per_request))
}

/// Django REST Framework serving `bench/drf` under gunicorn, pinned to CPU 0, its
/// database migrated and holding the post.
fn drf(bench: &Bench) -> Result<Server> {
    let bench_dir = Path::new(BENCH_DIR);
    let project = bench_dir.join("drf");
    let venv = bench_dir
        .parent()
        .ok_or("no repository root")?
        .join(".venv");
    let python = venv.join("bin/python");
    if !venv.join("bin/gunicorn").is_file() {
        return Err(format!(
            "{} has no gunicorn: run the benchmarks with `cargo xtask bench`, which installs \
             bench/drf/requirements.txt into it",
            venv.display()
        ));
    }
    let data = bench.work.path().join("drf");
    std::fs::create_dir_all(&data).map_err(|error| error.to_string())?;
    let content = data.join("hello-world.txt");
    std::fs::write(&content, post_content()).map_err(|error| error.to_string())?;
    let django = |command: &mut Command| {
        command
            .current_dir(&project)
            .env("DRF_BENCH_DATA", &data)
            .env("PYTHONDONTWRITEBYTECODE", "1");
    };
    let mut migrate = Command::new(&python);
    migrate.args(["manage.py", "migrate", "--noinput"]);
    django(&mut migrate);
    quietly(&mut migrate)?;
    let mut seed = Command::new(&python);
    seed.args(["manage.py", "seed_hello_world"]).arg(&content);
    django(&mut seed);
    quietly(&mut seed)?;

    let mut gunicorn = pinned(&venv.join("bin/gunicorn"), 0);
    gunicorn
        .arg("--workers")
        .arg(DRF_WORKERS.to_string())
        .args(["--worker-class", "sync", "--bind", "127.0.0.1:0"])
        .arg("--no-control-socket")
        // Its log, where it announces its address, to the standard output Server reads.
        .args(["--error-logfile", "/dev/stdout"])
        .arg("benchsite.wsgi:application");
    django(&mut gunicorn);
    Ok(Server::start(gunicorn, "Listening at: ")?.graceful())
}

/// Runs `command` to completion, its output hidden unless it fails.
fn quietly(command: &mut Command) -> Result {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|error| format!("cannot run {command:?}: {error}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{command:?} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}
