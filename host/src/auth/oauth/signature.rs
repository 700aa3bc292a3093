//! OAuth 1.0 signatures (RFC 5849 §3.4): collecting the request's parameters, the
//! signature base string, and HMAC-SHA1, HMAC-SHA256 and PLAINTEXT.
//!
//! Collecting is bounded and linear: an `Authorization` header longer than
//! [`MAX_CREDENTIAL_BYTES`] is refused unread, at most [`MAX_PROTOCOL_PARAMS`] protocol
//! parameters are taken from all places together, and they are checked for repeats
//! by sorting them (the base string sorts every parameter anyway).

use super::OAuthError;
use crate::auth::MAX_CREDENTIAL_BYTES;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha1::Sha1;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The most protocol (`oauth_*`) parameters a request may carry, from its header, query
/// and form together (a signed request has eight).
pub const MAX_PROTOCOL_PARAMS: usize = 64;

/// Everything but the unreserved characters is encoded (RFC 5849 §3.6).
const ENCODED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// RFC 5849 §3.6 percent-encoding.
pub fn encode(text: &str) -> String {
    utf8_percent_encode(text, ENCODED).to_string()
}

/// How a request is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureMethod {
    /// `HMAC-SHA1` (RFC 5849 §3.4.2).
    HmacSha1,
    /// `HMAC-SHA256` (the same construction with SHA-256).
    HmacSha256,
    /// `PLAINTEXT` (§3.4.4): the secrets themselves; only safe over TLS.
    Plaintext,
}

impl SignatureMethod {
    fn parse(name: &str) -> Option<SignatureMethod> {
        match name {
            "HMAC-SHA1" => Some(SignatureMethod::HmacSha1),
            "HMAC-SHA256" => Some(SignatureMethod::HmacSha256),
            "PLAINTEXT" => Some(SignatureMethod::Plaintext),
            _ => None,
        }
    }
}

/// A request's OAuth parameters and everything else its signature covers.
#[derive(Debug)]
pub struct Signed {
    method: String,
    base_uri: String,
    /// The protocol parameters (`oauth_*`, from whichever place they came), sorted by
    /// name, each once.
    protocol: Vec<(String, String)>,
    /// Every other parameter: query and form body.
    others: Vec<(String, String)>,
}

impl Signed {
    /// Collects the parameters of a request to `base_uri` (scheme, host and path,
    /// RFC 5849 §3.4.1.2): the `Authorization: OAuth` parameters (`header`, after the
    /// scheme), the query string, and a form-encoded body. A protocol parameter may
    /// appear only once across all of them.
    pub fn collect(
        method: &str,
        base_uri: String,
        header: Option<&str>,
        query: Option<&str>,
        form: Option<&[u8]>,
    ) -> Result<Signed, OAuthError> {
        let mut protocol: Vec<(String, String)> = Vec::new();
        let mut others = Vec::new();
        if let Some(header) = header {
            for (name, value) in header_params(header)? {
                if name != "realm" {
                    protocol.push((name, value));
                }
            }
            if protocol.len() > MAX_PROTOCOL_PARAMS {
                return Err(too_many());
            }
        }
        let pairs = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .chain(form_urlencoded::parse(form.unwrap_or_default()));
        for (name, value) in pairs {
            if name.starts_with("oauth_") {
                if protocol.len() >= MAX_PROTOCOL_PARAMS {
                    return Err(too_many());
                }
                protocol.push((name.into_owned(), value.into_owned()));
            } else {
                others.push((name.into_owned(), value.into_owned()));
            }
        }
        // Sorted (stably, so a repeat is found whatever its place), then compared with
        // its neighbour: linear after the sort.
        protocol.sort_by(|(one, _), (other, _)| one.cmp(other));
        if let Some(repeated) = protocol.windows(2).find(|pair| pair[0].0 == pair[1].0) {
            return Err(OAuthError::bad_request(format!(
                "`{}` is given more than once",
                repeated[0].0
            )));
        }
        Ok(Signed {
            method: method.to_ascii_uppercase(),
            base_uri,
            protocol,
            others,
        })
    }

    /// Whether the request carries OAuth credentials at all.
    pub fn has_credentials(&self) -> bool {
        self.get("oauth_consumer_key").is_some() || self.get("oauth_signature").is_some()
    }

