//! What an operator sees: the metrics scraped and parsed as Prometheus parses them, JSON
//! log lines with one access line a request, and W3C trace context.

use base64::Engine;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::trace::v1::{Span, span};
use piston_tests::{Method, Reply, Server, ServerBuilder, Value, fixture_plugin, python};
use prost::Message;
use std::time::Duration;

const CONFIG: &str = r#"
[plugins.blog]
auth = ["basic"]

[plugins.echo.resources.echo]
throttle = [{ requests = 3, period = "1h" }]

[plugins.hostile]
timeout = "500ms"
"#;

/// One sample of the exposition, as the Python client's parser read it.
struct Sample {
    name: String,
    labels: Value,
    value: f64,
}

/// Scrapes `/metrics` and parses it with the `prometheus-client` package's OpenMetrics
/// parser, which refuses a malformed exposition.
async fn scrape(server: &Server) -> Vec<Sample> {
    let reply = server.admin_get("/metrics").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(
        reply
            .header("content-type")
            .is_some_and(|value| value.starts_with("application/openmetrics-text")),
        "{:?}",
        reply.header("content-type")
    );
    let (parsed, _) = python("metrics.py", &[], &reply.body);
    let samples: Value = serde_json::from_slice(&parsed).expect("the parser's JSON");
    samples
        .as_array()
        .expect("a list of samples")
        .iter()
        .map(|sample| Sample {
            name: sample["name"].as_str().unwrap().to_owned(),
            labels: sample["labels"].clone(),
            value: sample["value"].as_f64().unwrap(),
        })
        .collect()
}

/// The value of the sample `name` whose labels include `labels` (0 when there is none:
/// a series is created by its first count).
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    let matching: Vec<&Sample> = samples
        .iter()
        .filter(|sample| {
            sample.name == name
                && labels.iter().all(|(label, expected)| {
                    sample
                        .labels
                        .get(*label)
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        == *expected
                })
        })
        .collect();
    matching.iter().map(|sample| sample.value).sum()
}

fn basic(user: &str, password: &str) -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {token}")
}

async fn post_json(server: &Server, path: &str, body: &str, authorization: Option<&str>) -> Reply {
    let mut request = server
        .request(Method::POST, path)
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    piston_tests::send(request).await
}

