//! Routing and method handling: 404, 405 with `Allow` before anything else, `HEAD`,
//! `OPTIONS`, trailing slashes, path parameters.

use piston_tests::{Method, ServerBuilder, json, send};

#[tokio::test]
async fn unknown_paths_are_404_problems() {
    let server = ServerBuilder::new().example("blog").start();
    let problem = server.get("/nothing/here").await.problem(404);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("/nothing/here")
    );
    server.get("/").await.problem(404);
}

#[tokio::test]
async fn disallowed_methods_are_405_with_allow_before_the_body_is_read() {
    let server = ServerBuilder::new().example("blog").start();
    // PATCH with a malformed body: the method check comes first, so 405, not 400.
    let reply = send(
        server
            .request(Method::PATCH, "/posts/anything")
            .header("content-type", "application/json")
            .body("{broken"),
    )
    .await;
    reply.problem(405);
    assert_eq!(
        reply.header("allow"),
        Some("GET, PUT, DELETE, HEAD, OPTIONS")
    );

    let reply = send(server.request(Method::DELETE, "/posts")).await;
    reply.problem(405);
    assert_eq!(reply.header("allow"), Some("GET, POST, HEAD, OPTIONS"));

    let trace = send(server.request(Method::TRACE, "/posts")).await;
    trace.problem(405);
}

#[tokio::test]
async fn head_is_get_without_a_body_and_options_lists_methods() {
    let server = ServerBuilder::new().example("blog").start();
    server
        .send_json(
            Method::POST,
            "/posts",
            &json!({"title": "Head Test", "content": "abc"}),
        )
        .await;
    let get = server.get("/posts/head-test").await;
    let head = send(server.request(Method::HEAD, "/posts/head-test")).await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(head.header("content-type"), Some("application/json"));
    assert_eq!(
        head.header("content-length").map(str::to_owned),
        Some(get.body.len().to_string()),
        "HEAD reports the length GET sends"
    );
    let missing = send(server.request(Method::HEAD, "/posts/absent")).await;
    assert_eq!(missing.status, 404);
    assert!(missing.body.is_empty());

    let options = send(server.request(Method::OPTIONS, "/posts/head-test")).await;
    assert_eq!(options.status, 204);
    assert_eq!(
        options.header("allow"),
        Some("GET, PUT, DELETE, HEAD, OPTIONS")
    );
}

#[tokio::test]
async fn trailing_slashes_and_encoded_parameters() {
    let server = ServerBuilder::new()
        .example("arbitrary")
        .fixture("echo")
        .start();
    let slash = server.get("/other/jane/x/").await;
    assert_eq!(slash.status, 200, "{}", slash.text());

    let echo = server
        .get("/echo/caf%C3%A9/a%2Fb?q=%E2%9C%93&q=2&plus=a+b")
        .await
        .json();
    assert_eq!(
        echo["params"]["rest"], "café/a/b",
        "params are percent-decoded: {echo}"
    );
    assert_eq!(
        echo["path"], "/echo/caf%C3%A9/a%2Fb",
        "the path is as received"
    );
    assert_eq!(
        echo["query"],
        json!([["q", "✓"], ["q", "2"], ["plus", "a b"]])
    );

    let problem = server.get("/echo/%FF").await.problem(400);
    assert!(
        problem["detail"].as_str().unwrap().contains("UTF-8"),
        "{problem}"
    );
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let server = ServerBuilder::new().example("blog").start();
    let first = server.get("/posts").await;
    let second = server.get("/posts").await;
    let (Some(a), Some(b)) = (first.header("x-request-id"), second.header("x-request-id")) else {
        panic!("no request id: {:?}", first.headers);
    };
    assert_ne!(a, b);
}
