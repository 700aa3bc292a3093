//! HTTP Digest authentication (RFC 7616), `qop=auth`, SHA-256 and MD5.
//!
//! The server keeps no state per challenge: a nonce is the time it was made, random
//! bytes, and an HMAC of both under a secret kept in the credentials database, so any
//! server sharing that file can check it and none can be forged. A nonce expires after
//! a configurable lifetime; a request with an expired nonce but the right password is
//! answered `stale=true`, so clients retry without asking the user again. Each nonce's
//! highest nonce-count is remembered for its lifetime (only once a request with it
//! has verified), so a captured request cannot be replayed.
//!
//! Those counts are kept by the [`Coordination`] backend, on every host alike (see
//! `coordination` for how memory bounds them: a nonce whose count may have been
//! forgotten is answered `stale=true` like an expired one, never accepted). When the
//! backend cannot answer, the request is refused with 503, not let through.
//!
//! The account a failed login counts against is the username the credentials name.
//! Credentials longer than [`MAX_CREDENTIAL_BYTES`] or with more than [`MAX_PARAMS`]
//! parameters are refused unread.
//!
//! Digest cannot work from the argon2id hash: `piston users add` also stores
//! `H(username:realm:password)` for the configured realm, in both algorithms.

use super::store::{AuthStore, User};
use super::{
    Account, Authenticator, MAX_CREDENTIAL_BYTES, Principal, Refusal, RequestHead, header_value,
    quoted, read_user,
};
use crate::coordination::{Coordination, CountUse, DigestNonce};
use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use http::HeaderValue;
use md5::Md5;
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use subtle::ConstantTimeEq;

/// The most parameters a Digest `Authorization` header may have (a client sends ten).
pub const MAX_PARAMS: usize = 64;

/// A hash function Digest can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestAlgorithm {
    /// `SHA-256`, preferred.
    Sha256,
    /// `MD5`, for older clients.
    Md5,
}

impl DigestAlgorithm {
    /// The name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            DigestAlgorithm::Sha256 => "SHA-256",
            DigestAlgorithm::Md5 => "MD5",
        }
    }

    /// Parses a name (without case, as RFC 7616 compares them).
    pub fn parse(name: &str) -> Option<DigestAlgorithm> {
        [DigestAlgorithm::Sha256, DigestAlgorithm::Md5]
            .into_iter()
            .find(|algorithm| algorithm.name().eq_ignore_ascii_case(name))
    }

    fn hash(self, text: &str) -> String {
        match self {
            DigestAlgorithm::Sha256 => hex::encode(Sha256::digest(text.as_bytes())),
            DigestAlgorithm::Md5 => hex::encode(Md5::digest(text.as_bytes())),
        }
    }

    fn secret(self, user: &User) -> &str {
        match self {
            DigestAlgorithm::Sha256 => &user.digest.sha256,
            DigestAlgorithm::Md5 => &user.digest.md5,
        }
    }
}

/// The `digest` authenticator.
pub struct Digest {
    users: Arc<AuthStore>,
    realm: String,
    algorithms: Vec<DigestAlgorithm>,
    lifetime: Duration,
    /// The nonces and the `opaque` they imply, once the nonce key is known: it is
    /// read from the credentials database, which may not answer when the
    /// configuration is read.
    nonces: OnceLock<(Nonces, String)>,
    key: Arc<NonceKey>,
    coordination: Arc<Coordination>,
}

/// The key nonces are signed with, read once from the credentials database and kept
/// by the Digest authenticators of successive configurations.
#[derive(Default)]
pub struct NonceKey(OnceLock<[u8; 32]>);

/// A nonce's issue time and random bytes: what tells nonces apart.
type NonceId = [u8; 16];

impl NonceKey {
    /// The nonce key: the one already in use, else the one in `users`.
    fn get(&self, users: &AuthStore) -> Result<[u8; 32], String> {
        if let Some(key) = self.0.get() {
            return Ok(*key);
        }
        let key = users
            .secret("digest-nonce")
            .map_err(|error| format!("cannot make the Digest nonce key: {error}"))?;
        Ok(*self.0.get_or_init(|| key))
    }
}

