//! What a plugin serves, as the host holds it: the `describe()` answer, validated.
//!
//! Checked once at load so requests never meet a malformed spec: names, methods,
//! throttles, schemas and URI templates. Route syntax and collisions are checked when
//! the routes enter the routing table.

use crate::fields::{FieldFilter, UriTemplate};
use crate::runtime::{auth_wit, wit};
use crate::validate::BodyValidator;
use crate::vocab::{BUILT_IN, Method, MethodSet, Throttle, is_name};
use serde::Serialize;
use std::sync::Arc;

/// The WIT conversions live with the validation of what plugins describe, as
/// [`crate::vocab`] imports nothing of the crate.
impl Method {
    pub(crate) fn from_wit(method: wit::Method) -> Method {
        match method {
            wit::Method::Get => Method::Get,
            wit::Method::Post => Method::Post,
            wit::Method::Put => Method::Put,
            wit::Method::Patch => Method::Patch,
            wit::Method::Delete => Method::Delete,
        }
    }

    /// The method as the guest sees it.
    pub fn to_wit(self) -> wit::Method {
        match self {
            Method::Get => wit::Method::Get,
            Method::Post => wit::Method::Post,
            Method::Put => wit::Method::Put,
            Method::Patch => wit::Method::Patch,
            Method::Delete => wit::Method::Delete,
        }
    }
}

/// A plugin: its identity and its resources.
#[derive(Debug, Clone, Serialize)]
pub struct PluginSpec {
    /// The plugin's name; its key-value namespace and config section.
    pub name: String,
    /// Its version.
    pub version: String,
    /// What it does.
    pub description: String,
    /// What it serves.
    pub resources: Vec<ResourceSpec>,
}

/// One resource. See `resource-spec` in `wit/types.wit` for what each field means.
#[derive(Debug, Clone, Serialize)]
pub struct ResourceSpec {
    /// Unique within the plugin.
    pub name: String,
    /// Markdown, for the docs.
    pub description: String,
    /// Route patterns.
    pub routes: Vec<String>,
    /// Methods it implements.
    pub allowed_methods: MethodSet,
    /// Methods served without credentials.
    pub anonymous_methods: MethodSet,
    /// Fields clients may see (dotted paths); empty is all.
    pub fields: Vec<String>,
    /// Fields never shown (names or `re:` patterns).
    pub exclude: Vec<String>,
    /// Rate limits.
    pub throttles: Vec<Throttle>,
    /// Body schemas per method.
    pub schemas: Vec<BodySchema>,
    /// The item URI template for `resource_uri`.
    pub item_uri: Option<String>,
    /// Request headers passed to the guest.
    pub request_headers: RequestHeaders,
    /// What each method does and returns, for the generated documentation.
    pub method_docs: Vec<MethodDoc>,
    /// `fields` and `exclude`, compiled.
    #[serde(skip)]
    pub filter: FieldFilter,
    /// `item_uri`, parsed.
    #[serde(skip)]
    pub uri_template: Option<UriTemplate>,
}

impl ResourceSpec {
    /// The body schema for `method`, if the resource declares one.
    pub fn schema(&self, method: Method) -> Option<&BodySchema> {
        self.schemas.iter().find(|schema| schema.method == method)
    }

    /// The documentation of `method`, if the plugin wrote any.
    pub fn method_doc(&self, method: Method) -> Option<&MethodDoc> {
        self.method_docs.iter().find(|doc| doc.method == method)
    }
}

/// What one method does and returns, as the plugin documents it.
#[derive(Debug, Clone, Serialize)]
pub struct MethodDoc {
    /// The method.
    pub method: Method,
    /// Markdown; the first paragraph is the summary.
    pub description: String,
    /// The JSON Schema of a successful answer's data, as JSON clients get it.
    pub response_schema: Option<serde_json::Value>,
}

/// A JSON Schema for one method's body.
#[derive(Debug, Clone, Serialize)]
pub struct BodySchema {
    /// The method.
    pub method: Method,
    /// The schema, parsed.
    pub schema: serde_json::Value,
    /// The schema, compiled.
    #[serde(skip)]
    pub validator: Arc<BodyValidator>,
}

/// Which request headers a resource's guest sees.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestHeaders {
    /// Every header.
    All,
    /// These, by lower-case name (possibly none).
    Named(Vec<String>),
}

