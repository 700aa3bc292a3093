// Over 600 lines: a third is tests; the key loading and the checks of a token read best together.
//! JSON Web Tokens (`Authorization: Bearer eyJ...`, RFC 7519) from an identity provider.
//!
//! The key decides the algorithm, never the token: a token whose header names another
//! algorithm (`none`, or HS256 against an RSA public key) is refused. `exp`, `sub` and
//! `aud` are required; `iss` too when an issuer is configured; `nbf` is checked when
//! present. The principal is the `sub`, its scopes come from `scope` (space-separated)
//! or `scp`, and the whole payload is passed on as its claims.
//!
//! A token is three base64url segments of at most [`MAX_CREDENTIAL_BYTES`] in all;
//! anything else is refused before it is decoded. Times are unsigned whole seconds:
//! a negative, fractional-overflowing or non-numeric `exp` or `nbf` is malformed, and
//! a huge one is compared, never added to. A failed login counts against the `sub`
//! the payload names (read, unverified, only to count failures).
//!
//! ```toml
//! [auth.jwt]
//! secret = "..."                  # HS256 with a shared secret; or secret_file = "PATH"
//! public_key_file = "key.pem"     # or: RS256 (RSA) / ES256 (P-256) public key, PEM
//! jwks_file = "jwks.json"         # or: a JWK set, keys chosen by the token's `kid`
//! algorithm = "RS384"             # when the key's default (above) is not the one used
//! audience = "blog-api"           # required: the `aud` tokens must carry
//! issuer = "https://id.example"   # optional: the `iss` tokens must carry
//! leeway = "60s"                  # clock skew allowed on exp and nbf
//! ```

use super::bearer::bearer_challenge;
use super::{
    Account, Authenticator, MAX_CREDENTIAL_BYTES, Principal, Refusal, RequestHead, quoted,
};
use crate::vocab::{ConfigError, check_range};
use async_trait::async_trait;
use http::HeaderValue;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

const DEFAULT_LEEWAY: Duration = Duration::from_secs(60);
const LEEWAY_RANGE: (Duration, Duration) = (Duration::ZERO, Duration::from_secs(24 * 60 * 60));

/// `[auth.jwt]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtSection {
    secret: Option<String>,
    secret_file: Option<PathBuf>,
    public_key_file: Option<PathBuf>,
    jwks_file: Option<PathBuf>,
    algorithm: Option<String>,
    audience: Option<String>,
    issuer: Option<String>,
    #[serde(default, with = "humantime_serde")]
    leeway: Option<Duration>,
}

/// The JWT settings, keys loaded.
#[derive(Debug, Clone)]
pub struct JwtSettings {
    keys: Arc<Keys>,
    audience: String,
    issuer: Option<String>,
    leeway: Duration,
}

/// Verification keys: one, or several by `kid`.
struct Keys(Vec<VerificationKey>);

struct VerificationKey {
    kid: Option<String>,
    algorithm: Algorithm,
    key: DecodingKey,
}

impl fmt::Debug for Keys {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key material (an HS256 key is a secret).
        let keys: Vec<String> = self
            .0
            .iter()
            .map(|key| format!("{:?} {:?}", key.kid, key.algorithm))
            .collect();
        formatter.debug_tuple("Keys").field(&keys).finish()
    }
}

