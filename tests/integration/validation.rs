//! Body validation against the JSON Schemas resources declare: every violation at
//! once, whatever format the body came in, and the handler never called for a body
//! that fails.

use piston_tests::{Method, Reply, ServerBuilder, json, violation_pointers};

fn pointers(reply: &Reply) -> Vec<String> {
    violation_pointers(&reply.problem(400))
}

#[tokio::test]
async fn every_violation_is_reported_in_json_and_yaml_bodies_before_the_handler_runs() {
    let server = ServerBuilder::new().example("blog").start();
    let long_title = "x".repeat(201);

    let from_json = server
        .send_json(
            Method::POST,
            "/posts",
            &json!({"title": long_title, "slug": "Not A Slug", "content": 7}),
        )
        .await;
    assert_eq!(pointers(&from_json), ["/content", "/slug", "/title"]);
    let detail = from_json.problem(400)["detail"].clone();
    assert!(
        detail.as_str().unwrap().contains("3 violations"),
        "{detail}"
    );

    let yaml = format!("title: {long_title}\nslug: Not A Slug\ncontent: 7\n");
    let from_yaml = server
        .post_body("/posts", "application/yaml", yaml.into_bytes())
        .await;
    assert_eq!(pointers(&from_yaml), ["/content", "/slug", "/title"]);

    // A missing required field, and a blank title, in one body.
    let missing = server
        .post_body("/posts", "application/yaml", b"content: hi\n".to_vec())
        .await;
    assert_eq!(pointers(&missing), [""]);
    assert!(
        missing.problem(400)["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("title")
    );

    // Nothing was created: the handler never ran.
    assert_eq!(server.get("/posts").await.json(), json!([]));

    // Updates have their own schema: nothing is required, types still are.
    let created = server
        .send_json(Method::POST, "/posts", &json!({"title": "Valid"}))
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let update = server
        .send_json(Method::PUT, "/posts/valid", &json!({"title": " "}))
        .await;
    assert_eq!(pointers(&update), ["/title"]);
    let fine = server
        .send_json(Method::PUT, "/posts/valid", &json!({"content": "more"}))
        .await;
    assert_eq!(fine.status, 200, "{}", fine.text());
}

#[tokio::test]
async fn validation_errors_come_in_the_negotiated_format() {
    let server = ServerBuilder::new().example("blog").start();
    let reply = piston_tests::send(
        server
            .request(Method::POST, "/posts.yaml")
            .header("content-type", "application/json")
            .body(r#"{"title": 42}"#),
    )
    .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.header("content-type"), Some("application/yaml"));
    assert!(
        reply.text().contains("- pointer: \"/title\""),
        "{}",
        reply.text()
    );
}
