//! Finding the tools a build needs, and saying how to install the ones that are missing.

use super::ProjectError;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The Rust target plugins build for.
pub const WASM_TARGET: &str = "wasm32-wasip2";

/// The componentize-py release plugins are built and tested with (its pip requirement).
pub fn componentize_py_requirement() -> &'static str {
    include_str!("../../../guest-sdk/python/build-requirements.txt")
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty() && !line.starts_with('#'))
        .unwrap_or("componentize-py")
}

/// cargo: the one running us (`CARGO`), else the one on `PATH`.
pub fn cargo() -> Result<PathBuf, ProjectError> {
    std::env::var_os("CARGO")
        .map(PathBuf::from)
        .or_else(|| which::which("cargo").ok())
        .ok_or_else(|| ProjectError::ToolMissing {
            tool: "cargo (Rust)".to_owned(),
            install: format!(
                "install Rust with rustup (https://rustup.rs), then `rustup target add {WASM_TARGET}`"
            ),
        })
}

/// Checks that rustup has the wasm target for the toolchain `dir` builds with. Without
/// rustup there is nothing to ask; cargo then says what it lacks itself.
pub fn check_wasm_target(dir: &Path) -> Result<(), ProjectError> {
    let Ok(rustup) = which::which("rustup") else {
        return Ok(());
    };
    let output = Command::new(rustup)
        .args(["target", "list", "--installed"])
        .current_dir(dir)
        .output()
        .map_err(ProjectError::io("rustup"))?;
    let installed = String::from_utf8_lossy(&output.stdout)
        .lines()
        .any(|line| line.trim() == WASM_TARGET);
    if installed || !output.status.success() {
        return Ok(());
    }
    Err(ProjectError::ToolMissing {
        tool: format!("the Rust target {WASM_TARGET}"),
        install: format!("run `rustup target add {WASM_TARGET}`"),
    })
}

/// componentize-py: from a `.venv` in the project or a directory above it, else from
/// `PATH`.
pub fn componentize_py(dir: &Path) -> Result<PathBuf, ProjectError> {
    dir.ancestors()
        .map(|parent| parent.join(".venv/bin/componentize-py"))
        .find(|candidate| candidate.is_file())
        .or_else(|| which::which("componentize-py").ok())
        .ok_or_else(|| ProjectError::ToolMissing {
            tool: "componentize-py".to_owned(),
            install: format!(
                "create a virtual environment in the project and install it: \
                 `python3 -m venv .venv && .venv/bin/pip install {}`",
                componentize_py_requirement()
            ),
        })
}

/// node, from `PATH`. componentize-js itself is found by node from the project's
/// `node_modules` (or a parent's); the build script says so when it is missing.
pub fn node() -> Result<PathBuf, ProjectError> {
    which::which("node").map_err(|_| ProjectError::ToolMissing {
        tool: "Node.js (node)".to_owned(),
        install: "install Node.js 18.19 or later (Debian: `apt-get install nodejs npm`), \
                  then run `npm install` in the project"
            .to_owned(),
    })
}
