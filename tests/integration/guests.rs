//! What guests get from the host: settings, instance reuse or isolation, logging, and
//! streamed responses.

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
