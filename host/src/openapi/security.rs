//! Authentication in the document: a security scheme for each authenticator a chain
//! names, and each operation's chain as alternative security requirements.

use crate::registry::Snapshot;
use serde_json::{Map, Value, json};

/// The security scheme of the authenticator called `name`, as clients must use it.
/// `None` for a plugin authenticator that is not loaded (its requests get 503).
pub fn scheme(name: &str, realm: &str, snapshot: &Snapshot) -> Option<Value> {
    let scheme = match name {
        "basic" => json!({
            "type": "http",
            "scheme": "basic",
            "description": format!("HTTP Basic with a user's password (realm `{realm}`)."),
        }),
        "digest" => json!({
            "type": "http",
            "scheme": "digest",
            "description": format!(
                "HTTP Digest (RFC 7616, SHA-256 or MD5) with a user's password (realm `{realm}`)."
            ),
        }),
        "bearer" => json!({
            "type": "http",
            "scheme": "bearer",
            "description": "An API token made with `piston tokens create`.",
        }),
        "jwt" => json!({
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "A JSON Web Token signed with the key the server is configured with.",
        }),
        "oauth1" => json!({
            "type": "http",
            "scheme": "OAuth",
            "description": "OAuth 1.0a (RFC 5849; HMAC-SHA1, HMAC-SHA256, or PLAINTEXT over TLS): get temporary \
                credentials at `/oauth/request_token`, have the user approve them at \
                `/oauth/authorize`, exchange them at `/oauth/access_token`, then sign each \
                request with the access token.",
            "x-oauth1": {
                "requestTokenUrl": "/oauth/request_token",
                "authorizationUrl": "/oauth/authorize",
                "accessTokenUrl": "/oauth/access_token",
            },
        }),
        plugin => {
            let authenticator = snapshot.authenticator(plugin)?;
            plugin_scheme(&authenticator.spec.name, &authenticator.spec.challenge)
        }
    };
    Some(scheme)
}

/// An authenticator plugin's scheme, read from its challenge: `Scheme header="Name"`
/// is an API key in that header; any other challenge an HTTP scheme of its name.
fn plugin_scheme(name: &str, challenge: &str) -> Value {
    let description = format!(
        "The `{name}` authenticator plugin; a request without credentials is challenged with \
         `WWW-Authenticate: {challenge}`."
    );
    let (auth_scheme, params) = challenge.split_once(' ').unwrap_or((challenge, ""));
    match header_param(params) {
        Some(header) => json!({
            "type": "apiKey",
            "in": "header",
            "name": header,
            "description": description,
        }),
        None => json!({
            "type": "http",
            "scheme": auth_scheme,
            "description": description,
        }),
    }
}

/// The `header="..."` parameter of a challenge.
fn header_param(params: &str) -> Option<&str> {
    params.split(',').find_map(|param| {
        let (key, value) = param.trim().split_once('=')?;
        let value = value.trim().trim_matches('"');
        (key.trim().eq_ignore_ascii_case("header") && !value.is_empty()).then_some(value)
    })
}

/// An operation's security requirements: one alternative per authenticator of its
/// chain, each with the scopes the method needs, and the empty requirement when the
/// method is also served anonymously. `None` when the chain is empty (no
/// authentication at all).
pub fn requirements(chain: &[String], scopes: &[String], anonymous: bool) -> Option<Value> {
    if chain.is_empty() {
        return None;
    }
    let mut alternatives: Vec<Value> = chain
        .iter()
        .map(|name| {
            let mut requirement = Map::new();
            requirement.insert(name.clone(), json!(scopes));
            Value::Object(requirement)
        })
        .collect();
    if anonymous {
        alternatives.push(json!({}));
    }
    Some(Value::Array(alternatives))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_challenge_is_an_api_key() {
        let scheme = plugin_scheme("api-key", r#"ApiKey header="X-Api-Key""#);
        assert_eq!(scheme["type"], "apiKey");
        assert_eq!(scheme["name"], "X-Api-Key");
        let scheme = plugin_scheme("sso", r#"Sso realm="corp""#);
        assert_eq!(scheme["type"], "http");
        assert_eq!(scheme["scheme"], "Sso");
    }

    #[test]
    fn anonymous_methods_add_the_empty_requirement() {
        let chain = ["basic".to_owned(), "bearer".to_owned()];
        let scopes = ["write".to_owned()];
        assert_eq!(
            requirements(&chain, &scopes, true).unwrap(),
            json!([{"basic": ["write"]}, {"bearer": ["write"]}, {}])
        );
        assert!(requirements(&[], &[], false).is_none());
    }
}