impl JwtSection {
    /// Loads the key and checks the claims settings. `key` names a setting.
    pub fn resolve(self, key: &dyn Fn(&str) -> String) -> Result<JwtSettings, ConfigError> {
        let sources = [
            self.secret.is_some(),
            self.secret_file.is_some(),
            self.public_key_file.is_some(),
            self.jwks_file.is_some(),
        ];
        if sources.iter().filter(|given| **given).count() != 1 {
            return Err(ConfigError::new(
                key("auth.jwt"),
                "needs exactly one of secret, secret_file, public_key_file and jwks_file",
            ));
        }
        let algorithm = self
            .algorithm
            .as_deref()
            .map(|name| {
                name.parse::<Algorithm>().map_err(|_| {
                    ConfigError::new(
                        key("auth.jwt.algorithm"),
                        format!("`{name}` is not a JWS algorithm (HS256, RS256, ES256, ...)"),
                    )
                })
            })
            .transpose()?;
        let read = |field: &str, path: &PathBuf| {
            std::fs::read(path).map_err(|error| {
                ConfigError::new(
                    key(&format!("auth.jwt.{field}")),
                    format!("cannot read {}: {error}", path.display()),
                )
            })
        };
        let keys = if let Some(secret) = self.secret {
            hmac_key(secret.as_bytes(), algorithm, &key("auth.jwt.secret"))?
        } else if let Some(path) = &self.secret_file {
            let secret = read("secret_file", path)?;
            hmac_key(secret.trim_ascii(), algorithm, &key("auth.jwt.secret_file"))?
        } else if let Some(path) = &self.public_key_file {
            pem_key(&read("public_key_file", path)?, algorithm)
                .map_err(|message| ConfigError::new(key("auth.jwt.public_key_file"), message))?
        } else if let Some(path) = &self.jwks_file {
            jwks_keys(&read("jwks_file", path)?)
                .map_err(|message| ConfigError::new(key("auth.jwt.jwks_file"), message))?
        } else {
            unreachable!("exactly one key source was checked above")
        };
        let audience = self.audience.filter(|audience| !audience.is_empty()).ok_or_else(|| {
            ConfigError::new(
                key("auth.jwt.audience"),
                "is required: the `aud` this server's tokens carry (a token made for another service must not work here)",
            )
        })?;
        Ok(JwtSettings {
            keys: Arc::new(Keys(keys)),
            audience,
            issuer: self.issuer,
            leeway: check_range(
                &key("auth.jwt.leeway"),
                self.leeway.unwrap_or(DEFAULT_LEEWAY),
                LEEWAY_RANGE,
            )?,
        })
    }
}

fn hmac_key(
    secret: &[u8],
    algorithm: Option<Algorithm>,
    key: &str,
) -> Result<Vec<VerificationKey>, ConfigError> {
    let algorithm = algorithm.unwrap_or(Algorithm::HS256);
    if !matches!(
        algorithm,
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
    ) {
        return Err(ConfigError::new(
            key,
            format!("a secret is for HS256, HS384 or HS512, not {algorithm:?}"),
        ));
    }
    if secret.len() < 32 {
        return Err(ConfigError::new(
            key,
            "must be at least 32 bytes (a short HMAC secret can be guessed offline)",
        ));
    }
    Ok(vec![VerificationKey {
        kid: None,
        algorithm,
        key: DecodingKey::from_secret(secret),
    }])
}

fn pem_key(pem: &[u8], algorithm: Option<Algorithm>) -> Result<Vec<VerificationKey>, String> {
    let (key, default) = match DecodingKey::from_rsa_pem(pem) {
        Ok(key) => (key, Algorithm::RS256),
        Err(_) => match DecodingKey::from_ec_pem(pem) {
            Ok(key) => (key, Algorithm::ES256),
            Err(error) => {
                return Err(format!("not an RSA or EC public key in PEM form: {error}"));
            }
        },
    };
    let algorithm = algorithm.unwrap_or(default);
    if key.family() != algorithm.family() {
        return Err(format!("{algorithm:?} cannot be used with this key"));
    }
    Ok(vec![VerificationKey {
        kid: None,
        algorithm,
        key,
    }])
}

