//! Entry points for the fuzz targets and their corpus replay; not an API.
//!
//! Each function takes the fuzzer's bytes, hands them to one parser of client input
//! (or of `piston.toml`) the way a request or the configuration reaches it, and panics
//! only when an invariant breaks — a parser's own panic, an answer that is not a 4xx,
//! a decoded body that serde_json cannot read back or that outgrows its bounds (depth,
//! checked at the tightest bound the body meets, and size). The targets in `fuzz/` call
//! them with libFuzzer (`cargo xtask fuzz`); `tests/fuzz_corpora.rs` replays every
//! corpus file through them in `cargo test`.
//!
//! Inputs with several parts put them on separate lines, so corpus files stay
//! readable; each function says which.

use crate::auth::basic;
use crate::auth::digest::{Digest, DigestAlgorithm, NonceKey};
use crate::auth::jwt::{Jwt, JwtSection};
use crate::auth::oauth::signature::Signed;
use crate::auth::oauth::{Consumer, OAuth1, Verifier};
use crate::auth::{AuthStore, Authenticator, RequestHead, User, bearer::ApiTokens};
use crate::client::{ClientAddresses, ForwardedHeader, TrustedProxy};
use crate::config::{Overrides, Settings};
use crate::coordination::Coordination;
use crate::fields::{FieldFilter, Shape};
use crate::pipeline::Query;
use crate::{decode, negotiate};
use http::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use http::{HeaderMap, HeaderName, HeaderValue, Uri};
use serde_json::Value;
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The body decoders' depth bound: `limits.max_depth`'s default.
const MAX_DEPTH: usize = 64;

/// A JSON body: the bytes.
pub fn decode_json(data: &[u8]) {
    decode_body("application/json", data);
}

/// A YAML body: the bytes.
pub fn decode_yaml(data: &[u8]) {
    decode_body("application/yaml", data);
}

/// An XML body: the bytes.
pub fn decode_xml(data: &[u8]) {
    decode_body("application/xml", data);
}

/// A URL-encoded form body: the bytes.
pub fn decode_form(data: &[u8]) {
    decode_body("application/x-www-form-urlencoded", data);
}

/// A multipart form body: the bytes, whose first line (`--BOUNDARY`) gives the
/// boundary, as a real body's does.
pub fn decode_multipart(data: &[u8]) {
    let first_line = data.split(|byte| *byte == b'\n').next().unwrap_or_default();
    let boundary = first_line
        .strip_prefix(b"--")
        .and_then(|boundary| std::str::from_utf8(boundary.trim_ascii_end()).ok())
        .filter(|boundary| !boundary.is_empty())
        .unwrap_or("piston-fuzzing");
    decode_body(
        &format!("multipart/form-data; boundary=\"{boundary}\""),
        data,
    );
}

/// A Python pickle body: the bytes.
pub fn decode_pickle(data: &[u8]) {
    decode_body("application/python-pickle", data);
}

/// A MessagePack body: the bytes.
pub fn decode_msgpack(data: &[u8]) {
    decode_body("application/msgpack", data);
}

/// Decodes `body` at the default depth bound and, when it decodes, again at one level
/// less than its depth, which must refuse it: the bound holds however tight it is.
fn decode_body(content_type: &str, body: &[u8]) {
    if let Some(depth) = decode_within(content_type, body, MAX_DEPTH)
        && depth > 1
    {
        assert_eq!(
            decode_within(content_type, body, depth - 1),
            None,
            "a body {depth} deep decodes within a bound of {}",
            depth - 1
        );
    }
}

/// The depth of what `body` decodes to, after checking it: valid JSON no deeper than
/// `max_depth` and no larger than the output bound; or `None`, after checking that the
/// refusal is a 4xx.
fn decode_within(content_type: &str, body: &[u8], max_depth: usize) -> Option<usize> {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_str(content_type).ok()?);
    match decode::decode(&headers, body, max_depth) {
        Ok(None) => {
            assert!(
                body.is_empty(),
                "a body of {} bytes decoded to nothing",
                body.len()
            );
            None
        }
        Ok(Some(json)) => {
            let value: Value = serde_json::from_str(&json)
                .unwrap_or_else(|error| panic!("the decoded body is not JSON ({error}): {json}"));
            let depth = depth(&value);
            assert!(depth <= max_depth, "{depth} deep, the bound is {max_depth}");
            // As `decode` bounds it: four times the body, or 64 KiB for small bodies.
            let max_output = body.len().saturating_mul(4).max(64 * 1024);
            assert!(json.len() <= max_output, "{} bytes of JSON", json.len());
            Some(depth)
        }
        Err(error) => {
            let problem = crate::problem::Problem::from(error);
            assert!(problem.status().is_client_error(), "{problem:?}");
            None
        }
    }
}