impl RequestHeaders {
    /// Whether the header `name` (lower-case) is passed.
    pub fn includes(&self, name: &str) -> bool {
        match self {
            RequestHeaders::All => true,
            RequestHeaders::Named(names) => names.iter().any(|wanted| wanted == name),
        }
    }

    /// Whether no header is passed.
    pub fn is_none(&self) -> bool {
        matches!(self, RequestHeaders::Named(names) if names.is_empty())
    }
}

/// What is wrong with a plugin's description; every problem, not only the first.
#[derive(Debug, thiserror::Error)]
#[error("invalid description: {}", .problems.join("; "))]
pub struct SpecError {
    problems: Vec<String>,
}

/// The most resources one plugin may serve.
pub const MAX_RESOURCES: usize = 256;

/// The most routes one resource may have.
pub const MAX_ROUTES: usize = 32;

/// The longest route pattern, in bytes.
pub const MAX_ROUTE_BYTES: usize = 1024;

/// The longest description of a resource or a method, in bytes.
pub const MAX_DESCRIPTION_BYTES: usize = 64 * 1024;

/// Path prefixes the host keeps for itself: the admin API's (answered 404 on the
/// public listener), the OAuth provider's endpoints, the docs page's, and the
/// OpenAPI document's (`/openapi.json`, and `/openapi` with any format suffix).
pub const RESERVED_PREFIXES: [&str; 4] = ["/_piston/", "/oauth/", "/docs/", "/openapi."];

/// Checks `info` and converts it.
pub fn validate(info: wit::PluginInfo) -> Result<PluginSpec, SpecError> {
    let mut problems = Vec::new();
    check_name("plugin name", &info.name, &mut problems);
    check_version(&info.version, &mut problems);
    if info.resources.is_empty() {
        problems.push("the plugin serves no resources".to_owned());
    }
    if info.resources.len() > MAX_RESOURCES {
        problems.push(format!(
            "the plugin serves {} resources (at most {MAX_RESOURCES})",
            info.resources.len()
        ));
        return Err(SpecError { problems });
    }
    let mut resources = Vec::with_capacity(info.resources.len());
    for resource in info.resources {
        if resources
            .iter()
            .any(|seen: &ResourceSpec| seen.name == resource.name)
        {
            problems.push(format!("two resources are named `{}`", resource.name));
        }
        resources.push(resource_spec(resource, &mut problems));
    }
    if !problems.is_empty() {
        return Err(SpecError { problems });
    }
    Ok(PluginSpec {
        name: info.name,
        version: info.version,
        description: info.description,
        resources,
    })
}

/// An authenticator plugin: its identity and the challenge it answers with.
#[derive(Debug, Clone, Serialize)]
pub struct AuthenticatorSpec {
    /// Its name: the name chains in `piston.toml` use, its key-value namespace and
    /// config section, and the `scheme` of the principals it establishes.
    pub name: String,
    /// Its version.
    pub version: String,
    /// The `WWW-Authenticate` challenge for a 401.
    pub challenge: String,
}

/// Checks what an authenticator plugin says it is.
pub fn validate_authenticator(
    info: auth_wit::AuthenticatorInfo,
) -> Result<AuthenticatorSpec, SpecError> {
    let mut problems = Vec::new();
    check_name("authenticator name", &info.name, &mut problems);
    if BUILT_IN.contains(&info.name.as_str()) {
        problems.push(format!(
            "`{}` is the name of a built-in authenticator",
            info.name
        ));
    }
    check_version(&info.version, &mut problems);
    let visible = |c: char| c == ' ' || c == '\t' || c.is_ascii_graphic();
    if info.challenge.trim().is_empty()
        || info.challenge.len() > 1024
        || !info.challenge.chars().all(visible)
    {
        problems.push(
            "the challenge must be 1 to 1024 visible ASCII characters, e.g. `ApiKey header=\"x-api-key\"`"
                .to_owned(),
        );
    }
    if !problems.is_empty() {
        return Err(SpecError { problems });
    }
    Ok(AuthenticatorSpec {
        name: info.name,
        version: info.version,
        challenge: info.challenge,
    })
}