impl Digest {
    /// Digest against `users` in `realm`, offering `algorithms` in order of
    /// preference, with nonces signed with `key` and valid for `lifetime`, their counts
    /// kept in `coordination`.
    pub fn new(
        users: Arc<AuthStore>,
        realm: &str,
        algorithms: Vec<DigestAlgorithm>,
        lifetime: Duration,
        key: Arc<NonceKey>,
        coordination: Arc<Coordination>,
    ) -> Digest {
        let digest = Digest {
            users,
            realm: realm.to_owned(),
            algorithms,
            lifetime,
            nonces: OnceLock::new(),
            key,
            coordination,
        };
        if let Err(error) = digest.nonces() {
            tracing::warn!("{error}; Digest challenges wait until it can be read");
        }
        digest
    }

    /// The nonces, reading their key the first time (blocking, once per process).
    fn nonces(&self) -> Result<&(Nonces, String), String> {
        if let Some(nonces) = self.nonces.get() {
            return Ok(nonces);
        }
        let key = self.key.get(&self.users)?;
        Ok(self.nonces.get_or_init(|| {
            let nonces = Nonces {
                key,
                lifetime: self.lifetime,
            };
            let opaque = hex::encode(&nonces.mac(b"opaque")[..16]);
            (nonces, opaque)
        }))
    }

    async fn check(&self, head: &RequestHead<'_>, credentials: &str) -> Result<Principal, Refusal> {
        let params = Params::parse(credentials)?;
        let username = params.username()?;
        let account = Some(Account::user(&username));
        let nonce = params.required("nonce")?;
        let uri = params.required("uri")?;
        let response = params.required("response")?;
        let cnonce = params.required("cnonce")?;
        let nc = params.required("nc")?;
        if params.get("realm") != Some(self.realm.as_str()) {
            return Err(Refusal::unauthorized(format!(
                "the realm is not {}",
                quoted(&self.realm)
            )));
        }
        if params.get("qop") != Some("auth") {
            return Err(Refusal::unauthorized("only qop=auth is supported"));
        }
        let algorithm = params
            .get("algorithm")
            .map_or(Some(DigestAlgorithm::Md5), DigestAlgorithm::parse)
            .filter(|algorithm| self.algorithms.contains(algorithm))
            .ok_or_else(|| {
                Refusal::unauthorized(format!(
                    "the algorithm is not one offered ({})",
                    self.offered()
                ))
            })?;
        if !same_target(uri, head.uri) {
            return Err(Refusal::unauthorized(
                "the `uri` of the credentials is not this request's",
            ));
        }
        let count = parse_nc(nc)
            .ok_or_else(|| Refusal::unauthorized("`nc` must be 8 hexadecimal digits"))?;
        let (nonces, _) = self.nonces().map_err(|error| {
            tracing::debug!("{error}");
            Refusal::unavailable()
        })?;
        let (issued, id) = nonces
            .issued(nonce)
            .ok_or_else(|| Refusal::unauthorized("the nonce was not issued by this server"))?;
        let wrong = || wrong().for_account(account);

        let user = read_user(&self.users, &username).await?.ok_or_else(wrong)?;
        if user.digest.realm != self.realm {
            tracing::warn!(
                "the password of `{}` was set for realm {:?}, not {:?}: set it again with `piston users passwd` to use Digest",
                user.username,
                user.digest.realm,
                self.realm
            );
            return Err(wrong());
        }
        let ha2 = algorithm.hash(&format!("{}:{uri}", head.method));
        let expected = algorithm.hash(&format!(
            "{}:{nonce}:{nc}:{cnonce}:auth:{ha2}",
            algorithm.secret(&user)
        ));
        let matches: bool = expected
            .as_bytes()
            .ct_eq(response.to_ascii_lowercase().as_bytes())
            .into();
        if !matches {
            return Err(wrong());
        }
        if nonces.expired(issued) {
            return Err(Refusal::stale(
                "the nonce has expired; retry with the new one",
            ));
        }
        let nonce = DigestNonce {
            id,
            issued,
            lifetime: nonces.lifetime,
        };
        match self.coordination.count(&nonce, count).await {
            Ok(CountUse::Higher) => Ok(user.principal("digest")),
            Ok(CountUse::Replayed) => Err(Refusal::unauthorized(
                "the request was replayed (its nonce count is not higher than before)",
            )
            .for_account(account)),
            Ok(CountUse::Forgotten) => Err(Refusal::stale(
                "the nonce has expired; retry with the new one",
            )),
            Err(_) => Err(Refusal::unavailable()),
        }
    }