#[tokio::test]
async fn every_request_of_a_scripted_mix_is_counted_where_it_belongs() {
    let server = ServerBuilder::new()
        .example("blog")
        .fixture("echo")
        .fixture("hostile")
        .config(CONFIG)
        .start();
    server.add_user("ann", "correct horse", "Ann");
    let before = scrape(&server).await;
    let loads_before = value(
        &before,
        "piston_plugin_loads_total",
        &[("outcome", "loaded")],
    );
    assert_eq!(loads_before, 3.0, "three plugins loaded at start");

    // Successes: reads (one streamed list, two items), a create with credentials.
    let created = post_json(
        &server,
        "/posts",
        r#"{"title": "Counted", "content": "One."}"#,
        Some(&basic("ann", "correct horse")),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text());
    for path in ["/posts", "/posts/counted", "/posts/counted"] {
        assert_eq!(server.get(path).await.status, 200, "{path}");
    }
    // 404 (no resource), 405, 401 without and with wrong credentials.
    for _ in 0..2 {
        assert_eq!(server.get("/nowhere").await.status, 404);
    }
    let patch = piston_tests::send(server.request(Method::PATCH, "/posts/counted")).await;
    assert_eq!(patch.status, 405);
    let anonymous = post_json(&server, "/posts", r#"{"title": "x"}"#, None).await;
    assert_eq!(anonymous.status, 401);
    let wrong = post_json(
        &server,
        "/posts",
        r#"{"title": "x"}"#,
        Some(&basic("ann", "no")),
    )
    .await;
    assert_eq!(wrong.status, 401);
    // The echo resource allows three requests: two answered, one malformed body, then 429.
    for (body, status) in [("{}", 200), ("[1]", 200), ("{oops", 400), ("{}", 429)] {
        let reply = post_json(&server, "/echo", body, None).await;
        assert_eq!(reply.status, status, "{body}: {}", reply.text());
    }
    // A trap, and a guest that never answers.
    assert_eq!(server.get("/hostile/panic").await.status, 500);
    assert_eq!(server.get("/hostile/spin").await.status, 503);
    // A hot-drop: one more plugin loads while serving.
    server.drop_plugin(
        "counter.wasm",
        &std::fs::read(fixture_plugin("counter")).unwrap(),
    );
    let loaded = async {
        loop {
            let resources = server.admin_get("/_piston/resources").await.json();
            let names = resources
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|entry| entry["plugin"]["name"].as_str().map(str::to_owned));
            if names.into_iter().any(|name| name == "counter") {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), loaded)
        .await
        .expect("the dropped plugin loads");

    let samples = scrape(&server).await;
    let requests = |plugin: &str, resource: &str, method: &str, status: &str| {
        value(
            &samples,
            "piston_requests_total",
            &[
                ("plugin", plugin),
                ("resource", resource),
                ("method", method),
                ("status", status),
            ],
        )
    };
    assert_eq!(requests("blog", "posts", "POST", "2xx"), 1.0);
    assert_eq!(requests("blog", "posts", "GET", "2xx"), 1.0);
    assert_eq!(requests("blog", "post", "GET", "2xx"), 2.0);
    assert_eq!(requests("", "", "GET", "4xx"), 2.0, "404s have no plugin");
    assert_eq!(requests("blog", "post", "other", "4xx"), 1.0, "the 405");
    assert_eq!(requests("blog", "posts", "POST", "4xx"), 2.0, "the 401s");
    assert_eq!(requests("echo", "echo", "POST", "2xx"), 2.0);
    assert_eq!(
        requests("echo", "echo", "POST", "4xx"),
        2.0,
        "the 400 and the 429"
    );
    assert_eq!(requests("hostile", "panic", "GET", "5xx"), 1.0);
    assert_eq!(requests("hostile", "spin", "GET", "5xx"), 1.0);
    let total = value(&samples, "piston_requests_total", &[]);
    assert_eq!(total, 15.0, "every request counted once");
    assert_eq!(
        value(&samples, "piston_request_duration_seconds_count", &[]),
        15.0
    );
    // Guest calls: the create, three reads, two echoes, the trap and the timeout.
    assert_eq!(
        value(&samples, "piston_guest_call_duration_seconds_count", &[]),
        8.0
    );
    assert!(
        value(
            &samples,
            "piston_response_bytes_total",
            &[("plugin", "blog"), ("resource", "posts")]
        ) > 0.0,
        "the streamed list's bytes are counted"
    );
    assert_eq!(
        value(
            &samples,
            "piston_streams_in_progress",
            &[("resource", "posts")]
        ),
        0.0
    );

    let auth = |scheme: &str, outcome: &str| {
        value(
            &samples,
            "piston_auth_outcomes_total",
            &[("scheme", scheme), ("outcome", outcome)],
        )
    };
    assert_eq!(auth("basic", "admitted"), 1.0);
    assert_eq!(auth("basic", "refused"), 1.0);
    assert_eq!(auth("none", "refused"), 1.0);
    assert_eq!(
        value(
            &samples,
            "piston_throttle_refusals_total",
            &[("plugin", "echo"), ("resource", "echo")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &samples,
            "piston_body_decode_failures_total",
            &[("format", "application/json")]
        ),
        1.0
    );
    let discarded = |reason: &str| {
        value(
            &samples,
            "piston_instances_discarded_total",
            &[("plugin", "hostile"), ("reason", reason)],
        )
    };
    assert_eq!(discarded("trap"), 1.0);
    assert_eq!(discarded("timeout"), 1.0);
    assert_eq!(
        value(
            &samples,
            "piston_instances_created_total",
            &[("plugin", "hostile")]
        ),
        2.0,
        "each failed call took its instance with it"
    );
    assert_eq!(
        value(&samples, "piston_instances_live", &[("plugin", "hostile")]),
        0.0
    );
    assert_eq!(
        value(&samples, "piston_concurrency_in_use", &[]),
        0.0,
        "every slot is back"
    );
    assert_eq!(
        value(
            &samples,
            "piston_plugin_loads_total",
            &[("outcome", "loaded")]
        ),
        4.0,
        "the hot-dropped plugin counts"
    );
    assert!(
        value(&samples, "piston_reload_duration_seconds_count", &[]) >= 1.0,
        "the reload was timed"
    );
    assert!(
        value(
            &samples,
            "piston_store_operations_total",
            &[("backend", "sqlite")]
        ) > 0.0
    );
    assert!(
        value(&samples, "piston_open_connections", &[]) >= 1.0,
        "the test's own kept-alive connection"
    );
    assert!(value(&samples, "piston_process_resident_memory_bytes", &[]) > 1e6);
    let build = samples
        .iter()
        .find(|sample| sample.name == "piston_build_info")
        .expect("build info");
    assert_eq!(build.labels["version"], env!("CARGO_PKG_VERSION"));
    assert!(
        build.labels["wasmtime"]
            .as_str()
            .is_some_and(|version| version.starts_with("48.")),
        "{}",
        build.labels
    );
    // No label carries a path, an address or a user.
    for sample in &samples {
        let labels = sample.labels.to_string();
        for leaked in ["/nowhere", "127.0.0.1", "ann", "counted"] {
            assert!(!labels.contains(leaked), "{}{labels}", sample.name);
        }
    }
}

#[tokio::test]
async fn json_logs_have_one_access_line_a_request_with_its_trace() {
    let server = ServerBuilder::new()
        .example("blog")
        .arg("--log-format")
        .arg("json")
        .start();
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let parent = format!("00-{trace}-00f067aa0ba902b7-01");
    let traced = piston_tests::send(
        server
            .request(Method::GET, "/posts/missing")
            .header("traceparent", &parent),
    )
    .await;
    assert_eq!(traced.status, 404);
    let answered = traced
        .header("traceparent")
        .expect("a traceparent")
        .to_owned();
    assert!(answered.starts_with(&format!("00-{trace}-")), "{answered}");
    assert!(
        !answered.contains("00f067aa0ba902b7"),
        "a span of its own: {answered}"
    );
    let untraced = server.get("/posts").await;
    assert_eq!(untraced.status, 200);
    let started = untraced
        .header("traceparent")
        .expect("a traceparent")
        .to_owned();
    assert!(!started.contains(trace), "a new trace: {started}");

    let access = async {
        loop {
            let lines: Vec<Value> = server
                .log()
                .lines()
                .map(|line| {
                    serde_json::from_str(line)
                        .unwrap_or_else(|error| panic!("every log line is JSON ({error}): {line}"))
                })
                .filter(|line: &Value| line["target"] == "piston::access")
                .collect();
            if lines.len() >= 2 {
                return lines;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let lines = tokio::time::timeout(Duration::from_secs(10), access)
        .await
        .expect("two access lines");
    assert_eq!(lines.len(), 2, "one line a request: {lines:?}");
    let first = &lines[0];
    for field in ["timestamp", "level", "message"] {
        assert!(first.get(field).is_some(), "{field}: {first}");
    }
    assert_eq!(first["level"], "INFO");
    assert_eq!(first["request_id"], traced.header("x-request-id").unwrap());
    assert_eq!(first["trace_id"], trace);
    assert_eq!(first["method"], "GET");
    assert_eq!(first["plugin"], "blog");
    assert_eq!(first["resource"], "post");
    assert_eq!(first["status"], 404);
    assert_eq!(first["client"], "127.0.0.1");
    assert!(first["duration_us"].as_u64().is_some(), "{first}");
    assert!(first["guest_us"].as_u64().is_some(), "{first}");
    let second = &lines[1];
    assert_eq!(second["trace_id"], started[3..35]);
    assert_eq!(second["status"], 200);
}

#[tokio::test]
async fn access_lines_and_metrics_can_be_turned_off() {
    let server = ServerBuilder::new()
        .example("blog")
        .config("[server]\naccess_log = false\nmetrics = false\n")
        .start();
    assert_eq!(server.get("/posts").await.status, 200);
    let metrics = server.admin_get("/metrics").await;
    let problem = metrics.problem(404);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("server.metrics"),
        "{problem}"
    );
    // `piston list --url` still lists what serves, and says why it has no figures.
    let listed = server.piston(&["list", "--url", &server.admin_url("")], "");
    let stderr = String::from_utf8_lossy(&listed.stderr);
    assert!(listed.status.success(), "{stderr}");
    assert!(stderr.contains("no traffic figures"), "{stderr}");
    assert!(String::from_utf8_lossy(&listed.stdout).contains("posts"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!server.log().contains("piston::access"), "{}", server.log());
}

#[tokio::test]
async fn list_shows_each_plugins_traffic_from_the_metrics() {
    let server = ServerBuilder::new()
        .example("blog")
        .fixture("hostile")
        .start();
    let (url, admin) = (server.url("/posts/hello-world"), server.admin_url(""));
    let failing = server.url("/hostile/panic");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for target in [&url, &url, &url, &failing] {
                    let _ = client.get(target).send().await;
                }
            }
        })
    };
    let dir = server.plugin_dir();
    let listed = tokio::task::spawn_blocking(move || {
        piston_tests::piston(
            &dir,
            &["list", "--json", "--url", &admin, "--window", "1500ms"],
        )
    })
    .await
    .unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    load.await.unwrap();
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let document: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let traffic = |plugin: &str| {
        document
            .as_array()
            .unwrap()
            .iter()
            .find(|entry| entry["plugin"]["name"] == plugin)
            .map(|entry| entry["traffic"].clone())
            .unwrap_or_else(|| panic!("{plugin} in {document}"))
    };
    let blog = traffic("blog");
    assert!(
        blog["requests_per_second"].as_f64().unwrap() > 1.0,
        "{blog}"
    );
    assert_eq!(blog["error_share"], 0.0, "{blog}");
    assert!(blog["p99_seconds"].as_f64().unwrap() > 0.0, "{blog}");
    let hostile = traffic("hostile");
    assert_eq!(hostile["error_share"], 1.0, "{hostile}");

    // The table says the same.
    let table = server.piston(
        &["list", "--url", &server.admin_url(""), "--window", "100ms"],
        "",
    );
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains("REQ/S") && text.contains("P99"), "{text}");
}

