//! `piston new`: a buildable plugin project from the templates in `host/templates/`.
//!
//! Python and JavaScript projects get their own copies of the WIT contract and of the
//! SDK, so they build anywhere with nothing but their language's toolchain. A Rust
//! project depends on the `piston-guest` crate, from a local checkout or from git.

use super::{Language, ProjectError};
use std::path::{Path, PathBuf};

/// Where a new Rust project takes `piston-guest` from.
#[derive(Debug, Clone)]
pub enum RustSdk {
    /// A checkout's `guest-sdk` directory.
    Path(PathBuf),
    /// The project's git repository.
    Git,
}

/// The repository `RustSdk::Git` points at.
const REPOSITORY: &str = env!("CARGO_PKG_REPOSITORY");

/// One file of a new project: its path inside the project and its contents.
type Template = (&'static str, &'static str);

/// The WIT contract, as every project that builds against it needs it.
const WIT: &[Template] = &[
    ("wit/handler.wit", include_str!("../../../wit/handler.wit")),
    ("wit/types.wit", include_str!("../../../wit/types.wit")),
    (
        "wit/authenticator.wit",
        include_str!("../../../wit/authenticator.wit"),
    ),
    (
        "wit/deps/config/store.wit",
        include_str!("../../../wit/deps/config/store.wit"),
    ),
    (
        "wit/deps/config/world.wit",
        include_str!("../../../wit/deps/config/world.wit"),
    ),
    (
        "wit/deps/keyvalue/atomic.wit",
        include_str!("../../../wit/deps/keyvalue/atomic.wit"),
    ),
    (
        "wit/deps/keyvalue/batch.wit",
        include_str!("../../../wit/deps/keyvalue/batch.wit"),
    ),
    (
        "wit/deps/keyvalue/store.wit",
        include_str!("../../../wit/deps/keyvalue/store.wit"),
    ),
    (
        "wit/deps/keyvalue/world.wit",
        include_str!("../../../wit/deps/keyvalue/world.wit"),
    ),
    (
        "wit/deps/cli/cli.wit",
        include_str!("../../../wit/deps/cli/cli.wit"),
    ),
    (
        "wit/deps/clocks/clocks.wit",
        include_str!("../../../wit/deps/clocks/clocks.wit"),
    ),
    (
        "wit/deps/filesystem/filesystem.wit",
        include_str!("../../../wit/deps/filesystem/filesystem.wit"),
    ),
    (
        "wit/deps/http/http.wit",
        include_str!("../../../wit/deps/http/http.wit"),
    ),
    (
        "wit/deps/io/io.wit",
        include_str!("../../../wit/deps/io/io.wit"),
    ),
    (
        "wit/deps/random/random.wit",
        include_str!("../../../wit/deps/random/random.wit"),
    ),
    (
        "wit/deps/sockets/sockets.wit",
        include_str!("../../../wit/deps/sockets/sockets.wit"),
    ),
];

const RUST: &[Template] = &[
    (
        "Cargo.toml",
        include_str!("../../templates/rust/Cargo.toml"),
    ),
    (
        ".cargo/config.toml",
        include_str!("../../templates/rust/.cargo/config.toml"),
    ),
    (
        "src/lib.rs",
        include_str!("../../templates/rust/src/lib.rs"),
    ),
    (".gitignore", include_str!("../../templates/rust/gitignore")),
];

const PYTHON: &[Template] = &[
    (
        "pyproject.toml",
        include_str!("../../templates/python/pyproject.toml"),
    ),
    ("app.py", include_str!("../../templates/python/app.py")),
    (
        "build-requirements.txt",
        include_str!("../../../guest-sdk/python/build-requirements.txt"),
    ),
    (
        ".gitignore",
        include_str!("../../templates/python/gitignore"),
    ),
];

