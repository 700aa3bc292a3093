//! Reading a project's manifest: its language, its plugin's name, and where its parts are.

use super::{Language, ProjectError};
use std::path::{Path, PathBuf};

/// A plugin project found in a directory.
#[derive(Debug)]
pub struct Project {
    /// The project directory.
    pub dir: PathBuf,
    /// The plugin's name, which is also the built file's name (`NAME.wasm`).
    pub name: String,
    /// The language and what building it needs.
    pub sources: Sources,
}

/// What a build needs to know, per language.
#[derive(Debug)]
pub enum Sources {
    /// A cargo package with a `cdylib` target.
    Rust {
        /// The `Cargo.toml`.
        manifest: PathBuf,
        /// The library's name: the built file is `LIB.wasm`.
        lib: String,
    },
    /// A Python module built by componentize-py.
    Python {
        /// The module defining the component's exports (`app`).
        module: String,
        /// The WIT directory.
        wit: PathBuf,
        /// Import roots besides the project directory (the SDK).
        python_path: Vec<PathBuf>,
    },
    /// A JavaScript module built by componentize-js.
    JavaScript {
        /// The entry module (`app.js`).
        entry: PathBuf,
        /// The WIT directory.
        wit: PathBuf,
    },
}

impl Project {
    /// Finds the project in `dir` by its manifest.
    pub fn open(dir: &Path) -> Result<Project, ProjectError> {
        let dir = dir.canonicalize().map_err(ProjectError::io(dir))?;
        if dir.join("Cargo.toml").is_file() {
            rust(dir)
        } else if dir.join("pyproject.toml").is_file() {
            python(dir)
        } else if dir.join("package.json").is_file() {
            javascript(dir)
        } else {
            Err(ProjectError::NotAProject(dir))
        }
    }

    /// The project's language.
    pub fn language(&self) -> Language {
        match self.sources {
            Sources::Rust { .. } => Language::Rust,
            Sources::Python { .. } => Language::Python,
            Sources::JavaScript { .. } => Language::JavaScript,
        }
    }
}

fn rust(dir: PathBuf) -> Result<Project, ProjectError> {
    let manifest = dir.join("Cargo.toml");
    let document: toml::Table = read_toml(&manifest)?;
    let bad = |reason: &str| ProjectError::Manifest {
        file: manifest.clone(),
        reason: reason.to_owned(),
    };
    let name = document
        .get("package")
        .and_then(|package| package.get("name"))
        .and_then(toml::Value::as_str)
        .ok_or_else(|| bad("no [package] name: a plugin is one package, not a workspace"))?
        .to_owned();
    let lib = document.get("lib");
    let is_cdylib = lib
        .and_then(|lib| lib.get("crate-type"))
        .and_then(toml::Value::as_array)
        .is_some_and(|types| types.iter().any(|kind| kind.as_str() == Some("cdylib")));
    if !is_cdylib {
        return Err(bad(
            "a plugin builds as a component from a library: add `[lib] crate-type = [\"cdylib\"]`",
        ));
    }
    let lib = lib
        .and_then(|lib| lib.get("name"))
        .and_then(toml::Value::as_str)
        .map_or_else(|| name.replace('-', "_"), str::to_owned);
    Ok(Project {
        name,
        sources: Sources::Rust { manifest, lib },
        dir,
    })
}

/// `pyproject.toml`'s parts a build reads.
#[derive(serde::Deserialize)]
struct PyProject {
    project: Option<PyProjectTable>,
    tool: Option<PyTools>,
}

#[derive(serde::Deserialize)]
struct PyProjectTable {
    name: Option<String>,
}

