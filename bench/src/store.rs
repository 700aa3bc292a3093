//! The store: the blog's read (`GET /posts/hello-world`) and write (`POST /posts`, a
//! new post each time) with its data in the embedded SQLite (one host), in PostgreSQL
//! (one host), and in PostgreSQL shared by two hosts (with Redis for coordination)
//! that the load generator alternates between, all in one run, against SQLite.
//!
//! The PostgreSQL is the one `PISTON_BENCH_POSTGRES_URL` names, or a private cluster
//! started here; either way it shares the load generator's CPU, like Redis in the
//! throttling suite, so that the servers under test keep theirs.

use crate::harness::{Bench, Load, Target, interleaved_targets, machine, on_load_cpu};
use crate::{Options, Result};
use piston_test_services::{Postgres, Redis};
use std::path::PathBuf;

/// Makes every request a create of a post no other request made: titles carry the run's
/// tag (handed over by the harness) and a count.
const CREATE_SCRIPT: &str = r#"
local tag = "run"
local sent = 0

function init(args)
  tag = args[1]
end

function request()
  sent = sent + 1
  local body = string.format('{"title": "Bench %s %d", "content": "Load."}', tag, sent)
  return wrk.format("POST", "/posts", { ["Content-Type"] = "application/json" }, body)
end
"#;

/// The database the PostgreSQL setups share (they run one at a time).
const DATABASE: &str = "piston_bench";

/// Where the store lives in one setup.
struct Setup {
    label: &'static str,
    /// Its hosts: each URL one `piston serve`.
    urls: Vec<String>,
}

pub fn run(options: &Options, bench: &Bench) -> Result<String> {
    let (postgres_url, cluster) = postgres()?;
    let mut redis = Redis::new()?.launched_by(on_load_cpu);
    redis.start()?;
    let plugins = bench.plugin_dir("store-plugins", &["blog"])?;
    let store = format!("[store]\nbackend = \"postgres\"\nurl = \"{postgres_url}\"\n");
    let shared = format!(
        "{store}\n[coordination]\nbackend = \"redis\"\nurl = \"{}\"\n",
        redis.url()
    );

    let mut servers = Vec::new();
    let mut setups = Vec::new();
    for (label, config, hosts) in [
        ("SQLite, one host", None, 1),
        ("PostgreSQL, one host", Some(&store), 1),
        ("PostgreSQL, two hosts, alternating", Some(&shared), 2),
    ] {
        let mut urls = Vec::new();
        for host in 0..hosts {
            let data = format!("store-{}-{host}", setups.len());
            let server = bench.piston(&plugins, &data, config.map(String::as_str))?;
            server.seed_hello_world()?;
            urls.push(server.url.clone());
            servers.push(server);
        }
        setups.push(Setup { label, urls });
    }

    let script = bench.work.path().join("store-create.lua");
    std::fs::write(&script, CREATE_SCRIPT).map_err(|error| error.to_string())?;
    let targets: Vec<Target> = setups
        .iter()
        .flat_map(|setup| {
            [
                target(setup, "read", "/posts/hello-world", None),
                target(setup, "write", "/posts", Some(script.clone())),
            ]
        })
        .collect();
    let medians = interleaved_targets("store", options, &targets)?;
    let (sqlite_read, sqlite_write) = (&medians[0], &medians[1]);

    let mut table = String::from(
        "| store | read: requests/s | p99 | vs SQLite | write: requests/s | p99 | vs SQLite |\n\
         |---|---:|---:|---:|---:|---:|---:|\n",
    );
    for (setup, loads) in setups.iter().zip(medians.chunks(2)) {
        let ratio = |load: &Load, base: &Load| load.requests_per_second / base.requests_per_second;
        table.push_str(&format!(
            "| {} | {:.0} | {:.0} µs | {:.2} | {:.0} | {:.0} µs | {:.2} |\n",
            setup.label,
            loads[0].requests_per_second,
            loads[0].p99_micros,
            ratio(&loads[0], sqlite_read),
            loads[1].requests_per_second,
            loads[1].p99_micros,
            ratio(&loads[1], sqlite_write),
        ));
    }
    Ok(format!(
        "## Store: SQLite, PostgreSQL, two hosts\n\n{machine}.\n\n\
         The blog plugin reading one post (`GET /posts/hello-world`) and creating posts \
         (`POST /posts`, each a new slug: two increments, a read and a write in the store) \
         with its data in the embedded SQLite, in PostgreSQL, and in PostgreSQL shared by \
         two hosts (with Redis for coordination); wrk ({connections} connections, {seconds} s \
         after a 2 s warm-up; for two hosts, one wrk per host with half the connections, \
         requests/s added up, the worse latency shown), median of {rounds} rounds, setups \
         interleaved. Every host is pinned to CPU 0, so two hosts share one core: the row \
         shows what sharing the store costs, not what a second machine adds. PostgreSQL \
         ({postgres}) and Redis share CPU 1 with wrk.\n\n{table}\n\
         Reproduce: `cargo xtask bench -- store` (a private PostgreSQL cluster unless \
         `PISTON_BENCH_POSTGRES_URL` names a database).\n",
        machine = machine(),
        connections = options.connections,
        seconds = options.seconds,
        rounds = options.rounds,
        postgres = if cluster.is_some() {
            "a private cluster, `fsync` on"
        } else {
            "`PISTON_BENCH_POSTGRES_URL`"
        },
    ))
}

fn target(setup: &Setup, what: &str, path: &str, script: Option<PathBuf>) -> Target {
    Target {
        label: format!("{}: {what}", setup.label),
        urls: setup
            .urls
            .iter()
            .map(|url| format!("{url}{path}"))
            .collect(),
        script,
    }
}

/// The PostgreSQL database to use, and the private cluster holding it if one was
/// started (stopped and removed when dropped).
fn postgres() -> Result<(String, Option<Postgres>)> {
    if let Ok(url) = std::env::var("PISTON_BENCH_POSTGRES_URL") {
        return Ok((url, None));
    }
    let mut cluster = Postgres::create_with(on_load_cpu)
        .map_err(|error| format!("{error}; or set PISTON_BENCH_POSTGRES_URL"))?;
    cluster.start()?;
    cluster.create_database(DATABASE)?;
    Ok((cluster.url(DATABASE), Some(cluster)))
}