/// A stand-in OTLP/HTTP collector: takes protobuf exports at `/v1/traces`, answers
/// 200, and keeps every span it was sent.
struct Collector {
    address: std::net::SocketAddr,
    spans: std::sync::Arc<std::sync::Mutex<Vec<Span>>>,
}

impl Collector {
    async fn start() -> Collector {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let spans = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = spans.clone();
        tokio::spawn(async move {
            loop {
                let (connection, _) = listener.accept().await.unwrap();
                let kept = kept.clone();
                tokio::spawn(async move {
                    let _ = Collector::serve(connection, &kept).await;
                });
            }
        });
        Collector { address, spans }
    }

    /// Reads HTTP/1.1 requests (with a Content-Length) off one connection.
    async fn serve(
        connection: tokio::net::TcpStream,
        kept: &std::sync::Mutex<Vec<Span>>,
    ) -> std::io::Result<()> {
        use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
        let mut connection = BufReader::new(connection);
        loop {
            let mut head = Vec::new();
            let mut line = String::new();
            loop {
                line.clear();
                if connection.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                if line == "\r\n" {
                    break;
                }
                head.push(line.to_ascii_lowercase());
            }
            assert!(head[0].starts_with("post /v1/traces "), "{head:?}");
            assert!(
                head.iter()
                    .any(|line| line.starts_with("content-type: application/x-protobuf")),
                "{head:?}"
            );
            let length: usize = head
                .iter()
                .find_map(|line| line.strip_prefix("content-length: "))
                .expect("a content-length")
                .trim()
                .parse()
                .unwrap();
            let mut body = vec![0; length];
            connection.read_exact(&mut body).await?;
            let export = ExportTraceServiceRequest::decode(&body[..]).expect("an OTLP export");
            for resource in export.resource_spans {
                let service = resource.resource.unwrap().attributes;
                assert!(
                    service
                        .iter()
                        .any(|attribute| attribute.key == "service.name"),
                    "{service:?}"
                );
                for scope in resource.scope_spans {
                    kept.lock().unwrap().extend(scope.spans);
                }
            }
            connection
                .get_mut()
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                .await?;
        }
    }

