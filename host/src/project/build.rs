//! Building a project into `NAME.wasm` with its language's toolchain.

use super::manifest::{Project, Sources};
use super::{ProjectError, toolchain};
use std::path::{Path, PathBuf};
use std::process::Command;

/// What componentize-js is driven by (run by node from the project directory, so that
/// it finds the project's `node_modules`).
const JS_BUILD_SCRIPT: &str = include_str!("../../../guest-sdk/js/build.mjs");

/// Builds `project` and puts `NAME.wasm` into `out_dir`, printing each command it runs.
/// The file appears whole (written aside, then renamed), so a server watching `out_dir`
/// never loads half of it.
pub fn build(project: &Project, out_dir: &Path) -> Result<PathBuf, ProjectError> {
    std::fs::create_dir_all(out_dir).map_err(ProjectError::io(out_dir))?;
    // Absolute: the tools run in the project directory.
    let out_dir = &out_dir.canonicalize().map_err(ProjectError::io(out_dir))?;
    let out = out_dir.join(format!("{}.wasm", project.name));
    let partial = out_dir.join(format!(".{}.wasm.partial", project.name));
    let built = match &project.sources {
        Sources::Rust { manifest, lib } => build_rust(project, manifest, lib, &partial),
        Sources::Python {
            module,
            wit,
            python_path,
        } => build_python(project, module, wit, python_path, &partial),
        Sources::JavaScript { entry, wit } => build_javascript(project, entry, wit, &partial),
    };
    if let Err(error) = built {
        let _ = std::fs::remove_file(&partial);
        return Err(error);
    }
    std::fs::rename(&partial, &out).map_err(ProjectError::io(&out))?;
    Ok(out)
}

fn build_rust(
    project: &Project,
    manifest: &Path,
    lib: &str,
    partial: &Path,
) -> Result<(), ProjectError> {
    let cargo = toolchain::cargo()?;
    toolchain::check_wasm_target(&project.dir)?;
    let mut build = Command::new(&cargo);
    build
        .args(["build", "--release", "--target", toolchain::WASM_TARGET])
        .arg("--manifest-path")
        .arg(manifest)
        .current_dir(&project.dir);
    run(&mut build)?;
    let built = target_directory(&cargo, manifest)?
        .join(toolchain::WASM_TARGET)
        .join("release")
        .join(format!("{lib}.wasm"));
    std::fs::copy(&built, partial).map_err(ProjectError::io(&built))?;
    Ok(())
}

/// Where cargo puts what it builds for `manifest` (a workspace's, `CARGO_TARGET_DIR`,
/// or the configured one), as cargo itself reports it.
fn target_directory(cargo: &Path, manifest: &Path) -> Result<PathBuf, ProjectError> {
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .arg("--manifest-path")
        .arg(manifest)
        .output()
        .map_err(ProjectError::io(cargo))?;
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_default();
    metadata["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .ok_or_else(|| ProjectError::Manifest {
            file: manifest.to_owned(),
            reason: format!(
                "`cargo metadata` did not say where it builds: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        })
}

fn build_python(
    project: &Project,
    module: &str,
    wit: &Path,
    python_path: &[PathBuf],
    partial: &Path,
) -> Result<(), ProjectError> {
    let componentize_py = toolchain::componentize_py(&project.dir)?;
    let mut build = Command::new(componentize_py);
    build
        .arg("-d")
        .arg(wit)
        .args(["-w", "plugin", "componentize", "-p"])
        .arg(&project.dir);
    for path in python_path {
        build.arg("-p").arg(path);
    }
    build
        .arg(module)
        .arg("-o")
        .arg(partial)
        .current_dir(&project.dir);
    // componentize-py imports the sources to snapshot them, and its Python writes
    // bytecode caches into them; take away the ones this build made.
    let roots: Vec<&Path> = std::iter::once(project.dir.as_path())
        .chain(python_path.iter().map(PathBuf::as_path))
        .collect();
    let cached_before = bytecode_caches(&roots);
    let built = run(&mut build);
    for cache in bytecode_caches(&roots) {
        if !cached_before.contains(&cache) {
            let _ = std::fs::remove_dir_all(cache);
        }
    }
    built
}

/// The `__pycache__` directories under `roots` (not looking into virtual environments
/// or hidden directories).
fn bytecode_caches(roots: &[&Path]) -> Vec<PathBuf> {
    let mut caches = Vec::new();
    let mut pending: Vec<PathBuf> = roots.iter().map(|root| root.to_path_buf()).collect();
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if !entry.file_type().is_ok_and(|kind| kind.is_dir()) || name.starts_with('.') {
                continue;
            }
            match name.as_ref() {
                "__pycache__" => caches.push(path),
                "node_modules" | "target" => {}
                _ => pending.push(path),
            }
        }
    }
    caches
}

fn build_javascript(
    project: &Project,
    entry: &Path,
    wit: &Path,
    partial: &Path,
) -> Result<(), ProjectError> {
    let node = toolchain::node()?;
    let mut build = Command::new(node);
    build
        .args(["--input-type=module", "-e", JS_BUILD_SCRIPT, "--"])
        .arg(entry)
        .arg(wit)
        .arg(partial)
        .current_dir(&project.dir);
    run(&mut build)
}

/// Runs a build tool with its output going to ours, after printing the command (the
/// inline build script shown as a placeholder).
fn run(command: &mut Command) -> Result<(), ProjectError> {
    let shown = std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|arg| match arg.to_string_lossy() {
            arg if arg == JS_BUILD_SCRIPT => "<build.mjs>".into(),
            arg => arg,
        })
        .collect::<Vec<_>>()
        .join(" ");
    eprintln!("$ {shown}");
    let status = command
        .status()
        .map_err(ProjectError::io(command.get_program()))?;
    if status.success() {
        Ok(())
    } else {
        Err(ProjectError::ToolFailed {
            command: shown,
            status,
        })
    }
}
