//! What guests get from the host: settings, instance reuse or isolation, logging, and
//! streamed responses.

use percent_encoding::{NON_ALPHANUMERIC, percent_encode};
use piston_tests::{Method, ServerBuilder, json, send};

#[tokio::test]
async fn warm_instances_are_reused_by_default() {
    let server = ServerBuilder::new()
        .fixture("echo")
        .config("[plugins.echo.config]\ngreeting = \"hello from piston.toml\"\n")
        .start();
    let first = server.get("/echo").await.json();
    let second = server.get("/echo").await.json();
    assert_eq!(first["greeting"], "hello from piston.toml");
    assert_eq!(first["calls"], 1);
    assert_eq!(second["calls"], 2, "the same warm instance served both");
}

#[tokio::test]
async fn request_isolation_gives_a_fresh_instance_each_time() {
    let server = ServerBuilder::new()
        .fixture("echo")
        .config("[plugins.echo]\nisolation = \"request\"\n")
        .start();
    for _ in 0..3 {
        assert_eq!(server.get("/echo").await.json()["calls"], 1);
    }
}

#[tokio::test]
async fn guest_output_goes_to_the_log_tagged_with_the_plugin() {
    let server = ServerBuilder::new().fixture("hostile").start();
    let reply = server.get("/hostile/chatter").await;
    assert_eq!(reply.json(), json!({"chatted": true}));
    let request_id = reply.header("x-request-id").unwrap().to_owned();
    let log = server.log();
    let line = log
        .lines()
        .find(|line| line.contains("hostile says hello on stdout"))
        .unwrap_or_else(|| panic!("guest stdout not logged:\n{log}"));
    assert!(
        line.contains("plugin=\"hostile\"") || line.contains("plugin=hostile"),
        "{line}"
    );
    assert!(
        line.contains(&request_id),
        "the request id is on the line: {line}"
    );
    assert!(log.contains("hostile says hello on stderr"), "{log}");
}

#[tokio::test]
async fn streams_arrive_as_one_chunked_json_array() {
    let server = ServerBuilder::new()
        .fixture("echo")
        .fixture("hostile")
        .start();
    let reply = server.get("/numbers?count=1000").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("transfer-encoding"), Some("chunked"));
    let items = reply.json();
    let items = items.as_array().expect("an array");
    assert_eq!(items.len(), 1000);
    assert_eq!(items[999], json!({"n": 999}));

    assert_eq!(server.get("/numbers?count=0").await.json(), json!([]));
    assert_eq!(
        server
            .get("/hostile/stream?count=130")
            .await
            .json()
            .as_array()
            .map(Vec::len),
        Some(130)
    );

    let head = send(server.request(Method::HEAD, "/numbers?count=5")).await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(
        server.get("/numbers?count=2").await.json(),
        json!([{"n": 0}, {"n": 1}]),
        "the instance is reusable after HEAD"
    );
}

/// A handler in `fixture` that raises (`/NAME/boom`), and a stream whose second item
/// raises (`/NAME/stream`): the client gets a 500 problem or a cut-short stream; the
/// log gets the guest's message and its trace, on the request's line. A handler that
/// refuses with field violations (`/NAME/refuse`) is a 400 listing them.
async fn guest_errors_reach_the_log_with_their_trace(fixture: &str, message: &str) {
    let server = ServerBuilder::new().fixture(fixture).start();
    let reply = server.get(&format!("/{fixture}/boom")).await;
    let problem = reply.problem(500);
    assert_eq!(problem["detail"], "the handler failed");
    assert!(
        !problem.to_string().contains(message),
        "the guest's message is for the operator, not the client: {problem}"
    );
    let request_id = reply.header("x-request-id").unwrap().to_owned();
    let log = server.log();
    let line = log
        .lines()
        .find(|line| line.contains(&request_id) && line.contains(message))
        .unwrap_or_else(|| panic!("no log line with {message:?} for {request_id}:\n{log}"));
    assert!(
        line.contains("; trace: \""),
        "the trace is on the line: {line}"
    );

    // Raised while the first batch is pulled, before the head is sent (JavaScript's
    // SDK fills a batch at once): a 500 problem. Raised for a later batch (Python's
    // hands over the items it has): a cut-short body.
    let stream = server
        .request(Method::GET, &format!("/{fixture}/stream"))
        .send()
        .await
        .expect("the server answers");
    let (status, request_id) = (
        stream.status().as_u16(),
        stream.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned(),
    );
    let body = stream.bytes().await;
    let logged = match status {
        500 => "reported an error",
        200 => {
            assert!(
                body.is_err(),
                "a stream that fails mid-way is cut short: {body:?}"
            );
            "stream aborted"
        }
        other => panic!("a broken stream answered {other}"),
    };
    let log = server.log();
    assert!(
        log.lines().any(|line| line.contains(&request_id)
            && line.contains(logged)
            && line.contains("; trace: \"")),
        "the stream's error is logged with its trace:\n{log}"
    );
    assert_eq!(
        server.get(&format!("/{fixture}/boom")).await.status,
        500,
        "the plugin still answers after its errors"
    );
    // Field violations collected in the guest are answered together, in order.
    let refused = server.get(&format!("/{fixture}/refuse")).await;
    assert_eq!(refused.status, 400, "{}", refused.text());
    let problem = refused.json();
    assert_eq!(problem["detail"], "the post is not valid", "{problem}");
    assert_eq!(
        problem["errors"],
        json!([
            {"pointer": "/title", "detail": "must have a letter or digit"},
            {"pointer": "/slug", "detail": "is taken"},
        ]),
        "{problem}"
    );
}

#[tokio::test]
async fn a_python_exception_is_a_500_and_a_logged_traceback() {
    guest_errors_reach_the_log_with_their_trace("raise-py", "ValueError: boom from python").await;
}

#[tokio::test]
async fn a_javascript_error_is_a_500_and_a_logged_stack() {
    guest_errors_reach_the_log_with_their_trace("raise-js", "TypeError: boom from javascript")
        .await;
}

#[tokio::test]
async fn a_c_plugin_answers_data_and_problems_in_every_format() {
    let server = ServerBuilder::new().lang_example("hello-c").start();
    assert_eq!(
        server.get("/hello-c/world").await.json(),
        json!({"hello": "world"})
    );
    let awkward = "q\"b\\süd€🎉\t";
    let path = format!(
        "/hello-c/{}",
        percent_encode(awkward.as_bytes(), NON_ALPHANUMERIC)
    );
    assert_eq!(
        server.get(&path).await.json(),
        json!({"hello": awkward}),
        "the C plugin escapes what it puts into JSON"
    );
    assert_eq!(
        server.get("/hello-c/world?format=yaml").await.text(),
        "hello: world\n"
    );
    server.get("/hello-c/nobody").await.problem(404);
}
