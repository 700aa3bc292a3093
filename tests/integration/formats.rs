//! Formats: negotiation, every emitter and decoder against Python's own libraries,
//! field filtering, `resource_uri`, streams, and hostile bodies.

use piston_tests::{Method, Reply, Server, ServerBuilder, Value, json, python_formats, send};

const EMITTED: [(&str, &str); 6] = [
    ("json", "application/json"),
    ("yaml", "application/yaml"),
    ("xml", "application/xml"),
    ("pickle", "application/python-pickle"),
    ("msgpack", "application/msgpack"),
    ("jsonl", "application/jsonl"),
];

/// A document exercising every kind of value, and keys XML cannot use as names.
fn document() -> Value {
    json!({
        "title": "Hello <World> & \"friends\"",
        "unicode": "héllo ✓ 日本",
        "count": 42,
        "negative": -7,
        "ratio": 3.25,
        "yes": true,
        "no": false,
        "nothing": null,
        "empty": "",
        "tags": ["a", "b"],
        "nested": {"inner": {"deep": [1, {"x": "y"}]}},
        "has space": "key that is not an XML name",
        "1st": "key starting with a digit",
    })
}

/// What a document becomes through XML, which carries only text.
fn as_text(value: &Value) -> Value {
    match value {
        Value::Null => Value::Null,
        Value::Bool(flag) => Value::String(flag.to_string()),
        Value::Number(number) => Value::String(number.to_string()),
        Value::String(text) => Value::String(text.clone()),
        Value::Array(items) => Value::Array(items.iter().map(as_text).collect()),
        Value::Object(members) => Value::Object(
            members
                .iter()
                .map(|(key, value)| (key.clone(), as_text(value)))
                .collect(),
        ),
    }
}

fn decoded(format: &str, reply: &Reply) -> Value {
    let (out, _) = python_formats(&["decode", format], &reply.body);
    serde_json::from_slice(&out).expect("formats.py prints JSON")
}

