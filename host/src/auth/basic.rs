//! HTTP Basic authentication (RFC 7617) against the users' argon2id hashes.
//!
//! argon2id is slow on purpose (tens of milliseconds, 19 MiB), so a client sending
//! Basic credentials with every request must not pay it every time: a verified
//! username and password are remembered for a few minutes under an HMAC of both (with
//! a key made at startup, so the table holds nothing a password can be recovered
//! from), tied to the user's version so a password change ends it at once. Hashing runs
//! on the blocking threads, a few at a time, so a flood of logins cannot take the
//! memory of hundreds of hashes at once.

use super::password::Checker;
use super::store::{AuthStore, User};
use super::{Authenticator, Principal, Refusal, RequestHead, header_value, quoted};
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

    async fn authenticate(&self, head: &RequestHead<'_>) -> Result<Option<Principal>, Refusal> {
        let Some(encoded) = head.credentials("Basic") else {
            return Ok(None);
        };
        let (username, password) = decode(encoded).ok_or_else(|| {
            Refusal::unauthorized(
                "the Basic credentials are not base64 of `username:password` in UTF-8",
            )
        })?;
        let user = self.users.user(&username).map_err(|error| {
            tracing::error!("cannot read the user: {error}");
            Refusal::unauthorized("the credentials cannot be checked right now")
        })?;
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

/// `base64(username:password)`, the password being everything after the first colon.
fn decode(encoded: &str) -> Option<(String, String)> {
    let bytes = STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (username, password) = text.split_once(':')?;
    Some((username.to_owned(), password.to_owned()))
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
            Some(("ann".to_owned(), "pass:word".to_owned()))
        );
        assert_eq!(decode("!!!"), None);
        assert_eq!(decode(&STANDARD.encode("no colon")), None);
        assert_eq!(decode(&STANDARD.encode([b'a', b':', 0xff])), None);
    }
}
