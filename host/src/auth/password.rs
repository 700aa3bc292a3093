//! Password secrets: the argon2id hash Basic checks, and the per-realm HA1 values Digest
//! needs (Digest cannot work from a one-way hash of the password alone).

use super::store::DigestSecrets;
use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use md5::Md5;
use sha2::{Digest, Sha256};
use std::sync::LazyLock;
use tokio::sync::Semaphore;

/// Hashes computed at once (each takes 19 MiB).
const CONCURRENT_HASHES: usize = 4;

/// Hashes a password with argon2id (the OWASP-recommended parameters: 19 MiB, two
/// passes), in PHC string form.
pub fn hash(password: &str) -> String {
    // Hashing fails only on parameters or salts out of range, which these are not.
    Argon2::default()
        .hash_password(password.as_bytes(), &SaltString::generate(&mut OsRng))
        .map(|hash| hash.to_string())
        .unwrap_or_default()
}

/// Whether `password` matches `hash`. Takes as long as hashing (tens of milliseconds):
/// call it off the async threads.
fn verify(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// Spends the time a real verification would, for a user who does not exist: the
/// answer's timing must not tell which usernames are real.
fn verify_nobody(password: &str) {
    static NOBODY: LazyLock<String> = LazyLock::new(|| hash("no user has this password"));
    let _ = verify(&NOBODY, password);
}

/// Checks passwords on the blocking threads, a few at a time, so that a flood of
/// logins cannot take the memory of hundreds of hashes at once.
pub struct Checker {
    hashing: Semaphore,
}

impl Checker {
    /// A checker running at most a few hashes at once.
    pub fn new() -> Checker {
        Checker {
            hashing: Semaphore::new(CONCURRENT_HASHES),
        }
    }

    /// Whether `password` is the one hashed in `hash`; with no hash (no such user),
    /// spends the same time failing.
    pub async fn check(&self, hash: Option<&str>, password: &str) -> bool {
        let Ok(_permit) = self.hashing.acquire().await else {
            return false;
        };
        let hash = hash.map(str::to_owned);
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || match hash {
            Some(hash) => verify(&hash, &password),
            None => {
                verify_nobody(&password);
                false
            }
        })
        .await
        .unwrap_or(false)
    }
}

/// Digest's `H(username:realm:password)` in MD5 and SHA-256 (RFC 7616 §3.4.2).
pub fn digest_secrets(username: &str, realm: &str, password: &str) -> DigestSecrets {
    let text = format!("{username}:{realm}:{password}");
    DigestSecrets {
        realm: realm.to_owned(),
        md5: hex::encode(Md5::digest(text.as_bytes())),
        sha256: hex::encode(Sha256::digest(text.as_bytes())),
    }
}

/// The hash parameters, for tests that want to check they are argon2id.
#[cfg(test)]
mod tests {
    use super::*;
    use argon2::Params;

    fn params_of(hash: &str) -> Params {
        Params::try_from(&PasswordHash::new(hash).expect("a PHC string")).expect("argon2 params")
    }

    #[test]
    fn hashes_are_salted_argon2id_and_verify() {
        let first = hash("correct horse");
        let second = hash("correct horse");
        assert!(first.starts_with("$argon2id$"), "{first}");
        assert_ne!(first, second, "every hash has its own salt");
        assert_eq!(params_of(&first).m_cost(), Params::DEFAULT_M_COST);
        assert!(verify(&first, "correct horse"));
        assert!(!verify(&first, "correct horse "));
        assert!(!verify("not a hash", "correct horse"));
    }

    #[test]
    fn digest_secrets_match_the_rfcs() {
        // RFC 2617 §3.5 and RFC 7616 §3.9.1: Mufasa's password in each example realm.
        let md5 = digest_secrets("Mufasa", "testrealm@host.com", "Circle Of Life");
        assert_eq!(md5.md5, "939e7578ed9e3c518a452acee763bce9");
        let sha256 = digest_secrets("Mufasa", "http-auth@example.org", "Circle of Life");
        assert_eq!(
            sha256.sha256,
            "7987c64c30e25f1b74be53f966b49b90f2808aa92faf9a00262392d7b4794232"
        );
        assert_eq!(sha256.realm, "http-auth@example.org");
    }
}
