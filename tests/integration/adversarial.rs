//! Attacks, sent for real: hostile clients and hostile plugins against the real binary
//! on loopback. Each answer is a 4xx or a 503 that comes within a bound, the process
//! stays up, its resident memory stays bounded, and every other plugin keeps serving.

use piston_tests::{Method, Server, ServerBuilder, json, send};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// How long an answer to an attack may take: generous for a loaded CI machine, far
/// below what the attacks cost before they were bounded.
const PROMPT: Duration = Duration::from_secs(2);

/// How much the server may grow while being attacked.
const GROWTH: u64 = 256 * 1024 * 1024;

/// The blog and the hostile plugin, with tight limits for the hostile one: a timeout
/// of 500 ms and 32 MiB of memory unless `settings` (TOML `key = value` lines of its
/// section) say otherwise.
fn server(settings: &str) -> Server {
    let mut section = String::from("[plugins.hostile]\n");
    for (key, default) in [("timeout", "\"500ms\""), ("memory_mib", "32")] {
        if !settings.lines().any(|line| line.starts_with(key)) {
            section.push_str(&format!("{key} = {default}\n"));
        }
    }
    section.push_str(settings);
    ServerBuilder::new()
        .example("blog")
        .fixture("hostile")
        .config(&section)
        .start()
}

/// The process is alive and the blog answers (on a new connection: attacks may have
/// closed the kept-alive ones).
async fn unharmed(server: &mut Server) {
    assert!(server.is_alive(), "the server is still running");
    let reply = send(reqwest::Client::new().get(server.url("/posts"))).await;
    assert_eq!(
        reply.status,
        200,
        "the blog still answers: {}",
        reply.text()
    );
}

/// Sends `request`, asserting it is answered `status` within [`PROMPT`].
async fn promptly(request: reqwest::RequestBuilder, status: u16) -> piston_tests::Reply {
    let started = Instant::now();
    let reply = send(request).await;
    let took = started.elapsed();
    assert_eq!(reply.status, status, "{}", reply.text());
    assert!(took < PROMPT, "answered in {took:?}");
    reply
}

#[tokio::test]
async fn a_field_list_nested_thirty_thousand_deep_is_a_400() {
    let mut server = server("");
    let before = server.resident_bytes();
    let deep = vec!["a"; 30_000].join(".");
    for query in [format!("fields={deep}"), format!("exclude={deep}")] {
        let reply = promptly(server.request(Method::GET, &format!("/posts?{query}")), 400).await;
        assert!(
            reply.text().contains("field lists are limited"),
            "{}",
            reply.text()
        );
    }
    let wide = vec!["title"; 2_000].join(",");
    promptly(
        server.request(Method::GET, &format!("/posts?fields={wide}")),
        400,
    )
    .await;
    let many = (0..5000)
        .map(|n| format!("p{n}=1"))
        .collect::<Vec<_>>()
        .join("&");
    promptly(server.request(Method::GET, &format!("/posts?{many}")), 400).await;
    let accept = vec!["text/x-nothing;q=0.5"; 2000].join(", ");
    promptly(
        server
            .request(Method::GET, "/posts")
            .header("accept", accept),
        406,
    )
    .await;
    unharmed(&mut server).await;
    assert!(server.resident_bytes() < before + GROWTH);
}

/// A pickle (protocol 4) of `ops` after a `\x80\x04` header, ending in STOP.
fn pickle(ops: &[u8]) -> Vec<u8> {
    [&b"\x80\x04"[..], ops, b"."].concat()
}

#[tokio::test]
async fn pickle_bombs_are_400s() {
    let mut server = server("");
    let before = server.resident_bytes();
    let post = |body: Vec<u8>| {
        server
            .request(Method::POST, "/posts")
            .header("content-type", "application/python-pickle")
            .body(body)
    };
    // A million nested one-tuples.
    let tuples = pickle(&[&b"N"[..], &vec![0x85; 1_000_000]].concat());
    let reply = promptly(post(tuples), 400).await;
    assert!(reply.text().contains("deeper"), "{}", reply.text());
    // A 256-byte integer, duplicated half a million times.
    let mut long = vec![0x8b];
    long.extend_from_slice(&256u32.to_le_bytes());
    long.extend_from_slice(&[0x7f; 256]);
    let dups = pickle(&[&b"("[..], &long, &vec![b'2'; 500_000], b"l"].concat());
    promptly(post(dups), 400).await;
    // An integer of half a megabyte.
    let mut huge = vec![0x8b];
    huge.extend_from_slice(&500_000u32.to_le_bytes());
    huge.extend_from_slice(&vec![0x11; 500_000]);
    promptly(post(pickle(&huge)), 400).await;
    // A list that contains itself, appended a hundred thousand times.
    let cycle = pickle(&[&b"]\x94"[..], &b"h\x00a".repeat(100_000)].concat());
    promptly(post(cycle), 400).await;
    unharmed(&mut server).await;
    assert!(server.resident_bytes() < before + GROWTH);
}

