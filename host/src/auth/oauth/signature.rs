//! OAuth 1.0 signatures (RFC 5849 §3.4): collecting the request's parameters, the
//! signature base string, and HMAC-SHA1, HMAC-SHA256 and PLAINTEXT.

use super::OAuthError;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha1::Sha1;
use sha2::Sha256;
use subtle::ConstantTimeEq;

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
    /// The protocol parameters (`oauth_*`, from whichever place they came).
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
        }
        let pairs = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .chain(form_urlencoded::parse(form.unwrap_or_default()));
        for (name, value) in pairs {
            let pair = (name.into_owned(), value.into_owned());
            if pair.0.starts_with("oauth_") {
                protocol.push(pair);
            } else {
                others.push(pair);
            }
        }
        for (index, (name, _)) in protocol.iter().enumerate() {
            if protocol[..index].iter().any(|(earlier, _)| earlier == name) {
                return Err(OAuthError::bad_request(format!(
                    "`{name}` is given more than once"
                )));
            }
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
            .iter()
            .find(|(given, _)| given == name)
            .map(|(_, value)| value.as_str())
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

/// The parameters of an `Authorization: OAuth` header, percent-decoded (§3.5.1).
fn header_params(header: &str) -> Result<Vec<(String, String)>, OAuthError> {
    let malformed = || OAuthError::bad_request("the OAuth Authorization header is malformed");
    let text = format!("OAuth {header}");
    let mut parsed = http_auth::parse_challenges(&text).map_err(|_| malformed())?;
    if parsed.len() != 1 {
        return Err(malformed());
    }
    let challenge = parsed.pop().ok_or_else(malformed)?;
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
        assert!(resigned.verify("j49sk3j29djd", "dh893hdasih9").unwrap());
        assert!(!resigned.verify("j49sk3j29djd", "wrong").unwrap());
        assert!(!example().verify("j49sk3j29djd", "dh893hdasih9").unwrap());
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
    }

    #[test]
    fn encoding_keeps_only_unreserved_characters() {
        assert_eq!(encode("a b+c~d.e-f_g*!"), "a%20b%2Bc~d.e-f_g%2A%21");
        assert_eq!(encode("é"), "%C3%A9");
    }
}
