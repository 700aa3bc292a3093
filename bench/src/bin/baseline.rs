//! The native baselines: an axum server answering `GET /posts/hello-world` with the
//! same JSON a client of the blog plugin gets, with the same allocator and build profile as the
//! `piston` binary, two ways:
//!
//! - `/posts/{slug}`: built from memory and serialized per request (the baseline the
//!   foundation target is set against);
//! - `/stored/posts/{slug}`: the blog plugin's own work done natively — read the stored
//!   post from SQLite, deserialize it, compute `content_size`, serialize the view — so
//!   the difference to Piston is what running it as a plugin costs.
//!
//! Run with `bench-baseline ADDR DATABASE`; it prints `listening on http://ADDR`.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CONTENT: &str = include_str!("../../hello-world.txt");

/// The post as the blog plugin stores it.
#[derive(Serialize, Deserialize)]
struct Post {
    id: u64,
    slug: String,
    title: String,
    content: String,
    author: Option<Author>,
    private_edits: u32,
}

#[derive(Serialize, Deserialize)]
struct Author {
    username: String,
    first_name: String,
}

/// The post as a client of the blog plugin sees it: its fields, the computed
/// `content_size`, and its `resource_uri`.
#[derive(Serialize)]
struct PostView<'a> {
    slug: &'a str,
    title: &'a str,
    content: &'a str,
    author: Option<&'a Author>,
    content_size: usize,
    resource_uri: String,
}

fn view(post: &Post) -> PostView<'_> {
    PostView {
        slug: &post.slug,
        title: &post.title,
        content: &post.content,
        author: post.author.as_ref(),
        content_size: post.content.chars().count(),
        resource_uri: format!("/posts/{}", post.slug),
    }
}

fn json(value: &impl Serialize) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn from_memory(Path(slug): Path<String>) -> Response {
    if slug != "hello-world" {
        return StatusCode::NOT_FOUND.into_response();
    }
    let post = Post {
        id: 1,
        slug,
        title: "Hello World".to_owned(),
        content: CONTENT.trim_end().to_owned(),
        author: None,
        private_edits: 0,
    };
    json(&view(&post))
}

async fn from_sqlite(
    State(db): State<Arc<Mutex<Connection>>>,
    Path(slug): Path<String>,
) -> Response {
    let stored: Option<Vec<u8>> = {
        let Ok(connection) = db.lock() else {
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        };
        let row = connection
            .prepare_cached(
                "SELECT value FROM kv WHERE namespace = ?1 AND bucket = ?2 AND key = ?3",
            )
            .and_then(|mut statement| {
                statement
                    .query_row(params!["blog", "posts", slug], |row| row.get(0))
                    .optional()
            });
        match row {
            Ok(value) => value,
            Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        }
    };
    match stored.map(|bytes| serde_json::from_slice::<Post>(&bytes)) {
        Some(Ok(post)) => json(&view(&post)),
        Some(Err(_)) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// A database laid out and tuned as Piston's store, holding the post.
fn database(path: &str) -> rusqlite::Result<Connection> {
    let connection = Connection::open(path)?;
    connection.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", "NORMAL")?;
    connection.execute_batch(
        "CREATE TABLE IF NOT EXISTS kv (
            namespace TEXT NOT NULL, bucket TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL,
            PRIMARY KEY (namespace, bucket, key)
        ) WITHOUT ROWID;",
    )?;
    let post = Post {
        id: 1,
        slug: "hello-world".to_owned(),
        title: "Hello World".to_owned(),
        content: CONTENT.trim_end().to_owned(),
        author: None,
        private_edits: 0,
    };
    let value = serde_json::to_vec(&post)
        .map_err(|error| rusqlite::Error::ToSqlConversionFailure(error.into()))?;
    connection.execute(
        "INSERT OR REPLACE INTO kv VALUES ('blog', 'posts', 'hello-world', ?1)",
        params![value],
    )?;
    Ok(connection)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let address = args.next().unwrap_or_else(|| "127.0.0.1:0".to_owned());
    let database_path = args.next().ok_or("usage: bench-baseline ADDR DATABASE")?;
    let db = Arc::new(Mutex::new(database(&database_path)?));
    let listener = tokio::net::TcpListener::bind(&address).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let app = Router::new()
        .route("/posts/{slug}", get(from_memory))
        .route("/stored/posts/{slug}", get(from_sqlite))
        .with_state(db);
    axum::serve(listener, app).await?;
    Ok(())
}