    fn offered(&self) -> String {
        let names: Vec<&str> = self
            .algorithms
            .iter()
            .map(|algorithm| algorithm.name())
            .collect();
        names.join(", ")
    }
}

#[async_trait]
impl Authenticator for Digest {
    fn name(&self) -> &str {
        "digest"
    }

    fn challenges(&self, refusal: Option<&Refusal>, out: &mut Vec<HeaderValue>) {
        // Without the key no nonce can be made: the other schemes still challenge.
        let Ok((nonces, opaque)) = self.nonces() else {
            return;
        };
        let nonce = nonces.issue();
        let stale = if refusal.is_some_and(|refusal| refusal.stale) {
            ", stale=true"
        } else {
            ""
        };
        for algorithm in &self.algorithms {
            out.push(header_value(format!(
                "Digest realm={}, qop=\"auth\", algorithm={}, nonce=\"{nonce}\", opaque=\"{}\", charset=UTF-8{stale}",
                quoted(&self.realm),
                algorithm.name(),
                opaque,
            )));
        }
    }

    fn account(&self, head: &RequestHead<'_>) -> Option<Account> {
        let params = Params::parse(head.credentials("Digest")?).ok()?;
        Some(Account::user(&params.username().ok()?))
    }

    async fn authenticate(&self, head: &RequestHead<'_>) -> Result<Option<Principal>, Refusal> {
        match head.credentials("Digest") {
            Some(credentials) => self.check(head, credentials).await.map(Some),
            None => Ok(None),
        }
    }
}

fn wrong() -> Refusal {
    Refusal::unauthorized("wrong username or password")
}

/// A nonce count: exactly 8 hexadecimal digits (no sign, no spaces).
fn parse_nc(nc: &str) -> Option<u32> {
    if nc.len() != 8 || !nc.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(nc, 16).ok()
}

/// Whether the credentials' `uri` is the request's target (clients send the path and
/// query; some send the absolute URI).
fn same_target(uri: &str, target: &http::Uri) -> bool {
    let sent = match uri.parse::<http::Uri>() {
        Ok(parsed) if parsed.scheme().is_some() => parsed,
        _ => {
            return target
                .path_and_query()
                .is_some_and(|own| own.as_str() == uri);
        }
    };
    sent.path_and_query() == target.path_and_query()
}

/// Signed, timestamped nonces.
struct Nonces {
    key: [u8; 32],
    lifetime: Duration,
}

/// Bytes of a nonce: issue time (8), random (8), MAC of both (16).
const NONCE_BYTES: usize = 32;

