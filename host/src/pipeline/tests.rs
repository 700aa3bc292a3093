//! The pipeline through the real apps, without a socket: the blog example plugin
//! (built by `cargo xtask test`, or found in `target/plugins`) loaded into a registry,
//! requests sent with `tower::ServiceExt::oneshot`.

use super::query::MAX_QUERY_PAIRS;
use super::*;
use crate::admin::Admin;
use crate::config::Overrides;
use crate::registry::{LoadOptions, load_directory};
use crate::runtime::Runtime;
use crate::store::{KeyValueStore, SqliteStore};
use axum::Router;
use http_body_util::BodyExt;
use std::path::{Path, PathBuf};
use tower::ServiceExt;

#[test]
fn the_query_limit_counts_the_guests_parameters() {
    let guests: Vec<String> = (0..MAX_QUERY_PAIRS).map(|i| format!("p{i}=")).collect();
    let full = guests.join("&");
    let query = Query::parse(Some(&format!("format=json&{full}&indent=2"))).unwrap();
    assert_eq!(query.pairs.len(), MAX_QUERY_PAIRS);
    assert_eq!(query.indent.as_deref(), Some("2"));
    let refusal = Query::parse(Some(&format!("{full}&one=more"))).unwrap_err();
    assert_eq!(Problem::from(refusal).status(), StatusCode::BAD_REQUEST);
}

#[test]
fn request_ids_are_unique() {
    let ids = RequestIds::new();
    let first = ids.next();
    assert_ne!(first, ids.next());
    assert_eq!(first.len(), 17);
}

/// The public and admin apps over the blog plugin, in a data directory of their own.
struct Apps {
    public: Router,
    admin: Router,
    _runtime: Runtime,
    _dir: tempfile::TempDir,
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ is in the workspace")
        .to_owned()
}

fn blog_wasm() -> PathBuf {
    let dir = std::env::var_os("PISTON_EXAMPLE_PLUGINS")
        .map_or_else(|| workspace().join("target/plugins"), PathBuf::from);
    let file = dir.join("blog.wasm");
    assert!(
        file.exists(),
        "{} does not exist: run the tests with `cargo xtask test`, which builds the \
         example plugins first (or set PISTON_EXAMPLE_PLUGINS)",
        file.display()
    );
    file
}

async fn blog(config: &str) -> Apps {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    std::fs::copy(blog_wasm(), plugins.join("blog.wasm")).unwrap();
    let config_file = dir.path().join("piston.toml");
    std::fs::write(&config_file, config).unwrap();
    let settings = crate::config::Settings::load(&Overrides {
        config: Some(config_file),
        plugins: Some(plugins),
        data: Some(dir.path().join("data")),
        // Shared with the integration tests, so each plugin compiles once per run.
        cache: Some(workspace().join("target/test-cache")),
        ..Overrides::default()
    })
    .unwrap();
    std::fs::create_dir_all(&settings.server.data).unwrap();
    let runtime = Runtime::new(settings.engine_limits(), &settings.server.cache).unwrap();
    let store: Arc<dyn KeyValueStore> = Arc::new(SqliteStore::open(&settings.database()).unwrap());
    let options = LoadOptions {
        runtime: &runtime,
        store: Some(&store),
        settings: &settings.loading,
    };
    let snapshot = load_directory(&settings.server.plugins, options)
        .await
        .unwrap();
    let registry = Arc::new(Registry::new(snapshot));
    let auth_store = Arc::new(AuthStore::open(&settings.auth_database()).unwrap());
    let policy = Policy::new(&settings, &auth_store, None).unwrap();
    let admin = Admin::new(
        registry.clone(),
        None,
        vec![policy.coordination.clone()],
        Default::default(),
    );
    Apps {
        public: crate::server::app(Arc::new(Pipeline::new(registry, policy))),
        admin: crate::server::admin_app(Arc::new(admin)),
        _runtime: runtime,
        _dir: dir,
    }
}