#[tokio::test]
async fn a_sleeping_plugin_meets_its_deadline() {
    let mut server = server("");
    let started = Instant::now();
    let (slept, blog) = tokio::join!(server.get("/hostile/sleep"), async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        server.get("/posts").await
    });
    slept.problem(503);
    assert!(started.elapsed() < PROMPT, "{:?}", started.elapsed());
    assert_eq!(blog.status, 200, "others are served meanwhile");
    assert!(server.log().contains("did not answer within 500ms"));
    unharmed(&mut server).await;
}

#[tokio::test]
async fn a_plugin_at_its_concurrency_cap_is_refused_at_once() {
    let mut server = server("concurrency = 2\ntimeout = \"3s\"\n");
    let sleeping = [
        tokio::spawn(send(server.request(Method::GET, "/hostile/sleep"))),
        tokio::spawn(send(server.request(Method::GET, "/hostile/sleep"))),
    ];
    tokio::time::sleep(Duration::from_millis(300)).await;
    let refused = promptly(server.request(Method::GET, "/hostile/chatter"), 503).await;
    assert_eq!(refused.header("retry-after"), Some("1"));
    refused.problem(503);
    unharmed(&mut server).await;
    for request in sleeping {
        assert_eq!(request.await.unwrap().status, 503, "they time out");
    }
    // The slots are free again.
    assert_eq!(server.get("/hostile/chatter").await.status, 200);
}

#[tokio::test]
async fn a_hung_describe_fails_its_load_and_hot_drop_goes_on() {
    let mut server = ServerBuilder::new()
        .example("blog")
        .fixture("slow-describe")
        .config("[limits]\ntimeout = \"1s\"\n")
        .start();
    let row = server.table_row("slow-describe.wasm");
    assert!(row.contains("did not answer within"), "{row}");
    unharmed(&mut server).await;

    // Dropped in while serving, it holds up nothing dropped after it.
    let slow = std::fs::read(piston_tests::fixture_plugin("slow-describe")).unwrap();
    server.drop_plugin("another-slow.wasm", &slow);
    let arbitrary = std::fs::read(piston_tests::example_plugin("arbitrary")).unwrap();
    server.drop_plugin("arbitrary.wasm", &arbitrary);
    server
        .until_status("/other/ann/x", 200, Duration::from_secs(20))
        .await;
    unharmed(&mut server).await;
}

#[tokio::test]
async fn guest_output_floods_are_capped_in_the_log() {
    let mut server = server("timeout = \"10s\"\n");
    let log_before = server.log().len();
    // 16 MiB of stdout, and a line of a mebibyte on stderr.
    let reply = server.get("/hostile/log-flood?count=16").await;
    assert_eq!(reply.json(), json!({"flooded": true}));
    let reply = server.get("/hostile/long-line").await;
    assert_eq!(reply.json(), json!({"long": true}));
    let log = server.log();
    let grown = log.len() - log_before;
    assert!(
        grown < 512 * 1024,
        "the log grew by {grown} bytes for 17 MiB printed"
    );
    assert!(log.contains("were not logged"), "the drop is reported");
    assert!(
        log.contains("more bytes of this line cut"),
        "the long line is cut"
    );
    unharmed(&mut server).await;
}

#[tokio::test]
async fn a_full_storage_quota_fails_in_the_guest_and_loses_nothing() {
    let mut server = server("storage_mib = 4\ntimeout = \"5s\"\nmemory_mib = 64\n");
    let filled = server.get("/hostile/fill-store?count=100").await.json();
    let written = filled["written"].as_u64().unwrap();
    assert!((2..4).contains(&written), "{filled}");
    let refusal = filled["refusal"].as_str().unwrap_or_default();
    assert!(refusal.contains("quota"), "{filled}");
    assert!(server.log().contains("quota"), "the operator is told");
    // Writing the same keys again (no growth) succeeds up to the same point: nothing
    // stored was lost, and the quota holds.
    let again = server.get("/hostile/fill-store?count=100").await.json();
    assert_eq!(again["written"], written, "{again}");
    let data = server.data_dir().join("piston.db");
    assert!(std::fs::metadata(&data).unwrap().len() < 64 * 1024 * 1024);
    unharmed(&mut server).await;
}