impl Nonces {
    fn mac(&self, data: &[u8]) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key");
        mac.update(data);
        mac.finalize().into_bytes().into()
    }

    fn issue(&self) -> String {
        let mut nonce = [0u8; NONCE_BYTES];
        nonce[..8].copy_from_slice(&super::now().max(0).to_be_bytes());
        // Without randomness the nonce is still unforgeable (it is signed), only
        // shared by challenges made in the same second.
        let _ = getrandom::fill(&mut nonce[8..16]);
        let mac = self.mac(&nonce[..16]);
        nonce[16..].copy_from_slice(&mac[..16]);
        URL_SAFE_NO_PAD.encode(nonce)
    }

    /// When a nonce this server made was issued (seconds since the epoch), and what
    /// tells it apart.
    fn issued(&self, nonce: &str) -> Option<(u64, NonceId)> {
        // A nonce is 43 characters: nothing longer is decoded.
        if nonce.len() > NONCE_BYTES * 2 {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(nonce).ok()?;
        let bytes: [u8; NONCE_BYTES] = bytes.try_into().ok()?;
        let mac = self.mac(&bytes[..16]);
        if !bool::from(mac[..16].ct_eq(&bytes[16..])) {
            return None;
        }
        let issued = u64::from_be_bytes(bytes[..8].try_into().ok()?);
        Some((issued, bytes[..16].try_into().ok()?))
    }

    fn expired(&self, issued: u64) -> bool {
        let now = super::now().max(0).unsigned_abs();
        now.saturating_sub(issued) >= self.lifetime.as_secs()
    }
}

/// The parameters of a Digest `Authorization` header, names lower-case.
struct Params(HashMap<String, String>);

