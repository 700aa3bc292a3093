//! `piston new`.

use super::CliError;
use crate::project::{Language, RustSdk};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `piston new`.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// The plugin's name, also the project directory's: lower-case letters, digits, `-`
    name: String,

    /// The language to write it in
    #[arg(long, value_enum)]
    lang: Language,

    /// Where to create the project directory [default: the current directory]
    #[arg(long, value_name = "DIR", default_value = ".")]
    dir: PathBuf,

    /// Rust only: a local `guest-sdk` directory to depend on instead of the git
    /// repository
    #[arg(long, env = "PISTON_RUST_SDK", value_name = "DIR")]
    sdk: Option<PathBuf>,
}

pub fn run(args: NewArgs) -> Result<ExitCode, CliError> {
    let sdk = args.sdk.map_or(RustSdk::Git, RustSdk::Path);
    let written = crate::project::create(&args.dir, &args.name, args.lang, &sdk)
        .map_err(|error| CliError::Usage(error.to_string()))?;
    let project = args.dir.join(&args.name);
    println!(
        "created the {} plugin project {}:",
        args.lang.name(),
        project.display()
    );
    for file in &written {
        let shown = file.strip_prefix(&project).unwrap_or(file);
        println!("  {}", shown.display());
    }
    println!("\nnext:");
    if args.lang == Language::JavaScript {
        println!("  (cd {} && npm install)", project.display());
    }
    if args.lang == Language::Python {
        println!(
            "  (cd {} && python3 -m venv .venv && .venv/bin/pip install -r build-requirements.txt)",
            project.display()
        );
    }
    println!("  piston build {}", project.display());
    println!("  piston serve");
    Ok(ExitCode::SUCCESS)
}