#[tokio::test]
async fn oversized_and_aliased_answers_are_refused_before_they_are_copied() {
    let mut server = server("memory_mib = 128\nresponse_bytes = 1048576\ntimeout = \"5s\"\n");
    let before = server.resident_bytes();
    for (path, logged) in [
        ("/hostile/many-headers?count=100000", "headers (at most 64)"),
        // 100,000 headers pointing at one 1 MiB string: 200 GB if copied one by one.
        ("/hostile/alias-headers?count=100000", "more than"),
        ("/hostile/huge-data?count=2", "limits.response_bytes"),
    ] {
        let reply = promptly(server.request(Method::GET, path), 500).await;
        let id = reply.problem(500)["request_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let log = server.log();
        assert!(
            log.lines()
                .any(|line| line.contains(&id) && line.contains(logged)),
            "{path}: `{logged}` logged:\n{log}"
        );
    }
    let many = promptly(
        server.request(Method::GET, "/hostile/many-headers?count=65"),
        500,
    )
    .await;
    many.problem(500);
    assert_eq!(
        server.get("/hostile/many-headers?count=64").await.status,
        200,
        "at the limit it is fine"
    );
    // A first batch of 64 MiB is refused before the head is sent.
    promptly(server.request(Method::GET, "/hostile/stream-huge"), 500)
        .await
        .problem(500);
    unharmed(&mut server).await;
    assert!(server.resident_bytes() < before + GROWTH);
}

#[tokio::test]
async fn a_client_that_stops_reading_a_stream_frees_its_instance() {
    let mut server = ServerBuilder::new()
        .example("blog")
        .fixture("hostile")
        .config("[server]\nsend_timeout = \"1s\"\n[plugins.hostile]\nconcurrency = 1\n")
        .start();
    // Ask for an endless stream and read nothing of it.
    let mut stalled = TcpStream::connect(server.address()).unwrap();
    stalled
        .write_all(b"GET /hostile/stream?count=100000000 HTTP/1.1\r\nhost: x\r\n\r\n")
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        server.get("/hostile/chatter").await.status,
        503,
        "the stream holds the plugin's one slot"
    );
    // Within the send timeout (and a margin), the server gives up on the client.
    server
        .until_status("/hostile/chatter", 200, Duration::from_secs(10))
        .await;
    drop(stalled);
    unharmed(&mut server).await;
}

#[tokio::test]
async fn slow_and_idle_connections_are_closed_and_do_not_hold_up_others() {
    let mut server = ServerBuilder::new()
        .example("blog")
        .config("[server]\nheader_timeout = \"1s\"\nidle_timeout = \"2s\"\nmax_connections = 300\n")
        .start();
    // Two hundred clients sending their request heads a byte at a time.
    let mut slow: Vec<TcpStream> = (0..200)
        .map(|_| {
            let mut stream = TcpStream::connect(server.address()).unwrap();
            stream
                .write_all(b"GET /posts HTTP/1.1\r\nx-slow: ")
                .unwrap();
            stream
        })
        .collect();
    promptly(server.request(Method::GET, "/posts"), 200).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for stream in &mut slow {
        let _ = stream.write_all(b"a");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut rest = Vec::new();
        // Closed by the server: the read ends (EOF or reset), it does not time out.
        if let Err(error) = stream.read_to_end(&mut rest) {
            assert!(
                !matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ),
                "the server kept a slow connection open: {error}"
            );
        }
    }
    // A kept-alive connection is closed after its idle time, not before.
    let mut idle = TcpStream::connect(server.address()).unwrap();
    idle.write_all(b"GET /posts HTTP/1.1\r\nhost: x\r\n\r\n")
        .unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let _ = idle.read_to_end(&mut answer);
    let idled = started.elapsed();
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"));
    assert!(
        (Duration::from_millis(1500)..Duration::from_secs(8)).contains(&idled),
        "closed after {idled:?}"
    );
    unharmed(&mut server).await;
}

#[tokio::test]
async fn past_the_connection_cap_clients_wait_for_a_slot() {
    let mut server = ServerBuilder::new()
        .example("blog")
        .config("[server]\nheader_timeout = \"1s\"\nmax_connections = 4\n")
        .start();
    let silent: Vec<TcpStream> = (0..4)
        .map(|_| TcpStream::connect(server.address()).unwrap())
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Accepted by the kernel, served once the silent ones are closed.
    let started = Instant::now();
    let reply = server.get("/posts").await;
    assert_eq!(reply.status, 200);
    assert!(started.elapsed() > Duration::from_millis(500), "it waited");
    drop(silent);
    unharmed(&mut server).await;
}