impl Params {
    /// Parses the credentials after `Digest `: refused unread when longer than
    /// [`MAX_CREDENTIAL_BYTES`]; malformed with more than [`MAX_PARAMS`] parameters or
    /// one of them twice.
    fn parse(credentials: &str) -> Result<Params, Refusal> {
        if credentials.len() > MAX_CREDENTIAL_BYTES {
            return Err(Refusal::too_long("Digest"));
        }
        let malformed = || Refusal::unauthorized("the Digest credentials are malformed");
        let text = format!("Digest {credentials}");
        let mut parsed = http_auth::parse_challenges(&text).map_err(|_| malformed())?;
        if parsed.len() != 1 {
            return Err(malformed());
        }
        let challenge = parsed.pop().ok_or_else(malformed)?;
        if challenge.params.len() > MAX_PARAMS {
            return Err(Refusal::unauthorized(format!(
                "the Digest credentials have more than {MAX_PARAMS} parameters"
            )));
        }
        let mut params = HashMap::with_capacity(challenge.params.len());
        for (name, value) in challenge.params {
            match params.entry(name.to_ascii_lowercase()) {
                Entry::Vacant(vacant) => {
                    vacant.insert(value.to_unescaped());
                }
                Entry::Occupied(occupied) => {
                    return Err(Refusal::unauthorized(format!(
                        "the Digest credentials give `{}` twice",
                        occupied.key()
                    )));
                }
            }
        }
        Ok(Params(params))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    fn required(&self, name: &'static str) -> Result<&str, Refusal> {
        self.get(name)
            .ok_or_else(|| Refusal::unauthorized(format!("the Digest credentials lack `{name}`")))
    }

    /// `username`, or RFC 7616's `username*` (`UTF-8''percent-encoded`).
    fn username(&self) -> Result<String, Refusal> {
        if let Some(extended) = self.get("username*") {
            let encoded = extended
                .strip_prefix("UTF-8''")
                .or_else(|| extended.strip_prefix("utf-8''"))
                .ok_or_else(|| Refusal::unauthorized("`username*` must be UTF-8''..."))?;
            return percent_encoding::percent_decode_str(encoded)
                .decode_utf8()
                .map(|name| name.into_owned())
                .map_err(|_| Refusal::unauthorized("`username*` is not UTF-8"));
        }
        self.required("username").map(str::to_owned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_verify_and_expire() {
        let nonces = Nonces {
            key: [7; 32],
            lifetime: Duration::from_secs(60),
        };
        let nonce = nonces.issue();
        let (issued, _) = nonces.issued(&nonce).expect("our own nonce");
        assert!(!nonces.expired(issued));
        assert!(nonces.expired(issued - 60));
        assert!(nonces.expired(0), "the oldest time there is");
        let future = Nonces {
            key: [7; 32],
            lifetime: Duration::from_secs(u64::MAX),
        };
        assert!(!future.expired(u64::MAX), "no overflow from either end");
        assert!(!future.expired(0));

        let mut forged = URL_SAFE_NO_PAD.decode(&nonce).unwrap();
        forged[0] ^= 1;
        assert_eq!(nonces.issued(&URL_SAFE_NO_PAD.encode(forged)), None);
        let other = Nonces {
            key: [8; 32],
            lifetime: Duration::from_secs(60),
        };
        assert_eq!(other.issued(&nonce), None, "another key's nonce");
        assert_eq!(nonces.issued("short"), None);
        assert_eq!(nonces.issued(&"A".repeat(1 << 20)), None);
    }

    #[test]
    fn rfc_7616_example_response() {
        // RFC 7616 §3.9.1, SHA-256.
        let ha1 = DigestAlgorithm::Sha256.hash("Mufasa:http-auth@example.org:Circle of Life");
        let ha2 = DigestAlgorithm::Sha256.hash("GET:/dir/index.html");
        let response = DigestAlgorithm::Sha256.hash(&format!(
            "{ha1}:7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v:00000001:f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ:auth:{ha2}"
        ));
        assert_eq!(
            response,
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
    }

    #[test]
    fn params_parse_quoted_and_extended_usernames() {
        let params = Params::parse(
            r#"username*=UTF-8''J%C3%A4s%C3%B8n, realm="a \"b\"", nc=00000001, qop=auth"#,
        )
        .unwrap();
        assert_eq!(params.username().unwrap(), "Jäsøn");
        assert_eq!(params.get("realm"), Some(r#"a "b""#));
        assert_eq!(params.get("qop"), Some("auth"));
        assert!(Params::parse("username=").is_err());
    }

    #[test]
    fn params_are_bounded_and_given_once() {
        let huge = format!(r#"username="{}""#, "a".repeat(1 << 20));
        let refusal = Params::parse(&huge).err().unwrap();
        assert!(refusal.detail.contains("longer than"), "{}", refusal.detail);
        let many: Vec<String> = (0..=MAX_PARAMS)
            .map(|index| format!("p{index}=x"))
            .collect();
        let refusal = Params::parse(&many.join(", ")).err().unwrap();
        assert!(refusal.detail.contains("parameters"), "{}", refusal.detail);
        assert!(Params::parse(&many[..MAX_PARAMS].join(", ")).is_ok());
        let refusal = Params::parse(r#"username="ann", Username="bob""#)
            .err()
            .unwrap();
        assert!(refusal.detail.contains("twice"), "{}", refusal.detail);
    }

    #[test]
    fn nonce_counts_are_eight_hex_digits() {
        assert_eq!(parse_nc("00000001"), Some(1));
        assert_eq!(parse_nc("ffffffff"), Some(u32::MAX));
        assert_eq!(parse_nc("FFFFFFFF"), Some(u32::MAX));
        for bad in [
            "+0000001",
            "-0000001",
            "1",
            "000000001",
            "0000000g",
            " 0000001",
            "",
        ] {
            assert_eq!(parse_nc(bad), None, "{bad:?}");
        }
        assert_eq!(parse_nc(&"f".repeat(1 << 20)), None);
    }

    #[test]
    fn the_key_stays_the_one_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let store = AuthStore::open(&dir.path().join("auth.db")).unwrap();
        let kept = NonceKey::default();
        let key = kept.get(&store).unwrap();
        assert_eq!(key, store.secret("digest-nonce").unwrap());
        let other = tempfile::tempdir().unwrap();
        let elsewhere = AuthStore::open(&other.path().join("auth.db")).unwrap();
        assert_eq!(kept.get(&elsewhere).unwrap(), key);
    }

    #[test]
    fn targets_compare_as_sent() {
        let target: http::Uri = "/posts?page=2".parse().unwrap();
        assert!(same_target("/posts?page=2", &target));
        assert!(same_target("http://example.com/posts?page=2", &target));
        assert!(!same_target("/posts", &target));
        assert!(!same_target("/other?page=2", &target));
    }
}
