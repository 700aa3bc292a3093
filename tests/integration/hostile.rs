//! Hostile plugins: every kind of misbehaviour ends that request with a problem, and
//! the host (and every other plugin) keeps serving.

use piston_tests::{Server, ServerBuilder, json};

fn hostile_server() -> Server {
    ServerBuilder::new()
        .example("blog")
        .fixture("hostile")
        .config("[plugins.hostile]\ntimeout = \"500ms\"\nmemory_mib = 16\n")
        .start()
}

async fn still_serving(server: &Server) {
    let reply = server.get("/posts").await;
    assert_eq!(
        reply.status,
        200,
        "the blog still answers: {}",
        reply.text()
    );
}

#[tokio::test]
async fn traps_and_failures_are_500_problems_with_the_cause_logged() {
    let server = hostile_server();
    for (path, logged) in [
        ("/hostile/panic", "deliberate panic in the hostile fixture"),
        ("/hostile/fail", "the database is on fire"),
        ("/hostile/not-json", "not JSON"),
        ("/hostile/bad-status", "status 99"),
        ("/hostile/bad-header", "`bad header` is not a header name"),
        ("/hostile/success-problem", "success status"),
        ("/hostile/no-content-with-body", "which has none"),
    ] {
        let reply = server.get(path).await;
        let problem = reply.problem(500);
        let body = reply.text();
        assert!(
            !body.contains(logged),
            "{path}: the cause stays out of the answer: {body}"
        );
        let id = problem["request_id"].as_str().unwrap();
        let log = server.log();
        assert!(
            log.lines()
                .any(|line| line.contains(id) && line.contains(logged)),
            "{path}: `{logged}` logged with request id {id}:\n{log}"
        );
        still_serving(&server).await;
    }
}

#[tokio::test]
async fn an_endless_loop_times_out_with_503() {
    let server = hostile_server();
    let started = std::time::Instant::now();
    let (spin, blog) = tokio::join!(server.get("/hostile/spin"), async {
        // The spinning guest yields: other requests are served meanwhile.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        server.get("/posts").await
    });
    assert_eq!(blog.status, 200);
    spin.problem(503);
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    still_serving(&server).await;
}

#[tokio::test]
async fn a_memory_hog_hits_its_limit() {
    let server = hostile_server();
    server.get("/hostile/hog").await.problem(500);
    let log = server.log();
    assert!(log.contains("memory"), "the log says what happened:\n{log}");
    still_serving(&server).await;
    // The plugin's other resources still work: the trapped instance was discarded.
    assert_eq!(
        server.get("/hostile/chatter").await.json(),
        json!({"chatted": true})
    );
}

#[tokio::test]
async fn raw_bodies_pass_through() {
    let server = hostile_server();
    let reply = server.get("/hostile/raw").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("text/csv"));
    assert_eq!(reply.text(), "a,b\n1,2\n");
}

#[tokio::test]
async fn a_broken_stream_cuts_the_response_short() {
    let server = hostile_server();
    // Broken in its first batch, pulled before the head is sent: an error status.
    for (path, status) in [
        ("/hostile/stream-flood", 500),
        ("/hostile/stream-spin", 503),
        ("/hostile/stream-fail?count=0", 500),
    ] {
        server.get(path).await.problem(status);
        still_serving(&server).await;
    }
    // Broken later: the head is gone, so the body is cut short.
    for path in [
        "/hostile/stream-not-json?count=100",
        "/hostile/stream-fail?count=100",
    ] {
        let response = server
            .request(piston_tests::Method::GET, path)
            .send()
            .await
            .expect("the stream starts");
        assert_eq!(response.status(), 200, "{path}");
        let body = response.bytes().await;
        assert!(
            body.is_err(),
            "{path}: the client sees an incomplete body, not a well-formed one: {body:?}"
        );
        still_serving(&server).await;
    }
    let whole = server.get("/hostile/stream?count=3").await.json();
    assert_eq!(whole, json!([{"n": 0}, {"n": 1}, {"n": 2}]));
}
