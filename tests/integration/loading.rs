//! Loading the plugin directory: broken files are skipped with a reason, the rest
//! load; route collisions are decided deterministically; compiled plugins are cached.

use piston_tests::{ServerBuilder, example_plugin};

#[tokio::test]
async fn corrupt_and_wrong_files_are_skipped_and_the_rest_serve() {
    let blog = std::fs::read(example_plugin("blog")).unwrap();
    let mut truncated = blog.clone();
    truncated.truncate(blog.len() / 2);
    let core_module = b"\0asm\x01\0\0\0".to_vec();
    let server = ServerBuilder::new()
        .example("blog")
        .file("garbage.wasm", b"this is not wasm".to_vec())
        .file("truncated.wasm", truncated)
        .file("core.wasm", core_module)
        .file("notes.txt", b"not a plugin, not even looked at".to_vec())
        .fixture("faulty-describe")
        .fixture("bad-schema")
        .start();
    assert_eq!(server.get("/posts").await.status, 200);

    let table = server.table();
    for (file, reason) in [
        ("garbage.wasm", "is not a WebAssembly file"),
        ("truncated.wasm", "does not compile"),
        ("core.wasm", "core WebAssembly module, not a component"),
        ("faulty-describe.wasm", "this plugin cannot describe itself"),
        ("bad-schema.wasm", "the POST body schema is invalid"),
    ] {
        let row = table
            .lines()
            .find(|line| line.contains(file))
            .unwrap_or_else(|| panic!("{file} is not in the table:\n{table}"));
        assert!(
            row.contains(reason),
            "{file}: expected `{reason}` in: {row}"
        );
    }
    assert!(!table.contains("notes.txt"));
    assert!(
        table.lines().count() < 10,
        "each failure is one line:\n{table}"
    );
}

#[tokio::test]
async fn a_route_collision_refuses_the_later_plugin_whole() {
    let server = ServerBuilder::new()
        .example("blog")
        .fixture("collide")
        .start();
    assert_eq!(
        server.get("/posts/anything").await.status,
        404,
        "the blog keeps its route"
    );
    assert_eq!(
        server.get("/squat").await.status,
        404,
        "none of the refused plugin is routed"
    );
    let row = server.table_row("collide.wasm");
    assert!(
        row.contains("collides with `/posts/{post_slug}` served by plugin `blog`"),
        "{row}"
    );
    assert!(server.log().contains("collides"), "and the log says so");

    // File-name order decides, every time: the same squatter named to load first wins.
    let collide = std::fs::read(piston_tests::fixture_plugin("collide")).unwrap();
    let server = ServerBuilder::new()
        .example("blog")
        .file("a-squatter.wasm", collide)
        .start();
    assert_eq!(server.get("/squat").await.status, 200);
    assert_eq!(
        server.get("/posts").await.status,
        404,
        "the blog was refused whole"
    );
}

#[tokio::test]
async fn a_route_overlapping_another_plugins_refuses_the_later_plugin_whole() {
    // `/other/admin/stats` would win over the arbitrary plugin's
    // `/other/{username}/{*data}` for that path, and serve it under its own auth chain.
    let server = ServerBuilder::new()
        .example("arbitrary")
        .fixture("collide")
        .start();
    let row = server.table_row("collide.wasm");
    assert!(
        row.contains(
            "route `/other/admin/stats` overlaps `/other/{username}/{*data}` served by plugin `arbitrary`"
        ),
        "{row}"
    );
    assert_eq!(server.get("/squat").await.status, 404);
    let reply = server.get("/other/admin/stats").await;
    assert_eq!(reply.status, 200, "the arbitrary plugin keeps the path");

    // The other way round: loaded first, the squatter keeps its routes and the
    // arbitrary plugin is refused.
    let collide = std::fs::read(piston_tests::fixture_plugin("collide")).unwrap();
    let server = ServerBuilder::new()
        .example("arbitrary")
        .file("a-squatter.wasm", collide)
        .start();
    assert_eq!(server.get("/squat").await.status, 200);
    assert_eq!(server.get("/other/ann/x").await.status, 404);
    assert!(
        server.table().contains("overlaps `/other/admin/stats`"),
        "{}",
        server.table()
    );
}

#[tokio::test]
async fn the_same_plugin_twice_loads_once() {
    let blog = std::fs::read(example_plugin("blog")).unwrap();
    let server = ServerBuilder::new()
        .example("blog")
        .file("blog-copy.wasm", blog)
        .start();
    let row = server.table_row("blog-copy.wasm");
    assert!(row.contains("plugin `blog` is already loaded"), "{row}");
}

#[tokio::test]
async fn restarts_load_compiled_plugins_from_the_cache() {
    let mut server = ServerBuilder::new().example("arbitrary").start();
    server.restart();
    let log = server.log();
    let loads: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("plugin loaded"))
        .collect();
    assert_eq!(loads.len(), 2, "{log}");
    assert!(
        loads[1].contains("cached"),
        "the restart used the cache: {}",
        loads[1]
    );
}

#[tokio::test]
async fn without_room_for_the_pool_the_host_falls_back_and_serves() {
    let server = ServerBuilder::new()
        .example("blog")
        .address_space(4 << 30)
        .start();
    assert!(
        server.log().contains("on-demand instance allocation"),
        "{}",
        server.log()
    );
    assert_eq!(server.get("/posts").await.status, 200);
}
