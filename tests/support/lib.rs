//! Test support: start the real `piston` binary on a loopback port over plugins built
//! from `plugins/` and `tests/fixtures/`, and talk to it over real HTTP.
//!
//! `cargo xtask test` builds the binary and the plugins first and points the tests at
//! them (`PISTON_BIN`, `PISTON_EXAMPLE_PLUGINS`, `PISTON_LANG_PLUGINS`,
//! `PISTON_TEST_PLUGINS`). Run alone,
//! the tests look in `target/` and say what to build if something is missing.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub use reqwest::Method;
pub use serde_json::{Value, json};

/// How long a server may take to start (a cold compile cache compiles every plugin).
const STARTUP: Duration = Duration::from_secs(120);

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is in the workspace")
        .to_owned()
}

fn built(variable: &str, default: &str) -> PathBuf {
    let path = std::env::var_os(variable).map_or_else(|| workspace().join(default), PathBuf::from);
    assert!(
        path.exists(),
        "{} does not exist: run the tests with `cargo xtask test`, which builds the \
         binary and the plugins first (or set {variable})",
        path.display()
    );
    path
}

/// The `piston` binary under test.
pub fn piston_bin() -> PathBuf {
    built("PISTON_BIN", "target/debug/piston")
}

/// An example plugin (`plugins/NAME`), built.
pub fn example_plugin(name: &str) -> PathBuf {
    built("PISTON_EXAMPLE_PLUGINS", "target/plugins").join(format!("{name}.wasm"))
}

/// An example plugin in another language than Rust (`plugins/NAME`), built by
/// `piston build` into a directory of its own (its routes may repeat a Rust one's).
pub fn lang_plugin(name: &str) -> PathBuf {
    built("PISTON_LANG_PLUGINS", "target/lang-plugins").join(format!("{name}.wasm"))
}

/// A test fixture plugin (`tests/fixtures/NAME`), built.
pub fn fixture_plugin(name: &str) -> PathBuf {
    built("PISTON_TEST_PLUGINS", "target/test-plugins").join(format!("{name}.wasm"))
}

/// A command-line tool installed beside the tests' Python (a console script in the
/// same environment: `schemathesis`, `openapi-spec-validator`).
pub fn python_tool(name: &str) -> PathBuf {
    let tool = built("PISTON_TEST_PYTHON", ".venv/bin/python").with_file_name(name);
    assert!(
        tool.exists(),
        "{} does not exist: `cargo xtask test` installs it from tests/python/requirements.txt",
        tool.display()
    );
    tool
}

/// Redocly's CLI, installed into `node_modules` from `package-lock.json`.
pub fn redocly_bin() -> PathBuf {
    built("PISTON_TEST_REDOCLY", "node_modules/.bin/redocly")
}

/// The Chromium the tests drive headless: `PISTON_TEST_CHROMIUM`, else `chromium` on
/// `PATH`. A missing browser fails the test: CI installs it.
pub fn chromium_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("PISTON_TEST_CHROMIUM") {
        return PathBuf::from(path);
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("chromium"))
        .find(|path| path.is_file())
        .expect("chromium is not on PATH: install it (Debian: apt-get install chromium) or set PISTON_TEST_CHROMIUM")
}

/// A directory under `target/test-artifacts` for what a test leaves to look at after
/// the run (screenshots, reports), emptied first.
pub fn artifact_dir(name: &str) -> PathBuf {
    let dir = workspace().join("target/test-artifacts").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("the artifact directory");
    dir
}

/// Runs `tests/python/formats.py ARGS` with `input` on stdin and returns its stdout
/// (and its stderr, where `encode multipart` writes the content type).
pub fn python_formats(args: &[&str], input: &[u8]) -> (Vec<u8>, String) {
    python("formats.py", args, input)
}

/// Runs `tests/python/SCRIPT ARGS` in the repository's Python environment with `input`
/// on stdin; panics with its stderr if it fails. Returns stdout and stderr.
pub fn python(script: &str, args: &[&str], input: &[u8]) -> (Vec<u8>, String) {
    let output = python_output(script, args, input);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "{script} {args:?} failed: {stderr}"
    );
    (output.stdout, stderr)
}