fn jwks_keys(json: &[u8]) -> Result<Vec<VerificationKey>, String> {
    let set: JwkSet =
        serde_json::from_slice(json).map_err(|error| format!("not a JWK set: {error}"))?;
    let keys = set
        .keys
        .iter()
        .map(|jwk| {
            let algorithm = match (&jwk.common.key_algorithm, &jwk.algorithm) {
                (Some(algorithm), _) => Algorithm::try_from(*algorithm).map_err(|_| {
                    format!(
                        "key {:?}: `alg` is not a signing algorithm",
                        jwk.common.key_id
                    )
                })?,
                (None, AlgorithmParameters::RSA(_)) => Algorithm::RS256,
                (None, AlgorithmParameters::EllipticCurve(ec))
                    if ec.curve == EllipticCurve::P256 =>
                {
                    Algorithm::ES256
                }
                (None, AlgorithmParameters::EllipticCurve(ec))
                    if ec.curve == EllipticCurve::P384 =>
                {
                    Algorithm::ES384
                }
                _ => return Err(format!("key {:?}: give its `alg`", jwk.common.key_id)),
            };
            let key = DecodingKey::from_jwk(jwk)
                .map_err(|error| format!("key {:?}: {error}", jwk.common.key_id))?;
            Ok(VerificationKey {
                kid: jwk.common.key_id.clone(),
                algorithm,
                key,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    if keys.is_empty() {
        return Err("the JWK set has no keys".to_owned());
    }
    Ok(keys)
}

/// The `jwt` authenticator.
pub struct Jwt {
    settings: JwtSettings,
    realm: String,
}

impl Jwt {
    /// Verifies tokens with `settings`, challenging with `realm`.
    pub fn new(settings: JwtSettings, realm: &str) -> Jwt {
        Jwt {
            settings,
            realm: quoted(realm),
        }
    }

    fn verify(&self, token: &str) -> Result<Principal, Refusal> {
        check_shape(token)?;
        let account = subject_account(token);
        self.verify_shaped(token)
            .map_err(|refusal| refusal.for_account(account))
    }

    /// Verifies a token whose size and segments were checked.
    fn verify_shaped(&self, token: &str) -> Result<Principal, Refusal> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| Refusal::unauthorized("the token is not a JWT"))?;
        let keys = &self.settings.keys.0;
        let key = match &header.kid {
            Some(kid) if keys.len() > 1 || keys[0].kid.is_some() => keys
                .iter()
                .find(|key| key.kid.as_deref() == Some(kid))
                .ok_or_else(|| {
                    Refusal::unauthorized("the token's key (`kid`) is not known here")
                })?,
            _ if keys.len() == 1 => &keys[0],
            _ => return Err(Refusal::unauthorized("the token names no key (`kid`)")),
        };
        let mut validation = Validation::new(key.algorithm);
        validation.set_audience(&[&self.settings.audience]);
        let mut required = vec!["exp", "sub", "aud"];
        if let Some(issuer) = &self.settings.issuer {
            validation.set_issuer(&[issuer]);
            required.push("iss");
        }
        validation.set_required_spec_claims(&required);
        validation.validate_nbf = true;
        validation.leeway = self.settings.leeway.as_secs();
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key.key, &validation)
            .map_err(|error| Refusal::unauthorized(explain(error.kind())))?;
        let claims = data.claims;
        let id = claims
            .get("sub")
            .and_then(Value::as_str)
            .filter(|sub| !sub.is_empty())
            .ok_or_else(|| Refusal::unauthorized("the token's `sub` is not a non-empty string"))?
            .to_owned();
        Ok(Principal {
            id,
            scheme: "jwt".to_owned(),
            scopes: Some(scopes(&claims)),
            claims: Some(claims),
        })
    }
}

#[async_trait]
impl Authenticator for Jwt {
    fn name(&self) -> &str {
        "jwt"
    }

    fn challenges(&self, refusal: Option<&Refusal>, out: &mut Vec<HeaderValue>) {
        out.push(bearer_challenge(&self.realm, refusal));
    }

    fn account(&self, head: &RequestHead<'_>) -> Option<Account> {
        let token = jwt_credentials(head)?;
        check_shape(token).ok()?;
        subject_account(token)
    }

    async fn authenticate(&self, head: &RequestHead<'_>) -> Result<Option<Principal>, Refusal> {
        match jwt_credentials(head) {
            Some(token) => self.verify(token).map(Some),
            None => Ok(None),
        }
    }
}

/// The bearer credentials, unless they are an API token (which is for the `bearer`
/// authenticator).
fn jwt_credentials<'a>(head: &RequestHead<'a>) -> Option<&'a str> {
    head.credentials("Bearer")
        .filter(|token| !token.starts_with(super::TOKEN_PREFIX))
        .map(str::trim)
}

