//! HTTP Basic authentication (RFC 7617) against the users' argon2id hashes.
//!
//! argon2id is slow on purpose (tens of milliseconds, 19 MiB), so a client sending
//! Basic credentials with every request must not pay it every time: a verified
//! username and password are remembered for a few minutes under an HMAC of both (with
//! a key made at startup, so the table holds nothing a password can be recovered
//! from), tied to the user's version so a password change ends it at once. Hashing runs
//! on the blocking threads, a few at a time, so a flood of logins cannot take the
//! memory of hundreds of hashes at once.
//!
//! The account a failed login counts against is the username, read without checking
//! the password; credentials longer than [`MAX_CREDENTIAL_BYTES`] are refused before
//! they are decoded.

use super::password::Checker;
use super::store::{AuthStore, User};
use super::{
    Account, Authenticator, MAX_CREDENTIAL_BYTES, Principal, Refusal, RequestHead, header_value,
    quoted, read_user,
};
use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use dashmap::DashMap;
use hmac::{Hmac, Mac};
use http::HeaderValue;
use sha2::Sha256;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a verified password is remembered.
const REMEMBER: Duration = Duration::from_secs(5 * 60);
/// The most verified passwords remembered at once.
const MAX_REMEMBERED: usize = 10_000;

/// The `basic` authenticator.
pub struct Basic {
    users: Arc<AuthStore>,
    challenge: HeaderValue,
    verified: Verified,
    passwords: Arc<Checker>,
}

impl Basic {
    /// Basic against `users`, challenging with `realm`, checking passwords with
    /// `passwords`.
    pub fn new(users: Arc<AuthStore>, realm: &str, passwords: Arc<Checker>) -> Basic {
        Basic {
            users,
            challenge: header_value(format!("Basic realm={}, charset=\"UTF-8\"", quoted(realm))),
            verified: Verified::new(),
            passwords,
        }
    }
}

#[async_trait]
impl Authenticator for Basic {
    fn name(&self) -> &str {
        "basic"
    }

    fn challenges(&self, _refusal: Option<&Refusal>, out: &mut Vec<HeaderValue>) {
        out.push(self.challenge.clone());
    }

    fn account(&self, head: &RequestHead<'_>) -> Option<Account> {
        let (username, _) = decode(head.credentials("Basic")?).ok()?;
        Some(Account::user(&username))
    }

    async fn authenticate(&self, head: &RequestHead<'_>) -> Result<Option<Principal>, Refusal> {
        let Some(encoded) = head.credentials("Basic") else {
            return Ok(None);
        };
        let (username, password) = decode(encoded)?;
        let wrong = || wrong().for_account(Some(Account::user(&username)));
        let user = read_user(&self.users, &username).await?;
        let Some(user) = user else {
            self.passwords.check(None, &password).await;
            return Err(wrong());
        };
        if !self.verified.contains(&user, &password) {
            if !self
                .passwords
                .check(Some(&user.password_hash), &password)
                .await
            {
                return Err(wrong());
            }
            self.verified.insert(&user, &password);
        }
        Ok(Some(user.principal("basic")))
    }
}

fn wrong() -> Refusal {
    Refusal::unauthorized("wrong username or password")
}

/// `base64(username:password)`, the password being everything after the first colon;
/// or what is wrong with it. Credentials longer than [`MAX_CREDENTIAL_BYTES`] are
/// refused before they are decoded.
pub(crate) fn decode(encoded: &str) -> Result<(String, String), Refusal> {
    if encoded.len() > MAX_CREDENTIAL_BYTES {
        return Err(Refusal::too_long("Basic"));
    }
    let malformed = || {
        Refusal::unauthorized(
            "the Basic credentials are not base64 of `username:password` in UTF-8",
        )
    };
    let bytes = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let text = String::from_utf8(bytes).map_err(|_| malformed())?;
    let (username, password) = text.split_once(':').ok_or_else(malformed)?;
    Ok((username.to_owned(), password.to_owned()))
}