/// Sends `head` on a new connection and returns the status line of the answer.
fn status_line(server: &Server, head: &str) -> String {
    let mut stream = TcpStream::connect(server.address()).unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn oversized_heads_are_431() {
    let mut server = server("");
    let long = format!(
        "GET /posts HTTP/1.1\r\nhost: x\r\nauthorization: Basic {}\r\n\r\n",
        "x".repeat(100 * 1024)
    );
    let status = status_line(&server, &long);
    assert!(status.starts_with("HTTP/1.1 431"), "{status}");
    let many: String = (0..200).map(|n| format!("x-h{n}: v\r\n")).collect();
    let many = format!("GET /posts HTTP/1.1\r\nhost: x\r\n{many}\r\n");
    let status = status_line(&server, &many);
    assert!(status.starts_with("HTTP/1.1 431"), "{status}");
    unharmed(&mut server).await;
}

#[tokio::test]
async fn sigterm_waits_for_in_flight_requests_then_exits_0() {
    let mut server = ServerBuilder::new()
        .example("blog")
        .fixture("hostile")
        .config("[server]\nshutdown_timeout = \"2s\"\n[plugins.hostile]\ntimeout = \"1s\"\n")
        .start();
    let in_flight = tokio::spawn(send(server.request(Method::GET, "/hostile/sleep")));
    // A stream nobody reads, which would otherwise keep a connection forever.
    let mut stalled = TcpStream::connect(server.address()).unwrap();
    stalled
        .write_all(b"GET /hostile/stream?count=100000000 HTTP/1.1\r\nhost: x\r\n\r\n")
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    server.signal(libc::SIGTERM);
    assert_eq!(
        in_flight.await.unwrap().status,
        503,
        "finished, not cut off"
    );
    let status = server
        .wait_exit(Duration::from_secs(10))
        .expect("the server exits after its shutdown timeout");
    assert!(status.success(), "{status}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    drop(stalled);
}

#[tokio::test]
async fn a_second_signal_exits_at_once() {
    let mut server = ServerBuilder::new()
        .fixture("hostile")
        .config("[server]\nshutdown_timeout = \"60s\"\n")
        .start();
    let mut stalled = TcpStream::connect(server.address()).unwrap();
    stalled
        .write_all(b"GET /hostile/stream?count=100000000 HTTP/1.1\r\nhost: x\r\n\r\n")
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.signal(libc::SIGTERM);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(server.is_alive(), "the first waits for the stream");
    server.signal(libc::SIGINT);
    let status = server
        .wait_exit(Duration::from_secs(5))
        .expect("the second signal ends it");
    assert!(!status.success(), "a forced exit: {status}");
    drop(stalled);
}

#[tokio::test]
async fn plugin_files_that_are_not_regular_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo.wasm");
    let path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo(3) on a path in our own temporary directory.
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0);
    let mut server = ServerBuilder::new().example("blog").start();
    std::fs::rename(&fifo, server.plugin_dir().join("fifo.wasm")).unwrap();
    std::os::unix::fs::symlink(
        piston_tests::example_plugin("arbitrary"),
        server.plugin_dir().join("linked.wasm"),
    )
    .unwrap();
    let started = Instant::now();
    loop {
        let resources = server.admin_get("/_piston/resources").await.json();
        let errors: Vec<String> = resources
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|entry| Some(format!("{} {}", entry["file"], entry["error"].as_str()?)))
            .collect();
        let said = |file: &str, reason: &str| {
            errors
                .iter()
                .any(|error| error.contains(file) && error.contains(reason))
        };
        if said("fifo.wasm", "not a regular file") && said("linked.wasm", "symbolic link") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{resources}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        server.get("/other/ann/x").await.status,
        404,
        "the link is not followed"
    );
    unharmed(&mut server).await;

    // Operators who want links say so.
    let mut following = ServerBuilder::new()
        .example("blog")
        .config("[server]\nfollow_symlinks = true\n")
        .start();
    std::os::unix::fs::symlink(
        piston_tests::example_plugin("arbitrary"),
        following.plugin_dir().join("linked.wasm"),
    )
    .unwrap();
    following
        .until_status("/other/ann/x", 200, Duration::from_secs(20))
        .await;
    unharmed(&mut following).await;
}

#[tokio::test]
async fn databases_are_private_to_the_host() {
    use std::os::unix::fs::PermissionsExt;
    let mut server = server("");
    server.add_user("ann", "a-password-long-enough", "Ann");
    for file in ["piston.db", "auth.db"] {
        let mode = std::fs::metadata(server.data_dir().join(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file}: {mode:o}");
    }
    // A database someone made readable is fixed, and the host says so.
    let data = server.data_dir().join("piston.db");
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o644)).unwrap();
    server.restart();
    let mode = std::fs::metadata(&data).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(server.log().contains("piston.db"), "{}", server.log());
    unharmed(&mut server).await;
}
