//! `piston build`.

use super::{CliError, CommonArgs, settings};
use crate::project::{Project, ProjectError};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

/// Arguments of `piston build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The plugin project (its Cargo.toml, pyproject.toml or package.json tells the
    /// language)
    #[arg(value_name = "DIR", default_value = ".")]
    project: PathBuf,

    /// Where to put NAME.wasm [default: the plugin directory `piston serve` uses]
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,

    #[command(flatten)]
    common: CommonArgs,
}

pub fn run(args: BuildArgs) -> Result<ExitCode, CliError> {
    let project = Project::open(&args.project).map_err(usage_or_failure)?;
    let out_dir = match args.out {
        Some(out) => out,
        None => settings(&args.common.overrides())?.server.plugins.clone(),
    };
    eprintln!(
        "building {} ({}) from {}",
        project.name,
        project.language().name(),
        project.dir.display()
    );
    let started = Instant::now();
    let built = crate::project::build(&project, &out_dir).map_err(usage_or_failure)?;
    let size = std::fs::metadata(&built).map_or(0, |metadata| metadata.len());
    eprintln!(
        "built {} ({:.1} MiB) in {:.1} s",
        built.display(),
        size as f64 / (1024.0 * 1024.0),
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

/// A project that is not one, or a missing tool, is the user's to fix (exit 2); a
/// build that ran and failed is exit 1.
fn usage_or_failure(error: ProjectError) -> CliError {
    match error {
        ProjectError::ToolFailed { .. } | ProjectError::Io { .. } => {
            CliError::Failed(error.to_string())
        }
        _ => CliError::Usage(error.to_string()),
    }
}
