//! Private Redis, PostgreSQL and OCI registry servers on loopback, each on a free port with its files
//! in a scratch directory, stopped (and the files removed) when dropped.
//!
//! `cargo xtask test` starts one of each for a test run unless the environment names
//! one; tests that stop and start a backend under load start their own; the store
//! benchmark starts a PostgreSQL. Everything here is the standard library and the
//! servers' own programs, so that xtask stays quick to build.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What went wrong, for people.
pub type Result<T = (), E = String> = std::result::Result<T, E>;

/// How a server's programs are started: as they are, or (the benchmarks) pinned to a
/// CPU by a wrapper such as `taskset`.
pub type Launcher = fn(&Path) -> Command;

/// Starts `program` as it is.
pub fn direct(program: &Path) -> Command {
    Command::new(program)
}

/// How long a server may take to accept connections.
const STARTUP: Duration = Duration::from_secs(30);

/// A loopback port nobody listens on now.
pub fn free_port() -> Result<u16> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(|error| format!("cannot find a free loopback port: {error}"))
}

/// Waits until something accepts connections on the loopback `port`.
fn wait_for_port(port: u16, what: &str) -> Result {
    let started = Instant::now();
    while started.elapsed() < STARTUP {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!(
        "{what} did not listen on 127.0.0.1:{port} within {STARTUP:?}"
    ))
}