/// Recently verified passwords, by an HMAC of username and password.
struct Verified {
    key: [u8; 32],
    entries: DashMap<[u8; 32], Entry>,
}

#[derive(Clone, Copy)]
struct Entry {
    version: i64,
    at: Instant,
}

impl Verified {
    fn new() -> Verified {
        let mut key = [0; 32];
        // Without randomness the cache is merely unkeyed, which it must not be.
        getrandom::fill(&mut key).expect("the operating system provides random bytes");
        Verified {
            key,
            entries: DashMap::new(),
        }
    }

    fn tag(&self, user: &User, password: &str) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key");
        mac.update(user.username.as_bytes());
        mac.update(&[0]);
        mac.update(password.as_bytes());
        mac.finalize().into_bytes().into()
    }

    fn contains(&self, user: &User, password: &str) -> bool {
        self.entries
            .get(&self.tag(user, password))
            .is_some_and(|entry| entry.version == user.version && entry.at.elapsed() < REMEMBER)
    }

    fn insert(&self, user: &User, password: &str) {
        if self.entries.len() >= MAX_REMEMBERED {
            self.entries
                .retain(|_, entry| entry.at.elapsed() < REMEMBER);
            if self.entries.len() >= MAX_REMEMBERED {
                self.entries.clear();
            }
        }
        self.entries.insert(
            self.tag(user, password),
            Entry {
                version: user.version,
                at: Instant::now(),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_split_at_the_first_colon() {
        let encoded = STANDARD.encode("ann:pass:word");
        assert_eq!(
            decode(&encoded),
            Ok(("ann".to_owned(), "pass:word".to_owned()))
        );
        assert!(decode("!!!").is_err());
        assert!(decode(&STANDARD.encode("no colon")).is_err());
        assert!(decode(&STANDARD.encode([b'a', b':', 0xff])).is_err());
    }

    #[test]
    fn oversized_credentials_are_refused_before_decoding() {
        // A megabyte of valid base64: it would decode, but is refused unread.
        let huge = STANDARD.encode(format!("ann:{}", "p".repeat(1 << 20)));
        let refusal = decode(&huge).unwrap_err();
        assert_eq!(refusal.status, http::StatusCode::UNAUTHORIZED);
        assert!(refusal.detail.contains("8192 bytes"), "{}", refusal.detail);
        let largest = STANDARD.encode(format!("ann:{}", "p".repeat(6000)));
        assert!(largest.len() <= MAX_CREDENTIAL_BYTES);
        assert!(decode(&largest).is_ok());
    }

    fn head_with<'a>(
        headers: &'a http::HeaderMap,
        method: &'a http::Method,
        uri: &'a http::Uri,
    ) -> RequestHead<'a> {
        RequestHead {
            method,
            uri,
            headers,
            client: "192.0.2.1".parse().unwrap(),
            form: None,
            request_id: "test",
        }
    }

    #[tokio::test]
    async fn refusals_name_the_account_the_gate_checked() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(AuthStore::open(&dir.path().join("auth.db")).unwrap());
        let basic = Basic::new(store, "piston", Arc::new(Checker::new()));
        let mut headers = http::HeaderMap::new();
        let value = format!("Basic {}", STANDARD.encode("zed:guess"));
        headers.insert(http::header::AUTHORIZATION, value.parse().unwrap());
        let (method, uri) = (http::Method::GET, http::Uri::from_static("/"));
        let head = head_with(&headers, &method, &uri);
        assert_eq!(basic.account(&head), Some(Account::user("zed")));
        let refusal = basic.authenticate(&head).await.unwrap_err();
        assert_eq!(refusal.account, Some(Account::user("zed")));

        headers.insert(http::header::AUTHORIZATION, "Basic !!!".parse().unwrap());
        let head = head_with(&headers, &method, &uri);
        assert_eq!(basic.account(&head), None);
        assert_eq!(basic.authenticate(&head).await.unwrap_err().account, None);
    }
}