/// One request through `app`: status, headers, body.
async fn send(app: &Router, request: http::Request<Body>) -> (StatusCode, HeaderMap, String) {
    let response = app.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    (
        parts.status,
        parts.headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

fn get(uri: &str) -> http::Request<Body> {
    http::Request::get(uri).body(Body::empty()).unwrap()
}

fn from_loopback(mut request: http::Request<Body>) -> http::Request<Body> {
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
    request
}

fn post_json(uri: &str, body: &str) -> http::Request<Body> {
    http::Request::post(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_is_created_read_in_every_asked_format_and_filtered() {
    let apps = blog("").await;
    let created = post_json(
        "/posts",
        r#"{"title": "Hello World", "content": "Hi there."}"#,
    );
    let (status, headers, _) = send(&apps.public, created).await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(headers.contains_key(REQUEST_ID));

    let (status, headers, body) = send(&apps.public, get("/posts/hello-world")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers["content-type"], "application/json");
    let post: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(post["title"], "Hello World");
    assert_eq!(post["resource_uri"], "/posts/hello-world");

    // The suffix, `?format=` and Accept each pick the format; the suffix routes as the
    // stem.
    let (_, headers, body) = send(&apps.public, get("/posts/hello-world.yaml")).await;
    assert_eq!(headers["content-type"], "application/yaml");
    assert!(body.contains("title: Hello World"), "{body}");
    let (_, headers, _) = send(&apps.public, get("/posts/hello-world?format=xml")).await;
    assert_eq!(headers["content-type"], "application/xml");

    let (status, _, body) = send(&apps.public, get("/posts/hello-world?fields=title")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap(),
        serde_json::json!({"title": "Hello World"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_come_from_their_step_in_the_format_asked_for() {
    let apps = blog("").await;

    // Route: 404, in the suffix's format.
    let (status, headers, body) = send(&apps.public, get("/nowhere.yaml")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(headers["content-type"], "application/yaml");
    assert!(
        body.contains("no resource is served at `/nowhere.yaml`"),
        "{body}"
    );

    // Method: 405 with Allow, before negotiation refuses.
    let request = http::Request::patch("/posts")
        .header("accept", "image/png")
        .body(Body::empty())
        .unwrap();
    let (status, headers, _) = send(&apps.public, request).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(headers["allow"].to_str().unwrap().contains("GET"));

    // Negotiation: 406, in JSON.
    let request = http::Request::get("/posts")
        .header("accept", "image/png")
        .body(Body::empty())
        .unwrap();
    let (status, headers, _) = send(&apps.public, request).await;
    assert_eq!(status, StatusCode::NOT_ACCEPTABLE);
    assert_eq!(headers["content-type"], "application/problem+json");

    // OPTIONS answers from the spec.
    let options = http::Request::options("/posts")
        .body(Body::empty())
        .unwrap();
    let (status, headers, _) = send(&apps.public, options).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(headers["allow"].to_str().unwrap().contains("POST"));

    // Fields: 400 for a path deeper than the filter follows.
    let deep = vec!["a"; 64].join(".");
    let (status, _, body) = send(&apps.public, get(&format!("/posts?fields={deep}"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // Body: 415 for a type no decoder reads, 400 for a malformed one.
    let request = http::Request::post("/posts")
        .header("content-type", "image/png")
        .body(Body::from("x"))
        .unwrap();
    assert_eq!(
        send(&apps.public, request).await.0,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    let (status, _, body) = send(&apps.public, post_json("/posts", "{")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_oauth_routes_are_plain_paths_until_the_provider_is_configured() {
    let plain = blog("").await;
    let request = http::Request::post("/oauth/request_token")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&plain.public, request).await.0, StatusCode::NOT_FOUND);

    let provider = blog(
        r#"
        [auth]
        authenticators = ["oauth1"]
        "#,
    )
    .await;
    // The provider's own refusal: only POST is allowed there.
    let (status, headers, _) = send(&provider.public, get("/oauth/request_token")).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(headers["allow"], "POST");
    let (status, _, body) = send(&provider.public, get("/oauth/authorize")).await;
    assert_ne!(status, StatusCode::NOT_FOUND, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_routes_answer_loopback_clients_only() {
    let apps = blog("").await;
    let (status, headers, body) = send(&apps.admin, from_loopback(get("/_piston/health"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(headers[REQUEST_ID].to_str().unwrap().starts_with("admin-"));
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["plugins"], 1);

    let (status, _, body) = send(&apps.admin, from_loopback(get("/_piston/resources"))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("\"blog\""), "{body}");

    let (status, _, body) = send(&apps.admin, from_loopback(get("/_piston/nothing"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("is not an admin endpoint"), "{body}");

    // No peer address (or another one) and no token: refused.
    let (status, headers, _) = send(&apps.admin, get("/_piston/health")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(headers.contains_key(REQUEST_ID));

    // The public app has no admin API.
    let (status, _, _) = send(&apps.public, from_loopback(get("/_piston/health"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