    /// The spans received so far, waiting until there are at least `count`.
    async fn spans(&self, count: usize) -> Vec<Span> {
        let wait = async {
            loop {
                let spans = self.spans.lock().unwrap().clone();
                if spans.len() >= count {
                    return spans;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(15), wait)
            .await
            .unwrap_or_else(|_| panic!("{count} spans: {:?}", self.spans.lock().unwrap()))
    }
}

#[tokio::test]
async fn the_spans_of_a_request_reach_an_otlp_collector_with_their_parents() {
    let collector = Collector::start().await;
    let server = ServerBuilder::new()
        .example("blog")
        .config(&format!(
            "[telemetry]\notlp_endpoint = \"http://{}\"\n[plugins.blog]\nauth = [\"basic\"]\n",
            collector.address
        ))
        .start();
    server.add_user("ann", "correct horse", "Ann");
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let created = piston_tests::send(
        server
            .request(Method::POST, "/posts")
            .header("content-type", "application/json")
            .header("authorization", basic("ann", "correct horse"))
            .header("traceparent", format!("00-{trace}-00f067aa0ba902b7-01"))
            .body(r#"{"title": "Traced", "content": "One."}"#),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text());

    // The request, authentication, throttling, the guest call and its store calls.
    let spans = collector.spans(5).await;
    let trace_id = hex::decode(trace).unwrap();
    assert!(
        spans.iter().all(|span| span.trace_id == trace_id),
        "{spans:?}"
    );
    let named = |name: &str| {
        spans
            .iter()
            .find(|span| span.name == name)
            .unwrap_or_else(|| panic!("a `{name}` span in {spans:?}"))
    };
    let request = named("POST blog/posts");
    assert_eq!(
        request.parent_span_id,
        hex::decode("00f067aa0ba902b7").unwrap()
    );
    let answered = created.header("traceparent").unwrap();
    assert_eq!(
        answered[36..52],
        hex::encode(&request.span_id),
        "the answer names the request's span"
    );
    assert_eq!(request.kind, span::SpanKind::Server as i32);
    let status = request
        .attributes
        .iter()
        .find(|attribute| attribute.key == "http.response.status_code")
        .and_then(|attribute| attribute.value.clone()?.value);
    assert_eq!(status, Some(any_value::Value::IntValue(201)));
    for step in ["authenticate", "throttle", "guest call"] {
        assert_eq!(named(step).parent_span_id, request.span_id, "{step}");
    }
    let guest = named("guest call");
    let store_calls: Vec<&Span> = spans
        .iter()
        .filter(|span| span.name.starts_with("store "))
        .collect();
    assert!(!store_calls.is_empty(), "{spans:?}");
    for call in &store_calls {
        assert_eq!(call.parent_span_id, guest.span_id, "{}", call.name);
        assert_eq!(call.kind, span::SpanKind::Client as i32);
        assert!(call.start_time_unix_nano >= guest.start_time_unix_nano);
        assert!(call.end_time_unix_nano <= guest.end_time_unix_nano);
    }
    assert!(guest.end_time_unix_nano <= request.end_time_unix_nano);
}

#[tokio::test]
async fn a_malformed_or_huge_traceparent_starts_a_trace_of_its_own() {
    let server = ServerBuilder::new().example("blog").start();
    let huge = format!("00-{}-00f067aa0ba902b7-01", "a".repeat(32 * 1024));
    for bad in [
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "garbage",
        huge.as_str(),
    ] {
        let reply = piston_tests::send(
            server
                .request(Method::GET, "/posts")
                .header("traceparent", bad),
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        let answered = reply.header("traceparent").expect("a traceparent");
        let fields: Vec<&str> = answered.split('-').collect();
        assert_eq!(fields.len(), 4, "{answered}");
        assert_eq!(
            (fields[0], fields[1].len(), fields[2].len()),
            ("00", 32, 16)
        );
        assert!(!bad.contains(fields[1]), "a new trace: {answered}");
        assert!(!answered.contains("00f067aa0ba902b7"), "{answered}");
    }
}