/// How many arrays and objects deep a value nests.
fn depth(value: &Value) -> usize {
    let deepest = |values: &mut dyn Iterator<Item = &Value>| values.map(depth).max().unwrap_or(0);
    match value {
        Value::Array(items) => 1 + deepest(&mut items.iter()),
        Value::Object(members) => 1 + deepest(&mut members.values()),
        _ => 0,
    }
}

/// Content negotiation. Lines: the request path, the query string (`format=` and
/// `indent=`), and the rest is the `Accept` header, if there is one.
pub fn negotiate(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.splitn(3, '\n');
    let path = lines.next().unwrap_or_default();
    let query = lines.next().unwrap_or_default();
    let accept = lines.next();
    let suffix = negotiate::split_suffix(path);
    if let Some((stem, emitter)) = suffix {
        let extension = path
            .strip_prefix(stem)
            .and_then(|rest| rest.strip_prefix('.'));
        assert!(
            extension.is_some_and(|extension| emitter.format().extensions.contains(&extension)),
            "`{path}` split as `{stem}` and {}",
            emitter.format().name
        );
    }
    let (mut format, mut indent) = (None, None);
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        match &*name {
            "format" => format = Some(value),
            "indent" => indent = Some(value),
            _ => {}
        }
    }
    let asked = negotiate::Asked {
        suffix: suffix.map(|(_, emitter)| emitter),
        format: format.as_deref(),
        indent: indent.as_deref(),
        accept,
    };
    match negotiate::negotiate(asked) {
        Ok(negotiated) => {
            assert!(negotiated.options.indent.is_none_or(|width| width <= 16));
            let chosen = negotiated.emitter.format().name;
            if let Some((_, emitter)) = suffix {
                assert_eq!(chosen, emitter.format().name, "the path's suffix decides");
            } else if format.is_none() && accept.is_none() {
                assert_eq!(chosen, "json", "JSON is the default");
            }
        }
        Err(error) => {
            let problem = crate::problem::Problem::from(error);
            assert!(
                matches!(problem.status().as_u16(), 400 | 406),
                "{problem:?}"
            );
        }
    }
}

/// The field filter. Lines: the resource's `fields` and its `exclude` (each
/// space-separated, as a spec lists them), the query string (`fields=` and
/// `exclude=`), then dotted key paths to look up in the data.
pub fn fields(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.split('\n');
    let spec_list = |line: Option<&str>| -> Vec<String> {
        line.unwrap_or_default()
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    };
    let spec_fields = spec_list(lines.next());
    let spec_exclude = spec_list(lines.next());
    let (mut fields, mut exclude) = (None, None);
    for (name, value) in form_urlencoded::parse(lines.next().unwrap_or_default().as_bytes()) {
        match &*name {
            "fields" => fields = Some(value),
            "exclude" => exclude = Some(value),
            _ => {}
        }
    }
    let paths: Vec<Vec<&str>> = lines.map(|line| line.split('.').collect()).collect();

    let Ok(spec) = FieldFilter::compile(&spec_fields, &spec_exclude) else {
        return;
    };
    let unchanged = spec
        .narrow(None, None)
        .expect("nothing to narrow by is no error");
    for path in &paths {
        let shown = shows(spec.shape(), path);
        assert!(shown || !spec.is_identity(), "{path:?} hidden by no rules");
        assert_eq!(shows(unchanged.shape(), path), shown, "{path:?} unnarrowed");
    }
    let Ok(narrowed) = spec.narrow(fields.as_deref(), exclude.as_deref()) else {
        return;
    };
    assert!(!narrowed.shows_resource_uri() || spec.shows_resource_uri());
    for path in &paths {
        assert!(
            !shows(narrowed.shape(), path) || shows(spec.shape(), path),
            "the request widened the resource's fields to show {path:?}"
        );
    }
}