/// `tests/python`, the repository's Python test scripts and modules.
pub fn python_dir() -> PathBuf {
    workspace().join("tests/python")
}

/// Runs `tests/python/SCRIPT ARGS` with `input` on stdin, whatever its outcome.
pub fn python_output(script: &str, args: &[&str], input: &[u8]) -> Output {
    let python = built("PISTON_TEST_PYTHON", ".venv/bin/python");
    run_with_input(
        Command::new(python)
            .arg(python_dir().join(script))
            .args(args),
        input,
    )
}

fn run_with_input(command: &mut Command, input: &[u8]) -> Output {
    use std::io::Write;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the command runs");
    let mut stdin = child.stdin.take().expect("stdin");
    // A command that exits without reading its input is not an error here.
    let _ = stdin.write_all(input);
    drop(stdin);
    child.wait_with_output().expect("the command finishes")
}

/// A response as curl saw it.
#[derive(Debug)]
pub struct CurlReply {
    /// The final status code.
    pub status: u16,
    /// Every response's header block, in order (curl follows auth challenges).
    pub headers: String,
    /// The final body.
    pub body: String,
}

/// Runs `curl --silent ARGS` and returns what it received.
pub fn curl(args: &[&str]) -> CurlReply {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let headers = dir.path().join("headers");
    let output = Command::new("curl")
        .args(["--silent", "--show-error", "--dump-header"])
        .arg(&headers)
        .args(["--write-out", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl runs (install it: apt-get install curl)");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "curl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let (body, status) = stdout.rsplit_once('\n').expect("curl wrote the status");
    CurlReply {
        status: status.trim().parse().expect("a status code"),
        headers: std::fs::read_to_string(&headers).unwrap_or_default(),
        body: body.to_owned(),
    }
}

/// A temporary directory inside the repository's `target/`, so that tools installed
/// in the repository (`.venv`, `node_modules`) are found from it as from a project
/// in the repository.
pub fn scratch_dir() -> tempfile::TempDir {
    let target = workspace().join("target");
    std::fs::create_dir_all(&target).expect("target/");
    tempfile::tempdir_in(target).expect("a temporary directory in target/")
}

/// The repository's `guest-sdk` (the Rust SDK), for projects that depend on it.
pub fn rust_sdk() -> PathBuf {
    workspace().join("guest-sdk")
}

/// A compile cache shared by every test server, so each plugin compiles once per run.
pub fn shared_cache() -> PathBuf {
    workspace().join("target/test-cache")
}

/// Runs `piston ARGS` to completion in `cwd`, with the shared compile cache.
pub fn piston(cwd: &Path, args: &[&str]) -> Output {
    piston_with_input(cwd, args, "")
}

/// Runs `piston ARGS` to completion in `cwd` with `input` on stdin.
pub fn piston_with_input(cwd: &Path, args: &[&str], input: &str) -> Output {
    run_with_input(piston_command(cwd).args(args), input.as_bytes())
}

/// Runs `piston ARGS` to completion in `cwd` with `env` set and `input` on stdin.
pub fn piston_with_env(cwd: &Path, args: &[&str], env: &[(&str, &str)], input: &str) -> Output {
    let mut command = piston_command(cwd);
    command.args(args).envs(env.iter().copied());
    run_with_input(&mut command, input.as_bytes())
}

/// `piston` in `cwd`, with the shared compile cache and no log filter.
fn piston_command(cwd: &Path) -> Command {
    let mut command = Command::new(piston_bin());
    command
        .current_dir(cwd)
        .env("PISTON_CACHE", shared_cache())
        .env_remove("PISTON_LOG");
    command
}

/// Sets up a server: which plugin files, which config, which extra flags.
#[derive(Default, Clone)]
pub struct ServerBuilder {
    files: Vec<(String, Vec<u8>)>,
    config: Option<String>,
    args: Vec<String>,
    address_space: Option<u64>,
    env: Vec<(String, String)>,
}

impl ServerBuilder {
    /// An empty plugin directory.
    pub fn new() -> ServerBuilder {
        ServerBuilder::default()
    }

    /// Adds an example plugin.
    pub fn example(self, name: &str) -> ServerBuilder {
        let path = example_plugin(name);
        self.file_from(&format!("{name}.wasm"), &path)
    }

    /// Adds an example plugin written in another language than Rust.
    pub fn lang_example(self, name: &str) -> ServerBuilder {
        let path = lang_plugin(name);
        self.file_from(&format!("{name}.wasm"), &path)
    }

    /// Adds a fixture plugin.
    pub fn fixture(self, name: &str) -> ServerBuilder {
        let path = fixture_plugin(name);
        self.file_from(&format!("{name}.wasm"), &path)
    }

    /// Adds a file with these bytes to the plugin directory.
    pub fn file(mut self, name: &str, bytes: impl Into<Vec<u8>>) -> ServerBuilder {
        self.files.push((name.to_owned(), bytes.into()));
        self
    }

    fn file_from(self, name: &str, path: &Path) -> ServerBuilder {
        let bytes =
            std::fs::read(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        self.file(name, bytes)
    }

    /// Writes `piston.toml` with this text and passes `--config`.
    pub fn config(mut self, toml: &str) -> ServerBuilder {
        self.config = Some(toml.to_owned());
        self
    }

    /// Passes an extra flag to `piston serve`.
    pub fn arg(mut self, arg: &str) -> ServerBuilder {
        self.args.push(arg.to_owned());
        self
    }

    /// Sets an environment variable of the server's process.
    pub fn env(mut self, name: &str, value: &str) -> ServerBuilder {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Starts the server with its virtual address space limited (`ulimit -v`).
    pub fn address_space(mut self, bytes: u64) -> ServerBuilder {
        self.address_space = Some(bytes);
        self
    }

    /// Starts `count` servers set up alike, at once, and waits until every one listens.
    /// Each has its own directory (plugins, data, configuration) and its own ports.
    pub fn start_many(self, count: usize) -> Vec<Server> {
        std::thread::scope(|scope| {
            let starting: Vec<_> = (0..count)
                .map(|_| {
                    let builder = self.clone();
                    scope.spawn(move || builder.start())
                })
                .collect();
            starting
                .into_iter()
                .map(|started| {
                    started
                        .join()
                        .unwrap_or_else(|failed| std::panic::resume_unwind(failed))
                })
                .collect()
        })
    }

    /// Starts the server and waits until it listens.
    pub fn start(self) -> Server {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let plugins = dir.path().join("plugins");
        std::fs::create_dir(&plugins).expect("the plugin directory");
        for (name, bytes) in &self.files {
            std::fs::write(plugins.join(name), bytes).expect("a plugin file");
        }
        let mut args: Vec<String> = vec![
            "serve".into(),
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--plugins".into(),
            plugins.display().to_string(),
            "--data".into(),
            dir.path().join("data").display().to_string(),
        ];
        if let Some(config) = &self.config {
            let path = dir.path().join("piston.toml");
            std::fs::write(&path, config).expect("the config file");
            args.extend(["--config".into(), path.display().to_string()]);
        }
        args.extend(self.args);
        let Started {
            child,
            url,
            admin_url,
            table,
        } = spawn(dir.path(), &args, self.address_space, &self.env);
        Server {
            dir,
            args,
            address_space: self.address_space,
            env: self.env,
            child,
            url,
            admin_url,
            table,
            client: reqwest::Client::new(),
        }
    }
}

/// A server that has started: its process, its addresses, and the table it printed.
struct Started {
    child: Child,
    url: String,
    admin_url: String,
    table: String,
}

fn spawn(
    dir: &Path,
    args: &[String],
    address_space: Option<u64>,
    env: &[(String, String)],
) -> Started {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("server.log"))
        .expect("the server log");
    let mut command = Command::new(piston_bin());
    command
        .current_dir(dir)
        .args(args)
        .env("PISTON_CACHE", shared_cache())
        .env("PISTON_LOG", "info,piston_host=debug")
        .envs(env.iter().map(|(name, value)| (name, value)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log);
    if let Some(bytes) = address_space {
        use std::os::unix::process::CommandExt;
        // SAFETY: setrlimit is async-signal-safe; nothing else runs in the child.
        unsafe {
            command.pre_exec(move || {
                let limit = libc::rlimit {
                    rlim_cur: bytes,
                    rlim_max: bytes,
                };
                if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let mut child = command.spawn().expect("the piston binary starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut table = String::new();
        let mut admin_url = String::new();
        let mut sent = false;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if !sent {
                if let Some(url) = line.strip_prefix("piston listening on ") {
                    let _ = sender.send((
                        url.to_owned(),
                        std::mem::take(&mut admin_url),
                        std::mem::take(&mut table),
                    ));
                    sent = true;
                } else if let Some(url) = line.strip_prefix("piston admin API on ") {
                    admin_url = url
                        .trim_end_matches('/')
                        .trim_end_matches("/_piston")
                        .to_owned();
                } else if !line.starts_with("store: ") && !line.starts_with("coordination: ") {
                    // The table, not the lines saying where the backends are.
                    table.push_str(&line);
                    table.push('\n');
                }
            }
        }
    });
    match receiver.recv_timeout(STARTUP) {
        Ok((url, admin_url, table)) => Started {
            child,
            url,
            admin_url,
            table,
        },
        Err(_) => {
            let _ = child.kill();
            let status = child.wait().ok();
            let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
            panic!("the server did not start (exit: {status:?}); its log:\n{log}");
        }
    }
}

/// A running `piston serve`, killed when dropped.
pub struct Server {
    dir: tempfile::TempDir,
    args: Vec<String>,
    address_space: Option<u64>,
    env: Vec<(String, String)>,
    child: Child,
    url: String,
    admin_url: String,
    table: String,
    client: reqwest::Client,
}

impl Server {
    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// The admin listener's `http://127.0.0.1:PORT` + `path`.
    pub fn admin_url(&self, path: &str) -> String {
        format!("{}{path}", self.admin_url)
    }

    /// `GET path` on the admin listener.
    pub async fn admin_get(&self, path: &str) -> Reply {
        send(self.client.get(self.admin_url(path))).await
    }

    /// A request to send with [`send`].
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, self.url(path))
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Reply {
        send(self.request(Method::GET, path)).await
    }

    /// A request with a JSON body.
    pub async fn send_json(&self, method: Method, path: &str, body: &Value) -> Reply {
        send(
            self.request(method, path)
                .header("content-type", "application/json")
                .body(body.to_string()),
        )
        .await
    }

    /// `POST path` with a body of the given type.
    pub async fn post_body(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> Reply {
        send(
            self.request(Method::POST, path)
                .header("content-type", content_type)
                .body(body),
        )
        .await
    }

    /// The resource table printed at start.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The row of the resource table for the plugin file `file`.
    pub fn table_row(&self, file: &str) -> String {
        self.table
            .lines()
            .find(|line| line.contains(file))
            .unwrap_or_else(|| panic!("no row for {file} in:\n{}", self.table))
            .to_owned()
    }

    /// Waits until `GET path` answers `status`, at most `within`.
    pub async fn until_status(&self, path: &str, status: u16, within: Duration) {
        let started = std::time::Instant::now();
        while self.get(path).await.status != status {
            assert!(
                started.elapsed() < within,
                "`{path}` did not answer {status} within {within:?}; the log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Everything the server logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// The data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The plugin directory it serves (and watches).
    pub fn plugin_dir(&self) -> PathBuf {
        self.dir.path().join("plugins")
    }

    /// Puts `bytes` into the plugin directory as `name`, the recommended way: written
    /// beside it, then renamed into place.
    pub fn drop_plugin(&self, name: &str, bytes: &[u8]) {
        let staging = self.dir.path().join(format!("{name}.partial"));
        std::fs::write(&staging, bytes).expect("the staged plugin");
        std::fs::rename(&staging, self.plugin_dir().join(name)).expect("the plugin in place");
    }

    /// The configuration file `config` wrote (and `--config` names).
    pub fn config_file(&self) -> PathBuf {
        self.dir.path().join("piston.toml")
    }

    /// Sends the server a signal.
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on the process this test started.
        let sent = unsafe { libc::kill(self.child.id() as i32, signal) };
        assert_eq!(sent, 0, "the server is alive to signal");
    }

    /// The process id of the server.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the server process is still running.
    pub fn is_alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The server's resident memory, in bytes (pages counted in `/proc/PID/statm`).
    pub fn resident_bytes(&self) -> u64 {
        let statm = std::fs::read_to_string(format!("/proc/{}/statm", self.child.id()))
            .expect("the server's /proc statm");
        let pages: u64 = statm
            .split_whitespace()
            .nth(1)
            .and_then(|pages| pages.parse().ok())
            .expect("resident pages in /proc statm");
        // SAFETY: sysconf(3) only reads a system setting.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        pages * u64::try_from(page).unwrap_or(4096)
    }

    /// Waits for the server to exit, at most `within`; its exit status, or `None` if
    /// it is still running.
    pub fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let started = std::time::Instant::now();
        while started.elapsed() < within {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// The `host:port` the server listens on.
    pub fn address(&self) -> String {
        self.url.trim_start_matches("http://").to_owned()
    }

    /// Runs `piston ARGS` on this server's data directory and configuration, with
    /// `input` on stdin (as `piston users` would be run beside a live server).
    pub fn piston(&self, args: &[&str], input: &str) -> Output {
        let mut command = piston_command(self.dir.path());
        command.args(args).arg("--data").arg(self.data_dir());
        if let Some(at) = self.args.iter().position(|arg| arg == "--config") {
            command.arg("--config").arg(&self.args[at + 1]);
        }
        run_with_input(&mut command, input.as_bytes())
    }

    /// Adds a user with `piston users add`, the password on stdin.
    pub fn add_user(&self, username: &str, password: &str, first_name: &str) {
        user_added(self.piston(
            &["users", "add", username, "--first-name", first_name],
            &format!("{password}\n"),
        ));
    }

    /// Kills the server at once (`kill -9`), as a crash would: nothing it had not
    /// finished survives in it. Callable while requests to it are in flight.
    pub fn crash(&self) {
        self.signal(libc::SIGKILL);
    }

    /// Stops the server with SIGTERM (as an operator would) and waits for it.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        // SAFETY: plain kill(2) on our own child.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        self.child.wait().expect("the server exits")
    }

    /// Stops the server and starts it again on the same directories (a new port).
    pub fn restart(&mut self) {
        let status = self.stop();
        assert!(
            status.success(),
            "the server did not stop cleanly: {status}"
        );
        let started = spawn(self.dir.path(), &self.args, self.address_space, &self.env);
        self.child = started.child;
        self.url = started.url;
        self.admin_url = started.admin_url;
        self.table = started.table;
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The headers.
    pub headers: reqwest::header::HeaderMap,
    /// The body.
    pub body: Vec<u8>,
}

impl Reply {
    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// The body as JSON; panics with the body if it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!(
                "not JSON ({error}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Asserts an RFC 9457 problem document with this status and returns it.
    pub fn problem(&self, status: u16) -> Value {
        assert_eq!(
            self.status,
            status,
            "unexpected status; body: {}",
            self.text()
        );
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json")
        );
        let problem = self.json();
        assert_eq!(problem["status"], status);
        assert!(problem["title"].is_string(), "{problem}");
        assert_eq!(
            problem["request_id"].as_str(),
            self.header("x-request-id"),
            "the problem carries the request id"
        );
        problem
    }
}

/// The JSON Pointers of a 400 problem's violations (`errors`), sorted.
pub fn violation_pointers(problem: &Value) -> Vec<String> {
    let mut pointers: Vec<String> = problem["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no field errors in {problem}"))
        .iter()
        .map(|error| error["pointer"].as_str().unwrap().to_owned())
        .collect();
    pointers.sort_unstable();
    pointers
}

/// Sends a request and reads the whole response.
pub async fn send(request: reqwest::RequestBuilder) -> Reply {
    try_send(request).await.expect("the server answers")
}

/// Sends a request and reads the whole response, if the server answers whole (for
/// requests to a server that may be gone).
pub async fn try_send(request: reqwest::RequestBuilder) -> Result<Reply, reqwest::Error> {
    let response = request.send().await?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.bytes().await?.to_vec();
    Ok(Reply {
        status,
        headers,
        body,
    })
}

/// The Redis the tests share (`cargo xtask test` and CI set `PISTON_TEST_REDIS_URL`).
pub fn test_redis_url() -> String {
    std::env::var("PISTON_TEST_REDIS_URL").expect(
        "PISTON_TEST_REDIS_URL is not set: run the tests with `cargo xtask test`, which \
         starts a redis-server for them",
    )
}

/// A key prefix no other test (or earlier run) uses, to share one Redis safely.
pub fn unique_prefix(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!("test:{name}:{}:{nanos}:", std::process::id())
}

/// A `redis-server` of a test's own, to stop and start again on the same port.
pub struct PrivateRedis(piston_test_services::Redis);

impl Default for PrivateRedis {
    fn default() -> PrivateRedis {
        PrivateRedis::new()
    }
}

impl PrivateRedis {
    /// A free port; the server is not started yet.
    pub fn new() -> PrivateRedis {
        PrivateRedis(piston_test_services::Redis::new().unwrap_or_else(|error| panic!("{error}")))
    }

    /// Its URL.
    pub fn url(&self) -> String {
        self.0.url()
    }

    /// Starts it and waits until it accepts connections.
    pub fn start(&mut self) {
        self.0.start().unwrap_or_else(|error| panic!("{error}"));
    }

    /// Kills it.
    pub fn stop(&mut self) {
        self.0.stop();
    }
}

/// A PostgreSQL cluster of a test's own (initdb'd into a scratch directory, on a free
/// loopback port), with a database `piston`, to stop and start again under load.
pub struct PrivatePostgres(piston_test_services::Postgres);

impl PrivatePostgres {
    /// Creates and starts it.
    pub fn start() -> PrivatePostgres {
        let mut cluster =
            piston_test_services::Postgres::create().unwrap_or_else(|error| panic!("{error}"));
        cluster
            .start()
            .and_then(|()| cluster.create_database("piston"))
            .unwrap_or_else(|error| panic!("{error}"));
        PrivatePostgres(cluster)
    }

    /// The URL of its `piston` database.
    pub fn url(&self) -> String {
        self.0.url("piston")
    }

    /// `127.0.0.1:PORT`.
    pub fn address(&self) -> String {
        self.0.address()
    }

    /// Stops it, ending every connection (a fast shutdown).
    pub fn stop(&mut self) {
        self.0.stop().unwrap_or_else(|error| panic!("{error}"));
    }

    /// Starts it again: the same port, the same data.
    pub fn restart(&mut self) {
        self.0.start().unwrap_or_else(|error| panic!("{error}"));
    }
}

/// The PostgreSQL the tests share (`cargo xtask test` and CI set
/// `PISTON_TEST_POSTGRES_URL`): a database on it whose owner may create databases.
pub fn test_postgres_url() -> String {
    std::env::var("PISTON_TEST_POSTGRES_URL").expect(
        "PISTON_TEST_POSTGRES_URL is not set: run the tests with `cargo xtask test`, which \
         starts a private PostgreSQL cluster for them (or name a database whose user may \
         create databases)",
    )
}

/// `url` (`postgres://USER@HOST:PORT/DATABASE?OPTIONS`) naming `database` instead.
fn with_database(url: &str, database: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a postgres:// URL");
    let authority = rest.find(['/', '?']).unwrap_or(rest.len());
    let options = rest[authority..]
        .find('?')
        .map_or("", |at| &rest[authority + at..]);
    format!("{scheme}://{}/{database}{options}", &rest[..authority])
}

/// Runs `work` with a connection to `url`, on a thread of its own: the synchronous
/// client runs its own runtime, which cannot start inside a test's.
fn with_postgres<T: Send + 'static>(
    url: String,
    work: impl FnOnce(&mut postgres::Client) -> Result<T, postgres::Error> + Send + 'static,
) -> Result<T, String> {
    std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&url, postgres::NoTls)
            .map_err(|error| format!("cannot connect to {url}: {error}"))?;
        work(&mut client).map_err(|error| error.to_string())
    })
    .join()
    .expect("the PostgreSQL client thread")
}

/// A database of one test's own on the shared PostgreSQL (so tests run in parallel and
/// start empty), dropped at the end.
pub struct TestDatabase {
    /// The shared database, connected to for creating and dropping this one.
    admin: String,
    name: String,
}

impl TestDatabase {
    /// A new, empty database on the server `PISTON_TEST_POSTGRES_URL` names.
    pub fn create() -> TestDatabase {
        TestDatabase::create_on(&test_postgres_url())
    }

    /// A new, empty database on the server of `url`.
    pub fn create_on(url: &str) -> TestDatabase {
        let name = unique_prefix("")
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect::<String>();
        let name = format!("piston_{}", name.trim_matches('_'));
        let statement = format!("CREATE DATABASE {name}");
        with_postgres(url.to_owned(), move |client| {
            client.batch_execute(&statement)
        })
        .unwrap_or_else(|error| panic!("creating a test database: {error}"));
        TestDatabase {
            admin: url.to_owned(),
            name,
        }
    }

    /// Its URL.
    pub fn url(&self) -> String {
        with_database(&self.admin, &self.name)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // FORCE: a host killed mid-test may leave connections behind for a while.
        let statement = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        if let Err(error) = with_postgres(self.admin.clone(), move |client| {
            client.batch_execute(&statement)
        }) {
            eprintln!("could not drop the test database {}: {error}", self.name);
        }
    }
}

/// The `[store]` and `[coordination]` sections that make hosts share their state:
/// plugin data and credentials in the PostgreSQL database `store_url`, counters and
/// nonces in the shared test Redis under `key_prefix`. The coordination timeout is
/// generous: these tests count verdicts, and on a loaded machine a call can be slow.
pub fn shared_state_config(store_url: &str, key_prefix: &str) -> String {
    format!(
        "[store]\nbackend = \"postgres\"\nurl = \"{store_url}\"\n\n\
         [coordination]\nbackend = \"redis\"\nurl = \"{}\"\nkey_prefix = \"{key_prefix}\"\n\
         timeout = \"10s\"\n",
        test_redis_url()
    )
}

/// Several `piston serve` processes on loopback, each with its own directories and
/// ports and the same plugins and configuration, sharing state through PostgreSQL and
/// Redis; and the `piston` command run against the same configuration.
pub struct Hosts {
    servers: Vec<Server>,
    /// Holds the configuration the `piston` command is given.
    dir: tempfile::TempDir,
    /// The database of [`Hosts::sharing`], dropped after the hosts stop.
    database: Option<TestDatabase>,
}

impl Hosts {
    /// Starts `count` hosts of `builder` sharing a fresh database on the test PostgreSQL
    /// and a fresh key prefix on the test Redis, with `extra` configuration after the
    /// `[store]` and `[coordination]` sections.
    pub fn sharing(count: usize, builder: ServerBuilder, extra: &str) -> Hosts {
        let database = TestDatabase::create();
        let config = format!(
            "{}\n{extra}",
            shared_state_config(&database.url(), &unique_prefix("hosts"))
        );
        let mut hosts = Hosts::start(count, builder, &config);
        hosts.database = Some(database);
        hosts
    }

    /// Starts `count` hosts of `builder` with the configuration `config` (which names
    /// the shared backends: see [`shared_state_config`]).
    pub fn start(count: usize, builder: ServerBuilder, config: &str) -> Hosts {
        let dir = tempfile::tempdir().expect("a temporary directory");
        std::fs::write(dir.path().join("piston.toml"), config).expect("the config file");
        Hosts {
            servers: builder.config(config).start_many(count),
            dir,
            database: None,
        }
    }

    /// Host `index`, counting round: `host(n)` for request `n` alternates.
    pub fn host(&self, index: usize) -> &Server {
        &self.servers[index % self.servers.len()]
    }

    /// Every host.
    pub fn all(&self) -> &[Server] {
        &self.servers
    }

    /// How many hosts there are.
    pub fn len(&self) -> usize {
        self.servers.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.servers.is_empty()
    }

    /// The configuration file every host was started with.
    pub fn config_file(&self) -> PathBuf {
        self.dir.path().join("piston.toml")
    }

    /// Runs `piston ARGS --config FILE` with the hosts' configuration and a data
    /// directory none of them uses, with `input` on stdin: what it changes reaches the
    /// hosts through the shared store or not at all.
    pub fn piston(&self, args: &[&str], input: &str) -> Output {
        piston_with_config(&self.config_file(), args, input)
    }

    /// Adds a user with `piston users add`, the password on stdin.
    pub fn add_user(&self, username: &str, password: &str, first_name: &str) {
        add_user_with_config(&self.config_file(), username, password, first_name);
    }
}

/// Runs `piston ARGS --config CONFIG` in a scratch directory (so with a data
/// directory of its own), with `input` on stdin.
pub fn piston_with_config(config: &Path, args: &[&str], input: &str) -> Output {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut command = piston_command(dir.path());
    command
        .args(args)
        .arg("--config")
        .arg(config)
        .arg("--data")
        .arg(dir.path().join("data"));
    run_with_input(&mut command, input.as_bytes())
}

/// `piston users add USERNAME --first-name FIRST-NAME --config CONFIG`, the password on
/// stdin; panics if it fails.
pub fn add_user_with_config(config: &Path, username: &str, password: &str, first_name: &str) {
    user_added(piston_with_config(
        config,
        &["users", "add", username, "--first-name", first_name],
        &format!("{password}\n"),
    ));
}

/// Checks that `piston users add` succeeded.
fn user_added(output: Output) {
    assert!(
        output.status.success(),
        "users add failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Checks that `piston` refuses each configuration text (exit status 2) with an error
/// naming the key it is paired with.
pub fn assert_config_errors_name_their_keys(cases: &[(&str, &str)]) {
    let dir = scratch_dir();
    let config = dir.path().join("bad.toml");
    for (text, key) in cases {
        std::fs::write(&config, text).unwrap();
        let output = piston(
            dir.path(),
            &["list", "--config", config.to_str().unwrap(), "."],
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{text}: {stderr}");
        assert!(stderr.contains(key), "{text}: {stderr}");
    }
}

/// `GET path` sent in a loop to each of some servers, by several loops at once, until
/// [`Load::finish`]: traffic kept up while something changes underneath.
pub struct Load {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    loops: Vec<tokio::task::JoinHandle<Vec<Reply>>>,
}

impl Load {
    /// Starts `per_server` loops for each server.
    pub fn start(servers: &[std::sync::Arc<Server>], path: &str, per_server: usize) -> Load {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut loops = Vec::new();
        for server in servers {
            for _ in 0..per_server {
                let (server, stop, path) = (server.clone(), stop.clone(), path.to_owned());
                loops.push(tokio::spawn(async move {
                    let mut answers = Vec::new();
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        answers.push(send(server.request(Method::GET, &path)).await);
                    }
                    answers
                }));
            }
        }
        Load { stop, loops }
    }

    /// Stops the loops; every answer they got, at least `minimum` of them.
    pub async fn finish(self, minimum: usize) -> Vec<Reply> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut answers = Vec::new();
        for task in self.loops {
            answers.extend(task.await.expect("a load loop"));
        }
        assert!(
            answers.len() >= minimum,
            "the load ran: {} answers",
            answers.len()
        );
        answers
    }
}
