//! `piston new` and `piston build`: a project from the templates, in each language,
//! builds with its toolchain and serves; a missing toolchain or a broken project says
//! what to do.

use piston_tests::{ServerBuilder, json, piston, rust_sdk, scratch_dir};
use std::path::Path;
use std::process::{Command, Output};

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Creates `hello` in `lang` under `parent`, builds it into `parent/out`, serves it
/// and asks it for a greeting.
async fn new_build_and_serve(parent: &Path, lang: &str, extra: &[&str]) {
    let created = piston(
        parent,
        &[&["new", "hello", "--lang", lang][..], extra].concat(),
    );
    assert!(created.status.success(), "{}", text(&created));
    assert!(
        text(&created).contains("piston build"),
        "new says what to do next: {}",
        text(&created)
    );

    let built = piston(parent, &["build", "hello", "--out", "out"]);
    assert!(built.status.success(), "{}", text(&built));
    assert!(
        text(&built).contains("$ "),
        "build prints its commands: {}",
        text(&built)
    );
    let wasm = std::fs::read(parent.join("out/hello.wasm")).expect("hello.wasm was built");

    let server = ServerBuilder::new().file("hello.wasm", wasm).start();
    let reply = server.get("/hello/world").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json(), json!({"hello": "world"}));
}

#[tokio::test]
async fn a_new_python_project_builds_and_serves() {
    let parent = scratch_dir();
    new_build_and_serve(parent.path(), "python", &[]).await;
}

#[tokio::test]
async fn a_new_javascript_project_builds_and_serves() {
    let parent = scratch_dir();
    new_build_and_serve(parent.path(), "js", &[]).await;
}

#[tokio::test]
async fn a_new_rust_project_builds_and_serves() {
    let parent = scratch_dir();
    let sdk = rust_sdk();
    let sdk = sdk.to_str().unwrap();
    // One target directory for every run, so the SDK's dependencies build once.
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/new-rust-plugin");
    let created = piston(
        parent.path(),
        &["new", "hello", "--lang", "rust", "--sdk", sdk],
    );
    assert!(created.status.success(), "{}", text(&created));
    let built = Command::new(piston_tests::piston_bin())
        .args(["build", "hello", "--out", "out"])
        .current_dir(parent.path())
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .unwrap();
    assert!(built.status.success(), "{}", text(&built));
    let wasm = std::fs::read(parent.path().join("out/hello.wasm")).unwrap();
    let server = ServerBuilder::new().file("hello.wasm", wasm).start();
    assert_eq!(
        server.get("/hello/world").await.json(),
        json!({"hello": "world"})
    );
}

/// `piston build` with nothing on `PATH`, from a directory with no `.venv` or
/// `node_modules` above it.
fn build_without_tools(project: &Path) -> Output {
    Command::new(piston_tests::piston_bin())
        .arg("build")
        .arg(project)
        .args(["--out", "out"])
        .current_dir(project)
        .env("PATH", "/nonexistent")
        .env_remove("CARGO")
        .output()
        .unwrap()
}

#[test]
fn a_missing_toolchain_is_named_with_how_to_install_it() {
    let parent = tempfile::tempdir().unwrap();
    for (lang, expected) in [
        ("python", "pip install componentize-py=="),
        ("js", "install Node.js"),
        ("rust", "https://rustup.rs"),
    ] {
        let name = format!("no-{lang}");
        let created = piston(parent.path(), &["new", &name, "--lang", lang]);
        assert!(created.status.success(), "{}", text(&created));
        let output = build_without_tools(&parent.path().join(&name));
        assert_eq!(output.status.code(), Some(2), "{lang}: {}", text(&output));
        let message = text(&output);
        assert!(message.contains("is not installed"), "{lang}: {message}");
        assert!(message.contains(expected), "{lang}: {message}");
    }
}

#[test]
fn build_refuses_what_is_not_a_project_or_a_bad_one_and_reports_a_failed_build() {
    let parent = scratch_dir();
    let not_a_project = piston(parent.path(), &["build", "."]);
    assert_eq!(not_a_project.status.code(), Some(2));
    assert!(
        text(&not_a_project).contains("is not a plugin project"),
        "{}",
        text(&not_a_project)
    );

    std::fs::create_dir(parent.path().join("nameless")).unwrap();
    std::fs::write(
        parent.path().join("nameless/pyproject.toml"),
        "[tool.piston]\nmodule = \"app\"\n",
    )
    .unwrap();
    let nameless = piston(parent.path(), &["build", "nameless"]);
    assert_eq!(nameless.status.code(), Some(2), "{}", text(&nameless));
    assert!(
        text(&nameless).contains("pyproject.toml: no [project] name"),
        "{}",
        text(&nameless)
    );

    let bad_name = piston(parent.path(), &["new", "Bad_Name", "--lang", "rust"]);
    assert_eq!(bad_name.status.code(), Some(2), "{}", text(&bad_name));
    assert!(
        text(&bad_name).contains("is not a plugin name"),
        "{}",
        text(&bad_name)
    );

    let created = piston(parent.path(), &["new", "broken", "--lang", "python"]);
    assert!(created.status.success(), "{}", text(&created));
    std::fs::write(parent.path().join("broken/app.py"), "def oops(:\n").unwrap();
    let failed = piston(parent.path(), &["build", "broken", "--out", "out"]);
    assert_eq!(failed.status.code(), Some(1), "{}", text(&failed));
    assert!(text(&failed).contains("failed"), "{}", text(&failed));
    assert!(
        !parent.path().join("out/broken.wasm").exists(),
        "a failed build leaves no plugin behind"
    );

    let again = piston(parent.path(), &["new", "broken", "--lang", "js"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(text(&again).contains("already exists"), "{}", text(&again));
}
