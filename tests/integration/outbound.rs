//! Outbound HTTP from plugins in Rust, Python and JavaScript, against a real upstream on
//! loopback: what the allowlist lets through, what it refuses (a host not listed, an
//! internal address behind a name), what the host does not do (follow a redirect), and
//! the caps (the deadline, the response size, the number of requests).

use piston_tests::{Reply, Server, ServerBuilder, Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// What the guests may receive, and what `/huge` sends: a hundred times that.
const RESPONSE_CAP: u64 = 1024 * 1024;
const HUGE: u64 = 100 * 1024 * 1024;
/// Requests one call may send.
const REQUESTS_PER_CALL: u32 = 3;

/// A stand-in upstream service, one request a connection:
/// - `/json`: a small JSON document;
/// - `/echo`: the request's body back;
/// - `/redirect`: a 302 to the cloud metadata address;
/// - `/hang`: never answers;
/// - `/huge`: 100 MiB, chunked (or with its length declared, `?declared=1`);
/// - `/headers`: 8 MiB of response headers;
/// - `/count/NAME`: an empty document, counting the requests for each path;
/// - `/posts/hello-world` and `/users/ada`: a blog post and its author's profile.
struct Upstream {
    address: SocketAddr,
    hits: Arc<Mutex<HashMap<String, u32>>>,
    /// Bytes of `/huge` bodies written so far, all requests together.
    huge_sent: Arc<AtomicU64>,
    /// `/huge` requests whose writing has ended (the reader hung up, or all was sent).
    huge_done: Arc<AtomicU64>,
}

impl Upstream {
    async fn start() -> Upstream {
        Upstream::serve(None).await
    }

    /// An upstream that speaks TLS with `tls`'s certificate.
    async fn start_tls(tls: Arc<rustls::ServerConfig>) -> Upstream {
        Upstream::serve(Some(TlsAcceptor::from(tls))).await
    }

    async fn serve(tls: Option<TlsAcceptor>) -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let upstream = Upstream {
            address: listener.local_addr().unwrap(),
            hits: Arc::default(),
            huge_sent: Arc::default(),
            huge_done: Arc::default(),
        };
        let (hits, sent, done) = (
            upstream.hits.clone(),
            upstream.huge_sent.clone(),
            upstream.huge_done.clone(),
        );
        tokio::spawn(async move {
            loop {
                let (connection, _) = listener.accept().await.unwrap();
                let (hits, sent, done) = (hits.clone(), sent.clone(), done.clone());
                let tls = tls.clone();
                tokio::spawn(async move {
                    let _ = match tls {
                        Some(tls) => match tls.accept(connection).await {
                            Ok(connection) => answer(connection, &hits, &sent, &done).await,
                            Err(_) => Ok(()),
                        },
                        None => answer(connection, &hits, &sent, &done).await,
                    };
                });
            }
        });
        upstream
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    fn hits(&self, path: &str) -> u32 {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

/// Reads one request and answers it as its path says.
async fn answer<S: AsyncRead + AsyncWrite + Unpin>(
    connection: S,
    hits: &Mutex<HashMap<String, u32>>,
    huge_sent: &AtomicU64,
    huge_done: &AtomicU64,
) -> std::io::Result<()> {
    let mut connection = BufReader::new(connection);
    let mut request_line = String::new();
    connection.read_line(&mut request_line).await?;
    let target = request_line.split(' ').nth(1).unwrap_or("/").to_owned();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if connection.read_line(&mut line).await? == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    connection.read_exact(&mut body).await?;
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    *hits.lock().unwrap().entry(path.to_owned()).or_default() += 1;

    let connection = connection.get_mut();
    let reply = |status: &str, headers: &str, body: &[u8]| {
        let mut reply = format!(
            "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n{headers}\r\n",
            body.len()
        )
        .into_bytes();
        reply.extend_from_slice(body);
        reply
    };
    match path {
        "/json" => {
            let document = br#"{"name":"Ada Lovelace","born":1815}"#;
            let head = "content-type: application/json\r\n";
            connection.write_all(&reply("200 OK", head, document)).await
        }
        "/echo" => connection.write_all(&reply("200 OK", "", &body)).await,
        "/redirect" => {
            let location = "location: http://169.254.169.254/latest/meta-data/\r\n";
            connection
                .write_all(&reply("302 Found", location, b""))
                .await
        }
        "/headers" => {
            connection.write_all(b"HTTP/1.1 200 OK\r\n").await?;
            let header = format!("x-filler: {}\r\n", "x".repeat(1024));
            for _ in 0..8 * 1024 {
                connection.write_all(header.as_bytes()).await?;
            }
            connection.write_all(b"content-length: 0\r\n\r\n").await
        }
        "/hang" => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok(())
        }
        "/huge" => {
            let sent = send_huge(connection, query.contains("declared"), huge_sent).await;
            huge_done.fetch_add(1, Ordering::SeqCst);
            sent
        }
        "/posts/hello-world" => {
            let post = br#"{"slug":"hello-world","title":"Hello","author":{"username":"ada"}}"#;
            connection.write_all(&reply("200 OK", "", post)).await
        }
        "/users/ada" => {
            let profile = br#"{"name":"Ada Lovelace","born":1815}"#;
            connection.write_all(&reply("200 OK", "", profile)).await
        }
        _ if path.starts_with("/count/") => connection.write_all(&reply("200 OK", "", b"{}")).await,
        _ => connection.write_all(&reply("404 Not Found", "", b"")).await,
    }
}

/// Writes a 100 MiB body until it is all sent or the reader hangs up.
async fn send_huge(
    connection: &mut (impl AsyncWrite + Unpin),
    declared: bool,
    sent: &AtomicU64,
) -> std::io::Result<()> {
    const CHUNK: usize = 64 * 1024;
    let head = if declared {
        format!("HTTP/1.1 200 OK\r\ncontent-length: {HUGE}\r\n\r\n")
    } else {
        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".to_owned()
    };
    connection.write_all(head.as_bytes()).await?;
    let data = vec![b'x'; CHUNK];
    let mut framed = format!("{CHUNK:x}\r\n").into_bytes();
    framed.extend_from_slice(&data);
    framed.extend_from_slice(b"\r\n");
    for _ in 0..HUGE / CHUNK as u64 {
        connection
            .write_all(if declared { &data } else { &framed })
            .await?;
        sent.fetch_add(CHUNK as u64, Ordering::SeqCst);
    }
    if !declared {
        connection.write_all(b"0\r\n\r\n").await?;
    }
    Ok(())
}

/// A server with the plugin `name` allowed to reach `upstream` by its address, and
/// `internal` only by a name (`localhost`) that resolves to loopback.
fn server(plugin: &str, upstream: &Upstream, internal: &Upstream) -> Server {
    let port = upstream.address.port();
    let internal = internal.address.port();
    let config = format!(
        r#"
[plugins.{plugin}]
timeout = "2s"
allowed_outbound_hosts = ["http://127.0.0.1:{port}", "http://localhost:{internal}"]
outbound_requests = {REQUESTS_PER_CALL}
outbound_response_bytes = {RESPONSE_CAP}
"#
    );
    ServerBuilder::new().fixture(plugin).config(&config).start()
}

/// Asks the guest behind `route` to send a request to `url` (`extra`: more of the query).
async fn fetch(server: &Server, route: &str, url: &str, extra: &str) -> Reply {
    let url = percent_encoding::utf8_percent_encode(url, percent_encoding::NON_ALPHANUMERIC);
    server.get(&format!("{route}?url={url}{extra}")).await
}

/// The kind the guest's SDK gave its error, from the 502 the fixture answers with.
fn refused_as(reply: &Reply) -> String {
    let problem = reply.problem(502);
    let detail = problem["detail"].as_str().unwrap_or_default();
    detail.split(':').next().unwrap_or_default().to_owned()
}

/// Every rule, as one guest sees it.
async fn outbound_rules_hold(plugin: &str) {
    let upstream = Upstream::start().await;
    let internal = Upstream::start().await;
    let server = server(plugin, &upstream, &internal);
    let route = format!("/{plugin}/fetch");

    // Allowed: the answer comes back whole, a body goes out whole.
    let allowed = fetch(&server, &route, &upstream.url("/json"), "").await;
    assert_eq!(allowed.status, 200, "{}", allowed.text());
    let answer: Value = allowed.json();
    assert_eq!(answer["status"], 200);
    let body: Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
    assert_eq!(body, json!({"name": "Ada Lovelace", "born": 1815}));
    let posted = fetch(&server, &route, &upstream.url("/echo"), "&post=1").await;
    assert_eq!(posted.status, 200, "{}", posted.text());
    assert_eq!(posted.json()["body"], r#"{"hello":"upstream"}"#);

    // Not listed: another port of the same address, another host. Nothing is sent.
    let other_port = format!("http://127.0.0.1:{}/json", upstream.address.port() + 1);
    let other = fetch(&server, &route, &other_port, "").await;
    assert_eq!(refused_as(&other), "denied", "{}", other.text());
    let elsewhere = fetch(&server, &route, "https://example.com/", "").await;
    assert_eq!(refused_as(&elsewhere), "denied");

    // A name that resolves to loopback opens nothing: only an entry naming the address
    // literally does.
    let by_name = format!("http://localhost:{}/json", internal.address.port());
    let named = fetch(&server, &route, &by_name, "").await;
    assert_eq!(refused_as(&named), "prohibited", "{}", named.text());
    assert_eq!(
        internal.hits("/json"),
        0,
        "no request reached the internal service"
    );

    // A redirect comes back to the guest as it is; the host does not follow it.
    let redirected = fetch(&server, &route, &upstream.url("/redirect"), "").await;
    assert_eq!(redirected.status, 200, "{}", redirected.text());
    let redirect = redirected.json();
    assert_eq!(redirect["status"], 302);
    let location = redirect["location"].as_str().unwrap();
    assert_eq!(location, "http://169.254.169.254/latest/meta-data/");
    let followed = fetch(&server, &route, location, "").await;
    assert_eq!(
        refused_as(&followed),
        "denied",
        "the guest following it is refused"
    );

    // More requests than a call may send: the first three go out, the fourth is refused.
    let counted = format!("/count/{plugin}");
    let many = fetch(&server, &route, &upstream.url(&counted), "&count=4").await;
    assert_eq!(refused_as(&many), "limit", "{}", many.text());
    assert_eq!(upstream.hits(&counted), REQUESTS_PER_CALL);
    // The cap is per call: the next request starts afresh.
    let next = fetch(&server, &route, &upstream.url(&counted), "&count=3").await;
    assert_eq!(next.status, 200, "{}", next.text());

    // 100 MiB: cut at the cap, whether its length is declared or it streams; the
    // upstream is hung up on long before it has sent it all.
    let declared = fetch(&server, &route, &upstream.url("/huge"), "&declared=1").await;
    assert_eq!(refused_as(&declared), "too-large", "{}", declared.text());
    let streamed = fetch(&server, &route, &upstream.url("/huge"), "").await;
    assert_eq!(refused_as(&streamed), "too-large", "{}", streamed.text());
    let waited = Instant::now();
    while upstream.huge_done.load(Ordering::SeqCst) < 2
        && waited.elapsed() < Duration::from_secs(10)
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        upstream.huge_done.load(Ordering::SeqCst),
        2,
        "the upstream was hung up on"
    );
    let sent = upstream.huge_sent.load(Ordering::SeqCst);
    assert!(
        sent < HUGE,
        "the host read {sent} bytes of two 100 MiB bodies"
    );

    // An upstream that never answers: the call's deadline ends it, 503 to the client.
    let started = Instant::now();
    let hung = fetch(&server, &route, &upstream.url("/hang"), "").await;
    hung.problem(503);
    assert!(started.elapsed() < Duration::from_secs(10));
    // And the plugin keeps serving.
    let after = fetch(&server, &route, &upstream.url("/json"), "").await;
    assert_eq!(after.status, 200, "{}", after.text());

    // The operator sees the allowed hosts and counts of what happened.
    let listed = format!("http://127.0.0.1:{}", upstream.address.port());
    assert!(
        server.table_row(plugin).contains(&listed),
        "{}",
        server.table()
    );
    let resources = server.admin_get("/_piston/resources").await.json();
    let entry = resources
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["plugin"]["name"] == plugin)
        .unwrap();
    assert_eq!(
        entry["allowed_outbound_hosts"],
        json!([
            listed,
            format!("http://localhost:{}", internal.address.port())
        ])
    );
    let metrics = server.admin_get("/metrics").await.text();
    for outcome in ["answered", "denied", "prohibited", "limited", "cut"] {
        let series =
            format!("piston_outbound_requests_total{{plugin=\"{plugin}\",outcome=\"{outcome}\"}}");
        assert!(metrics.contains(&series), "no {series} in:\n{metrics}");
    }
}

#[tokio::test]
async fn outbound_rules_hold_in_rust() {
    outbound_rules_hold("outbound").await;
}

#[tokio::test]
async fn outbound_rules_hold_in_python() {
    outbound_rules_hold("outbound-py").await;
}

#[tokio::test]
async fn outbound_rules_hold_in_javascript() {
    outbound_rules_hold("outbound-js").await;
}

#[tokio::test]
async fn a_plugin_without_allowed_hosts_reaches_nothing() {
    let upstream = Upstream::start().await;
    let server = ServerBuilder::new().fixture("outbound").start();
    let reply = fetch(&server, "/outbound/fetch", &upstream.url("/json"), "").await;
    assert_eq!(refused_as(&reply), "denied");
    assert_eq!(upstream.hits("/json"), 0);
}

#[tokio::test]
async fn the_example_enriches_a_post_with_its_authors_profile() {
    let upstream = Upstream::start().await;
    let origin = format!("http://{}", upstream.address);
    let config = format!(
        r#"
[plugins.enrich]
allowed_outbound_hosts = ["{origin}"]
[plugins.enrich.config]
posts_api = "{origin}"
profiles_api = "{origin}/users"
"#
    );
    let server = ServerBuilder::new()
        .example("enrich")
        .config(&config)
        .start();
    let reply = server.get("/enriched/hello-world").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let post = reply.json();
    assert_eq!(post["title"], "Hello");
    assert_eq!(post["author"]["profile"]["name"], "Ada Lovelace");
    assert_eq!(post["enrichment"], "complete");
    server.get("/enriched/no-such-post").await.problem(404);

    // With its hosts not allowed there is no post to answer with, and the problem says
    // what to configure.
    let unlisted = ServerBuilder::new()
        .example("enrich")
        .config(&format!(
            "[plugins.enrich.config]\nposts_api = \"{origin}\"\nprofiles_api = \"{origin}/users\"\n"
        ))
        .start();
    let refused = unlisted.get("/enriched/hello-world").await.problem(502);
    let detail = refused["detail"].as_str().unwrap();
    assert!(detail.contains("allowed_outbound_hosts"), "{detail}");
}

/// A certificate authority, and a server configuration with a certificate it issued
/// for `127.0.0.1`.
fn certificates() -> (String, Arc<rustls::ServerConfig>) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut authority = CertificateParams::new(Vec::<String>::new()).unwrap();
    authority.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let authority = CertifiedIssuer::self_signed(authority, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&key, &authority)
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    (authority.pem(), Arc::new(config))
}