/// The Python SDK, as the project's own `piston_guest` package.
const PYTHON_SDK: &[Template] = &[
    (
        "piston_guest/__init__.py",
        include_str!("../../../guest-sdk/python/piston_guest/__init__.py"),
    ),
    (
        "piston_guest/_json.py",
        include_str!("../../../guest-sdk/python/piston_guest/_json.py"),
    ),
    (
        "piston_guest/config.py",
        include_str!("../../../guest-sdk/python/piston_guest/config.py"),
    ),
    (
        "piston_guest/errors.py",
        include_str!("../../../guest-sdk/python/piston_guest/errors.py"),
    ),
    (
        "piston_guest/http.py",
        include_str!("../../../guest-sdk/python/piston_guest/http.py"),
    ),
    (
        "piston_guest/kv.py",
        include_str!("../../../guest-sdk/python/piston_guest/kv.py"),
    ),
    (
        "piston_guest/plugin.py",
        include_str!("../../../guest-sdk/python/piston_guest/plugin.py"),
    ),
    (
        "piston_guest/rc.py",
        include_str!("../../../guest-sdk/python/piston_guest/rc.py"),
    ),
    (
        "piston_guest/request.py",
        include_str!("../../../guest-sdk/python/piston_guest/request.py"),
    ),
    (
        "piston_guest/response.py",
        include_str!("../../../guest-sdk/python/piston_guest/response.py"),
    ),
    (
        "piston_guest/spec.py",
        include_str!("../../../guest-sdk/python/piston_guest/spec.py"),
    ),
    (
        "piston_guest/py.typed",
        include_str!("../../../guest-sdk/python/piston_guest/py.typed"),
    ),
];

const JAVASCRIPT: &[Template] = &[
    ("app.js", include_str!("../../templates/js/app.js")),
    (".gitignore", include_str!("../../templates/js/gitignore")),
];

/// The JavaScript SDK, as the project's own `piston-guest` modules.
const JAVASCRIPT_SDK: &[Template] = &[
    (
        "piston-guest/piston-guest.js",
        include_str!("../../../guest-sdk/js/piston-guest.js"),
    ),
    (
        "piston-guest/errors.js",
        include_str!("../../../guest-sdk/js/errors.js"),
    ),
    (
        "piston-guest/json.js",
        include_str!("../../../guest-sdk/js/json.js"),
    ),
    (
        "piston-guest/rc.js",
        include_str!("../../../guest-sdk/js/rc.js"),
    ),
    (
        "piston-guest/response.js",
        include_str!("../../../guest-sdk/js/response.js"),
    ),
    (
        "piston-guest/stream.js",
        include_str!("../../../guest-sdk/js/stream.js"),
    ),
    (
        "piston-guest/request.js",
        include_str!("../../../guest-sdk/js/request.js"),
    ),
    (
        "piston-guest/resource.js",
        include_str!("../../../guest-sdk/js/resource.js"),
    ),
    (
        "piston-guest/plugin.js",
        include_str!("../../../guest-sdk/js/plugin.js"),
    ),
    (
        "piston-guest/http.js",
        include_str!("../../../guest-sdk/js/http.js"),
    ),
    (
        "piston-guest/kv.js",
        include_str!("../../../guest-sdk/js/kv.js"),
    ),
    (
        "piston-guest/config.js",
        include_str!("../../../guest-sdk/js/config.js"),
    ),
];

/// The repository's `package.json`: its pinned build tools become a new project's.
const ROOT_PACKAGE_JSON: &str = include_str!("../../../package.json");

/// Creates the project `parent/name` and returns the files written, in order.
pub fn create(
    parent: &Path,
    name: &str,
    language: Language,
    sdk: &RustSdk,
) -> Result<Vec<PathBuf>, ProjectError> {
    if !crate::vocab::is_name(name) || !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(ProjectError::BadName(name.to_owned()));
    }
    let dir = parent.join(name);
    let occupied = std::fs::read_dir(&dir).is_ok_and(|mut entries| entries.next().is_some());
    if occupied {
        return Err(ProjectError::Exists(dir));
    }
    let files = files(name, language, sdk)?;
    let mut written = Vec::with_capacity(files.len());
    for (path, contents) in files {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(ProjectError::io(parent))?;
        }
        std::fs::write(&path, contents).map_err(ProjectError::io(&path))?;
        written.push(path);
    }
    Ok(written)
}

