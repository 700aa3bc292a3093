//! `piston list`.

use super::{CliError, CommonArgs, load_offline, table};
use crate::admin::{self, PREFIX};
use clap::Args;
use serde_json::Value;
use std::path::PathBuf;
use std::process::ExitCode;

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

    /// Print JSON instead of a table
    #[arg(long, env = "PISTON_JSON")]
    json: bool,

    #[command(flatten)]
    common: CommonArgs,
}

pub fn run(args: ListArgs) -> Result<ExitCode, CliError> {
    let document = match &args.url {
        Some(url) => fetch(url, args.admin_token.as_deref())?,
        None => load(args.dir, &args.common)?,
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&document).unwrap_or_default()
        );
    } else {
        println!("{}", table::resources(&document));
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
    Ok(admin::resources_document(&snapshot))
}

/// Asks a running server.
fn fetch(url: &str, token: Option<&str>) -> Result<Value, CliError> {
    if !url.starts_with("http://") {
        return Err(CliError::Usage(format!(
            "--url: `{url}` must be an http:// URL like http://127.0.0.1:8001"
        )));
    }
    // The address as `serve` prints it (with the prefix) or without.
    let base = url
        .trim_end_matches('/')
        .trim_end_matches(PREFIX.trim_end_matches('/'));
    let endpoint = format!("{base}{PREFIX}resources");
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
    let status = response.status();
    let body = response
        .body_mut()
        .read_to_string()
        .map_err(|error| CliError::Failed(format!("{endpoint}: {error}")))?;
    let document: Value = serde_json::from_str(&body).map_err(|_| {
        CliError::Failed(format!(
            "{endpoint} answered {status} with something that is not JSON"
        ))
    })?;
    if !status.is_success() {
        let detail = document["detail"].as_str().unwrap_or("no detail");
        return Err(CliError::Failed(format!(
            "{endpoint} answered {status}: {detail}"
        )));
    }
    Ok(document)
}
