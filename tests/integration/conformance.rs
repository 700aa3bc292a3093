//! One suite, every guest language: the blog plugin written in Rust (`plugins/blog`),
//! Python (`plugins/blog-py`) and JavaScript (`plugins/blog-js`) must answer alike. Each
//! case runs against all three; and a scripted session is replayed against the Rust
//! blog and each other one side by side, answers compared byte for byte.

use piston_tests::{Method, Reply, Server, ServerBuilder, Value, json, send, violation_pointers};

/// The blog plugin in one language.
#[derive(Clone, Copy)]
struct Blog {
    /// The name it describes itself with (and its file's name).
    name: &'static str,
}

const RUST: Blog = Blog { name: "blog" };
const PYTHON: Blog = Blog { name: "blog-py" };
const JAVASCRIPT: Blog = Blog { name: "blog-js" };

impl Blog {
    fn builder(self) -> ServerBuilder {
        match self.name {
            "blog" => ServerBuilder::new().example("blog"),
            other => ServerBuilder::new().lang_example(other),
        }
    }

    fn start(self) -> Server {
        self.builder().start()
    }

    /// Serves the blog with Basic authentication and users ann and bob.
    fn start_with_users(self) -> Server {
        let server = self
            .builder()
            .config("[auth]\nauthenticators = [\"basic\"]\n")
            .start();
        server.add_user("ann", "correct horse", "Ann");
        server.add_user("bob", "battery staple", "Bob");
        server
    }
}

/// Runs each case against every language, as `rust::CASE`, `python::CASE` and
/// `javascript::CASE`.
macro_rules! every_language {
    ($($case:ident),* $(,)?) => {
        mod rust {
            $(#[tokio::test]
            async fn $case() {
                super::$case(super::RUST).await;
            })*
        }
        mod python {
            $(#[tokio::test]
            async fn $case() {
                super::$case(super::PYTHON).await;
            })*
        }
        mod javascript {
            $(#[tokio::test]
            async fn $case() {
                super::$case(super::JAVASCRIPT).await;
            })*
        }
    };
}

every_language!(
    crud_survives_a_restart,
    bodies_are_checked_by_the_schema_before_the_handler_runs,
    authors_write_and_only_authors_delete,
    five_updates_per_author_then_429,
    concurrent_creates_of_one_slug_admit_exactly_one,
    long_listings_stream_page_by_page,
);

async fn create(server: &Server, body: &Value) -> Reply {
    server.send_json(Method::POST, "/posts", body).await
}

