//! `piston docs`: the OpenAPI document, offline, for client generators and CI.

use super::{CliError, CommonArgs, load_offline};
use crate::openapi::{ApiDocs, render};
use crate::registry::Entry;
use clap::{Args, ValueEnum};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `piston docs`.
#[derive(Debug, Args)]
pub struct DocsArgs {
    /// Directory of plugin `.wasm` files [default: the configured plugin directory, or
    /// plugins]
    #[arg(long, env = "PISTON_PLUGINS", value_name = "DIR")]
    plugins: Option<PathBuf>,

    /// Write the document to FILE instead of standard output
    #[arg(long, short, value_name = "FILE")]
    out: Option<PathBuf>,

    /// The encoding [default: yaml for an --out ending in .yaml or .yml, else json]
    #[arg(long, value_enum)]
    format: Option<Encoding>,

    #[command(flatten)]
    common: CommonArgs,
}

/// How the document is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Encoding {
    Json,
    Yaml,
}

pub fn run(args: DocsArgs) -> Result<ExitCode, CliError> {
    let encoding = args.format.unwrap_or_else(|| {
        let extension = args.out.as_ref().and_then(|out| out.extension());
        match extension.and_then(|extension| extension.to_str()) {
            Some("yaml" | "yml") => Encoding::Yaml,
            _ => Encoding::Json,
        }
    });
    let (host, snapshot) = load_offline(args.plugins, &args.common, "--plugins")?;
    let rendered = render(&ApiDocs::new(&host.settings).document(&snapshot));
    let bytes = match encoding {
        Encoding::Json => &rendered.json,
        Encoding::Yaml => &rendered.yaml,
    };
    match &args.out {
        Some(path) => std::fs::write(path, bytes).map_err(|error| {
            CliError::Failed(format!("cannot write {}: {error}", path.display()))
        })?,
        None => std::io::stdout()
            .lock()
            .write_all(bytes)
            .map_err(|error| CliError::Failed(format!("cannot write the document: {error}")))?,
    }
    let mut failed = false;
    for entry in snapshot.entries() {
        if let Entry::Failed(failure) = entry {
            eprintln!(
                "piston docs: {} did not load and is not in the document: {}",
                failure.file.display(),
                failure.error
            );
            failed = true;
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
