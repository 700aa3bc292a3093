//! Piston's build tasks, run as `cargo xtask <task>`.
//!
//! - `plugins`: build the example plugins: the Rust ones (`plugins/*` with a
//!   `Cargo.toml`) for `wasm32-wasip2` into `target/plugins/`, adding the target with
//!   rustup if it is missing; the Python and JavaScript ones (`pyproject.toml`,
//!   `package.json`) with `piston build` and the C ones with their `build.sh` into
//!   `target/lang-plugins/`, installing componentize-py into `.venv`, the npm
//!   packages into `node_modules` and weval (which compiles the JavaScript ones ahead
//!   of time) into `.tools` first.
//! - `run [-- SERVE-ARGS]`: build the plugins and the host (release) and serve them on
//!   127.0.0.1:8000 with the embedded defaults.
//! - `test [-- TEST-FILTER]`: everything CI runs: formatting, lints, the plugins and
//!   test fixtures (the JavaScript ones without ahead-of-time compilation), unit tests, and the integration tests against the real binary
//!   (with the test tools: Python ones in `.venv`, Redocly's CLI in `node_modules`,
//!   and the system's curl, Chromium and `docker-registry`, which the registry tests
//!   start on loopback ports of their own),
//!   with a private `redis-server` unless `PISTON_TEST_REDIS_URL` names a Redis, and a
//!   private PostgreSQL cluster (`initdb` and `pg_ctl`, run as the `postgres` user when
//!   xtask runs as root) unless `PISTON_TEST_POSTGRES_URL` names a database: the tests
//!   of several hosts share both.
//! - `bench [-- ARGS]`: the load benchmarks in `bench/`, written to
//!   `docs/benchmarks.md`.
//! - `fuzz [TARGET] [--seconds N]`: run the fuzz targets in `fuzz/` (every one, or the
//!   one named) for N seconds each (default 600) with cargo-fuzz and libFuzzer, each on
//!   its corpus in `fuzz/corpus/TARGET/`, installing the nightly toolchain and
//!   cargo-fuzz first if they are missing; then say which found something (the inputs
//!   are in `fuzz/artifacts/TARGET/`). `cargo test` replays the corpora on stable.

