//! Plugins through an OCI registry: `piston push` and `piston pull` against a real
//! registry on loopback, and servers whose plugins come from `source = "oci://..."`:
//! converging on a re-tagged version under load, refusing corrupt, broken and missing
//! artifacts while the old version serves, and starting from their cache with the
//! registry down.

use piston_test_services::OciRegistry;
use piston_tests::{
    Load, Reply, Server, ServerBuilder, Value, fixture_plugin, piston_with_env, scratch_dir,
};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::process::Output;
use std::sync::Arc;
use std::time::{Duration, Instant};

const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// A user of the registry with authentication (the htpasswd line is bcrypt, cost 5).
const USER: &str = "piston-ci";
const PASSWORD: &str = "correct horse battery";
const HTPASSWD: &str = "piston-ci:$2y$05$N6TR6glyJ1aH9JpC6AvxAeMDIyqaX8zCt26PKK0bl0S4Dz.vHU7Sa\n";
/// How long a change in the registry may take to reach a server pulling every second
/// (a pull, a load from a warm compile cache, a swap), with room for a loaded machine.
const CONVERGE: Duration = Duration::from_secs(30);

fn registry() -> OciRegistry {
    let mut registry = OciRegistry::new().expect("a registry");
    registry.start().expect("the registry starts");
    registry
}

