//! `piston list`.

use super::{
    CliError, CommonArgs, Host, check_plugin_dir, init_logging, settings, table, tokio_runtime,
};
use crate::config::Overrides;
use crate::registry::{Entry, load_directory};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `piston list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Directory of plugin `.wasm` files [default: the configured plugin directory, or
    /// plugins]
    #[arg(env = "PISTON_PLUGINS", value_name = "DIR")]
    dir: Option<PathBuf>,

    /// Print JSON instead of a table
    #[arg(long, env = "PISTON_JSON")]
    json: bool,

    #[command(flatten)]
    common: CommonArgs,
}

pub fn run(args: ListArgs) -> Result<ExitCode, CliError> {
    let overrides = Overrides {
        plugins: args.dir,
        ..args.common.overrides()
    };
    let settings = settings(&overrides)?;
    check_plugin_dir(&settings.plugins, "DIR")?;
    init_logging("warn");
    let host = Host::start(settings, false)?;
    let snapshot = tokio_runtime()?
        .block_on(load_directory(&host.settings.plugins, host.load_options()))
        .map_err(|error| {
            CliError::Failed(format!(
                "cannot read {}: {error}",
                host.settings.plugins.display()
            ))
        })?;
    if args.json {
        println!("{}", table::resources_json(&snapshot));
    } else {
        println!("{}", table::resources(&snapshot));
    }
    let failed = snapshot
        .entries()
        .iter()
        .any(|entry| matches!(entry, Entry::Failed(_)));
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