/// Whether the value at `path` is shown.
fn shows(shape: Shape<'_>, path: &[&str]) -> bool {
    let mut shape = shape;
    for key in path {
        match shape.child(key) {
            Some(child) => shape = child,
            None => return false,
        }
    }
    true
}

/// Every scheme's parser of the `Authorization` header. Lines: the header's value, then
/// optionally the request target (path and query), then a form body (both of which an
/// OAuth signature covers).
pub fn authorization(data: &[u8]) {
    let mut parts = data.splitn(3, |byte| *byte == b'\n');
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_bytes(parts.next().unwrap_or_default()) {
        headers.insert(AUTHORIZATION, value);
    }
    headers.insert(HOST, HeaderValue::from_static("api.example.com"));
    let uri = parts
        .next()
        .and_then(|target| Uri::try_from(target).ok())
        .unwrap_or_else(|| Uri::from_static("/posts/1"));
    let head = RequestHead {
        method: &http::Method::POST,
        uri: &uri,
        headers: &headers,
        client: IpAddr::from([192, 0, 2, 1]),
        form: parts.next(),
        request_id: "fuzzing",
    };

    if let Some(credentials) = head.credentials("Basic")
        && let Ok((username, _)) = basic::decode(credentials)
    {
        assert!(!username.contains(':'), "`{username}`");
    }
    let oauth = head.credentials("OAuth");
    let base_uri = format!("http://api.example.com{}", uri.path());
    if let Ok(signed) = Signed::collect("POST", base_uri, oauth, uri.query(), head.form) {
        let _ = signed.verify("kd94hf93k423kf44", "pfkkdhi9sl3r4s00");
    }
    let authenticators = authenticators();
    for (authenticator, scheme) in [
        (&authenticators.digest as &dyn Authenticator, Some("Digest")),
        (&authenticators.bearer, Some("Bearer")),
        (&authenticators.jwt, Some("Bearer")),
        (&authenticators.oauth1, None),
    ] {
        let claimed = authenticator.account(&head);
        let answer = authenticators
            .runtime
            .block_on(authenticator.authenticate(&head));
        if scheme.is_some_and(|scheme| head.credentials(scheme).is_none()) {
            assert!(claimed.is_none() && matches!(answer, Ok(None)));
        }
        if let Err(refusal) = answer {
            assert!(refusal.status.is_client_error(), "{refusal:?}");
        }
    }
}

/// The built-in authenticators that need no password hashing (Basic's parser is called
/// directly), over a temporary credentials database holding the RFC examples' Digest
/// user and OAuth consumer.
struct Authenticators {
    digest: Digest,
    bearer: ApiTokens,
    jwt: Jwt,
    oauth1: OAuth1,
    runtime: tokio::runtime::Runtime,
}

/// The credentials database's directory, removed when the process exits.
static STORE_DIR: OnceLock<tempfile::TempDir> = OnceLock::new();

extern "C" fn remove_store() {
    if let Some(dir) = STORE_DIR.get() {
        let _ = std::fs::remove_dir_all(dir.path());
    }
}

fn authenticators() -> &'static Authenticators {
    static AUTHENTICATORS: OnceLock<Authenticators> = OnceLock::new();
    AUTHENTICATORS.get_or_init(|| {
        let dir = STORE_DIR.get_or_init(|| tempfile::tempdir().expect("a temporary directory"));
        // SAFETY: registers a function that takes nothing and touches only a static.
        unsafe { libc::atexit(remove_store) };
        let store = Arc::new(AuthStore::open(&dir.path().join("auth.db")).expect("a store"));
        let realm = "piston";
        store
            .add_user(&User {
                username: "Mufasa".to_owned(),
                password_hash: String::new(),
                digest: crate::auth::digest_secrets("Mufasa", realm, "Circle of Life"),
                first_name: None,
                version: 1,
                created_at: 0,
            })
            .expect("a user");
        store
            .add_consumer(&Consumer {
                key: "dpf43f3p2l4k3l03".to_owned(),
                secret: "kd94hf93k423kf44".to_owned(),
                name: "printer".to_owned(),
                callback: None,
                revoked: false,
                created_at: 0,
            })
            .expect("a consumer");
        let jwt: JwtSection = toml::from_str(
            "secret = \"the fuzzing entry point's JWT secret\"\naudience = \"piston\"",
        )
        .expect("JWT settings");
        let lifetime = Duration::from_secs(300);
        let coordination = Arc::new(Coordination::memory());
        Authenticators {
            digest: Digest::new(
                store.clone(),
                realm,
                vec![DigestAlgorithm::Sha256, DigestAlgorithm::Md5],
                lifetime,
                Arc::new(NonceKey::default()),
                coordination.clone(),
            ),
            bearer: ApiTokens::new(store.clone(), realm),
            jwt: Jwt::new(jwt.resolve(&str::to_owned).expect("a JWT key"), realm),
            oauth1: OAuth1::new(
                Arc::new(Verifier::new(store, coordination, lifetime, "")),
                realm,
            ),
            runtime: tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("a runtime"),
        }
    })
}