fn bytes(name: &str) -> Vec<u8> {
    let path = fixture_plugin(name);
    std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// `piston ARGS`, with nothing in its environment or on its input.
fn run(args: &[&str]) -> Output {
    piston_with_env(Path::new("."), args, &[], "")
}

/// Asserts that `output` is of a command that failed (exit 1) saying `reason`.
fn assert_refused(output: &Output, reason: &str) {
    assert_eq!(output.status.code(), Some(1), "{}", text(output));
    assert!(text(output).contains(reason), "{}", text(output));
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `piston push FILE REF --insecure`, which must succeed; the digest it printed.
fn push(fixture: &str, reference: &str) -> String {
    let output = run(&[
        "push",
        fixture_plugin(fixture).to_str().unwrap(),
        reference,
        "--insecure",
    ]);
    assert!(output.status.success(), "push failed: {}", text(&output));
    let digest = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    assert!(is_digest(&digest), "push printed {digest:?}");
    digest
}

fn is_digest(text: &str) -> bool {
    text.strip_prefix("sha256:")
        .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The manifest a tag (or digest) names, and the digest the registry gives it.
async fn manifest(registry: &str, repository: &str, reference: &str) -> (Value, Vec<u8>, String) {
    let response = reqwest::Client::new()
        .get(format!(
            "http://{registry}/v2/{repository}/manifests/{reference}"
        ))
        .header("accept", MANIFEST)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{repository}:{reference}");
    let digest = response.headers()["docker-content-digest"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = response.bytes().await.unwrap().to_vec();
    (serde_json::from_slice(&body).unwrap(), body, digest)
}

/// Puts `manifest` under `tag`, as a re-tag does; the registry's digest for it.
async fn put_manifest(registry: &str, repository: &str, tag: &str, manifest: Vec<u8>) -> String {
    let response = reqwest::Client::new()
        .put(format!("http://{registry}/v2/{repository}/manifests/{tag}"))
        .header("content-type", MANIFEST)
        .body(manifest)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    response.headers()["docker-content-digest"]
        .to_str()
        .unwrap()
        .to_owned()
}

/// Uploads a blob; its digest.
async fn put_blob(registry: &str, repository: &str, blob: &[u8]) -> String {
    let client = reqwest::Client::new();
    let started = client
        .post(format!("http://{registry}/v2/{repository}/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 202);
    let location = started.headers()["location"].to_str().unwrap();
    let location = if location.starts_with("http") {
        location.to_owned()
    } else {
        format!("http://{registry}{location}")
    };
    let digest = sha256(blob);
    let separator = if location.contains('?') { '&' } else { '?' };
    let finished = client
        .put(format!("{location}{separator}digest={digest}"))
        .header("content-type", "application/octet-stream")
        .body(blob.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(finished.status(), 201);
    digest
}

/// Publishes `wasm` under `tag` as another tool would, without Piston's check that it
/// loads: a wasm artifact whatever the bytes are. Its manifest digest.
async fn push_unchecked(registry: &str, repository: &str, tag: &str, wasm: &[u8]) -> String {
    let layer = put_blob(registry, repository, wasm).await;
    let config = serde_json::json!({
        "created": "2026-12-01T00:00:00Z",
        "architecture": "wasm",
        "os": "wasip2",
        "layerDigests": [layer],
    })
    .to_string();
    let config_digest = put_blob(registry, repository, config.as_bytes()).await;
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": {
            "mediaType": "application/vnd.wasm.config.v0+json",
            "digest": config_digest,
            "size": config.len(),
        },
        "layers": [{"mediaType": "application/wasm", "digest": layer, "size": wasm.len()}],
    });
    put_manifest(registry, repository, tag, manifest.to_string().into_bytes()).await
}

fn version(reply: &Reply) -> Option<String> {
    (reply.status == 200).then(|| reply.json()["version"].as_str().unwrap_or("").to_owned())
}

/// The admin API's entry for the plugin pulled into `swap.wasm`.
async fn swap_entry(server: &Server) -> Value {
    let reply = server.admin_get("/_piston/resources").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| {
            entry["file"]
                .as_str()
                .is_some_and(|file| file.ends_with("/oci/swap.wasm"))
        })
        .cloned()
        .unwrap_or(Value::Null)
}

/// Polls the admin API until `check` accepts the swap entry; panics after `CONVERGE`.
async fn until_entry(server: &Server, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        let entry = swap_entry(server).await;
        if check(&entry) {
            return entry;
        }
        assert!(
            started.elapsed() < CONVERGE,
            "{what}: not seen within {CONVERGE:?}; the entry: {entry:#}\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the swap entry serves the manifest `digest` and says `reason` in
/// `field`: `update_refused` for an artifact pulled that did not load, `source_error`
/// for one that could not be resolved or pulled.
async fn until_refused(server: &Server, digest: &str, field: &str, reason: &str) -> Value {
    until_entry(server, reason, |entry| {
        entry["digest"] == digest
            && entry["status"] == "ok"
            && entry[field]
                .as_str()
                .is_some_and(|said| said.contains(reason))
    })
    .await
}

/// A server configuration pulling the plugin `swap` from `source` every second.
fn pulling(registry: &str, source: &str) -> String {
    format!(
        "[server]\npull_interval = \"1s\"\ninsecure_registries = [\"{registry}\"]\n\n\
         [plugins.swap]\nsource = \"oci://{source}\"\n"
    )
}

#[test]
fn push_publishes_a_wasm_artifact_and_pull_verifies_it() {
    let registry = registry();
    let address = registry.address();
    let reference = format!("{address}/swap:1");
    let digest = push("swap-v1", &reference);

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (manifest, body, served_digest) = runtime.block_on(manifest(&address, "swap", "1"));
    assert_eq!(served_digest, digest, "push printed the registry's digest");
    assert_eq!(sha256(&body), digest);
    assert_eq!(manifest["mediaType"], MANIFEST);
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.wasm.config.v0+json"
    );
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1, "{manifest:#}");
    assert_eq!(layers[0]["mediaType"], "application/wasm");
    assert_eq!(layers[0]["digest"], sha256(&bytes("swap-v1")));
    assert_eq!(
        manifest["annotations"]["org.opencontainers.image.title"], "swap",
        "{manifest:#}"
    );

    // By tag and by digest, written whole and identical.
    let out = scratch_dir();
    let out_dir = out.path().to_str().unwrap();
    for pulled in [reference.clone(), format!("{address}/swap@{digest}")] {
        let output = run(&["pull", &pulled, "--insecure", "--out", out_dir]);
        assert!(output.status.success(), "{}", text(&output));
        assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), digest);
        assert_eq!(
            std::fs::read(out.path().join("swap.wasm")).unwrap(),
            bytes("swap-v1")
        );
    }
    let leftovers: Vec<_> = std::fs::read_dir(out.path()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "only the pulled file: {leftovers:?}");

    // A digest the registry does not hold, and a tag it does not.
    let absent = format!("{address}/swap@sha256:{}", "0".repeat(64));
    for missing in [absent, format!("{address}/swap:2")] {
        let output = run(&["pull", &missing, "--insecure", "--out", out_dir]);
        assert_refused(&output, "does not exist");
    }

    // Plain HTTP only when asked for: HTTPS to this registry fails, and says where.
    let output = run(&["pull", &reference, "--out", out_dir]);
    assert_refused(&output, &format!("cannot reach {address} over HTTPS"));
    assert_refused(&output, "--insecure");

    // A file that does not load as a plugin is not pushed.
    let broken = out.path().join("broken.wasm");
    std::fs::write(&broken, b"\0asm\x01\0\0\0").unwrap();
    let output = run(&[
        "push",
        broken.to_str().unwrap(),
        &format!("{address}/broken:1"),
        "--insecure",
    ]);
    assert_refused(&output, "nothing was pushed");

    // Nor one larger than a plugin file may be: refused before it is read whole.
    let big = out.path().join("big.wasm");
    std::fs::write(&big, vec![0; 2 << 20]).unwrap();
    let config = out.path().join("piston.toml");
    std::fs::write(&config, "[limits]\nplugin_file_mib = 1\n").unwrap();
    let output = run(&[
        "push",
        big.to_str().unwrap(),
        &format!("{address}/broken:1"),
        "--insecure",
        "--config",
        config.to_str().unwrap(),
    ]);
    assert_refused(&output, "larger than limits.plugin_file_mib");
    assert_refused(&output, "nothing was pushed");
    let tags = runtime.block_on(async {
        reqwest::get(format!("http://{address}/v2/broken/tags/list"))
            .await
            .unwrap()
            .status()
    });
    assert_eq!(tags, 404, "nothing of it reached the registry");
}

#[tokio::test]
async fn credentials_come_from_the_environment_or_the_docker_config_and_never_show() {
    let mut registry = OciRegistry::with_users(HTPASSWD).expect("a registry");
    registry.start().expect("the registry starts");
    let address = registry.address();
    let reference = format!("{address}/swap:1");
    let file = fixture_plugin("swap-v1");
    let push = |env: &[(&str, &str)], extra: &[&str]| {
        let mut args = vec!["push", file.to_str().unwrap(), &reference, "--insecure"];
        args.extend_from_slice(extra);
        piston_with_env(Path::new("."), &args, env, "")
    };

    let anonymous = push(&[], &[]);
    assert_eq!(anonymous.status.code(), Some(1), "{}", text(&anonymous));
    assert!(
        text(&anonymous).contains("check the credentials"),
        "{}",
        text(&anonymous)
    );

    let wrong = push(
        &[("PISTON_REGISTRY_PASSWORD", "not the password")],
        &["--username", USER],
    );
    assert_eq!(wrong.status.code(), Some(1), "{}", text(&wrong));
    assert!(
        !text(&wrong).contains("not the password"),
        "{}",
        text(&wrong)
    );

    let pushed = push(
        &[("PISTON_REGISTRY_PASSWORD", PASSWORD)],
        &["--username", USER],
    );
    assert!(pushed.status.success(), "{}", text(&pushed));
    assert!(!text(&pushed).contains(PASSWORD), "{}", text(&pushed));
    let digest = String::from_utf8_lossy(&pushed.stdout).trim().to_owned();

    // The Docker config file, as `docker login` leaves it.
    let docker = scratch_dir();
    let auth = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("{USER}:{PASSWORD}"),
    );
    std::fs::write(
        docker.path().join("config.json"),
        serde_json::json!({"auths": {address.clone(): {"auth": auth}}}).to_string(),
    )
    .unwrap();
    let docker_config = docker.path().to_str().unwrap();
    let out = scratch_dir();
    let pulled = piston_with_env(
        Path::new("."),
        &[
            "pull",
            &reference,
            "--insecure",
            "--out",
            out.path().to_str().unwrap(),
        ],
        &[("DOCKER_CONFIG", docker_config)],
        "",
    );
    assert!(pulled.status.success(), "{}", text(&pulled));
    assert_eq!(String::from_utf8_lossy(&pulled.stdout).trim(), digest);

    // A server pulls with the login in its environment, and logs no secret.
    let server = ServerBuilder::new()
        .config(&pulling(&address, &reference))
        .env("PISTON_REGISTRY_USERNAME", USER)
        .env("PISTON_REGISTRY_PASSWORD", PASSWORD)
        .start();
    assert_eq!(
        version(&server.get("/swap").await).as_deref(),
        Some("1.0.0")
    );
    assert_eq!(swap_entry(&server).await["digest"], digest.as_str());
    assert!(!server.log().contains(PASSWORD), "{}", server.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hosts_converge_on_a_retagged_version_without_failing_a_request() {
    let registry = registry();
    let address = registry.address();
    let live = format!("{address}/swap:live");
    let first = push("swap-v1", &live);
    let servers: Vec<Arc<Server>> = ServerBuilder::new()
        .config(&pulling(&address, &live))
        .start_many(2)
        .into_iter()
        .map(Arc::new)
        .collect();
    for server in &servers {
        assert_eq!(
            version(&server.get("/swap").await).as_deref(),
            Some("1.0.0")
        );
        let entry = swap_entry(server).await;
        assert_eq!(entry["source"], format!("oci://{live}"), "{entry:#}");
        assert_eq!(entry["digest"], first.as_str(), "{entry:#}");
        assert!(
            server.table().contains(&format!("oci://{live}")),
            "{}",
            server.table()
        );
    }

    let load = Load::start(&servers, "/swap", 2);
    let second = tokio::task::spawn_blocking(move || push("swap-v2", &live))
        .await
        .unwrap();
    assert_ne!(second, first);
    for server in &servers {
        until_entry(server, "the re-tagged version", |entry| {
            entry["digest"] == second.as_str() && entry["plugin"]["version"] == "2.0.0"
        })
        .await;
        assert_eq!(
            version(&server.get("/swap").await).as_deref(),
            Some("2.0.0")
        );
    }
    let answers = load.finish(100).await;
    let seen: std::collections::BTreeSet<(u16, Option<String>)> = answers
        .iter()
        .map(|reply| (reply.status, version(reply)))
        .collect();
    let expected = [
        (200, Some("1.0.0".to_owned())),
        (200, Some("2.0.0".to_owned())),
    ];
    assert!(
        seen.iter().all(|answer| expected.contains(answer)),
        "every request answered by one version or the other, none failed: {seen:?}"
    );
}

#[tokio::test]
async fn broken_corrupt_and_missing_artifacts_are_refused_while_the_old_version_serves() {
    let registry = registry();
    let address = registry.address();
    let live = format!("{address}/swap:live");
    let first = push("swap-v1", &live);
    let mut server = ServerBuilder::new()
        .config(&format!(
            "{}\n[limits]\nplugin_file_mib = 1\n",
            pulling(&address, &live)
        ))
        .start();
    assert_eq!(
        version(&server.get("/swap").await).as_deref(),
        Some("1.0.0")
    );

    // An artifact that is not a component: pulled, refused by the load checks.
    push_unchecked(
        &address,
        "swap",
        "live",
        b"\0asm\x0d\0\x01\0not a component",
    )
    .await;
    let entry = until_refused(&server, &first, "update_refused", "").await;
    assert_eq!(
        version(&server.get("/swap").await).as_deref(),
        Some("1.0.0"),
        "{entry:#}"
    );

    // Another plugin's artifact under this plugin's source.
    push_unchecked(&address, "swap", "live", &bytes("echo")).await;
    let misnamed = "describes itself as plugin `echo`";
    until_refused(&server, &first, "update_refused", misnamed).await;

    // An artifact larger than a plugin file may be: refused before it is fetched.
    push_unchecked(&address, "swap", "live", &vec![0; 2 << 20]).await;
    until_refused(
        &server,
        &first,
        "source_error",
        "larger than limits.plugin_file_mib",
    )
    .await;

    // A layer whose bytes were changed in the registry's storage: refused before
    // anything is written, the reason in the source's status.
    let second = push("swap-v2", &format!("{address}/swap:next"));
    let (manifest, body, _) = manifest(&address, "swap", &second).await;
    let layer = manifest["layers"][0]["digest"].as_str().unwrap().to_owned();
    let hex = layer.strip_prefix("sha256:").unwrap();
    let data = registry.storage().join(format!(
        "docker/registry/v2/blobs/sha256/{}/{hex}/data",
        &hex[..2]
    ));
    let mut stored = std::fs::read(&data).unwrap();
    let middle = stored.len() / 2;
    stored[middle] ^= 0xff;
    std::fs::write(&data, stored).unwrap();
    put_manifest(&address, "swap", "live", body).await;
    until_refused(&server, &first, "source_error", "does not match its digest").await;
    assert_eq!(
        version(&server.get("/swap").await).as_deref(),
        Some("1.0.0")
    );

    // A tag that does not exist (the configuration changed, then SIGHUP).
    let gone = format!("{address}/swap:gone");
    std::fs::write(server.config_file(), pulling(&address, &gone)).unwrap();
    server.signal(libc::SIGHUP);
    let entry = until_refused(&server, &first, "source_error", "does not exist").await;
    assert!(
        entry["source_error"].as_str().unwrap().contains(&gone),
        "{entry:#}"
    );
    assert_eq!(
        version(&server.get("/swap").await).as_deref(),
        Some("1.0.0"),
        "{entry:#}"
    );
    let listed = server.piston(
        &["list", "--url", &server.admin_url(""), "--window", "0"],
        "",
    );
    let listed = text(&listed);
    assert!(listed.contains(&format!("oci://{live}")), "{listed}");
    assert!(listed.contains("does not exist"), "{listed}");
    let metrics = server.admin_get("/metrics").await.text();
    for outcome in ["pulled", "failed"] {
        let counted = format!("piston_plugin_pulls_total{{plugin=\"swap\",outcome=\"{outcome}\"}}");
        assert!(metrics.contains(&counted), "no {counted} in:\n{metrics}");
    }

    // A restart starts on the version that served, not on the refused file.
    server.restart();
    until_refused(&server, &first, "update_refused", misnamed).await;
    assert_eq!(
        version(&server.get("/swap").await).as_deref(),
        Some("1.0.0")
    );
}

#[tokio::test]
async fn a_host_starts_from_its_cache_while_the_registry_is_down() {
    let mut registry = registry();
    let address = registry.address();
    let live = format!("{address}/swap:live");
    let first = push("swap-v1", &live);
    let mut server = ServerBuilder::new()
        .config(&pulling(&address, &live))
        .start();
    assert_eq!(
        version(&server.get("/swap").await).as_deref(),
        Some("1.0.0")
    );

    registry.stop();
    server.restart();
    let unreachable = format!("cannot reach {address}");
    until_refused(&server, &first, "source_error", &unreachable).await;
    assert_eq!(
        version(&server.get("/swap").await).as_deref(),
        Some("1.0.0")
    );

    // Back up: the error clears on the next pull, nothing else changes.
    registry.start().unwrap();
    until_entry(&server, "the registry answering again", |entry| {
        entry["digest"] == first.as_str() && entry["source_error"].is_null()
    })
    .await;

    // The same component pushed again is another manifest: shown as what serves.
    let again = push("swap-v1", &live);
    assert_ne!(again, first);
    until_entry(&server, "the new manifest of the same component", |entry| {
        entry["digest"] == again.as_str() && entry["status"] == "ok"
    })
    .await;
}