async fn create_post(server: &Server) {
    let created = server
        .send_json(
            Method::POST,
            "/posts",
            &json!({"title": "Hello World", "content": "Some content."}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
}

#[tokio::test]
async fn negotiation_by_suffix_query_and_accept() {
    let server = ServerBuilder::new().example("blog").start();
    create_post(&server).await;
    for (request, content_type) in [
        (
            send(server.request(Method::GET, "/posts/hello-world.yaml")).await,
            "application/yaml",
        ),
        (
            send(server.request(Method::GET, "/posts/hello-world.yml")).await,
            "application/yaml",
        ),
        (
            send(server.request(Method::GET, "/posts/hello-world?format=xml")).await,
            "application/xml",
        ),
        (
            send(
                server
                    .request(Method::GET, "/posts/hello-world")
                    .header("accept", "text/html;q=0.9, application/msgpack"),
            )
            .await,
            "application/msgpack",
        ),
        (
            send(
                server
                    .request(Method::GET, "/posts/hello-world.json?format=xml")
                    .header("accept", "application/yaml"),
            )
            .await,
            "application/json",
        ),
        (
            send(
                server
                    .request(Method::GET, "/posts/hello-world")
                    .header("accept", "*/*"),
            )
            .await,
            "application/json",
        ),
    ] {
        assert_eq!(request.status, 200, "{}", request.text());
        assert_eq!(request.header("content-type"), Some(content_type));
        assert_eq!(request.header("vary"), Some("accept"));
    }
    let pretty = send(
        server
            .request(Method::GET, "/posts/hello-world")
            .header("accept", "application/json; indent=2"),
    )
    .await;
    assert!(
        pretty.text().starts_with("{\n  \"slug\""),
        "{}",
        pretty.text()
    );
    let pretty = server.get("/posts/hello-world?indent=4").await;
    assert!(
        pretty.text().contains("\n    \"title\""),
        "{}",
        pretty.text()
    );
    server
        .get("/posts/hello-world?indent=many")
        .await
        .problem(400);
}

#[tokio::test]
async fn unacceptable_formats_are_406_and_the_handler_never_runs() {
    let server = ServerBuilder::new().example("blog").start();
    let refused = send(
        server
            .request(Method::POST, "/posts")
            .header("accept", "text/html")
            .header("content-type", "application/json")
            .body(r#"{"title": "Never Created"}"#),
    )
    .await;
    let problem = refused.problem(406);
    assert_eq!(
        problem["available"].as_array().map(Vec::len),
        Some(6),
        "{problem}"
    );
    let unknown = send(
        server
            .request(Method::POST, "/posts?format=csv")
            .header("content-type", "application/json")
            .body(r#"{"title": "Never Created"}"#),
    )
    .await;
    unknown.problem(406);
    server.get("/posts/never-created").await.problem(404);
}

#[tokio::test]
async fn problems_come_in_the_negotiated_format() {
    let server = ServerBuilder::new().example("blog").start();
    let xml = server.get("/posts/absent.xml").await;
    assert_eq!(xml.status, 404);
    assert_eq!(xml.header("content-type"), Some("application/problem+xml"));
    assert!(
        xml.text().contains("<problem xmlns=\"urn:ietf:rfc:7807\">"),
        "{}",
        xml.text()
    );
    let problem = decoded("xml", &xml);
    assert_eq!(problem["status"], "404");
    assert_eq!(problem["request_id"].as_str(), xml.header("x-request-id"));

    let yaml = server.get("/posts/absent?format=yaml").await;
    assert_eq!(yaml.header("content-type"), Some("application/yaml"));
    assert_eq!(decoded("yaml", &yaml)["title"], "Not Found");

    let msgpack = send(
        server
            .request(Method::DELETE, "/posts")
            .header("accept", "application/msgpack"),
    )
    .await;
    assert_eq!(msgpack.status, 405);
    assert_eq!(decoded("msgpack", &msgpack)["status"], 405);
}

#[tokio::test]
async fn fields_are_filtered_and_clients_can_only_narrow() {
    let server = ServerBuilder::new()
        .example("blog")
        .arg("--public-url")
        .arg("https://api.example.com/")
        .start();
    create_post(&server).await;
    let post = server.get("/posts/hello-world").await.json();
    assert_eq!(
        post["resource_uri"],
        "https://api.example.com/posts/hello-world"
    );
    assert!(
        post.get("id").is_none() && post.get("private_edits").is_none(),
        "spec excludes: {post}"
    );
    assert_eq!(post["content_size"], 13);

    let narrowed = server
        .get("/posts/hello-world?fields=title,author.username,id,private_edits,nonsense")
        .await
        .json();
    assert_eq!(
        narrowed,
        json!({"title": "Hello World", "author": null}),
        "never widened past the spec"
    );
    let with_uri = server
        .get("/posts/hello-world?fields=title,resource_uri")
        .await
        .json();
    assert_eq!(
        with_uri,
        json!({"title": "Hello World", "resource_uri": "https://api.example.com/posts/hello-world"})
    );
    let excluded = server
        .get("/posts/hello-world?exclude=content,resource_uri,author")
        .await
        .json();
    assert_eq!(
        excluded,
        json!({"slug": "hello-world", "title": "Hello World", "content_size": 13})
    );

    let listing = server.get("/posts?fields=slug").await.json();
    assert_eq!(
        listing,
        json!([{"slug": "hello-world"}]),
        "filters apply to every item of a list"
    );
    let yaml = server.get("/posts.yaml?fields=title").await;
    assert_eq!(
        decoded("yaml", &yaml),
        json!([{"title": "Hello World"}]),
        "and in every format"
    );

    for malformed in [
        "?fields=title,,slug",
        "?fields=a..b",
        "?fields=",
        "?exclude=.x",
        "?exclude=re:.*",
    ] {
        server
            .get(&format!("/posts/hello-world{malformed}"))
            .await
            .problem(400);
    }
}

#[tokio::test]
async fn unfiltered_json_goes_out_as_the_guest_wrote_it() {
    let server = ServerBuilder::new().fixture("hostile").start();
    assert_eq!(
        server.get("/hostile/spaced").await.text(),
        r#"{ "spaced" : [ 1 , 2 ] }"#
    );
    assert_eq!(
        server.get("/hostile/spaced?indent=1").await.text(),
        "{\n \"spaced\": [\n  1,\n  2\n ]\n}\n"
    );
    assert_eq!(
        server.get("/hostile/spaced?fields=spaced").await.text(),
        r#"{"spaced":[1,2]}"#
    );
}

#[tokio::test]
async fn what_piston_emits_python_reads_back() {
    let server = ServerBuilder::new().fixture("echo").start();
    let expected = json!({"data": document()});
    for (format, content_type) in EMITTED {
        let reply = server
            .send_json(
                Method::POST,
                &format!("/echo?fields=data&format={format}"),
                &document(),
            )
            .await;
        assert_eq!(reply.status, 200, "{format}: {}", reply.text());
        assert_eq!(reply.header("content-type"), Some(content_type));
        let read = match format {
            "jsonl" => decoded("jsonl", &reply)[0].clone(),
            other => decoded(other, &reply),
        };
        let want = if format == "xml" {
            as_text(&expected)
        } else {
            expected.clone()
        };
        assert_eq!(read, want, "{format}");
    }
}

#[tokio::test]
async fn what_python_writes_piston_reads() {
    let server = ServerBuilder::new().fixture("echo").start();
    let original = document();
    for (format, content_type) in [
        ("json", "application/json"),
        ("yaml", "application/yaml"),
        ("xml", "application/xml"),
        ("pickle", "application/python-pickle"),
        ("msgpack", "application/msgpack"),
    ] {
        let (body, _) = python_formats(&["encode", format], original.to_string().as_bytes());
        let reply = send(
            server
                .request(Method::PUT, "/echo")
                .header("content-type", content_type)
                .body(body),
        )
        .await;
        assert_eq!(reply.status, 200, "{format}: {}", reply.text());
        let want = if format == "xml" {
            as_text(&original)
        } else {
            original.clone()
        };
        assert_eq!(reply.json()["data"], want, "{format}");
    }

    let fields = json!({"title": "Hello", "tag": ["a", "b"], "note": "ünïcode & more"});
    let (form, _) = python_formats(&["encode", "form"], fields.to_string().as_bytes());
    let reply = send(
        server
            .request(Method::POST, "/echo")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form),
    )
    .await;
    assert_eq!(reply.json()["data"], fields);

    let (multipart, content_type) = python_formats(
        &["encode", "multipart"],
        json!({"title": "Hello"}).to_string().as_bytes(),
    );
    let reply = send(
        server
            .request(Method::POST, "/echo")
            .header("content-type", content_type)
            .body(multipart),
    )
    .await;
    assert_eq!(
        reply.json()["data"],
        json!({
            "title": "Hello",
            "upload": {"filename": "notes.txt", "content_type": "text/plain", "size": 14, "content": "ZmlsZSAAIGNvbnRlbnQ="},
        })
    );
}

#[tokio::test]
async fn streams_arrive_in_every_format() {
    let server = ServerBuilder::new().example("export").start();
    let rows: Vec<Value> = (0..300u64)
        .map(|n| json!({"n": n, "label": format!("row-{n}"), "square": n * n, "even": n % 2 == 0}))
        .collect();
    for (format, _) in EMITTED {
        let reply = server
            .get(&format!("/export/rows?count=300&format={format}"))
            .await;
        assert_eq!(reply.status, 200, "{format}");
        assert_eq!(
            reply.header("transfer-encoding"),
            Some("chunked"),
            "{format}"
        );
        let reader = if format == "msgpack" {
            "msgpack-stream"
        } else {
            format
        };
        let want = if format == "xml" {
            as_text(&Value::Array(rows.clone()))
        } else {
            Value::Array(rows.clone())
        };
        assert_eq!(decoded(reader, &reply), want, "{format}");
    }
    let empty = server.get("/export/rows?count=0&format=yaml").await;
    assert_eq!(decoded("yaml", &empty), json!([]));
    let filtered = server.get("/export/rows?count=2&fields=n").await.json();
    assert_eq!(
        filtered,
        json!([{"n": 0}, {"n": 1}]),
        "filtering applies per item"
    );
}

#[tokio::test]
async fn hostile_bodies_are_refused_with_a_reason() {
    let server = ServerBuilder::new().fixture("echo").start();
    let post =
        |content_type: &'static str, body: Vec<u8>| server.post_body("/echo", content_type, body);

    let mut alias_bomb = String::from(
        "a0: &a0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for level in 1..10 {
        let previous = level - 1;
        let refs = vec![format!("*a{previous}"); 9].join(",");
        alias_bomb.push_str(&format!("a{level}: &a{level} [{refs}]\n"));
    }
    let problem = post("application/yaml", alias_bomb.into_bytes())
        .await
        .problem(400);
    assert!(
        problem["detail"].as_str().unwrap().contains("expands"),
        "{problem}"
    );

    let laughs = "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol1 \"&lol;&lol;&lol;&lol;\">]>\n<lolz>&lol1;</lolz>";
    let problem = post("application/xml", laughs.as_bytes().to_vec())
        .await
        .problem(400);
    assert!(
        problem["detail"].as_str().unwrap().contains("DOCTYPE"),
        "{problem}"
    );

    let external =
        "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><x>&e;</x>";
    post("application/xml", external.as_bytes().to_vec())
        .await
        .problem(400);

    let code = b"\x80\x04\x95\x1d\x00\x00\x00\x00\x00\x00\x00\x8c\x05posix\x94\x8c\x06system\x94\x93\x94\x8c\x02id\x94\x85\x94R\x94.".to_vec();
    let problem = post("application/python-pickle", code).await.problem(400);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("calls a function"),
        "{problem}"
    );

    let problem = post("application/msgpack", vec![0x92, 0x01])
        .await
        .problem(400);
    assert!(
        problem["detail"].as_str().unwrap().contains("MessagePack"),
        "{problem}"
    );

    let problem = post("application/yaml", b"a: [1, 2\nb: 3\n".to_vec())
        .await
        .problem(400);
    assert!(
        problem["detail"].as_str().unwrap().contains("line"),
        "{problem}"
    );

    let deep = "[".repeat(100) + &"]".repeat(100);
    post("application/yaml", deep.into_bytes())
        .await
        .problem(400);

    let problem = post("text/csv", b"a,b".to_vec()).await.problem(415);
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains("application/yaml") && detail.contains("multipart/form-data"),
        "{detail}"
    );
    post("application/json; charset=latin1", b"{}".to_vec())
        .await
        .problem(415);
    post("multipart/form-data", b"--x\r\n".to_vec())
        .await
        .problem(400);

    assert_eq!(server.get("/echo").await.status, 200, "still serving");
}
