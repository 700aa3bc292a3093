//! Plugin projects: what `piston new` creates and `piston build` turns into a `.wasm`.
//!
//! A project is a directory with one plugin's sources. Its manifest tells its language:
//! `Cargo.toml` is Rust (built with cargo for `wasm32-wasip2`), `pyproject.toml` is
//! Python (built with componentize-py), `package.json` is JavaScript (built with
//! componentize-js). Python and JavaScript projects say where their WIT and SDK are in
//! the manifest (`[tool.piston]`, `"piston"`), so a project inside this repository and
//! one made by `piston new` (with its own copies) build the same way.

mod build;
mod manifest;
mod scaffold;
mod toolchain;

pub use build::build;
pub use manifest::Project;
pub use scaffold::{RustSdk, create};

use std::path::PathBuf;

/// A language plugins can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Language {
    /// Rust, with the `piston-guest` crate.
    Rust,
    /// Python, with the `piston_guest` package and componentize-py.
    Python,
    /// JavaScript, with the `piston-guest` module and componentize-js.
    #[value(name = "js", alias = "javascript")]
    JavaScript,
}

impl Language {
    /// The name `--lang` takes and messages use.
    pub fn name(self) -> &'static str {
        match self {
            Language::Rust => "rust",
            Language::Python => "python",
            Language::JavaScript => "js",
        }
    }
}

/// Why a project could not be created or built, in terms a user can act on.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// The directory has no manifest this command knows.
    #[error(
        "`{0}` is not a plugin project: it has no Cargo.toml (Rust), pyproject.toml (Python) or package.json (JavaScript)"
    )]
    NotAProject(PathBuf),
    /// A manifest that cannot be read or lacks what the build needs.
    #[error("{file}: {reason}")]
    Manifest {
        /// The manifest.
        file: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A tool the build needs is not installed.
    #[error("{tool} is not installed: {install}")]
    ToolMissing {
        /// What is missing.
        tool: String,
        /// How to install it.
        install: String,
    },
    /// A build tool ran and failed; its own output was shown above.
    #[error("`{command}` failed ({status}); its output is above")]
    ToolFailed {
        /// The command, as printed.
        command: String,
        /// How it ended.
        status: std::process::ExitStatus,
    },
    /// A file or directory could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// `piston new` would overwrite something.
    #[error("`{0}` already exists and is not empty; choose another name or directory")]
    Exists(PathBuf),
    /// A name that cannot be a plugin's name.
    #[error(
        "`{0}` is not a plugin name: use lower-case letters, digits and `-`, starting with a letter"
    )]
    BadName(String),
}

impl ProjectError {
    fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> ProjectError {
        let path = path.into();
        move |source| ProjectError::Io { path, source }
    }
}
