//! The `piston` command line: list, inspect, help, and its exit codes.

use piston_tests::{ServerBuilder, Value, example_plugin, fixture_plugin, piston};
use std::path::Path;

fn plugin_dir(files: &[(&str, &Path)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("plugins")).unwrap();
    for (name, path) in files {
        std::fs::copy(path, dir.path().join("plugins").join(name)).unwrap();
    }
    dir
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn list_shows_every_resource_and_every_failure() {
    let blog = example_plugin("blog");
    let collide = fixture_plugin("collide");
    let dir = plugin_dir(&[("blog.wasm", &blog), ("collide.wasm", &collide)]);

    let output = piston(dir.path(), &["list", "plugins"]);
    assert_eq!(output.status.code(), Some(1), "a plugin failed: exit 1");
    let table = stdout(&output);
    let header = table.lines().next().unwrap();
    for column in [
        "PLUGIN",
        "VERSION",
        "RESOURCE",
        "ROUTES",
        "METHODS",
        "ANONYMOUS",
        "THROTTLE",
        "STATUS",
    ] {
        assert!(header.contains(column), "{header}");
    }
    let post = table
        .lines()
        .find(|line| line.contains("/posts/{post_slug}"))
        .expect("the post row");
    for cell in [
        "blog",
        "0.1.0",
        "post",
        "GET, PUT, DELETE",
        "PUT 5/600s",
        "ok",
    ] {
        assert!(post.contains(cell), "{cell} missing: {post}");
    }
    assert!(table.contains("collides with"), "{table}");

    let output = piston(dir.path(), &["list", "plugins", "--json"]);
    let entries: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(entries[0]["status"], "ok");
    assert_eq!(
        entries[0]["plugin"]["resources"][1]["throttles"][0]["requests"],
        5
    );
    assert_eq!(entries[1]["status"], "error");

    let only_blog = plugin_dir(&[("blog.wasm", &blog)]);
    assert_eq!(
        piston(only_blog.path(), &["list", "plugins"]).status.code(),
        Some(0)
    );
}

#[test]
fn inspect_shows_the_full_spec() {
    let dir = tempfile::tempdir().unwrap();
    let blog = example_plugin("blog");
    let output = piston(dir.path(), &["inspect", blog.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    for expected in [
        "blog 0.1.0",
        "resource post",
        "/posts/{post_slug}",
        "author.username",
        "re:private_",
        "PUT 5/600s",
        "/posts/{slug}",
    ] {
        assert!(text.contains(expected), "{expected} missing:\n{text}");
    }

    let output = piston(dir.path(), &["inspect", "--json", blog.to_str().unwrap()]);
    let spec: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        spec["plugin"]["resources"][0]["allowed_methods"],
        serde_json::json!(["GET", "POST"])
    );
    assert_eq!(spec["sha256"].as_str().map(str::len), Some(64));

    let broken = dir.path().join("broken.wasm");
    std::fs::write(&broken, b"nope").unwrap();
    let output = piston(dir.path(), &["inspect", broken.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("is not a WebAssembly file"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn bad_flags_and_config_values_exit_2_naming_them() {
    let dir = plugin_dir(&[]);
    let cases: [(&[&str], Option<&str>, &str); 6] = [
        (&["serve", "--listen", "nowhere"], None, "--listen"),
        (&["serve", "--timeout", "soon"], None, "--timeout"),
        (&["serve", "--plugins", "missing-dir"], None, "--plugins"),
        (&["serve", "--memory-mib", "0"], None, "--memory-mib"),
        (
            &["serve", "--config", "piston.toml"],
            Some("[limits]\ntimeout = \"1s\"\nbody = 3\n"),
            "piston.toml:3:1: unknown field `body`",
        ),
        (
            &["serve", "--config", "piston.toml"],
            Some("[plugins.blog]\nisolation = \"thread\"\n"),
            "unknown variant `thread`",
        ),
    ];
    for (args, config, expected) in cases {
        if let Some(config) = config {
            std::fs::write(dir.path().join("piston.toml"), config).unwrap();
        }
        let output = piston(dir.path(), args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        let message = stderr(&output);
        assert!(
            message.contains(expected),
            "{args:?}: `{expected}` not in: {message}"
        );
        assert!(
            message.trim().lines().count() <= 3,
            "{args:?}: a short error: {message}"
        );
    }
}

#[test]
fn help_names_every_flag_with_its_environment_variable() {
    let dir = tempfile::tempdir().unwrap();
    let output = piston(dir.path(), &["serve", "--help"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let help = stdout(&output);
    for variable in [
        "PISTON_PLUGINS",
        "PISTON_LISTEN",
        "PISTON_DATA",
        "PISTON_CONFIG",
        "PISTON_CACHE",
        "PISTON_TIMEOUT",
        "PISTON_MEMORY_MIB",
        "PISTON_BODY_LIMIT",
    ] {
        assert!(help.contains(variable), "{variable} missing:\n{help}");
    }
}

#[tokio::test]
async fn a_taken_port_or_data_directory_exits_1_and_a_signal_stops_cleanly() {
    let mut server = ServerBuilder::new().example("arbitrary").start();
    let address = server.url("").trim_start_matches("http://").to_owned();
    let dir = plugin_dir(&[]);
    let output = piston(
        dir.path(),
        &["serve", "--plugins", "plugins", "--listen", &address],
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("cannot listen on"),
        "{}",
        stderr(&output)
    );

    let data = server.data_dir();
    let output = piston(
        dir.path(),
        &[
            "serve",
            "--plugins",
            "plugins",
            "--listen",
            "127.0.0.1:0",
            "--data",
            data.to_str().unwrap(),
        ],
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("in use by another process"),
        "one data directory, one server: {}",
        stderr(&output)
    );
    assert_eq!(
        server.get("/other/a/b").await.status,
        200,
        "the first server is unharmed"
    );

    let status = server.stop();
    assert!(status.success(), "SIGTERM is a clean shutdown: {status}");
}
