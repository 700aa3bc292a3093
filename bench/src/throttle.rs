//! Throttling: `GET /posts/hello-world` on a throttled resource whose limit is never
//! reached, with in-process and with Redis counters, against the same resource
//! unthrottled, in one run.

use crate::harness::{Bench, interleaved, machine, on_load_cpu, ratio_table};
use crate::{Options, Result};
use piston_test_services::Redis;

/// Never reached in a benchmark.
const LIMIT: &str =
    "[plugins.blog.resources.post]\nthrottle = [{ requests = 1000000000, period = \"1h\" }]\n";

pub fn run(options: &Options, bench: &Bench) -> Result<String> {
    let mut redis = Redis::new()?.launched_by(on_load_cpu);
    redis.start()?;
    let plugins = bench.plugin_dir("throttle-plugins", &["blog"])?;
    let redis_config = format!(
        "[throttle]\nbackend = \"redis\"\nredis_url = \"{}\"\n{LIMIT}",
        redis.url()
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