fn resource_spec(spec: wit::ResourceSpec, problems: &mut Vec<String>) -> ResourceSpec {
    let name = spec.name;
    let mut problem = |message: String| problems.push(format!("resource `{name}`: {message}"));
    let mut name_problems = Vec::new();
    check_name("name", &name, &mut name_problems);
    name_problems.into_iter().for_each(&mut problem);

    if spec.routes.is_empty() {
        problem("has no routes".to_owned());
    }
    if spec.routes.len() > MAX_ROUTES {
        problem(format!(
            "has {} routes (at most {MAX_ROUTES})",
            spec.routes.len()
        ));
    }
    for route in spec.routes.iter().take(MAX_ROUTES) {
        if route.len() > MAX_ROUTE_BYTES {
            problem(format!(
                "a route of {} bytes (at most {MAX_ROUTE_BYTES})",
                route.len()
            ));
        } else if !route.starts_with('/') || route.contains(['?', '#']) {
            problem(format!(
                "route `{route}` must start with `/` and have no `?` or `#`"
            ));
        } else if let Some(prefix) = RESERVED_PREFIXES.iter().find(|prefix| {
            let bare = prefix.trim_end_matches(['/', '.']);
            route.starts_with(**prefix) || route == bare
        }) {
            problem(format!(
                "route `{route}` is under `{prefix}`, which the host keeps for itself"
            ));
        }
    }
    let allowed: MethodSet = spec
        .allowed_methods
        .iter()
        .copied()
        .map(Method::from_wit)
        .collect();
    let anonymous: MethodSet = spec
        .anonymous_methods
        .iter()
        .copied()
        .map(Method::from_wit)
        .collect();
    if allowed.is_empty() {
        problem("allows no methods".to_owned());
    }
    if !anonymous.is_subset(allowed) {
        problem(format!(
            "anonymous methods ({anonymous}) are not all allowed methods ({allowed})"
        ));
    }

    let throttles = spec
        .throttles
        .iter()
        .map(|rule| {
            let methods = if rule.methods.is_empty() {
                allowed
            } else {
                rule.methods.iter().copied().map(Method::from_wit).collect()
            };
            if rule.requests == 0 || rule.period_seconds == 0 {
                problem("a throttle needs at least 1 request per at least 1 second".to_owned());
            }
            if !methods.is_subset(allowed) {
                problem(format!("throttled methods ({methods}) are not all allowed"));
            }
            Throttle {
                methods,
                requests: rule.requests,
                period_seconds: rule.period_seconds,
            }
        })
        .collect();

    let mut schemas: Vec<BodySchema> = Vec::new();
    for schema in &spec.schemas {
        let method = Method::from_wit(schema.method);
        if !method.has_body() || !allowed.contains(method) {
            problem(format!(
                "a body schema for {method}, which is not an allowed method with a body"
            ));
        } else if schemas.iter().any(|seen| seen.method == method) {
            problem(format!("two body schemas for {method}"));
        }
        let parsed: serde_json::Value = match serde_json::from_str(&schema.schema) {
            Ok(parsed) => parsed,
            Err(error) => {
                problem(format!("the {method} body schema is not JSON: {error}"));
                continue;
            }
        };
        match BodyValidator::compile(&parsed) {
            Ok(validator) => schemas.push(BodySchema {
                method,
                schema: parsed,
                validator: Arc::new(validator),
            }),
            Err(error) => problem(format!("the {method} body schema is invalid: {error}")),
        }
    }

    if spec.description.len() > MAX_DESCRIPTION_BYTES {
        problem(format!(
            "a description of {} bytes (at most {MAX_DESCRIPTION_BYTES})",
            spec.description.len()
        ));
    }
    let mut method_docs: Vec<MethodDoc> = Vec::new();
    for doc in spec.method_docs {
        let method = Method::from_wit(doc.method);
        if !allowed.contains(method) {
            problem(format!(
                "documents {method}, which is not an allowed method"
            ));
        } else if method_docs.iter().any(|seen| seen.method == method) {
            problem(format!("documents {method} twice"));
        }
        if doc.description.len() > MAX_DESCRIPTION_BYTES {
            problem(format!(
                "the {method} description has {} bytes (at most {MAX_DESCRIPTION_BYTES})",
                doc.description.len()
            ));
        }
        let response_schema = doc.response_schema.and_then(|text| {
            let parsed = serde_json::from_str(&text)
                .map_err(|error| format!("is not JSON: {error}"))
                .and_then(|parsed| BodyValidator::compile(&parsed).map(|_| parsed));
            parsed
                .map_err(|error| problem(format!("the {method} response schema {error}")))
                .ok()
        });
        method_docs.push(MethodDoc {
            method,
            description: doc.description,
            response_schema,
        });
    }

    let filter = FieldFilter::compile(&spec.fields, &spec.exclude).unwrap_or_else(|error| {
        problem(format!("fields: {error}"));
        FieldFilter::compile(&[], &[]).expect("no rules always compile")
    });
    let uri_template = spec.item_uri.as_deref().and_then(|template| {
        UriTemplate::parse(template)
            .map_err(|message| problem(format!("item URI `{template}` {message}")))
            .ok()
    });

    let request_headers = if spec.request_headers.iter().any(|name| name == "*") {
        RequestHeaders::All
    } else {
        for header in &spec.request_headers {
            if http::HeaderName::from_bytes(header.as_bytes()).is_err()
                || header.to_ascii_lowercase() != *header
            {
                problem(format!(
                    "request header `{header}` is not a lower-case header name"
                ));
            }
        }
        RequestHeaders::Named(spec.request_headers)
    };

    ResourceSpec {
        name,
        description: spec.description,
        routes: spec.routes,
        allowed_methods: allowed,
        anonymous_methods: anonymous,
        fields: spec.fields,
        exclude: spec.exclude,
        throttles,
        schemas,
        item_uri: spec.item_uri,
        request_headers,
        method_docs,
        filter,
        uri_template,
    }
}