use piston_test_services::{Postgres, Redis};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const WASM_TARGET: &str = "wasm32-wasip2";
/// The Cargo profile plugins build with (see the workspace `Cargo.toml`).
const WASM_PROFILE: &str = "plugin";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (task, rest) = match args.split_first() {
        Some((task, rest)) => (task.as_str(), rest),
        None => ("help", &[][..]),
    };
    let passthrough: Vec<String> = rest
        .iter()
        .skip_while(|arg| *arg != "--")
        .skip(1)
        .cloned()
        .collect();
    let result = match task {
        "plugins" => build_all_plugins(&Workspace::new()),
        "run" => run(&Workspace::new(), &passthrough),
        "test" => test(&Workspace::new(), &passthrough),
        "bench" => bench(&Workspace::new(), &passthrough),
        "fuzz" => fuzz(&Workspace::new(), rest),
        "help" | "--help" | "-h" => {
            println!("{}", HELP.trim());
            Ok(())
        }
        other => Err(format!("unknown task `{other}`\n\n{}", HELP.trim())),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

const HELP: &str = "
usage: cargo xtask <task>

tasks:
  plugins                 build the example plugins (Rust: target/plugins,
                          Python, JavaScript and C: target/lang-plugins)
  run [-- SERVE-ARGS]     build plugins and host, serve them on 127.0.0.1:8000
  test [-- TEST-FILTER]   everything CI runs (format, lints, plugins, all tests)
  bench [-- BENCH-ARGS]   load benchmarks; writes docs/benchmarks.md
  fuzz [TARGET] [--seconds N]
                          run each fuzz target (or the one named) for N seconds
                          (default 600) on its corpus in fuzz/corpus; needs nightly
                          and cargo-fuzz, installed if missing
";

type Result<T = (), E = String> = std::result::Result<T, E>;

/// Where things are.
struct Workspace {
    root: PathBuf,
    target: PathBuf,
}

impl Workspace {
    fn new() -> Workspace {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("xtask lives in the workspace")
            .to_owned();
        let target =
            std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
        Workspace { root, target }
    }

    fn cargo(&self) -> Command {
        let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        command.current_dir(&self.root);
        command
    }

    /// The example plugins: every `plugins/*` folder with a `Cargo.toml`.
    fn example_plugins(&self) -> Result<Vec<String>> {
        crates_in(&self.root.join("plugins"))
    }

    /// The test fixtures: every `tests/fixtures/*` folder with a `Cargo.toml`.
    fn fixture_plugins(&self) -> Result<Vec<String>> {
        crates_in(&self.root.join("tests/fixtures"))
    }

    /// Plugin projects in other languages than Rust under `dir`: every folder with a
    /// `pyproject.toml` or a `package.json` (built by `piston build`), or a `build.sh`
    /// (C, built by its script).
    fn lang_projects(&self, dir: &str) -> Result<Vec<PathBuf>> {
        let dir = self.root.join(dir);
        let entries = std::fs::read_dir(&dir)
            .map_err(|error| format!("cannot read {}: {error}", dir.display()))?;
        let mut projects = Vec::new();
        for entry in entries {
            let path = entry.map_err(|error| error.to_string())?.path();
            if ["pyproject.toml", "package.json", "build.sh"]
                .iter()
                .any(|manifest| path.join(manifest).is_file())
            {
                projects.push(path);
            }
        }
        projects.sort();
        Ok(projects)
    }

    fn plugin_dir(&self) -> PathBuf {
        self.target.join("plugins")
    }

    /// Where the non-Rust example plugins go: their routes repeat the Rust ones', so
    /// they are served one at a time, not beside them.
    fn lang_plugin_dir(&self) -> PathBuf {
        self.target.join("lang-plugins")
    }

    fn fixture_dir(&self) -> PathBuf {
        self.target.join("test-plugins")
    }
}

fn crates_in(dir: &Path) -> Result<Vec<String>> {
    let entries = std::fs::read_dir(dir)
        .map_err(|error| format!("cannot read {}: {error}", dir.display()))?;
    let mut names = Vec::new();
    for entry in entries {
        let path = entry.map_err(|error| error.to_string())?.path();
        if path.join("Cargo.toml").is_file()
            && let Some(name) = path.file_name().and_then(|name| name.to_str())
        {
            names.push(name.to_owned());
        }
    }
    names.sort();
    Ok(names)
}

/// Runs a command, echoing it first; fails if it fails.
fn run_command(command: &mut Command) -> Result {
    let shown = format!(
        "{} {}",
        command.get_program().to_string_lossy(),
        command
            .get_args()
            .map(|arg| arg.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    );
    eprintln!("xtask: $ {shown}");
    let status = command
        .status()
        .map_err(|error| format!("cannot run `{shown}`: {error}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{shown}` failed ({status})"))
    }
}

/// Adds the wasm target with rustup if it is missing.
fn ensure_wasm_target() -> Result {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map_err(|error| {
            format!(
                "cannot run rustup ({error}); install it from https://rustup.rs to build plugins"
            )
        })?;
    if String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|line| line.trim() == WASM_TARGET)
    {
        return Ok(());
    }
    run_command(Command::new("rustup").args(["target", "add", WASM_TARGET]))
}

/// Builds Rust plugin crates for wasm and copies each `.wasm` into `out`.
fn build_wasm(workspace: &Workspace, crates: &[String], out: &Path) -> Result {
    ensure_wasm_target()?;
    let mut command = workspace.cargo();
    command.args(["build", "--profile", WASM_PROFILE, "--target", WASM_TARGET]);
    for name in crates {
        command.args(["-p", name]);
    }
    run_command(&mut command)?;
    std::fs::create_dir_all(out)
        .map_err(|error| format!("cannot create {}: {error}", out.display()))?;
    let built = workspace.target.join(WASM_TARGET).join(WASM_PROFILE);
    for name in crates {
        let from = built.join(format!("{}.wasm", name.replace('-', "_")));
        let to = out.join(format!("{name}.wasm"));
        copy_if_changed(&from, &to)?;
    }
    Ok(())
}

/// Copies unless the destination already has the same bytes, so a running server
/// watching the directory does not see a change that is not one.
fn copy_if_changed(from: &Path, to: &Path) -> Result {
    let bytes =
        std::fs::read(from).map_err(|error| format!("cannot read {}: {error}", from.display()))?;
    if std::fs::read(to).is_ok_and(|existing| existing == bytes) {
        return Ok(());
    }
    let partial = to.with_extension("wasm.partial");
    std::fs::write(&partial, &bytes)
        .and_then(|()| std::fs::rename(&partial, to))
        .map_err(|error| format!("cannot write {}: {error}", to.display()))
}