#[tokio::test]
async fn https_upstreams_are_trusted_through_the_system_roots() {
    let (trusted_authority, trusted) = certificates();
    let (_, untrusted) = certificates();
    let good = Upstream::start_tls(trusted).await;
    let bad = Upstream::start_tls(untrusted).await;
    let roots = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(roots.path(), trusted_authority).unwrap();
    let config = format!(
        "[plugins.outbound]\nallowed_outbound_hosts = [\"https://{}\", \"https://{}\"]\n",
        good.address, bad.address
    );
    // The system's roots, as the host finds them: here a bundle named by SSL_CERT_FILE.
    let server = ServerBuilder::new()
        .fixture("outbound")
        .config(&config)
        .env("SSL_CERT_FILE", roots.path().to_str().unwrap())
        .start();
    let url = format!("https://{}/json", good.address);
    let reply = fetch(&server, "/outbound/fetch", &url, "").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["status"], 200);

    // A certificate no trusted authority issued: the request fails, nothing is read.
    let url = format!("https://{}/json", bad.address);
    let refused = fetch(&server, "/outbound/fetch", &url, "").await;
    assert_eq!(refused_as(&refused), "failed", "{}", refused.text());
    assert_eq!(bad.hits("/json"), 0);
}

#[tokio::test]
async fn an_upstream_flooding_headers_fails_the_request_not_the_host() {
    let upstream = Upstream::start().await;
    let config = format!(
        "[plugins.outbound]\nallowed_outbound_hosts = [\"http://{}\"]\n",
        upstream.address
    );
    let server = ServerBuilder::new()
        .fixture("outbound")
        .config(&config)
        .start();
    let before = server.resident_bytes();
    for _ in 0..4 {
        let flooded = fetch(&server, "/outbound/fetch", &upstream.url("/headers"), "").await;
        assert_eq!(refused_as(&flooded), "failed", "{}", flooded.text());
    }
    let grown = server.resident_bytes().saturating_sub(before);
    assert!(
        grown < 32 << 20,
        "32 MiB of headers sent, memory grew {grown} bytes"
    );
    let after = fetch(&server, "/outbound/fetch", &upstream.url("/json"), "").await;
    assert_eq!(after.status, 200, "{}", after.text());
}
