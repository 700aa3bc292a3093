//! Throttling: `GET /posts/hello-world` on a throttled resource whose limit is never
//! reached, with in-process and with Redis counters, against the same resource
//! unthrottled, in one run.

use crate::harness::{Bench, interleaved, machine, pinned, ratio_table};
use crate::{Options, Result};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

/// Never reached in a benchmark.
const LIMIT: &str =
    "[plugins.blog.resources.post]\nthrottle = [{ requests = 1000000000, period = \"1h\" }]\n";

pub fn run(options: &Options, bench: &Bench) -> Result<String> {
    let redis = Redis::start()?;
    let plugins = bench.plugin_dir("throttle-plugins", &["blog"])?;
    let redis_config = format!(
        "[throttle]\nbackend = \"redis\"\nredis_url = \"{}\"\n{LIMIT}",
        redis.url
    );
    let setups = [
        ("unthrottled", None),
        ("throttled, in-process counters", Some(LIMIT.to_owned())),
        ("throttled, Redis counters", Some(redis_config)),
    ];
    let mut servers = Vec::new();
    for (index, (_, config)) in setups.iter().enumerate() {
        let server = bench.piston(&plugins, &format!("throttle-{index}"), config.as_deref())?;
        server.seed_hello_world()?;
        servers.push(server);
    }
    let contenders: Vec<(String, String)> = setups
        .iter()
        .zip(&servers)
        .map(|((name, _), server)| {
            (
                (*name).to_owned(),
                format!("{}/posts/hello-world", server.url),
            )
        })
        .collect();
    let medians = interleaved("throttle", options, &contenders)?;
    let table = ratio_table("setup", "unthrottled", &contenders, &medians);
    Ok(format!(
        "## Throttling\n\n{machine}.\n\n\
         `GET /posts/hello-world` on the blog plugin (warm pool) with a rule on the `post` \
         resource that the load never reaches, so every request is counted and admitted; \
         wrk as above, median of {rounds} rounds, setups interleaved. Every request comes \
         from one client address, so all of them update the same counter: the contended \
         case. Redis (`redis-server` from Debian, on loopback, sharing CPU 1 with wrk) \
         decides the requests that arrived during one script call together in the next.\n\n{table}\n\
         Reproduce: `cargo xtask bench -- throttle`.\n",
        machine = machine(),
        rounds = options.rounds,
    ))
}

/// A private `redis-server` on a free port, pinned to the load generator's CPU.
struct Redis {
    url: String,
    child: Child,
}

impl Redis {
    fn start() -> Result<Redis> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map_err(|error| format!("no free port for Redis: {error}"))?
            .port();
        let child = pinned(Path::new("redis-server"), 1)
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .map_err(|error| {
                format!("cannot start redis-server ({error}); Debian: apt-get install redis-server")
            })?;
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(Redis {
                    url: format!("redis://127.0.0.1:{port}/"),
                    child,
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err("redis-server did not start listening within 5 s".to_owned())
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
