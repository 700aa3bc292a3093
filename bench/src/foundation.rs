//! `GET /posts/hello-world` on the blog plugin — warm instance pool, then one instance
//! per request — against native axum: serializing the same JSON from memory, and doing
//! the plugin's own work (SQLite read, JSON in and out). With `--compare PISTON`, an
//! earlier build is measured beside this one, in the same rounds.

use crate::harness::{
    Bench, Load, NATIVE_SAME_WORK, Server, machine, median, request_isolation, wrk,
};
use crate::{Options, Result};
use std::path::PathBuf;

/// What serves in one contender.
enum Kind {
    /// The native baseline, at this path.
    Native(&'static str),
    /// Piston (this build, or the binary given), with a fresh instance for every
    /// request if set, and `piston.toml`'s `[server]` lines if any.
    Piston {
        per_request: bool,
        server: &'static str,
        binary: Option<PathBuf>,
    },
}

/// The warm pool without access lines, and without them and metrics: what recording
/// metrics costs, and what an access line a request costs, measured side by side.
const QUIET: &str = "access_log = false\n";
const BARE: &str = "access_log = false\nmetrics = false\n";

struct Contender {
    label: String,
    kind: Kind,
}

/// The native baselines and this build, then the compared build if there is one.
fn contenders(compare: Option<&PathBuf>) -> Vec<Contender> {
    let mut contenders = vec![
        Contender {
            label: "native axum: the JSON built in memory".to_owned(),
            kind: Kind::Native("/posts/hello-world"),
        },
        Contender {
            label: NATIVE_SAME_WORK.0.to_owned(),
            kind: Kind::Native(NATIVE_SAME_WORK.1),
        },
    ];
    let builds = [None].into_iter().chain(compare.map(Some));
    for binary in builds {
        let which = match &binary {
            None => "Piston".to_owned(),
            Some(path) => format!("Piston `{}`", path.display()),
        };
        contenders.push(Contender {
            label: format!("{which}, warm instance pool"),
            kind: Kind::Piston {
                per_request: false,
                server: "",
                binary: binary.cloned(),
            },
        });
        contenders.push(Contender {
            label: format!("{which}, `isolation = \"request\"`"),
            kind: Kind::Piston {
                per_request: true,
                server: "",
                binary: binary.cloned(),
            },
        });
        if binary.is_none() {
            for (server, label) in [
                (QUIET, "`access_log = false`"),
                (BARE, "`access_log = false`, `metrics = false`"),
            ] {
                contenders.push(Contender {
                    label: format!("{which}, warm instance pool, {label}"),
                    kind: Kind::Piston {
                        per_request: false,
                        server,
                        binary: None,
                    },
                });
            }
        }
    }
    contenders
}

/// Starts a contender and returns it with the path to load.
fn start(bench: &Bench, kind: &Kind) -> Result<(Server, &'static str)> {
    match kind {
        Kind::Native(path) => Ok((bench.native()?, path)),
        Kind::Piston {
            per_request,
            server,
            binary,
        } => {
            let plugins = bench.plugin_dir("foundation-plugins", &["blog"])?;
            let (data, config) = if *per_request {
                ("foundation-request", Some(request_isolation("blog")))
            } else if server.is_empty() {
                ("foundation-pool", None)
            } else {
                ("foundation-pool", Some(format!("[server]\n{server}")))
            };
            let server = match binary {
                None => bench.piston(&plugins, data, config.as_deref())?,
                Some(binary) => bench.piston_binary(binary, &plugins, data, config.as_deref())?,
            };
            server.seed_hello_world()?;
            Ok((server, "/posts/hello-world"))
        }
    }
}

pub fn run(options: &Options, bench: &Bench) -> Result<String> {
    let contenders = contenders(options.compare.as_ref());
    let mut results: Vec<Vec<Load>> = contenders.iter().map(|_| Vec::new()).collect();
    for round in 1..=options.rounds {
        for (contender, loads) in contenders.iter().zip(&mut results) {
            let (server, path) = start(bench, &contender.kind)?;
            let url = format!("{}{path}", server.url);
            server.expect_ok(path)?;
            wrk(&url, 2, options.connections)?; // warm-up
            let load = wrk(&url, options.seconds, options.connections)?;
            eprintln!(
                "foundation {round}/{}: {:<62} {:>8.0} req/s  p50 {:>6.0} µs  p99 {:>6.0} µs",
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
    // Each cost from the round-by-round ratio of two contenders run back to back, the
    // median of the rounds: steadier on a shared machine than a ratio of medians.
    let cost = |with: usize, without: usize| {
        let mut ratios: Vec<f64> = results[with]
            .iter()
            .zip(&results[without])
            .map(|(with, without)| with.requests_per_second / without.requests_per_second)
            .collect();
        ratios.sort_by(f64::total_cmp);
        (1.0 - ratios[ratios.len() / 2]) * 100.0
    };
    let telemetry = format!(
        "Recording metrics costs {:.1}% of the warm pool's throughput (`access_log = false`, \
         metrics on against off; target: at most 2%); one access line a request, written to \
         a discarded stderr, costs {:.1}% more (each the median of the rounds' ratios).\n\n",
        cost(4, 5),
        cost(2, 4),
    );
    let compared = match (&options.compare, medians.get(6), medians.get(7)) {
        (Some(binary), Some(pool), Some(per_request)) => format!(
            "This build against `{}`: warm pool {:.3}, per-request isolation {:.3} \
             (requests/s, this build's over the other's).\n\n",
            binary.display(),
            medians[2].requests_per_second / pool.requests_per_second,
            medians[3].requests_per_second / per_request.requests_per_second,
        ),
        _ => String::new(),
    };
    Ok(format!(
        "## Foundation: `GET /posts/hello-world`\n\n\
         {machine}. Server pinned to CPU 0, wrk (1 thread, {connections} connections, {seconds} s \
         after a 2 s warm-up) on CPU 1; median of {rounds} rounds, contenders interleaved. \
         The blog plugin reads the post from the embedded SQLite store on every request, \
         deserializes it and serializes the view, and the host filters it by the resource's \
         fields and adds its `resource_uri`; the first native baseline builds and serializes \
         the same JSON from memory, the second does what the plugin does.\n\n\
         {table}\n\
         Target: the warm pool reaches at least 0.60 of native. Against native serializing \
         from memory: **{pool_ratio:.2}, {verdict}**. Against native doing the same work as \
         the plugin: **{pool_same_work:.2}**.\n\n\
         {telemetry}{compared}\
         Reproduce: `cargo xtask bench -- foundation`.\n",
        machine = machine(),
        connections = options.connections,
        seconds = options.seconds,
        rounds = options.rounds,
        verdict = if pool_ratio >= 0.60 { "met" } else { "not met" },
    ))
}
