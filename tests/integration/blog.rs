//! The seed's blog example, end to end, including persistence across a restart.

use piston_tests::{Method, ServerBuilder, json};

#[tokio::test]
async fn crud_on_posts_survives_a_restart() {
    let mut server = ServerBuilder::new().example("blog").start();

    assert_eq!(server.get("/posts").await.json(), json!([]));

    let created = server
        .send_json(
            Method::POST,
            "/posts",
            &json!({"title": "Hello World", "content": "First post."}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(created.header("location"), Some("/posts/hello-world"));
    let post = created.json();
    assert_eq!(post["slug"], "hello-world");
    assert_eq!(post["title"], "Hello World");
    assert_eq!(post["content_size"], 11);

    let duplicate = server
        .send_json(Method::POST, "/posts", &json!({"title": "Hello world"}))
        .await;
    let problem = duplicate.problem(409);
    assert!(
        problem["detail"].as_str().unwrap().contains("hello-world"),
        "{problem}"
    );

    let updated = server
        .send_json(
            Method::PUT,
            "/posts/hello-world",
            &json!({"content": "Edited, longer."}),
        )
        .await;
    assert_eq!(updated.status, 200, "{}", updated.text());
    assert_eq!(updated.json()["content"], "Edited, longer.");
    assert_eq!(updated.json()["content_size"], 15);

    server.restart();

    let read = server.get("/posts/hello-world").await;
    assert_eq!(read.status, 200);
    assert_eq!(
        read.json()["content"],
        "Edited, longer.",
        "the update survived the restart"
    );
    let list = server.get("/posts").await.json();
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");

    // Without authentication there is no principal, so nobody is the author.
    let refused = piston_tests::send(server.request(Method::DELETE, "/posts/hello-world")).await;
    refused.problem(403);
    assert_eq!(
        server.get("/posts/hello-world").await.status,
        200,
        "still there"
    );
}

#[tokio::test]
async fn blog_answers_missing_and_invalid_posts() {
    let server = ServerBuilder::new().example("blog").start();
    let missing = server.get("/posts/no-such-post").await.problem(404);
    assert!(missing["detail"].as_str().unwrap().contains("no-such-post"));

    let invalid = server
        .send_json(
            Method::POST,
            "/posts",
            &json!({"title": "", "slug": "Not A Slug"}),
        )
        .await
        .problem(400);
    let mut pointers: Vec<&str> = invalid["errors"]
        .as_array()
        .expect("field errors")
        .iter()
        .map(|error| error["pointer"].as_str().unwrap())
        .collect();
    pointers.sort_unstable();
    assert_eq!(
        pointers,
        ["/slug", "/title"],
        "every violation at once: {invalid}"
    );

    let wrong_shape = server
        .send_json(Method::POST, "/posts", &json!({"title": 42}))
        .await
        .problem(400);
    assert_eq!(
        wrong_shape["errors"][0]["pointer"], "/title",
        "{wrong_shape}"
    );

    let no_body = piston_tests::send(server.request(Method::POST, "/posts"))
        .await
        .problem(400);
    assert!(
        no_body["detail"].as_str().unwrap().contains("needs a body"),
        "{no_body}"
    );
}

#[tokio::test]
async fn arbitrary_data_handler() {
    let server = ServerBuilder::new().example("arbitrary").start();
    let reply = server.get("/other/jane/some/longer%20data").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.json(),
        json!({"user": {"username": "jane"}, "data_length": 16})
    );
}

#[tokio::test]
async fn concurrent_creates_of_one_slug_admit_exactly_one() {
    let server = ServerBuilder::new().example("blog").start();
    let contested: Vec<_> = (0..40)
        .map(|i| json!({"slug": "contested", "title": format!("Attempt {i}")}))
        .collect();
    let attempts = contested
        .iter()
        .map(|body| server.send_json(Method::POST, "/posts", body));
    let statuses: Vec<u16> = futures_util::future::join_all(attempts)
        .await
        .iter()
        .map(|reply| reply.status)
        .collect();
    assert_eq!(
        statuses.iter().filter(|&&status| status == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&status| status == 409).count(),
        39,
        "{statuses:?}"
    );

    let distinct: Vec<_> = (0..40)
        .map(|i| json!({"title": format!("Post {i}")}))
        .collect();
    let creates = distinct
        .iter()
        .map(|body| server.send_json(Method::POST, "/posts", body));
    for reply in futures_util::future::join_all(creates).await {
        assert_eq!(reply.status, 201, "{}", reply.text());
    }
    let list = server.get("/posts").await.json();
    assert_eq!(list.as_array().map(Vec::len), Some(41));
}