#[derive(serde::Deserialize)]
struct PyTools {
    piston: Option<PistonPython>,
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct PistonPython {
    module: Option<String>,
    wit: Option<PathBuf>,
    #[serde(default)]
    python_path: Vec<PathBuf>,
}

fn python(dir: PathBuf) -> Result<Project, ProjectError> {
    let manifest = dir.join("pyproject.toml");
    let document: PyProject = read_toml(&manifest)?;
    let name = document
        .project
        .and_then(|project| project.name)
        .ok_or_else(|| ProjectError::Manifest {
            file: manifest.clone(),
            reason: "no [project] name: it names the plugin and the built file".to_owned(),
        })?;
    let piston = document
        .tool
        .and_then(|tool| tool.piston)
        .unwrap_or_default();
    let module = piston.module.unwrap_or_else(|| "app".to_owned());
    let wit = existing_dir(&dir, &manifest, "[tool.piston] wit", piston.wit)?;
    let python_path = piston
        .python_path
        .into_iter()
        .map(|path| existing_dir(&dir, &manifest, "[tool.piston] python-path", Some(path)))
        .collect::<Result<_, _>>()?;
    if !dir.join(format!("{module}.py")).is_file() && !dir.join(&module).is_dir() {
        return Err(ProjectError::Manifest {
            file: manifest,
            reason: format!(
                "[tool.piston] module: there is no `{module}.py` (nor a `{module}` package) in the project"
            ),
        });
    }
    Ok(Project {
        dir,
        name,
        sources: Sources::Python {
            module,
            wit,
            python_path,
        },
    })
}

/// `package.json`'s parts a build reads.
#[derive(serde::Deserialize)]
struct PackageJson {
    name: Option<String>,
    main: Option<PathBuf>,
    #[serde(default)]
    piston: PistonJavaScript,
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct PistonJavaScript {
    wit: Option<PathBuf>,
}

fn javascript(dir: PathBuf) -> Result<Project, ProjectError> {
    let manifest = dir.join("package.json");
    let text = std::fs::read_to_string(&manifest).map_err(ProjectError::io(&manifest))?;
    let document: PackageJson =
        serde_json::from_str(&text).map_err(|error| ProjectError::Manifest {
            file: manifest.clone(),
            reason: error.to_string(),
        })?;
    let name = document.name.ok_or_else(|| ProjectError::Manifest {
        file: manifest.clone(),
        reason: "no \"name\": it names the plugin and the built file".to_owned(),
    })?;
    let entry = dir.join(document.main.unwrap_or_else(|| "app.js".into()));
    if !entry.is_file() {
        return Err(ProjectError::Manifest {
            file: manifest,
            reason: format!("\"main\": `{}` is not a file", entry.display()),
        });
    }
    let wit = existing_dir(&dir, &manifest, "\"piston\".\"wit\"", document.piston.wit)?;
    Ok(Project {
        dir,
        name,
        sources: Sources::JavaScript { entry, wit },
    })
}

fn read_toml<T: serde::de::DeserializeOwned>(file: &Path) -> Result<T, ProjectError> {
    let text = std::fs::read_to_string(file).map_err(ProjectError::io(file))?;
    toml::from_str(&text).map_err(|error| ProjectError::Manifest {
        file: file.to_owned(),
        reason: error.message().to_owned(),
    })
}

/// A directory named in a manifest, relative to the project (default `wit`), which
/// must exist.
fn existing_dir(
    dir: &Path,
    manifest: &Path,
    key: &str,
    path: Option<PathBuf>,
) -> Result<PathBuf, ProjectError> {
    let path = dir.join(path.unwrap_or_else(|| "wit".into()));
    path.canonicalize().map_err(|error| ProjectError::Manifest {
        file: manifest.to_owned(),
        reason: format!("{key}: `{}`: {error}", path.display()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(files: &[(&str, &str)]) -> (tempfile::TempDir, Result<Project, ProjectError>) {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let project = Project::open(dir.path());
        (dir, project)
    }

    #[test]
    fn a_python_project_names_its_module_wit_and_sdk() {
        let (dir, project) = project(&[
            (
                "pyproject.toml",
                "[project]\nname = \"blog-py\"\n[tool.piston]\nmodule = \"main\"\npython-path = [\"sdk\"]\n",
            ),
            ("main.py", ""),
            ("wit/handler.wit", ""),
            ("sdk/piston_guest/__init__.py", ""),
        ]);
        let project = project.unwrap();
        assert_eq!(project.name, "blog-py");
        assert_eq!(project.language(), Language::Python);
        let Sources::Python {
            module,
            wit,
            python_path,
        } = project.sources
        else {
            panic!("not python")
        };
        assert_eq!(module, "main");
        let root = dir.path().canonicalize().unwrap();
        assert_eq!(wit, root.join("wit"));
        assert_eq!(python_path, [root.join("sdk")]);
    }

    #[test]
    fn manifests_missing_what_a_build_needs_say_what() {
        let cases: [(&[(&str, &str)], &str); 5] = [
            (&[("Cargo.toml", "[package]\nname = \"x\"\n")], "cdylib"),
            (&[("pyproject.toml", "[project]\n")], "no [project] name"),
            (
                &[
                    ("pyproject.toml", "[project]\nname = \"x\"\n"),
                    ("wit/a.wit", ""),
                ],
                "no `app.py`",
            ),
            (
                &[("package.json", "{\"name\": \"x\"}"), ("app.js", "")],
                "\"piston\".\"wit\"",
            ),
            (&[("package.json", "{\"name\": ")], "EOF"),
        ];
        for (files, expected) in cases {
            let (_dir, project) = project(files);
            let error = project.expect_err("refused").to_string();
            assert!(error.contains(expected), "{expected:?} not in {error}");
        }
        let (_dir, project) = project(&[("README.md", "")]);
        assert!(matches!(project, Err(ProjectError::NotAProject(_))));
    }

    #[test]
    fn a_rust_library_builds_as_its_lib_name() {
        let (_dir, project) = project(&[(
            "Cargo.toml",
            "[package]\nname = \"my-plugin\"\n[lib]\ncrate-type = [\"cdylib\"]\n",
        )]);
        let project = project.unwrap();
        assert_eq!(project.language(), Language::Rust);
        assert!(matches!(project.sources, Sources::Rust { ref lib, .. } if lib == "my_plugin"));
    }
}