fn build_plugins(workspace: &Workspace) -> Result<PathBuf> {
    let out = workspace.plugin_dir();
    build_wasm(workspace, &workspace.example_plugins()?, &out)?;
    eprintln!("xtask: example plugins are in {}", out.display());
    Ok(out)
}

/// `cargo xtask plugins`: every example plugin, in every language.
fn build_all_plugins(workspace: &Workspace) -> Result {
    build_plugins(workspace)?;
    run_command(workspace.cargo().args(["build", "-p", "piston-host"]))?;
    let toolchains = install_guest_toolchains(workspace, &[PLUGIN_REQUIREMENTS], true)?;
    build_lang_plugins(
        workspace,
        &workspace.target.join("debug/piston"),
        &toolchains,
    )?;
    eprintln!(
        "xtask: Python, JavaScript and C example plugins are in {}",
        workspace.lang_plugin_dir().display()
    );
    Ok(())
}

/// What builds Python and JavaScript plugins, installed in the repository.
struct GuestToolchains {
    /// The `.venv`'s Python, with componentize-py.
    python: PathBuf,
    /// weval, for componentize-js's ahead-of-time mode, where it is wanted.
    weval: Option<PathBuf>,
}

/// Installs what builds Python and JavaScript plugins into the repository
/// (componentize-py and the other `requirements` into `.venv`, jco and
/// componentize-js into `node_modules`, and, `ahead_of_time`, weval into `.tools`).
///
/// The tests build JavaScript plugins as `piston build` does by default, without
/// ahead-of-time compilation: building weval alone takes about eight minutes of a
/// fresh clone's CI, and what it buys (speed) is the benchmarks' to measure.
fn install_guest_toolchains(
    workspace: &Workspace,
    requirements: &[&str],
    ahead_of_time: bool,
) -> Result<GuestToolchains> {
    let python = python_env(workspace, requirements)?;
    node_env(workspace)?;
    let weval = if ahead_of_time {
        Some(weval(workspace)?)
    } else {
        None
    };
    Ok(GuestToolchains { python, weval })
}

/// The weval version componentize-js (`package-lock.json`) is made for: its AOT mode
/// reads a cache of the engine's inline caches that this version wrote.
const WEVAL_VERSION: &str = "0.4.1";

/// weval, built from crates.io into `.tools/weval-VERSION` the first time (a few
/// minutes: it embeds its own wasmtime); the npm package would download a binary.
fn weval(workspace: &Workspace) -> Result<PathBuf> {
    let root = workspace
        .root
        .join(".tools")
        .join(format!("weval-{WEVAL_VERSION}"));
    let binary = root.join("bin/weval");
    if binary.is_file() {
        return Ok(binary);
    }
    run_command(
        workspace
            .cargo()
            .args([
                "install",
                "weval",
                "--locked",
                "--version",
                WEVAL_VERSION,
                "--root",
            ])
            .arg(&root),
    )?;
    Ok(binary)
}

/// Builds every non-Rust plugin project, and returns the files.
fn build_lang_plugins(
    workspace: &Workspace,
    piston: &Path,
    toolchains: &GuestToolchains,
) -> Result<Vec<PathBuf>> {
    let mut built = Vec::new();
    for (projects, out) in [
        (
            workspace.lang_projects("plugins")?,
            workspace.lang_plugin_dir(),
        ),
        (
            workspace.lang_projects("tests/fixtures")?,
            workspace.fixture_dir(),
        ),
    ] {
        for project in projects {
            let script = project.join("build.sh");
            if script.is_file() {
                run_command(Command::new(script).arg(&out)).map_err(|error| {
                    format!(
                        "{error}; C plugins build with clang and wasi-libc (Debian: apt-get \
                         install clang lld wasi-libc libclang-rt-dev-wasm32)"
                    )
                })?;
            } else {
                let mut build = Command::new(piston);
                if let Some(weval) = &toolchains.weval {
                    build.env("PISTON_WEVAL", weval);
                }
                run_command(build.arg("build").arg(&project).arg("--out").arg(&out))?;
            }
            let name = project.file_name().unwrap_or_default();
            built.push(out.join(name).with_extension("wasm"));
        }
    }
    Ok(built)
}

