//! API keys in an `X-Api-Key` header: a custom authentication scheme as a plugin.
//!
//! The operator lists the keys in `piston.toml`, as SHA-256 digests so that the file
//! holds no usable secret, each with its owner and optionally the scopes it grants:
//!
//! ```toml
//! [plugins.api-key.config]
//! # USER:SHA256-OF-KEY[:SCOPE,SCOPE...], separated by spaces or newlines
//! keys = "alice:2bb80d53...:posts.write bob:fcde2b2e..."
//! ```
//!
//! and names the scheme in a chain: `[auth] authenticators = ["api-key", "basic"]`.

use piston_guest_auth::{Authenticate, Identity, Refusal, RequestHead, config};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;
use subtle::ConstantTimeEq;

/// The header the key travels in.
const HEADER: &str = "x-api-key";

struct ApiKeys;

impl Authenticate for ApiKeys {
    const CHALLENGE: &'static str = r#"ApiKey header="X-Api-Key""#;

    fn authenticate(head: &RequestHead) -> Result<Option<Identity>, Refusal> {
        let Some(key) = head.header(HEADER) else {
            return Ok(None);
        };
        let digest: [u8; 32] = Sha256::digest(key.trim().as_bytes()).into();
        // Every entry is compared, so the time taken does not say which one matched.
        let mut found = None;
        for entry in keys() {
            if bool::from(entry.digest.ct_eq(&digest)) {
                found = Some(entry);
            }
        }
        match found {
            Some(entry) => Ok(Some(
                Identity::new(entry.user.clone()).scopes(entry.scopes.iter().cloned()),
            )),
            None => Err(Refusal::unauthorized("unknown API key")),
        }
    }
}

/// One configured key.
struct Key {
    user: String,
    digest: [u8; 32],
    scopes: Vec<String>,
}

/// The configured keys, read once per instance. A malformed setting stops the plugin
/// with a message naming the entry, rather than letting any request through.
fn keys() -> &'static [Key] {
    static KEYS: OnceLock<Vec<Key>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let text = match config::get("keys") {
            Ok(text) => text.unwrap_or_default(),
            Err(error) => panic!("api-key: cannot read the `keys` setting: {error:?}"),
        };
        text.split_whitespace()
            .enumerate()
            .map(|(index, entry)| {
                parse(entry).unwrap_or_else(|| {
                    panic!(
                        "api-key: entry {} of the `keys` setting is not USER:SHA256HEX[:SCOPE,...]",
                        index + 1
                    )
                })
            })
            .collect()
    })
}

fn parse(entry: &str) -> Option<Key> {
    let mut parts = entry.splitn(3, ':');
    let user = parts.next().filter(|user| !user.is_empty())?;
    let digest = hex::decode(parts.next()?).ok()?.try_into().ok()?;
    let scopes = parts
        .next()
        .map(|scopes| {
            scopes
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    Some(Key {
        user: user.to_owned(),
        digest,
        scopes,
    })
}

piston_guest_auth::export_authenticator!(ApiKeys);