async fn crud_survives_a_restart(blog: Blog) {
    let mut server = blog.start();
    assert_eq!(server.get("/posts").await.json(), json!([]));

    let created = create(
        &server,
        &json!({"title": "Hello World", "content": "Ünïcödé ✓ 🎉"}),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(created.header("location"), Some("/posts/hello-world"));
    assert_eq!(
        created.json(),
        json!({
            "slug": "hello-world",
            "title": "Hello World",
            "content": "Ünïcödé ✓ 🎉",
            "author": null,
            "content_size": 11,
            "resource_uri": "/posts/hello-world",
        }),
        "content_size counts characters"
    );

    let duplicate = create(&server, &json!({"title": "Hello world"})).await;
    assert_eq!(
        duplicate.problem(409)["detail"],
        "a post with slug `hello-world` already exists"
    );

    let updated = server
        .send_json(
            Method::PUT,
            "/posts/hello-world",
            &json!({"content": "Edited, longer."}),
        )
        .await;
    assert_eq!(updated.status, 200, "{}", updated.text());
    assert_eq!(updated.json()["content_size"], 15);

    server.restart();
    let read = server.get("/posts/hello-world").await;
    assert_eq!(
        read.json()["content"],
        "Edited, longer.",
        "kept over a restart"
    );
    let missing = server.get("/posts/no-such-post").await.problem(404);
    assert_eq!(missing["detail"], "there is no post `no-such-post`");
    let listing = server.get("/posts?fields=slug").await.json();
    assert_eq!(listing, json!([{"slug": "hello-world"}]));

    let anonymous = send(server.request(Method::DELETE, "/posts/hello-world")).await;
    assert_eq!(
        anonymous.problem(403)["detail"],
        "only the post's author may delete it"
    );
}

async fn bodies_are_checked_by_the_schema_before_the_handler_runs(blog: Blog) {
    let server = blog.start();
    // The host's schema: every violation at once, before the guest runs.
    let by_schema = create(&server, &json!({"title": "", "slug": "Not A Slug"}))
        .await
        .problem(400);
    assert_eq!(
        violation_pointers(&by_schema),
        ["/slug", "/title"],
        "{by_schema}"
    );
    // A title that makes no slug: the schema says what the handler needs.
    let no_slug = create(&server, &json!({"title": "!!!"})).await.problem(400);
    assert_eq!(violation_pointers(&no_slug), ["/title"], "{no_slug}");
    let wrong_type = create(&server, &json!({"title": 42})).await.problem(400);
    assert_eq!(violation_pointers(&wrong_type), ["/title"], "{wrong_type}");
    let no_body = send(server.request(Method::POST, "/posts"))
        .await
        .problem(400);
    assert!(
        no_body["detail"].as_str().unwrap().contains("needs a body"),
        "{no_body}"
    );
    // A body in another format reaches every guest as the same data.
    let from_yaml = server
        .post_body(
            "/posts",
            "application/yaml",
            "title: From YAML\ncontent: yes\n",
        )
        .await;
    assert_eq!(from_yaml.status, 201, "{}", from_yaml.text());
    assert_eq!(from_yaml.json()["content"], "yes");
}

async fn authors_write_and_only_authors_delete(blog: Blog) {
    let server = blog.start_with_users();
    let as_user = |method: Method, path: &str, user: &'static str, password: &'static str| {
        server
            .request(method, path)
            .basic_auth(user, Some(password))
    };
    let created = send(
        as_user(Method::POST, "/posts", "ann", "correct horse").json(&json!({"title": "Mine"})),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(
        created.json()["author"],
        json!({"username": "ann", "first_name": "Ann"}),
        "the guest saw the principal and its claims"
    );
    send(as_user(
        Method::DELETE,
        "/posts/mine",
        "bob",
        "battery staple",
    ))
    .await
    .problem(403);
    let deleted = send(as_user(
        Method::DELETE,
        "/posts/mine",
        "ann",
        "correct horse",
    ))
    .await;
    assert_eq!(deleted.status, 204, "{}", deleted.text());
    assert!(deleted.body.is_empty());
    server.get("/posts/mine").await.problem(404);
}

async fn five_updates_per_author_then_429(blog: Blog) {
    let server = blog.start_with_users();
    let update = |user: &'static str, password: &'static str| {
        send(
            server
                .request(Method::PUT, "/posts/missing")
                .basic_auth(user, Some(password))
                .json(&json!({"title": "t"})),
        )
    };
    for remaining in (0..5).rev() {
        let reply = update("ann", "correct horse").await;
        reply.problem(404);
        assert_eq!(
            reply.header("ratelimit-remaining"),
            Some(remaining.to_string().as_str())
        );
    }
    update("ann", "correct horse").await.problem(429);
    update("bob", "battery staple").await.problem(404);
}

async fn concurrent_creates_of_one_slug_admit_exactly_one(blog: Blog) {
    let server = blog.start();
    let bodies: Vec<Value> = (0..20)
        .map(|i| json!({"slug": "contested", "title": format!("Attempt {i}")}))
        .collect();
    let replies =
        futures_util::future::join_all(bodies.iter().map(|body| create(&server, body))).await;
    let mut statuses: Vec<u16> = replies.iter().map(|reply| reply.status).collect();
    statuses.sort_unstable();
    assert_eq!(statuses[0], 201, "{statuses:?}");
    assert!(
        statuses[1..].iter().all(|&status| status == 409),
        "{statuses:?}"
    );
}

async fn long_listings_stream_page_by_page(blog: Blog) {
    let server = blog.start();
    let bodies: Vec<Value> = (0..150)
        .map(|i| json!({"title": format!("Post {i:03}")}))
        .collect();
    for chunk in bodies.chunks(25) {
        for reply in
            futures_util::future::join_all(chunk.iter().map(|body| create(&server, body))).await
        {
            assert_eq!(reply.status, 201, "{}", reply.text());
        }
    }
    let listing = server.get("/posts").await;
    assert_eq!(listing.header("transfer-encoding"), Some("chunked"));
    let mut slugs: Vec<String> = listing
        .json()
        .as_array()
        .expect("an array")
        .iter()
        .map(|post| post["slug"].as_str().unwrap().to_owned())
        .collect();
    slugs.sort_unstable();
    slugs.dedup();
    assert_eq!(slugs.len(), 150);
    let lines = server.get("/posts?format=jsonl").await.text();
    assert_eq!(lines.lines().count(), 150);
}

/// One request of the scripted session: method, path, content type and body, accept.
pub(crate) type Step = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

/// A session touching every part of the blog: creates (good, duplicate, invalid in
/// several ways, in another format), reads in every format and with `?fields=`,
/// updates, listings, refusals and the methods the host answers itself. Also replayed
/// against hosts sharing a store, request by request on alternating hosts
/// (`many_hosts`).
pub(crate) const SESSION: &[Step] = &[
    ("GET", "/posts", "", "", ""),
    (
        "POST",
        "/posts",
        "application/json",
        r#"{"title": "Hello World", "content": "Ünïcödé ✓ 🎉"}"#,
        "",
    ),
    (
        "POST",
        "/posts",
        "application/json",
        r#"{"title": "Hello world"}"#,
        "",
    ),
    (
        "POST",
        "/posts",
        "application/json",
        r#"{"title": "!!!"}"#,
        "",
    ),
    (
        "POST",
        "/posts",
        "application/json",
        r#"{"title": "", "slug": "Not A Slug"}"#,
        "",
    ),
    ("POST", "/posts", "application/json", r#"{"title": 42}"#, ""),
    ("POST", "/posts", "application/json", "{", ""),
    ("POST", "/posts", "", "", ""),
    (
        "POST",
        "/posts",
        "application/x-www-form-urlencoded",
        "title=From+a+form&slug=form",
        "",
    ),
    (
        "POST",
        "/posts",
        "application/yaml",
        "title: From YAML\ncontent: |\n  two\n  lines\n",
        "",
    ),
    ("GET", "/posts/hello-world", "", "", ""),
    ("GET", "/posts/hello-world.yaml", "", "", ""),
    ("GET", "/posts/hello-world", "", "", "application/xml"),
    ("GET", "/posts/hello-world?format=msgpack", "", "", ""),
    ("GET", "/posts/hello-world?format=pickle", "", "", ""),
    (
        "GET",
        "/posts/hello-world?fields=title,resource_uri",
        "",
        "",
        "",
    ),
    (
        "PUT",
        "/posts/hello-world",
        "application/json",
        r#"{"content": "Edited."}"#,
        "",
    ),
    (
        "PUT",
        "/posts/hello-world",
        "application/json",
        r#"{"title": ""}"#,
        "",
    ),
    (
        "PUT",
        "/posts/missing",
        "application/json",
        r#"{"title": "t"}"#,
        "",
    ),
    ("GET", "/posts", "", "", ""),
    ("GET", "/posts?format=jsonl", "", "", ""),
    ("GET", "/posts.xml", "", "", ""),
    ("GET", "/posts?format=pickle", "", "", ""),
    ("DELETE", "/posts/hello-world", "", "", ""),
    ("HEAD", "/posts/hello-world", "", "", ""),
    ("OPTIONS", "/posts", "", "", ""),
    ("PATCH", "/posts/hello-world", "application/json", "{}", ""),
    ("GET", "/posts/no-such-post", "", "", "application/yaml"),
];

/// The parts of an answer that must match, with the request id (which differs
/// between servers, and which YAML quotes when it could be read as a number)
/// replaced.
pub(crate) fn comparable(reply: &Reply) -> String {
    let headers: Vec<String> = [
        "content-type",
        "location",
        "allow",
        "ratelimit-limit",
        "ratelimit-remaining",
        "transfer-encoding",
    ]
    .iter()
    .filter_map(|name| Some(format!("{name}: {}", reply.header(name)?)))
    .collect();
    let id = reply.header("x-request-id").unwrap_or("-");
    format!(
        "{}\n{}\n{}",
        reply.status,
        headers.join("\n"),
        reply
            .text()
            .replace(id, "<request id>")
            .replace("\"<request id>\"", "<request id>")
    )
}

pub(crate) async fn replay(
    server: &Server,
    (method, path, content_type, body, accept): Step,
) -> Reply {
    let mut request = server.request(method.parse().unwrap(), path);
    if !content_type.is_empty() {
        request = request.header("content-type", content_type).body(body);
    }
    if !accept.is_empty() {
        request = request.header("accept", accept);
    }
    send(request).await
}

async fn answers_like_the_rust_blog(other: Blog) {
    let rust = RUST.start();
    let server = other.start();
    for &step in SESSION {
        let expected = comparable(&replay(&rust, step).await);
        let actual = comparable(&replay(&server, step).await);
        assert_eq!(
            actual, expected,
            "{} answered {} {} differently from the Rust blog",
            other.name, step.0, step.1
        );
    }
}

#[tokio::test]
async fn python_answers_like_the_rust_blog() {
    answers_like_the_rust_blog(PYTHON).await;
}

#[tokio::test]
async fn javascript_answers_like_the_rust_blog() {
    answers_like_the_rust_blog(JAVASCRIPT).await;
}