/// Compiles the non-Rust plugins (the Python and JavaScript ones are large) into the
/// tests' shared compile cache once, so that tests starting servers in parallel do not
/// each compile them.
fn warm_compile_cache(workspace: &Workspace, piston: &Path, files: &[PathBuf]) -> Result {
    for file in files {
        run_command(
            Command::new(piston)
                .arg("inspect")
                .arg(file)
                .env("PISTON_CACHE", workspace.target.join("test-cache"))
                .stdout(std::process::Stdio::null()),
        )?;
    }
    Ok(())
}

fn run(workspace: &Workspace, serve_args: &[String]) -> Result {
    let plugins = build_plugins(workspace)?;
    run_command(
        workspace
            .cargo()
            .args(["build", "--release", "-p", "piston-host"]),
    )?;
    let mut serve = Command::new(workspace.target.join("release/piston"));
    serve
        .current_dir(&workspace.root)
        .arg("serve")
        .arg("--plugins")
        .arg(&plugins)
        .arg("--data")
        .arg(workspace.target.join("piston-data"))
        .arg("--listen")
        .arg("127.0.0.1:8000")
        .args(serve_args);
    exec(serve)
}

#[cfg(unix)]
fn exec(mut command: Command) -> Result {
    use std::os::unix::process::CommandExt;
    // Replace this process, so Ctrl-C and SIGTERM reach the server directly.
    Err(format!("cannot start the server: {}", command.exec()))
}

#[cfg(not(unix))]
fn exec(mut command: Command) -> Result {
    run_command(&mut command)
}

fn test(workspace: &Workspace, filter: &[String]) -> Result {
    run_command(workspace.cargo().args(["fmt", "--all", "--", "--check"]))?;

    let examples = workspace.example_plugins()?;
    let fixtures = workspace.fixture_plugins()?;
    build_wasm(workspace, &examples, &workspace.plugin_dir())?;
    build_wasm(workspace, &fixtures, &workspace.fixture_dir())?;

    run_command(
        workspace
            .cargo()
            .args(["clippy", "--all-targets", "--", "-D", "warnings"]),
    )?;
    let mut wasm_clippy = workspace.cargo();
    wasm_clippy.args(["clippy", "--profile", WASM_PROFILE, "--target", WASM_TARGET]);
    for name in examples.iter().chain(&fixtures) {
        wasm_clippy.args(["-p", name]);
    }
    run_command(wasm_clippy.args(["--", "-D", "warnings"]))?;

    run_command(workspace.cargo().args(["build", "-p", "piston-host"]))?;
    let binary = workspace.target.join("debug/piston");
    let toolchains =
        install_guest_toolchains(workspace, &[PLUGIN_REQUIREMENTS, TEST_REQUIREMENTS], false)?;
    let built = build_lang_plugins(workspace, &binary, &toolchains)?;
    let python = &toolchains.python;
    warm_compile_cache(workspace, &binary, &built)?;
    run_command(
        Command::new("curl")
            .arg("--version")
            .stdout(std::process::Stdio::null()),
    )
    .map_err(|error| {
        format!("{error}; the tests use curl as an HTTP client (Debian: apt-get install curl)")
    })?;
    let chromium = std::env::var_os("PISTON_TEST_CHROMIUM").unwrap_or_else(|| "chromium".into());
    run_command(
        Command::new(&chromium)
            .arg("--version")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null()),
    )
    .map_err(|error| {
        format!(
            "{error}; the tests render the docs page in a headless Chromium (Debian: apt-get \
             install chromium)"
        )
    })?;
    run_command(
        Command::new("docker-registry")
            .arg("--version")
            .stdout(std::process::Stdio::null()),
    )
    .map_err(|error| {
        format!(
            "{error}; the tests push plugins to and pull them from a private OCI registry \
             (Debian: apt-get install docker-registry)"
        )
    })?;
    let backends = TestBackends::start()?;
    let with_env = |command: &mut Command| {
        command
            .env("PISTON_TEST_REDIS_URL", &backends.redis_url)
            .env("PISTON_TEST_POSTGRES_URL", &backends.postgres_url)
            .env("PISTON_BIN", &binary)
            .env("PISTON_TEST_PYTHON", python)
            .env("PISTON_TEST_CHROMIUM", &chromium)
            .env(
                "PISTON_TEST_REDOCLY",
                workspace.root.join("node_modules/.bin/redocly"),
            )
            .env("PISTON_EXAMPLE_PLUGINS", workspace.plugin_dir())
            .env("PISTON_LANG_PLUGINS", workspace.lang_plugin_dir())
            .env("PISTON_TEST_PLUGINS", workspace.fixture_dir());
    };
    let mut tests = workspace.cargo();
    with_env(&mut tests);
    if has_nextest(workspace) {
        tests.args(["nextest", "run", "--no-fail-fast"]);
    } else {
        tests.args(["test", "--no-fail-fast"]);
    }
    run_command(tests.args(filter))?;
    let mut doc_tests = workspace.cargo();
    with_env(&mut doc_tests);
    run_command(doc_tests.args(["test", "--doc"]))
}

