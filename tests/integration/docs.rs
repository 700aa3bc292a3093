//! The generated API documentation — the OpenAPI document at `/openapi.json` and
//! `/openapi.yaml`, the Swagger UI page at `/docs`, and `piston docs` — checked by
//! tools that did not write it: two OpenAPI validators, schemathesis fuzzing the live
//! server against the document, and a headless Chromium rendering the page.

use piston_tests::{
    Server, ServerBuilder, Value, artifact_dir, chromium_bin, example_plugin, piston, python_dir,
    python_tool, redocly_bin, scratch_dir,
};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The examples as an operator would serve them: with Basic, Bearer and the `api-key`
/// plugin, so the document has security schemes to describe. The key is `ann-api-key`.
/// Fuzzing sends thousands of requests, some with made-up credentials, from one
/// address: the blog's update throttle (5 per 10 minutes) and the failed-login limits
/// are raised so that it reaches the handlers rather than the limits (which the `auth`
/// and `throttle` tests cover).
const CONFIG: &str = r#"
[auth]
authenticators = ["basic", "bearer", "api-key"]
realm = "Blog API"

[auth.failures]
max = 1000000

[plugins.blog.resources.post]
throttle = [{ methods = ["PUT"], requests = 100000, period = "1m" }]

[plugins.api-key.config]
keys = "ann:2f3d4c2727f69b2607d2bd69b8c6d5f1ae6495a10d1bf68e5ed8abfd79acc966"
"#;

/// The three blogs (Rust, Python, JavaScript): their routes are the same, so each is
/// served apart from the others.
const BLOGS: [&str; 3] = ["blog", "blog-py", "blog-js"];

/// A blog, `arbitrary`, `export` and the `api-key` authenticator, with [`CONFIG`].
fn examples(blog: &str) -> ServerBuilder {
    let builder = if blog == "blog" {
        ServerBuilder::new().example(blog)
    } else {
        ServerBuilder::new().lang_example(blog)
    };
    builder
        .example("arbitrary")
        .example("export")
        .example("api-key")
        .config(CONFIG)
}

/// `GET /openapi.json`, parsed.
async fn document(server: &Server) -> Value {
    let reply = server.get("/openapi.json").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()
}

/// Every operation of a document, as `(METHOD, path)`.
fn operations(document: &Value) -> BTreeSet<(String, String)> {
    const METHODS: [&str; 8] = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];
    let paths = document["paths"]
        .as_object()
        .unwrap_or_else(|| panic!("no paths in {document}"));
    paths
        .iter()
        .flat_map(|(path, item)| {
            METHODS
                .iter()
                .filter(|method| item.get(**method).is_some())
                .map(|method| (method.to_uppercase(), path.clone()))
        })
        .collect()
}

/// What the server says it serves (the admin API's list of resources), as the
/// operations a document of it must have: each route with each allowed method, a
/// catch-all `{*name}` written as the OpenAPI parameter `{name}`.
async fn served_operations(server: &Server) -> BTreeSet<(String, String)> {
    let reply = server.admin_get("/_piston/resources").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let listed = reply.json();
    let mut expected = BTreeSet::new();
    for entry in listed.as_array().expect("a list of plugin files") {
        let Some(resources) = entry["plugin"]["resources"].as_array() else {
            continue;
        };
        for resource in resources {
            for route in resource["routes"].as_array().expect("routes") {
                let path = route.as_str().unwrap().replace("{*", "{");
                for method in resource["allowed_methods"].as_array().expect("methods") {
                    let method = method.as_str().unwrap().to_uppercase();
                    expected.insert((method, path.clone()));
                }
            }
        }
    }
    assert!(!expected.is_empty(), "no resources in {listed}");
    expected
}

/// Asserts that the document has an operation for every method of every route served.
async fn assert_documents_every_operation(server: &Server, document: &Value) {
    let documented = operations(document);
    let missing: Vec<_> = served_operations(server)
        .await
        .difference(&documented)
        .cloned()
        .collect();
    assert!(missing.is_empty(), "served but not documented: {missing:?}");
}

/// Runs a tool to completion in `cwd`, with its output kept.
fn run(command: &mut Command, cwd: &Path) -> Output {
    let shown = format!("{command:?}");
    command
        .current_dir(cwd)
        .output()
        .unwrap_or_else(|error| panic!("cannot run {shown}: {error}"))
}