    /// A protocol parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.protocol
            .binary_search_by(|(given, _)| given.as_str().cmp(name))
            .ok()
            .map(|found| self.protocol[found].1.as_str())
    }

    /// A protocol parameter that must be there (400 if it is not).
    pub fn required(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)
            .filter(|value| !value.is_empty())
            .ok_or_else(|| OAuthError::bad_request(format!("`{name}` is missing")))
    }

    /// The signature method, checked to be one this server supports.
    pub fn signature_method(&self) -> Result<SignatureMethod, OAuthError> {
        let name = self.required("oauth_signature_method")?;
        SignatureMethod::parse(name).ok_or_else(|| {
            OAuthError::bad_request(format!(
                "signature method `{name}` is not supported (HMAC-SHA1, HMAC-SHA256, PLAINTEXT)"
            ))
        })
    }

    /// Whether the signature is right for these secrets. Compares in constant time
    /// and never exposes the expected value.
    pub fn verify(&self, consumer_secret: &str, token_secret: &str) -> Result<bool, OAuthError> {
        let method = self.signature_method()?;
        let given = self.required("oauth_signature")?;
        let key = format!("{}&{}", encode(consumer_secret), encode(token_secret));
        let expected = match method {
            SignatureMethod::Plaintext => return Ok(key.as_bytes().ct_eq(given.as_bytes()).into()),
            SignatureMethod::HmacSha1 => {
                let mut mac = Hmac::<Sha1>::new_from_slice(key.as_bytes()).expect("any key");
                mac.update(self.base_string().as_bytes());
                mac.finalize().into_bytes().to_vec()
            }
            SignatureMethod::HmacSha256 => {
                let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("any key");
                mac.update(self.base_string().as_bytes());
                mac.finalize().into_bytes().to_vec()
            }
        };
        let Ok(given) = STANDARD.decode(given) else {
            return Ok(false);
        };
        Ok(expected.ct_eq(&given).into())
    }

    /// The signature base string (§3.4.1): method, base URI and the normalized
    /// parameters, each encoded, joined by `&`.
    fn base_string(&self) -> String {
        let mut pairs: Vec<(String, String)> = self
            .protocol
            .iter()
            .filter(|(name, _)| name != "oauth_signature")
            .chain(&self.others)
            .map(|(name, value)| (encode(name), encode(value)))
            .collect();
        pairs.sort();
        let normalized: Vec<String> = pairs
            .into_iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        format!(
            "{}&{}&{}",
            encode(&self.method),
            encode(&self.base_uri),
            encode(&normalized.join("&"))
        )
    }
}

fn too_many() -> OAuthError {
    OAuthError::bad_request(format!(
        "the request has more than {MAX_PROTOCOL_PARAMS} `oauth_` parameters"
    ))
}