/// The backends the tests share: the Redis `PISTON_TEST_REDIS_URL` names and the
/// PostgreSQL database `PISTON_TEST_POSTGRES_URL` names, or, for each one unset, a
/// private server on a free loopback port, stopped (and its files removed) when the
/// tests end.
struct TestBackends {
    redis_url: String,
    postgres_url: String,
    _redis: Option<Redis>,
    _postgres: Option<Postgres>,
}

impl TestBackends {
    fn start() -> Result<TestBackends> {
        let (redis, redis_url) = shared("PISTON_TEST_REDIS_URL", || {
            let mut redis = Redis::new()?;
            redis.start()?;
            let url = redis.url();
            Ok((redis, url))
        })?;
        let (postgres, postgres_url) = shared("PISTON_TEST_POSTGRES_URL", || {
            let mut postgres = Postgres::create()?;
            postgres.start()?;
            postgres.create_database("piston")?;
            let url = postgres.url("piston");
            Ok((postgres, url))
        })?;
        Ok(TestBackends {
            redis_url,
            postgres_url,
            _redis: redis,
            _postgres: postgres,
        })
    }
}

/// The server `variable` names, or one `start` starts (with its URL).
fn shared<T>(
    variable: &str,
    start: impl FnOnce() -> Result<(T, String)>,
) -> Result<(Option<T>, String)> {
    if let Ok(url) = std::env::var(variable) {
        return Ok((None, url));
    }
    let (server, url) = start().map_err(|error| format!("{error}; or set {variable}"))?;
    eprintln!("xtask: a private server for the tests: {variable}={url}");
    Ok((Some(server), url))
}

/// What builds Python plugins: componentize-py.
const PLUGIN_REQUIREMENTS: &str = "guest-sdk/python/build-requirements.txt";

/// What the tests use: format readers and writers, HTTP clients for every auth scheme,
/// an OpenAPI validator and schemathesis.
const TEST_REQUIREMENTS: &str = "tests/python/requirements.txt";

/// What the benchmarks use: Django REST Framework and gunicorn, the Python baseline.
const BENCH_REQUIREMENTS: &str = "bench/drf/requirements.txt";

/// A Python in the repository's `.venv` with `requirements` (files relative to the
/// repository) installed, the venv created on first use.
fn python_env(workspace: &Workspace, requirements: &[&str]) -> Result<PathBuf> {
    let venv = workspace.root.join(".venv");
    let python = venv.join("bin/python");
    if !python.exists() {
        run_command(Command::new("python3").arg("-m").arg("venv").arg(&venv)).map_err(|error| {
            format!("{error}; Python 3 with the venv module is needed (Debian: apt-get install python3-venv)")
        })?;
    }
    let mut install = Command::new(&python);
    install.args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
    ]);
    for file in requirements {
        install.arg("-r").arg(workspace.root.join(file));
    }
    run_command(&mut install)?;
    Ok(python)
}

/// The npm packages that build JavaScript plugins (jco, componentize-js) and Redocly's
/// CLI, which the tests lint the OpenAPI document with, installed into the
/// repository's `node_modules` exactly as `package-lock.json` pins them;
/// reinstalled only when the lockfile changed since.
fn node_env(workspace: &Workspace) -> Result {
    let lockfile = workspace.root.join("package-lock.json");
    let installed = workspace.root.join("node_modules/.package-lock.json");
    let modified = |path: &Path| std::fs::metadata(path).and_then(|metadata| metadata.modified());
    if let (Ok(locked), Ok(installed)) = (modified(&lockfile), modified(&installed))
        && installed >= locked
    {
        return Ok(());
    }
    run_command(
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&workspace.root),
    )
    .map_err(|error| {
        format!(
            "{error}; JavaScript plugins are built with npm packages (Debian: apt-get install nodejs npm)"
        )
    })
}

fn has_nextest(workspace: &Workspace) -> bool {
    workspace
        .cargo()
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|output| output.status.success())
}