/// Names of plugins and resources: `[a-z0-9][a-z0-9-]*`, at most 64 bytes, so they are
/// safe as config keys, log fields and store namespaces.
fn check_name(what: &str, name: &str, problems: &mut Vec<String>) {
    if !is_name(name) {
        problems.push(format!(
            "{what} `{name}` must be 1 to 64 lower-case letters, digits or `-`, not starting with `-`"
        ));
    }
}

fn check_version(version: &str, problems: &mut Vec<String>) {
    if version.trim().is_empty() || version.len() > 64 {
        problems.push("the version must be 1 to 64 characters".to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn authenticator(name: &str, challenge: &str) -> auth_wit::AuthenticatorInfo {
        auth_wit::AuthenticatorInfo {
            name: name.into(),
            version: "1.0.0".into(),
            challenge: challenge.into(),
        }
    }

    #[test]
    fn authenticators_need_their_own_name_and_a_sendable_challenge() {
        let spec = validate_authenticator(authenticator("api-key", r#"ApiKey header="x""#));
        assert_eq!(spec.unwrap().name, "api-key");
        for (info, expected) in [
            (authenticator("basic", "Basic"), "built-in"),
            (authenticator("Api_Key", "ApiKey"), "lower-case"),
            (authenticator("api-key", ""), "challenge"),
            (
                authenticator("api-key", "ApiKey\r\nSet-Cookie: x"),
                "challenge",
            ),
            (authenticator("api-key", "Clé"), "challenge"),
        ] {
            let error = validate_authenticator(info).unwrap_err().to_string();
            assert!(error.contains(expected), "{error}");
        }
    }

    fn resource(name: &str) -> wit::ResourceSpec {
        wit::ResourceSpec {
            name: name.into(),
            description: String::new(),
            routes: vec!["/posts/{slug}".into()],
            allowed_methods: vec![wit::Method::Get, wit::Method::Put],
            anonymous_methods: vec![wit::Method::Get],
            fields: vec!["title".into(), "author.username".into()],
            exclude: vec!["id".into()],
            throttles: vec![wit::Throttle {
                methods: vec![wit::Method::Put],
                requests: 5,
                period_seconds: 600,
            }],
            schemas: vec![wit::BodySchema {
                method: wit::Method::Put,
                schema: r#"{"type": "object"}"#.into(),
            }],
            item_uri: Some("/posts/{slug}".into()),
            request_headers: vec!["if-match".into()],
            method_docs: vec![wit::MethodDoc {
                method: wit::Method::Get,
                description: "One post.\n\nBy its slug.".into(),
                response_schema: Some(r#"{"type": "object"}"#.into()),
            }],
        }
    }

    fn plugin(resources: Vec<wit::ResourceSpec>) -> wit::PluginInfo {
        wit::PluginInfo {
            name: "blog".into(),
            version: "1.0.0".into(),
            description: String::new(),
            resources,
        }
    }

    #[test]
    fn a_good_spec_converts() {
        let spec = validate(plugin(vec![resource("post")])).unwrap();
        let post = &spec.resources[0];
        assert_eq!(post.allowed_methods.to_string(), "GET, PUT");
        assert_eq!(
            post.allowed_methods.allow_header(),
            "GET, PUT, HEAD, OPTIONS"
        );
        assert_eq!(post.throttles[0].to_string(), "PUT 5/600s");
        assert!(post.request_headers.includes("if-match"));
        assert!(!post.request_headers.includes("cookie"));
    }

    #[test]
    fn every_problem_is_reported() {
        let mut bad = resource("Bad_Name");
        bad.routes = vec!["posts".into()];
        bad.anonymous_methods = vec![wit::Method::Delete];
        bad.throttles[0].requests = 0;
        bad.schemas[0].schema = "{not json".into();
        bad.fields.push("author..name".into());
        bad.item_uri = Some("/posts/{slug".into());
        bad.request_headers = vec!["If-Match".into()];
        let message = validate(plugin(vec![bad, resource("twin"), resource("twin")]))
            .unwrap_err()
            .to_string();
        for expected in [
            "name `Bad_Name`",
            "route `posts`",
            "anonymous methods (DELETE)",
            "at least 1 request",
            "PUT body schema is not JSON",
            "`author..name` is not a field path",
            "unclosed `{`",
            "request header `If-Match`",
            "two resources are named `twin`",
        ] {
            assert!(
                message.contains(expected),
                "{expected:?} missing from {message}"
            );
        }
    }

    #[test]
    fn a_plugin_needs_resources_and_a_name() {
        let mut info = plugin(vec![]);
        info.name = String::new();
        let message = validate(info).unwrap_err().to_string();
        assert!(message.contains("serves no resources"), "{message}");
        assert!(message.contains("plugin name ``"), "{message}");
    }

    #[test]
    fn schemas_only_for_methods_with_bodies() {
        let mut get_schema = resource("post");
        get_schema.schemas[0].method = wit::Method::Get;
        let message = validate(plugin(vec![get_schema])).unwrap_err().to_string();
        assert!(message.contains("body schema for GET"), "{message}");
    }

    #[test]
    fn the_hosts_own_paths_are_refused() {
        for route in [
            "/docs",
            "/docs/x",
            "/openapi",
            "/openapi.json",
            "/openapi.yaml",
            "/oauth/authorize",
        ] {
            let mut taken = resource("post");
            taken.routes = vec![route.into()];
            let message = validate(plugin(vec![taken])).unwrap_err().to_string();
            assert!(message.contains("keeps for itself"), "{route}: {message}");
        }
        for route in ["/documents", "/openapis", "/docsy"] {
            let mut free = resource("post");
            free.routes = vec![route.into()];
            free.item_uri = None;
            assert!(validate(plugin(vec![free])).is_ok(), "{route}");
        }
    }

    #[test]
    fn method_docs_keep_their_schema_and_name_allowed_methods_once() {
        let spec = validate(plugin(vec![resource("post")])).unwrap();
        let doc = spec.resources[0].method_doc(Method::Get).unwrap();
        assert_eq!(
            doc.response_schema,
            Some(serde_json::json!({"type": "object"}))
        );
        assert!(spec.resources[0].method_doc(Method::Put).is_none());

        let mut bad = resource("post");
        let twin = bad.method_docs[0].clone();
        bad.method_docs.push(twin);
        bad.method_docs.push(wit::MethodDoc {
            method: wit::Method::Delete,
            description: String::new(),
            response_schema: None,
        });
        bad.method_docs[0].response_schema = Some(r#"{"type": 5}"#.into());
        bad.method_docs[1].response_schema = Some("{nope".into());
        bad.description = "x".repeat(MAX_DESCRIPTION_BYTES + 1);
        let message = validate(plugin(vec![bad])).unwrap_err().to_string();
        for expected in [
            "documents GET twice",
            "documents DELETE, which is not an allowed method",
            "the GET response schema",
            "response schema is not JSON",
            "a description of 65537 bytes",
        ] {
            assert!(
                message.contains(expected),
                "{expected:?} missing from {message}"
            );
        }
    }
}