/// The parameters of an `Authorization: OAuth` header, percent-decoded (§3.5.1): at most
/// [`MAX_PROTOCOL_PARAMS`] (and `realm`), from at most [`MAX_CREDENTIAL_BYTES`].
fn header_params(header: &str) -> Result<Vec<(String, String)>, OAuthError> {
    if header.len() > MAX_CREDENTIAL_BYTES {
        return Err(OAuthError::unauthorized(format!(
            "the OAuth credentials are longer than {MAX_CREDENTIAL_BYTES} bytes"
        )));
    }
    let malformed = || OAuthError::bad_request("the OAuth Authorization header is malformed");
    let text = format!("OAuth {header}");
    let mut parsed = http_auth::parse_challenges(&text).map_err(|_| malformed())?;
    if parsed.len() != 1 {
        return Err(malformed());
    }
    let challenge = parsed.pop().ok_or_else(malformed)?;
    if challenge.params.len() > MAX_PROTOCOL_PARAMS + 1 {
        return Err(too_many());
    }
    challenge
        .params
        .into_iter()
        .map(|(name, value)| {
            let value = percent_encoding::percent_decode_str(&value.to_unescaped())
                .decode_utf8()
                .map_err(|_| malformed())?
                .into_owned();
            Ok((name.to_owned(), value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 5849 §3.4.1.1's example request.
    fn example() -> Signed {
        Signed::collect(
            "post",
            "http://example.com/request".to_owned(),
            Some(
                r#"realm="Example", oauth_consumer_key="9djdj82h48djs9d2", oauth_token="kkk9d7dh3k39sjv7", oauth_signature_method="HMAC-SHA1", oauth_timestamp="137131201", oauth_nonce="7d8f3e4a", oauth_signature="bYT5CMsGcbgUdFHObYMEfcx6bsw%3D""#,
            ),
            Some("b5=%3D%253D&a3=a&c%40=&a2=r%20b"),
            Some(b"c2&a3=2+q"),
        )
        .unwrap()
    }

    #[test]
    fn the_rfc_base_string() {
        assert_eq!(
            example().base_string(),
            "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q\
             %26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_\
             key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_m\
             ethod%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk\
             9d7dh3k39sjv7"
        );
    }

    #[test]
    fn signatures_verify_only_with_the_right_secrets() {
        // The RFC's example signature was made with secrets it does not give; make one.
        let signed = example();
        let key = "j49sk3j29djd&dh893hdasih9";
        let mut mac = Hmac::<Sha1>::new_from_slice(key.as_bytes()).unwrap();
        mac.update(signed.base_string().as_bytes());
        let signature = STANDARD.encode(mac.finalize().into_bytes());
        let mut resigned = example();
        resigned
            .protocol
            .retain(|(name, _)| name != "oauth_signature");
        resigned
            .protocol
            .push(("oauth_signature".to_owned(), signature));
        resigned.protocol.sort();
        assert!(resigned.verify("j49sk3j29djd", "dh893hdasih9").unwrap());
        assert!(!resigned.verify("j49sk3j29djd", "wrong").unwrap());
        assert!(!example().verify("j49sk3j29djd", "dh893hdasih9").unwrap());
    }

    #[test]
    fn oversized_headers_are_refused_unread() {
        let huge = format!(r#"oauth_consumer_key="{}""#, "k".repeat(1 << 20));
        let error = Signed::collect(
            "GET",
            "http://example.com/".to_owned(),
            Some(&huge),
            None,
            None,
        )
        .unwrap_err();
        assert_eq!(error.status, http::StatusCode::UNAUTHORIZED);
        assert!(error.detail.contains("longer than"), "{}", error.detail);
    }

    #[test]
    fn protocol_parameters_are_bounded() {
        let params = |count: usize| -> Vec<String> {
            (0..count)
                .map(|index| format!("oauth_p{index}=\"x\""))
                .collect()
        };
        let at_most = params(MAX_PROTOCOL_PARAMS).join(", ");
        let collect = |header: Option<&str>, query: Option<&str>| {
            Signed::collect("GET", "http://example.com/".to_owned(), header, query, None)
        };
        let signed = collect(Some(&at_most), None).unwrap();
        assert_eq!(signed.get("oauth_p7"), Some("x"));
        assert_eq!(signed.get("oauth_p64"), None);
        let over = params(MAX_PROTOCOL_PARAMS + 1).join(", ");
        let error = collect(Some(&over), None).unwrap_err();
        assert!(error.detail.contains("more than 64"), "{}", error.detail);
        // The header and the query together.
        let error = collect(Some(&at_most), Some("oauth_extra=1")).unwrap_err();
        assert!(error.detail.contains("more than 64"), "{}", error.detail);
        // A megabyte of query parameters: bounded before they are all kept.
        let query = "oauth_x=1&".repeat(100_000);
        let error = collect(None, Some(&query)).unwrap_err();
        assert!(error.detail.contains("more than 64"), "{}", error.detail);
        // Other parameters are not protocol parameters: many of them only cost their
        // sort in the base string.
        let others = "a=1&".repeat(100_000);
        assert!(collect(None, Some(&others)).is_ok());
    }

    #[test]
    fn protocol_parameters_appear_once() {
        let error = Signed::collect(
            "GET",
            "http://example.com/".to_owned(),
            Some(r#"oauth_nonce="a""#),
            Some("oauth_nonce=b"),
            None,
        )
        .unwrap_err();
        assert_eq!(error.status, http::StatusCode::BAD_REQUEST);
        // Wherever the repeat is among many.
        let many: Vec<String> = (0..40)
            .map(|index| format!("oauth_p{index}=\"x\""))
            .collect();
        let error = Signed::collect(
            "GET",
            "http://example.com/".to_owned(),
            Some(&many.join(", ")),
            Some("oauth_p0=y"),
            None,
        )
        .unwrap_err();
        assert!(error.detail.contains("`oauth_p0`"), "{}", error.detail);
    }

    #[test]
    fn encoding_keeps_only_unreserved_characters() {
        assert_eq!(encode("a b+c~d.e-f_g*!"), "a%20b%2Bc~d.e-f_g%2A%21");
        assert_eq!(encode("é"), "%C3%A9");
    }
}
