//! `piston list`.

use super::traffic;
use super::{CliError, CommonArgs, load_offline, table};
use crate::admin::{self, METRICS, PREFIX};
use clap::Args;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Arguments of `piston list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Directory of plugin `.wasm` files [default: the configured plugin directory, or
    /// plugins]
    #[arg(env = "PISTON_PLUGINS", value_name = "DIR", conflicts_with = "url")]
    dir: Option<PathBuf>,

    /// Ask a running server what it serves, at its admin API's address (what `serve`
    /// prints as "admin API on"), e.g. http://127.0.0.1:8001
    #[arg(long, env = "PISTON_URL", value_name = "URL")]
    url: Option<String>,

    /// The server's admin token, when it is not on this machine
    #[arg(
        long,
        env = "PISTON_ADMIN_TOKEN",
        value_name = "TOKEN",
        requires = "url"
    )]
    admin_token: Option<String>,

    /// With --url, how long to watch the server's traffic for each plugin's request
    /// rate, 5xx share and 99th percentile latency, e.g. `1s`, `10s` (0: not at all)
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = super::parse_duration, requires = "url")]
    window: Duration,

    /// Print JSON instead of a table
    #[arg(long, env = "PISTON_JSON")]
    json: bool,

    #[command(flatten)]
    common: CommonArgs,
}

pub fn run(args: ListArgs) -> Result<ExitCode, CliError> {
    let (mut document, traffic) = match &args.url {
        Some(url) => {
            let token = args.admin_token.as_deref();
            let before = if args.window.is_zero() {
                None
            } else {
                watch(url, token)?
            };
            let body = fetch(url, "resources", token)?.into_body()?;
            let document = serde_json::from_str::<Value>(&body)
                .map_err(|_| CliError::Failed(format!("{url}: the resources are not JSON")))?;
            let traffic = match before {
                Some(before) => {
                    std::thread::sleep(args.window);
                    watch(url, token)?.map(|after| traffic::between(&before, &after, args.window))
                }
                None => None,
            };
            (document, traffic)
        }
        None => (load(args.dir, &args.common)?, None),
    };
    if args.json {
        if let Some(traffic) = &traffic {
            add_traffic(&mut document, traffic);
        }
        println!(
            "{}",
            serde_json::to_string_pretty(&document).unwrap_or_default()
        );
    } else {
        println!("{}", table::resources(&document));
        if let Some(traffic) = &traffic {
            println!("\n{}", table::traffic(traffic, args.window));
        }
    }
    let failed = document
        .as_array()
        .is_some_and(|entries| entries.iter().any(|entry| entry["status"] == "error"));
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Loads the plugin directory here.
fn load(dir: Option<PathBuf>, common: &CommonArgs) -> Result<Value, CliError> {
    let (_, snapshot) = load_offline(dir, common, "DIR")?;
    Ok(admin::resources_document(&snapshot, &Default::default()))
}

/// The server's per-plugin counts now, to watch its traffic; `None` when the server
/// records no metrics.
fn watch(
    url: &str,
    token: Option<&str>,
) -> Result<Option<BTreeMap<String, traffic::Counts>>, CliError> {
    let answer = fetch(url, "metrics", token)?;
    if answer.status == 404 {
        eprintln!("no traffic figures: the server records no metrics (server.metrics = false)");
        return Ok(None);
    }
    Ok(Some(traffic::counts(&answer.into_body()?)))
}

/// Puts each plugin's traffic into its entry of the resources document.
fn add_traffic(document: &mut Value, traffic: &BTreeMap<String, traffic::Traffic>) {
    for entry in document.as_array_mut().into_iter().flatten() {
        let name = entry["plugin"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if let Some(traffic) = traffic.get(&name) {
            entry["traffic"] = json!({
                "requests_per_second": traffic.rate,
                "error_share": traffic.errors,
                "p99_seconds": traffic.p99,
            });
        }
    }
}

/// An answer of a running server's admin API.
struct Answer {
    endpoint: String,
    status: u16,
    body: String,
}

impl Answer {
    /// The body of a successful answer; else the error, in the problem's words.
    fn into_body(self) -> Result<String, CliError> {
        if (200..300).contains(&self.status) {
            return Ok(self.body);
        }
        let document: Value = serde_json::from_str(&self.body).unwrap_or_default();
        let detail = document["detail"].as_str().unwrap_or("no detail");
        Err(CliError::Failed(format!(
            "{} answered {}: {detail}",
            self.endpoint, self.status
        )))
    }
}

/// Asks a running server's admin API for `endpoint` (`resources`, or `metrics`, which
/// is not under the prefix); fails only when there is no answer.
fn fetch(url: &str, endpoint: &str, token: Option<&str>) -> Result<Answer, CliError> {
    if !url.starts_with("http://") {
        return Err(CliError::Usage(format!(
            "--url: `{url}` must be an http:// URL like http://127.0.0.1:8001"
        )));
    }
    // The address as `serve` prints it (with the prefix) or without.
    let base = url
        .trim_end_matches('/')
        .trim_end_matches(PREFIX.trim_end_matches('/'));
    let endpoint = match endpoint {
        "metrics" => format!("{base}{METRICS}"),
        other => format!("{base}{PREFIX}{other}"),
    };
    let mut request = ureq::get(&endpoint);
    if let Some(token) = token {
        request = request.header("authorization", &format!("Bearer {token}"));
    }
    let mut response = request
        .config()
        .http_status_as_error(false)
        .build()
        .call()
        .map_err(|error| CliError::Failed(format!("cannot reach {endpoint}: {error}")))?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .read_to_string()
        .map_err(|error| CliError::Failed(format!("{endpoint}: {error}")))?;
    Ok(Answer {
        endpoint,
        status,
        body,
    })
}