/// A new project's files: the templates with `{{name}}` (and the Rust SDK dependency)
/// filled in, then the SDK and WIT copies as they are.
fn files(
    name: &str,
    language: Language,
    sdk: &RustSdk,
) -> Result<Vec<(&'static str, String)>, ProjectError> {
    let (templates, copies): (&[Template], &[&[Template]]) = match language {
        Language::Rust => (RUST, &[]),
        Language::Python => (PYTHON, &[PYTHON_SDK, WIT]),
        Language::JavaScript => (JAVASCRIPT, &[JAVASCRIPT_SDK, WIT]),
    };
    let dependency = match sdk {
        RustSdk::Path(path) if language == Language::Rust => {
            let path = path.canonicalize().map_err(ProjectError::io(path))?;
            format!("{{ path = {} }}", toml_string(&path.to_string_lossy()))
        }
        _ => format!("{{ git = {} }}", toml_string(REPOSITORY)),
    };
    let mut files: Vec<(&'static str, String)> = templates
        .iter()
        .map(|(path, text)| {
            let filled = text
                .replace("{{name}}", name)
                .replace("{{sdk}}", &dependency);
            (*path, filled)
        })
        .collect();
    if language == Language::JavaScript {
        files.insert(0, ("package.json", package_json(name)));
    }
    files.extend(
        copies
            .iter()
            .flat_map(|copy| copy.iter())
            .map(|(path, text)| (*path, (*text).to_owned())),
    );
    Ok(files)
}

/// A JavaScript project's `package.json`, with the build tools pinned as this
/// repository pins them.
fn package_json(name: &str) -> String {
    let root: serde_json::Value =
        serde_json::from_str(ROOT_PACKAGE_JSON).expect("the repository's package.json is JSON");
    let document = serde_json::json!({
        "name": name,
        "version": "0.1.0",
        "description": "A Piston handler plugin.",
        "private": true,
        "type": "module",
        "main": "app.js",
        "scripts": {"build": "piston build ."},
        "piston": {"wit": "wit"},
        "devDependencies": root["devDependencies"],
    });
    let mut text = serde_json::to_string_pretty(&document).expect("JSON values serialize");
    text.push('\n');
    text
}

/// A TOML basic string (paths may hold quotes and backslashes).
fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_gets_a_project_its_manifest_reader_accepts() {
        let parent = tempfile::tempdir().unwrap();
        for language in [Language::Rust, Language::Python, Language::JavaScript] {
            let name = format!("demo-{}", language.name());
            let sdk = RustSdk::Path(parent.path().to_owned());
            let written = create(parent.path(), &name, language, &sdk).unwrap();
            assert!(!written.is_empty());
            let project = super::super::Project::open(&parent.path().join(&name)).unwrap();
            assert_eq!(project.name, name);
            assert_eq!(project.language(), language);
            for file in written {
                let text = std::fs::read_to_string(&file).unwrap();
                for placeholder in ["{{name}}", "{{sdk}}"] {
                    assert!(
                        !text.contains(placeholder),
                        "{} has {placeholder}",
                        file.display()
                    );
                }
            }
        }
    }

    /// Every file of the Python and JavaScript SDKs, and of the WIT contract, is copied
    /// into a new project: one left out breaks the project's build.
    #[test]
    fn projects_get_every_sdk_and_contract_file() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let copied = |templates: &[Template]| -> Vec<String> {
            templates
                .iter()
                .map(|(path, _)| path.rsplit('/').next().unwrap().to_owned())
                .collect()
        };
        for (dir, extension, templates) in [
            ("guest-sdk/python/piston_guest", "py", PYTHON_SDK),
            ("guest-sdk/js", "js", JAVASCRIPT_SDK),
        ] {
            let copied = copied(templates);
            for entry in std::fs::read_dir(root.join(dir)).unwrap() {
                let name = entry.unwrap().file_name().to_string_lossy().into_owned();
                if name.ends_with(&format!(".{extension}")) {
                    assert!(
                        copied.contains(&name),
                        "{dir}/{name} is not in new projects"
                    );
                }
            }
        }
        let contract: Vec<&str> = WIT.iter().map(|(path, _)| *path).collect();
        let mut pending = vec![root.join("wit")];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    pending.push(path);
                } else if path.extension().is_some_and(|ext| ext == "wit") {
                    let relative = path
                        .strip_prefix(&root)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned();
                    assert!(
                        contract.contains(&relative.as_str()),
                        "{relative} is not in new projects"
                    );
                }
            }
        }
    }

    #[test]
    fn new_refuses_bad_names_and_occupied_directories() {
        let parent = tempfile::tempdir().unwrap();
        for name in ["Blog", "9lives", "-x", "a b", ""] {
            let error = create(parent.path(), name, Language::Python, &RustSdk::Git);
            assert!(matches!(error, Err(ProjectError::BadName(_))), "{name}");
        }
        create(parent.path(), "taken", Language::Python, &RustSdk::Git).unwrap();
        let again = create(parent.path(), "taken", Language::Rust, &RustSdk::Git);
        assert!(matches!(again, Err(ProjectError::Exists(_))));
    }

    #[test]
    fn a_rust_project_depends_on_the_sdk_it_was_given() {
        let files = files("x", Language::Rust, &RustSdk::Git).unwrap();
        let manifest = &files
            .iter()
            .find(|(path, _)| *path == "Cargo.toml")
            .unwrap()
            .1;
        let manifest: toml::Table = toml::from_str(manifest).unwrap();
        assert_eq!(
            manifest["dependencies"]["piston-guest"]["git"].as_str(),
            Some(REPOSITORY)
        );
    }
}