/// The command line of `command`, for messages.
fn shown(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|part| part.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `command` to completion; its output is the error if it fails.
fn run(command: &mut Command) -> Result<String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|error| format!("cannot run `{}`: {error}", shown(command)))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(format!(
            "`{}` failed ({}): {}{}",
            shown(command),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// A `redis-server` with nothing saved to disk, on a port of its own.
pub struct Redis {
    port: u16,
    launcher: Launcher,
    child: Option<Child>,
}

impl Redis {
    /// A free port; the server is not started yet.
    pub fn new() -> Result<Redis> {
        Ok(Redis {
            port: free_port()?,
            launcher: direct,
            child: None,
        })
    }

    /// Starts the server's program through `launcher`.
    pub fn launched_by(mut self, launcher: Launcher) -> Redis {
        self.launcher = launcher;
        self
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Starts it (again, on the same port) and waits until it accepts connections.
    pub fn start(&mut self) -> Result {
        let child = (self.launcher)(Path::new("redis-server"))
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .map_err(|error| {
                format!(
                    "cannot start redis-server ({error}); install it (Debian: apt-get install \
                     redis-server)"
                )
            })?;
        self.child = Some(child);
        wait_for_port(self.port, "redis-server")
    }

    /// Kills it, as an outage would.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The PostgreSQL role every private cluster is created with, whoever runs it.
pub const POSTGRES_ROLE: &str = "piston";

/// A PostgreSQL cluster of its own: `initdb` into a scratch directory, listening on one
/// loopback port only, no Unix socket, trusting loopback connections (nothing else can
/// reach it), with `fsync` on because the tests check that answered writes survive.
///
/// PostgreSQL refuses to run as root; as root, the cluster belongs to and runs as the
/// `postgres` user that Debian's package creates (or `nobody`).
pub struct Postgres {
    bin: PathBuf,
    /// The scratch directory, owned by `user`; the cluster is in `data` in it.
    scratch: PathBuf,
    port: u16,
    /// The user the programs run as, if not this process's.
    user: Option<String>,
    launcher: Launcher,
    running: bool,
}

impl Postgres {
    /// Creates a cluster (not started yet) on a free port.
    pub fn create() -> Result<Postgres> {
        Postgres::create_with(direct)
    }

    /// As [`Postgres::create`], the server started through `launcher`.
    pub fn create_with(launcher: Launcher) -> Result<Postgres> {
        let bin = postgres_bin()?;
        let user = other_user()?;
        let scratch = PathBuf::from(
            run(as_user(user.as_deref(), Path::new("mktemp"))
                .args(["-d", "-t", "piston-postgres.XXXXXXXX"])
                .current_dir("/"))?
            .trim(),
        );
        let cluster = Postgres {
            bin,
            scratch,
            port: free_port()?,
            user,
            launcher,
            running: false,
        };
        // `--no-sync` only skips flushing the fresh cluster's files at the end of
        // initdb; the server itself runs with fsync on.
        run(cluster
            .program("initdb")
            .arg("--pgdata")
            .arg(cluster.data())
            .args(["--username", POSTGRES_ROLE, "--auth", "trust"])
            .args(["--encoding", "UTF8", "--locale", "C", "--no-sync"]))?;
        let settings = format!(
            "listen_addresses = '127.0.0.1'\nport = {}\nunix_socket_directories = ''\n\
             fsync = on\nmax_connections = 500\nshared_buffers = 32MB\n",
            cluster.port
        );
        std::fs::OpenOptions::new()
            .append(true)
            .open(cluster.data().join("postgresql.conf"))
            .and_then(|mut file| std::io::Write::write_all(&mut file, settings.as_bytes()))
            .map_err(|error| format!("cannot configure the PostgreSQL cluster: {error}"))?;
        Ok(cluster)
    }

    fn data(&self) -> PathBuf {
        self.scratch.join("data")
    }

    /// One of PostgreSQL's programs, run as the cluster's user from its directory.
    fn program(&self, name: &str) -> Command {
        let mut command = as_user(self.user.as_deref(), &self.bin.join(name));
        command.current_dir(&self.scratch);
        command
    }

    /// The URL of `database` in it.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{POSTGRES_ROLE}@127.0.0.1:{}/{database}",
            self.port
        )
    }

    /// Where it listens: `127.0.0.1:PORT`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Starts it (again: the same port and data) and waits until it accepts connections.
    pub fn start(&mut self) -> Result {
        let pg_ctl = self.program("pg_ctl");
        let mut command = (self.launcher)(Path::new(pg_ctl.get_program()));
        command
            .args(pg_ctl.get_args())
            .current_dir(&self.scratch)
            .arg("start")
            .arg("--pgdata")
            .arg(self.data())
            .arg("--log")
            .arg(self.scratch.join("server.log"))
            .args(["--wait", "--silent"]);
        run(&mut command).map_err(|error| format!("{error}\n{}", self.log()))?;
        self.running = true;
        wait_for_port(self.port, "PostgreSQL")
    }

    /// Stops it, ending every connection at once (`pg_ctl stop --mode fast`).
    pub fn stop(&mut self) -> Result {
        self.stop_with("fast")
    }

    fn stop_with(&mut self, mode: &str) -> Result {
        if !self.running {
            return Ok(());
        }
        run(self
            .program("pg_ctl")
            .arg("stop")
            .arg("--pgdata")
            .arg(self.data())
            .args(["--mode", mode, "--wait", "--silent"]))?;
        self.running = false;
        Ok(())
    }

    /// Creates a database owned by the cluster's role.
    pub fn create_database(&self, name: &str) -> Result {
        run(self
            .program("createdb")
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--username", POSTGRES_ROLE, name]))
        .map(drop)
    }

    /// What the server logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.scratch.join("server.log")).unwrap_or_default()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self.stop_with("immediate");
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}

/// `program`, run as `user` when there is one (through `runuser`, as root may).
fn as_user(user: Option<&str>, program: &Path) -> Command {
    match user {
        None => Command::new(program),
        Some(user) => {
            let mut command = Command::new("runuser");
            command.args(["-u", user, "--"]).arg(program);
            command
        }
    }
}

/// As root, the user PostgreSQL runs as: `postgres` if there is one, else `nobody`.
fn other_user() -> Result<Option<String>> {
    let uid = run(Command::new("id").arg("-u"))?;
    if uid.trim() != "0" {
        return Ok(None);
    }
    let exists = |name: &str| {
        Command::new("id")
            .args(["-u", name])
            .output()
            .is_ok_and(|output| output.status.success())
    };
    ["postgres", "nobody"]
        .into_iter()
        .find(|name| exists(name))
        .map(|name| Some(name.to_owned()))
        .ok_or_else(|| {
            "PostgreSQL refuses to run as root, and there is no `postgres` or `nobody` user \
             to run it as"
                .to_owned()
        })
}

/// The directory of PostgreSQL's server programs: the one `initdb` on `PATH` is in
/// (through symbolic links), else Debian's `/usr/lib/postgresql/VERSION/bin`, the
/// newest version.
fn postgres_bin() -> Result<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .map(|dir| dir.join("initdb"))
        .find(|initdb| initdb.is_file())
        .and_then(|initdb| std::fs::canonicalize(initdb).ok())
        .and_then(|initdb| initdb.parent().map(Path::to_owned));
    let debian = || {
        let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|entry| {
                let entry = entry.ok()?;
                let version = entry.file_name().to_str()?.parse().ok()?;
                let bin = entry.path().join("bin");
                bin.join("initdb").is_file().then_some((version, bin))
            })
            .collect();
        versions.sort();
        versions.pop().map(|(_, bin)| bin)
    };
    on_path
        .filter(|bin| bin.join("pg_ctl").is_file())
        .or_else(debian)
        .ok_or_else(|| {
            "PostgreSQL's server programs (initdb, pg_ctl) are not installed: install them \
             (Debian: apt-get install postgresql)"
                .to_owned()
        })
}

/// A registry of OCI artifacts: Debian's `docker-registry` (the CNCF distribution
/// registry) on a loopback port over plain HTTP, storing in a scratch directory, with
/// Basic authentication against an htpasswd file when it is given one.
pub struct OciRegistry {
    scratch: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl OciRegistry {
    /// A registry anyone may push to and pull from; not started yet.
    pub fn new() -> Result<OciRegistry> {
        OciRegistry::create(None)
    }

    /// A registry that admits only the users of `htpasswd` (bcrypt lines, as
    /// `htpasswd -B` writes them); not started yet.
    pub fn with_users(htpasswd: &str) -> Result<OciRegistry> {
        OciRegistry::create(Some(htpasswd))
    }

    fn create(htpasswd: Option<&str>) -> Result<OciRegistry> {
        let port = free_port()?;
        let scratch =
            std::env::temp_dir().join(format!("piston-registry-{}-{port}", std::process::id()));
        let write = |name: &str, text: &str| {
            std::fs::create_dir_all(&scratch)
                .and_then(|()| std::fs::write(scratch.join(name), text))
                .map_err(|error| format!("cannot set up the registry: {error}"))
        };
        let auth = match htpasswd {
            Some(users) => {
                write("htpasswd", users)?;
                format!(
                    "auth:\n  htpasswd:\n    realm: piston-test\n    path: {}\n",
                    scratch.join("htpasswd").display()
                )
            }
            None => String::new(),
        };
        write(
            "config.yml",
            &format!(
                "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n\
                 storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
                 http:\n  addr: 127.0.0.1:{port}\n  secret: piston-test\n{auth}",
                scratch.join("storage").display()
            ),
        )?;
        Ok(OciRegistry {
            scratch,
            port,
            child: None,
        })
    }

    /// Where it listens: `127.0.0.1:PORT`, as references name it.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Where it keeps blobs and manifests (`docker/registry/v2/...`).
    pub fn storage(&self) -> PathBuf {
        self.scratch.join("storage")
    }

    /// Starts it (again: the same port and storage) and waits until it accepts
    /// connections.
    pub fn start(&mut self) -> Result {
        let log = std::fs::File::create(self.scratch.join("registry.log"))
            .map_err(|error| format!("cannot set up the registry: {error}"))?;
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(self.scratch.join("config.yml"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|error| {
                format!(
                    "cannot start docker-registry ({error}); install it (Debian: apt-get \
                     install docker-registry)"
                )
            })?;
        self.child = Some(child);
        wait_for_port(self.port, "docker-registry")
            .map_err(|error| format!("{error}\n{}", self.log()))
    }

    /// Kills it, as an outage would.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// What it logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.scratch.join("registry.log")).unwrap_or_default()
    }
}

impl Drop for OciRegistry {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_keeps_its_databases_over_a_restart_and_leaves_nothing_behind() {
        let mut cluster = Postgres::create().unwrap();
        cluster.start().unwrap();
        cluster.create_database("kept").unwrap();
        cluster.stop().unwrap();
        assert!(std::net::TcpStream::connect(cluster.address()).is_err());
        cluster.start().unwrap();
        let again = cluster.create_database("kept").unwrap_err();
        assert!(again.contains("already exists"), "{again}");
        let scratch = cluster.scratch.clone();
        drop(cluster);
        assert!(!scratch.exists(), "{} is left", scratch.display());
    }

    #[test]
    fn redis_stops_and_starts_again_on_its_port() {
        let mut redis = Redis::new().unwrap();
        redis.start().unwrap();
        redis.stop();
        assert!(std::net::TcpStream::connect(("127.0.0.1", redis.port)).is_err());
        redis.start().unwrap();
        assert!(std::net::TcpStream::connect(("127.0.0.1", redis.port)).is_ok());
    }
}