/// The client's address behind proxies. Lines: the header the proxies set
/// (`forwarded` for RFC 7239's, else `X-Forwarded-For`), the peer's address, the
/// trusted proxies (comma-separated addresses or networks), then the header's values,
/// one a line.
pub fn forwarded(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.split('\n');
    let choice = match lines.next() {
        Some("forwarded") => ForwardedHeader::Forwarded,
        _ => ForwardedHeader::XForwardedFor,
    };
    let Some(Ok(peer)) = lines.next().map(str::parse::<IpAddr>) else {
        return;
    };
    let trusted = lines
        .next()
        .unwrap_or_default()
        .split(',')
        .filter_map(|net| TrustedProxy::try_from(net.trim().to_owned()).ok())
        .map(|proxy| proxy.0)
        .collect::<Vec<_>>();
    let values: Vec<HeaderValue> = lines
        .filter_map(|line| HeaderValue::from_str(line).ok())
        .collect();
    let (chosen, other) = match choice {
        ForwardedHeader::Forwarded => ("forwarded", "x-forwarded-for"),
        ForwardedHeader::XForwardedFor => ("x-forwarded-for", "forwarded"),
    };
    let headers = |names: &[&'static str]| {
        let mut headers = HeaderMap::new();
        for name in names {
            for value in &values {
                headers.append(HeaderName::from_static(name), value.clone());
            }
        }
        headers
    };

    let addresses = ClientAddresses::new(trusted.clone(), choice);
    let client = addresses.resolve(peer, &headers(&[chosen]));
    let mapped = |address: IpAddr| match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().is_some(),
        IpAddr::V4(_) => false,
    };
    assert!(!mapped(client), "{client} is IPv4 written as IPv6");
    let canonical = peer.to_canonical();
    if !trusted.iter().any(|net| net.contains(&canonical)) {
        assert_eq!(client, canonical, "an untrusted peer is the client");
    }
    assert_eq!(
        addresses.resolve(peer, &headers(&[chosen, other])),
        client,
        "the other forwarding header changed the client"
    );
}

/// `piston.toml`: the file's text. Errors must be [`ConfigError`](crate::vocab::ConfigError)s.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("piston.toml");
    let Ok(parsed) = crate::config::parse(path, text) else {
        return;
    };
    if let Ok(settings) = Settings::resolve(parsed, &Overrides::default(), "piston.toml") {
        assert!((1..=1024).contains(&settings.max_depth));
        assert!(
            settings.server.listen != settings.server.admin_listen
                || settings.server.listen.port() == 0
        );
    }
}

/// The query string, as the request line carries it.
pub fn query(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let for_the_guest = form_urlencoded::parse(text.as_bytes())
        .filter(|(name, _)| !matches!(&**name, "format" | "indent" | "fields" | "exclude"))
        .count();
    match Query::parse(Some(text)) {
        Ok(_) => assert!(for_the_guest <= 256, "{for_the_guest} parameters accepted"),
        Err(refusal) => {
            let problem = crate::problem::Problem::from(refusal);
            assert_eq!(problem.status(), 400, "{problem:?}");
            assert!(
                for_the_guest > 256,
                "refused with {for_the_guest} parameters"
            );
        }
    }
}