fn bench(workspace: &Workspace, args: &[String]) -> Result {
    let plugins = build_plugins(workspace)?;
    run_command(workspace.cargo().args([
        "build",
        "--release",
        "-p",
        "piston-host",
        "-p",
        "piston-bench",
    ]))?;
    let toolchains =
        install_guest_toolchains(workspace, &[PLUGIN_REQUIREMENTS, BENCH_REQUIREMENTS], true)?;
    build_lang_plugins(
        workspace,
        &workspace.target.join("release/piston"),
        &toolchains,
    )?;
    run_command(
        Command::new(workspace.target.join("release/piston-bench"))
            .current_dir(&workspace.root)
            .arg("--plugins")
            .arg(plugins)
            .arg("--lang-plugins")
            .arg(workspace.lang_plugin_dir())
            .args(args),
    )
}

/// How long `cargo xtask fuzz` runs each target unless told.
const FUZZ_SECONDS: u64 = 600;

/// `cargo xtask fuzz [TARGET] [--seconds N]`: each target in turn, one process each,
/// stopping at its first finding; then the list of those that found something.
fn fuzz(workspace: &Workspace, args: &[String]) -> Result {
    let mut seconds = FUZZ_SECONDS;
    let mut only = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => {
                seconds = args
                    .next()
                    .and_then(|value| value.parse().ok())
                    .filter(|value| *value > 0)
                    .ok_or("--seconds takes a whole number of seconds")?;
            }
            name if !name.starts_with('-') && only.is_none() => only = Some(name.to_owned()),
            other => return Err(format!("unexpected `{other}`\n\n{}", HELP.trim())),
        }
    }
    let fuzz_dir = workspace.root.join("fuzz");
    let mut targets = Vec::new();
    let listed = fuzz_dir.join("fuzz_targets");
    for entry in std::fs::read_dir(&listed)
        .map_err(|error| format!("cannot read {}: {error}", listed.display()))?
    {
        let path = entry.map_err(|error| error.to_string())?.path();
        if let Some(name) = path.file_stem().and_then(|name| name.to_str()) {
            targets.push(name.to_owned());
        }
    }
    targets.sort();
    if let Some(name) = only {
        if !targets.contains(&name) {
            return Err(format!(
                "there is no fuzz target `{name}`; there are: {}",
                targets.join(", ")
            ));
        }
        targets = vec![name];
    }
    ensure_fuzz_tools()?;
    let mut found = Vec::new();
    for target in &targets {
        // Bodies may be large; headers, query strings and piston.toml are not.
        let max_len = if target.starts_with("decode_") {
            65536
        } else {
            16384
        };
        let mut run = Command::new("cargo");
        run.current_dir(&fuzz_dir)
            .env_remove("CARGO_TARGET_DIR")
            .args(["+nightly", "fuzz", "run", target])
            .arg(fuzz_dir.join("corpus").join(target))
            .arg("--")
            .arg(format!("-max_total_time={seconds}"))
            .arg(format!("-max_len={max_len}"))
            .args(["-timeout=2", "-rss_limit_mb=2048", "-print_final_stats=1"]);
        if let Err(error) = run_command(&mut run) {
            eprintln!("xtask: {error}");
            found.push(target.as_str());
        }
    }
    if found.is_empty() {
        eprintln!(
            "xtask: nothing found in {} target(s), {seconds} s each",
            targets.len()
        );
        Ok(())
    } else {
        Err(format!(
            "found something in: {} (the inputs are in fuzz/artifacts/<target>/; reproduce \
             one with `cargo +nightly fuzz run <target> <file>` in fuzz/)",
            found.join(", ")
        ))
    }
}

/// Installs what fuzzing needs if it is missing: the nightly toolchain (libFuzzer's
/// sanitizers need it) and cargo-fuzz.
fn ensure_fuzz_tools() -> Result {
    let works = |args: &[&str]| {
        Command::new("cargo")
            .args(args)
            .output()
            .is_ok_and(|output| output.status.success())
    };
    if !works(&["+nightly", "--version"]) {
        run_command(Command::new("rustup").args([
            "toolchain",
            "install",
            "nightly",
            "--profile",
            "minimal",
        ]))
        .map_err(|error| format!("{error}; fuzzing needs the nightly toolchain"))?;
    }
    if !works(&["+nightly", "fuzz", "--version"]) {
        run_command(Command::new("cargo").args(["install", "cargo-fuzz", "--locked"]))?;
    }
    Ok(())
}