/// A token must be at most [`MAX_CREDENTIAL_BYTES`], in three segments of base64url:
/// checked before anything is decoded.
fn check_shape(token: &str) -> Result<(), Refusal> {
    if token.len() > MAX_CREDENTIAL_BYTES {
        return Err(Refusal::too_long("Bearer"));
    }
    let base64url = |byte: u8| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_';
    let segments = token.split('.');
    let shaped = segments.clone().count() == 3
        && segments
            .take(2)
            .all(|segment| !segment.is_empty() && segment.bytes().all(base64url))
        && token.bytes().all(|byte| byte == b'.' || base64url(byte));
    if !shaped {
        return Err(Refusal::unauthorized("the token is not a JWT"));
    }
    Ok(())
}

/// The account a token's `sub` names, read from a well-shaped token without verifying
/// it: only for counting failed logins.
fn subject_account(token: &str) -> Option<Account> {
    use base64::Engine;
    #[derive(Deserialize)]
    struct Subject {
        sub: Option<String>,
    }
    let payload = token.split('.').nth(1)?;
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let subject: Subject = serde_json::from_slice(&json).ok()?;
    Some(Account::named("jwt", &subject.sub?))
}

/// OAuth 2 style scopes: `scope` ("a b c") or `scp` (["a", "b"] or "a b").
fn scopes(claims: &Map<String, Value>) -> Vec<String> {
    match claims.get("scope").or_else(|| claims.get("scp")) {
        Some(Value::String(text)) => text.split_whitespace().map(str::to_owned).collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|item| item.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// What the client is told: which check failed, never a key or the expected value.
fn explain(kind: &ErrorKind) -> String {
    match kind {
        ErrorKind::ExpiredSignature => "the token has expired".to_owned(),
        ErrorKind::ImmatureSignature => "the token is not valid yet (`nbf`)".to_owned(),
        ErrorKind::InvalidAudience => "the token is not for this audience (`aud`)".to_owned(),
        ErrorKind::InvalidIssuer => "the token is not from the expected issuer (`iss`)".to_owned(),
        ErrorKind::InvalidSignature => "the token's signature does not verify".to_owned(),
        ErrorKind::InvalidAlgorithm => "the token's algorithm is not the one accepted".to_owned(),
        ErrorKind::MissingRequiredClaim(claim) => format!("the token lacks the `{claim}` claim"),
        ErrorKind::InvalidClaimFormat(claim) => format!("the token's `{claim}` claim is malformed"),
        _ => "the token is malformed".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header, encode};

    const SECRET: &str = "a secret of at least thirty-two bytes!";

    fn jwt(audience: &str) -> Jwt {
        let section = JwtSection {
            secret: Some(SECRET.to_owned()),
            audience: Some(audience.to_owned()),
            ..JwtSection::default()
        };
        Jwt::new(section.resolve(&|name| name.to_owned()).unwrap(), "piston")
    }

    fn token(claims: Value, secret: &str, algorithm: Algorithm) -> String {
        encode(
            &Header::new(algorithm),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    }

    fn in_an_hour() -> i64 {
        super::super::now() + 3600
    }

    #[test]
    fn valid_tokens_make_principals_with_scopes() {
        let claims = json_claims("ann", "api", "posts:write posts:read");
        let principal = jwt("api")
            .verify(&token(claims, SECRET, Algorithm::HS256))
            .unwrap();
        assert_eq!(principal.id, "ann");
        assert_eq!(principal.scopes.unwrap(), ["posts:write", "posts:read"]);
        assert_eq!(principal.claims.unwrap()["sub"], "ann");
    }

    fn json_claims(sub: &str, aud: &str, scope: &str) -> Value {
        serde_json::json!({"sub": sub, "aud": aud, "exp": in_an_hour(), "scope": scope})
    }

    #[test]
    fn every_check_has_its_own_refusal() {
        let jwt = jwt("api");
        let wrong_audience = token(json_claims("ann", "other", ""), SECRET, Algorithm::HS256);
        assert!(
            jwt.verify(&wrong_audience)
                .unwrap_err()
                .detail
                .contains("audience")
        );
        let other_key = token(
            json_claims("ann", "api", ""),
            "another secret that is long enough!!",
            Algorithm::HS256,
        );
        assert!(
            jwt.verify(&other_key)
                .unwrap_err()
                .detail
                .contains("signature")
        );
        let other_algorithm = token(json_claims("ann", "api", ""), SECRET, Algorithm::HS512);
        assert!(
            jwt.verify(&other_algorithm)
                .unwrap_err()
                .detail
                .contains("algorithm")
        );
        let no_sub = token(
            serde_json::json!({"aud": "api", "exp": in_an_hour()}),
            SECRET,
            Algorithm::HS256,
        );
        assert!(jwt.verify(&no_sub).unwrap_err().detail.contains("`sub`"));
        let unsigned = format!(
            "{}.{}.",
            base64_url(r#"{"alg":"none","typ":"JWT"}"#),
            base64_url(&json_claims("ann", "api", "").to_string())
        );
        assert!(jwt.verify(&unsigned).is_err());
        assert!(jwt.verify("not.a.jwt").is_err());
    }

    fn base64_url(text: &str) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
    }

    #[test]
    fn extreme_times_are_compared_without_overflow() {
        let jwt = jwt("api");
        let with = |claims: Value| jwt.verify(&token(claims, SECRET, Algorithm::HS256));
        let base = |extra: Value| {
            let mut claims = serde_json::json!({"sub": "ann", "aud": "api", "exp": in_an_hour()});
            for (name, value) in extra.as_object().unwrap() {
                claims[name] = value.clone();
            }
            claims
        };
        // The far future is a long time, not an overflow.
        assert!(with(base(serde_json::json!({"exp": u64::MAX}))).is_ok());
        assert!(with(base(serde_json::json!({"iat": u64::MAX, "nbf": 0}))).is_ok());
        assert!(
            with(base(serde_json::json!({"iat": i64::MIN}))).is_ok(),
            "iat is not checked"
        );
        let refusal = with(base(serde_json::json!({"nbf": u64::MAX}))).unwrap_err();
        assert!(
            refusal.detail.contains("not valid yet"),
            "{}",
            refusal.detail
        );
        assert!(
            with(base(serde_json::json!({"exp": 0})))
                .unwrap_err()
                .detail
                .contains("expired")
        );
        for malformed in [
            serde_json::json!({"exp": i64::MIN}),
            serde_json::json!({"exp": -1}),
            serde_json::json!({"exp": 1e300}),
            serde_json::json!({"exp": "soon"}),
            serde_json::json!({"nbf": i64::MIN}),
            serde_json::json!({"nbf": 1e300}),
        ] {
            // Refused as malformed or missing (the library reads what is not an
            // unsigned number as no claim), never accepted, never a panic.
            let refusal = with(base(malformed.clone())).unwrap_err();
            assert!(
                refusal.detail.contains("`exp`") || refusal.detail.contains("`nbf`"),
                "{malformed}: {}",
                refusal.detail
            );
        }
    }

    #[test]
    fn leeway_is_bounded() {
        let section = JwtSection {
            secret: Some(SECRET.to_owned()),
            audience: Some("api".to_owned()),
            leeway: Some(Duration::from_secs(u64::MAX)),
            ..JwtSection::default()
        };
        let error = section
            .resolve(&|name| name.to_owned())
            .unwrap_err()
            .to_string();
        assert!(error.contains("auth.jwt.leeway"), "{error}");
    }

    #[test]
    fn oversized_or_misshapen_tokens_are_refused_before_decoding() {
        let jwt = jwt("api");
        let valid = token(json_claims("ann", "api", ""), SECRET, Algorithm::HS256);
        let (header, rest) = valid.split_once('.').unwrap();
        let huge = format!("{header}.{}{rest}", "A".repeat(1 << 20));
        let refusal = jwt.verify(&huge).unwrap_err();
        assert!(refusal.detail.contains("longer than"), "{}", refusal.detail);
        let many = format!("{valid}{}", ".a".repeat(1000));
        assert!(jwt.verify(&many).unwrap_err().detail.contains("not a JWT"));
        for misshapen in [
            "", "a", "a.b", ".b.c", "a..c", "a.b.c.d", "a b.c.d", "a.b+.c",
        ] {
            let refusal = jwt.verify(misshapen).unwrap_err();
            assert!(refusal.detail.contains("not a JWT"), "{misshapen:?}");
        }
    }

    #[test]
    fn failures_count_against_the_unverified_subject() {
        let jwt = jwt("api");
        let forged = token(
            json_claims("ann", "api", ""),
            "another secret that is long enough!!",
            Algorithm::HS256,
        );
        let refusal = jwt.verify(&forged).unwrap_err();
        assert_eq!(refusal.account, Some(Account::named("jwt", "ann")));
        assert_ne!(refusal.account, Some(Account::user("ann")), "its own kind");
        let no_sub = token(
            serde_json::json!({"aud": "api", "exp": in_an_hour()}),
            SECRET,
            Algorithm::HS256,
        );
        assert_eq!(jwt.verify(&no_sub).unwrap_err().account, None);
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let nested = format!("{}.{}.sig", base64_url("{}"), base64_url(&deep));
        assert_eq!(subject_account(&nested), None, "no recursion without bound");
    }

    #[test]
    fn settings_need_one_key_and_an_audience() {
        let resolve = |section: JwtSection| section.resolve(&|name| name.to_owned()).map(|_| ());
        let error = resolve(JwtSection::default()).unwrap_err().to_string();
        assert!(error.contains("exactly one"), "{error}");
        let error = resolve(JwtSection {
            secret: Some(SECRET.to_owned()),
            ..JwtSection::default()
        })
        .unwrap_err()
        .to_string();
        assert!(error.contains("auth.jwt.audience"), "{error}");
        let error = resolve(JwtSection {
            secret: Some("short".to_owned()),
            audience: Some("api".to_owned()),
            ..JwtSection::default()
        })
        .unwrap_err()
        .to_string();
        assert!(error.contains("32 bytes"), "{error}");
        let error = resolve(JwtSection {
            secret: Some(SECRET.to_owned()),
            algorithm: Some("RS256".to_owned()),
            audience: Some("api".to_owned()),
            ..JwtSection::default()
        })
        .unwrap_err()
        .to_string();
        assert!(error.contains("HS256"), "{error}");
        let error = resolve(JwtSection {
            jwks_file: Some("/nonexistent/jwks.json".into()),
            audience: Some("api".to_owned()),
            ..JwtSection::default()
        })
        .unwrap_err()
        .to_string();
        assert!(error.contains("auth.jwt.jwks_file"), "{error}");
        assert!(pem_key(b"not a pem", None).is_err());
        assert!(jwks_keys(br#"{"keys": []}"#).is_err());
    }
}