/// What went wrong if a tool failed: everything it said.
fn failure(output: &Output, what: &str) -> Option<String> {
    (!output.status.success()).then(|| {
        format!(
            "{what} failed ({}):\n{}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// Asserts that a tool succeeded, with everything it said if not.
fn assert_success(output: &Output, what: &str) {
    if let Some(failure) = failure(output, what) {
        panic!("{failure}");
    }
}

#[tokio::test]
async fn the_examples_document_passes_openapi_spec_validator_and_redocly_lint() {
    let dir = scratch_dir();
    // Every blog and encoding is checked before failing, so one run reports them all.
    let mut failures = Vec::new();
    for blog in BLOGS {
        let server = examples(blog).start();
        let json = server.get("/openapi.json").await;
        assert_eq!(json.status, 200, "{blog}: {}", json.text());
        assert_eq!(json.header("content-type"), Some("application/json"));
        let yaml = server.get("/openapi.yaml").await;
        assert_eq!(yaml.status, 200, "{blog}: {}", yaml.text());
        let parsed: Value = serde_yaml::from_slice(&yaml.body)
            .unwrap_or_else(|error| panic!("{blog}: /openapi.yaml is not YAML: {error}"));
        assert_eq!(
            parsed,
            json.json(),
            "{blog}: the YAML says what the JSON says"
        );
        assert_documents_every_operation(&server, &json.json()).await;

        for (name, body) in [("openapi.json", &json.body), ("openapi.yaml", &yaml.body)] {
            let file = dir.path().join(format!("{blog}-{name}"));
            std::fs::write(&file, body).unwrap();
            let validated = run(
                Command::new(python_tool("openapi-spec-validator")).arg(&file),
                dir.path(),
            );
            failures.extend(failure(
                &validated,
                &format!("openapi-spec-validator on {blog}'s {name}"),
            ));
            let linted = run(
                Command::new(redocly_bin())
                    .args(["lint", "--extends", "recommended", "--format", "stylish"])
                    .arg(&file)
                    // Offline and quiet: no usage report, no update check.
                    .env("REDOCLY_TELEMETRY", "off")
                    .env("REDOCLY_SUPPRESS_UPDATE_NOTICE", "true"),
                dir.path(),
            );
            failures.extend(failure(
                &linted,
                &format!("redocly lint on {blog}'s {name}"),
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// How many cases schemathesis generates per operation and phase: enough to reach
/// every status an operation answers, few enough for CI (each run takes seconds).
const EXAMPLES_PER_OPERATION: &str = "100";

/// Runs schemathesis with every check against `server`, with `headers` on every
/// request, its reports (JUnit, NDJSON) left in `reports`.
fn schemathesis(server: &Server, headers: &[String], reports: &Path) -> Output {
    let mut command = Command::new(python_tool("schemathesis"));
    command
        .arg("run")
        .arg(server.url("/openapi.json"))
        .args(["--checks", "all"])
        // Every failure of an operation, not only its first.
        .arg("--continue-on-failure")
        .args(["--max-examples", EXAMPLES_PER_OPERATION])
        // The same cases every run, and nothing remembered from an earlier one.
        .args(["--seed", "15"])
        .args(["--generation-database", "none"])
        // Made-up credentials are each checked against a password hash, which takes
        // the debug build a good part of a second: the `ignored_auth` check's own
        // probes send them, the generated cases do not.
        .args(["--generation-with-security-parameters", "false"])
        // One worker: with several, Hypothesis on Python 3.11 now and then fails to
        // parse its own source (a CPython race), an error of the tool, not of the API.
        .args(["--workers", "1"])
        .args(["--request-timeout", "20"])
        .args(["--report", "junit,ndjson", "--report-dir"])
        .arg(reports)
        .args(["--no-color"])
        // XML and multipart bodies are left out (`tests/python/schemathesis_hooks.py`
        // says why).
        .env("PYTHONPATH", python_dir())
        .env("SCHEMATHESIS_HOOKS", "schemathesis_hooks")
        .env("SCHEMATHESIS_TELEMETRY", "false");
    for header in headers {
        command.args(["--header", header]);
    }
    run(&mut command, reports)
}

#[tokio::test]
async fn schemathesis_finds_no_server_error_and_no_answer_the_document_does_not_allow() {
    let reports = artifact_dir("schemathesis");
    // One server per run, so that what one run creates or locks cannot hide or cause a
    // failure in the other.
    let anonymous = examples("blog").start();
    let authenticated = examples("blog").start();
    authenticated.add_user("ann", "correct horse battery", "Ann");
    let token = authenticated.piston(&["tokens", "create", "ann"], "");
    assert_success(&token, "piston tokens create");
    let bearer = format!(
        "Authorization: Bearer {}",
        String::from_utf8_lossy(&token.stdout).trim()
    );
    let (without, with) = std::thread::scope(|scope| {
        let without = scope.spawn(|| {
            let dir = reports.join("anonymous");
            std::fs::create_dir_all(&dir).unwrap();
            schemathesis(&anonymous, &[], &dir)
        });
        let with = scope.spawn(|| {
            let dir = reports.join("authenticated");
            std::fs::create_dir_all(&dir).unwrap();
            schemathesis(&authenticated, std::slice::from_ref(&bearer), &dir)
        });
        (without.join().unwrap(), with.join().unwrap())
    });
    let failures: Vec<String> = [(&without, "anonymous"), (&with, "with a bearer token")]
        .into_iter()
        .filter_map(|(output, run)| failure(output, &format!("schemathesis, {run},")))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The operations Swagger UI rendered, as `(METHOD, path)`: each operation's summary
/// carries its method and its path (`data-path`).
fn rendered_operations(dom: &str) -> BTreeSet<(String, String)> {
    dom.split(r#"<span class="opblock-summary-method">"#)
        .skip(1)
        .map(|block| {
            let method = block.split('<').next().unwrap_or_default();
            let path = block
                .split(r#"data-path=""#)
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .unwrap_or_default();
            (method.to_owned(), path.replace("&amp;", "&"))
        })
        .collect()
}

/// The values of `attribute` in every `<tag` of the page.
fn attributes<'a>(dom: &'a str, tag: &str, attribute: &str) -> Vec<&'a str> {
    dom.split(&format!("<{tag} "))
        .skip(1)
        .filter_map(|element| {
            let element = element.split('>').next()?;
            let value = element.split(&format!(r#"{attribute}=""#)).nth(1)?;
            value.split('"').next()
        })
        .collect()
}

/// A port on loopback that nothing listens on: bound, then let go.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().unwrap().port()
}

/// Loads `url` in a headless Chromium that can reach loopback and nothing else, lets
/// the page's scripts run for a while, and returns the rendered DOM (and what the
/// browser logged); with `screenshot`, also saves a picture of the page there.
fn chromium(url: &str, screenshot: Option<&Path>) -> (String, String) {
    let profile = tempfile::tempdir().expect("a browser profile directory");
    let mut command = Command::new(chromium_bin());
    command
        .arg("--headless=new")
        // Chromium's sandbox refuses to run as root (CI containers); the page is ours.
        .arg("--no-sandbox")
        .arg("--disable-gpu")
        .arg("--disable-dev-shm-usage")
        .arg("--no-first-run")
        .arg("--disable-background-networking")
        .arg(format!("--user-data-dir={}", profile.path().display()))
        // No names resolve but loopback's, and every connection that is not to
        // loopback goes to a proxy that is not there: nothing outside is reachable.
        .arg("--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1")
        .arg(format!("--proxy-server=http://127.0.0.1:{}", closed_port()))
        // Virtual time: the page's scripts get this long, the run takes less.
        .arg("--virtual-time-budget=20000")
        .arg("--window-size=1280,2400")
        .arg("--enable-logging=stderr")
        .arg("--dump-dom");
    if let Some(path) = screenshot {
        command.arg(format!("--screenshot={}", path.display()));
    }
    let output = run(command.arg(url), profile.path());
    let log = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "chromium failed on {url}:\n{log}");
    (String::from_utf8_lossy(&output.stdout).into_owned(), log)
}

#[tokio::test]
async fn chromium_renders_every_operation_on_the_docs_page_with_the_network_cut_off() {
    // The browser really is cut off: a page outside does not load, by name or address.
    for outside in ["http://example.com/", "http://1.1.1.1/"] {
        let (dom, log) = chromium(outside, None);
        // Chromium says so in its log, or (some versions only) shows its error page
        // with the network error's code.
        let refused = log.contains("Page load failed")
            || ["ERR_PROXY_CONNECTION_FAILED", "ERR_NAME_NOT_RESOLVED"]
                .iter()
                .any(|code| dom.contains(code));
        assert!(refused, "{outside} loaded:\n{dom}\n{log}");
    }

    let server = examples("blog").start();
    let document = document(&server).await;
    assert_documents_every_operation(&server, &document).await;
    let page = server.get("/docs").await;
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(
        page.header("content-type")
            .is_some_and(|kind| kind.starts_with("text/html")),
        "{:?}",
        page.header("content-type")
    );

    let screenshot = artifact_dir("docs-page").join("docs.png");
    let (dom, log) = chromium(&server.url("/docs"), Some(&screenshot));
    let context = || format!("the page:\n{dom}\nthe browser's log:\n{log}");
    assert!(
        std::fs::metadata(&screenshot).is_ok_and(|file| file.len() > 0),
        "no screenshot; {}",
        context()
    );
    assert!(
        !dom.contains("errors-wrapper") && !dom.contains("version-pragma"),
        "Swagger UI reports errors; {}",
        context()
    );
    assert_eq!(
        rendered_operations(&dom),
        operations(&document),
        "the page lists the document's operations; {}",
        context()
    );
    let tags: BTreeSet<&str> = document["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .filter_map(|operation| operation["tags"].as_array())
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    assert!(!tags.is_empty(), "operations are grouped by resource");
    for tag in tags {
        assert!(
            dom.contains(&format!(r#"data-tag="{tag}""#)),
            "no section for `{tag}`; {}",
            context()
        );
    }
    // Everything the page loaded came from the server itself.
    for asset in attributes(&dom, "script", "src")
        .into_iter()
        .chain(attributes(&dom, "link", "href"))
    {
        assert!(
            !asset.starts_with("//")
                && (!asset.contains("://") || asset.starts_with(&server.url(""))),
            "the page loads `{asset}` from elsewhere"
        );
    }
}

#[tokio::test]
async fn piston_docs_writes_what_the_server_serves() {
    let server = examples("blog").start();
    let dir = scratch_dir();
    for (format, path) in [("json", "/openapi.json"), ("yaml", "/openapi.yaml")] {
        let served = server.get(path).await;
        assert_eq!(served.status, 200, "{}", served.text());
        let out = dir.path().join(format!("openapi.{format}"));
        let written = piston(
            dir.path(),
            &[
                "docs",
                "--plugins",
                server.plugin_dir().to_str().unwrap(),
                "--config",
                server.config_file().to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                "--format",
                format,
            ],
        );
        assert_success(&written, "piston docs");
        let offline = std::fs::read(&out).expect("piston docs wrote the file");
        assert!(
            offline == served.body,
            "piston docs --format {format} differs from {path}:\n{}\n---\n{}",
            String::from_utf8_lossy(&offline),
            served.text()
        );
    }
}

/// How soon a plugin dropped in or taken out must show in the document.
const WITHIN: Duration = Duration::from_secs(2);

/// Polls the document until `check` accepts it; panics after [`WITHIN`].
async fn document_within(server: &Server, what: &str, check: impl Fn(&Value) -> bool) {
    let started = Instant::now();
    loop {
        let document = document(server).await;
        if check(&document) {
            return;
        }
        assert!(
            started.elapsed() < WITHIN,
            "{what}: not in /openapi.json within {WITHIN:?}:\n{document}\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_document_follows_plugins_dropped_in_and_taken_out() {
    let export = example_plugin("export");
    // Compiled into the shared cache first: the deadline is for the document, not for
    // compiling the plugin.
    let dir = scratch_dir();
    let warmed = piston(dir.path(), &["inspect", export.to_str().unwrap()]);
    assert_success(&warmed, "piston inspect");
    let server = ServerBuilder::new().example("blog").start();
    let has_export = |document: &Value| document["paths"].get("/export/rows").is_some();
    assert!(!has_export(&document(&server).await));

    server.drop_plugin("export.wasm", &std::fs::read(&export).unwrap());
    document_within(&server, "export dropped in", has_export).await;
    assert_documents_every_operation(&server, &document(&server).await).await;

    std::fs::remove_file(server.plugin_dir().join("export.wasm")).unwrap();
    document_within(&server, "export taken out", |document| {
        !has_export(document)
    })
    .await;
    assert!(document(&server).await["paths"].get("/posts").is_some());
}

#[tokio::test]
async fn docs_off_answers_404_on_the_document_and_the_page() {
    let on = ServerBuilder::new().example("blog").start();
    let page = on.get("/docs").await;
    assert_eq!(page.status, 200, "{}", page.text());
    // A file of the page: its scripts are named relative to `/docs/`.
    let asset = attributes(&page.text(), "script", "src")
        .into_iter()
        .find(|src| !src.contains("://"))
        .map(|src| format!("/docs/{}", src.trim_start_matches("./")))
        .unwrap_or_else(|| panic!("no script of its own in:\n{}", page.text()));
    assert_eq!(on.get(&asset).await.status, 200, "{asset}");

    let off = ServerBuilder::new()
        .example("blog")
        .config("[server]\ndocs = false\n")
        .start();
    for path in ["/openapi.json", "/openapi.yaml", "/docs", "/docs/", &asset] {
        let reply = off.get(path).await;
        assert_eq!(reply.status, 404, "{path}: {}", reply.text());
    }
    assert_eq!(off.get("/posts").await.status, 200, "the API still serves");
}
