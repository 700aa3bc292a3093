//! Request bodies: what reaches the guest, and every way a body can be refused.

use piston_tests::{Method, ServerBuilder, json, send};

#[tokio::test]
async fn json_bodies_reach_the_guest_with_only_the_headers_it_asked_for() {
    let server = ServerBuilder::new().fixture("echo").start();
    let reply = send(
        server
            .request(Method::PUT, "/echo/x")
            .header("content-type", "application/json; charset=utf-8")
            .header("x-echo", "seen")
            .header("x-other", "not seen")
            .body(r#"{"nested": {"list": [1, 2.5, "three", null, true]}}"#),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let echo = reply.json();
    assert_eq!(echo["method"], "PUT");
    assert_eq!(
        echo["data"],
        json!({"nested": {"list": [1, 2.5, "three", null, true]}})
    );
    assert_eq!(echo["headers"], json!([["x-echo", "seen"]]));

    let get = send(server.request(Method::GET, "/echo").body("ignored"))
        .await
        .json();
    assert_eq!(get["data"], json!(null), "GET bodies are not decoded");
    let empty = send(
        server
            .request(Method::POST, "/echo")
            .header("content-type", "application/json"),
    )
    .await;
    assert_eq!(empty.json()["data"], json!(null));
    // An empty form is a form of no fields, as a browser sends it.
    let empty_form = send(
        server
            .request(Method::POST, "/echo")
            .header("content-type", "application/x-www-form-urlencoded"),
    )
    .await;
    assert_eq!(empty_form.json()["data"], json!({}));
}

#[tokio::test]
async fn malformed_and_unsupported_bodies_are_refused_with_where() {
    let server = ServerBuilder::new().fixture("echo").start();
    let post =
        |content_type: &'static str, body: Vec<u8>| server.post_body("/echo", content_type, body);

    let problem = post("application/json", b"{\"a\": 1,\n  \"b\": }".to_vec())
        .await
        .problem(400);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("line 2 column"),
        "{problem}"
    );

    let problem = post("application/json", vec![b'"', 0xC3, 0x28, b'"'])
        .await
        .problem(400);
    assert!(
        problem["detail"].as_str().unwrap().contains("offset 1"),
        "{problem}"
    );

    let deep = "[".repeat(10_000) + &"]".repeat(10_000);
    let problem = post("application/json", deep.into_bytes())
        .await
        .problem(400);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("deeper than 64 levels"),
        "{problem}"
    );

    let problem = post("text/plain", b"{}".to_vec()).await.problem(415);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("application/json"),
        "{problem}"
    );
    send(server.request(Method::POST, "/echo").body("{}"))
        .await
        .problem(415);

    assert_eq!(server.get("/echo").await.status, 200, "still serving");
}

#[tokio::test]
async fn oversized_bodies_are_413_whether_declared_or_streamed() {
    let server = ServerBuilder::new()
        .fixture("echo")
        .arg("--body-limit")
        .arg("1024")
        .start();
    let big = format!("[{}]", vec!["1"; 2000].join(","));

    let declared = send(
        server
            .request(Method::POST, "/echo")
            .header("content-type", "application/json")
            .body(big.clone()),
    )
    .await;
    declared.problem(413);

    // No Content-Length: a chunked body is cut off once it passes the limit.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = big
        .into_bytes()
        .chunks(100)
        .map(|chunk| Ok(chunk.to_vec()))
        .collect();
    let streamed = send(
        server
            .request(Method::POST, "/echo")
            .header("content-type", "application/json")
            .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
                chunks,
            ))),
    )
    .await;
    streamed.problem(413);

    let fits = server
        .send_json(Method::POST, "/echo", &json!({"small": true}))
        .await;
    assert_eq!(fits.status, 200);
}
