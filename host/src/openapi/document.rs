//! The OpenAPI 3.1 document of what a snapshot serves under the operator's settings:
//! one path per route, one operation per allowed method, with what the plugin says of
//! it and every answer the host itself can give.

use super::schema::{self, Lifted};
use super::security;
use crate::auth::settings::AuthSettings;
use crate::decode::DECODERS;
use crate::emit::EMITTERS;
use crate::fields::{MAX_LIST_CHARS, exclude_pattern, fields_pattern};
use crate::negotiate::MAX_INDENT;
use crate::registry::{LoadedPlugin, ResourceSpec, Snapshot};
use crate::throttle::settings::ThrottleSettings;
use crate::vocab::{Method, Throttle};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

/// What the document is made from besides the plugins: the operator's settings.
pub struct Settings<'a> {
    /// Authentication chains and scopes.
    pub auth: &'a AuthSettings,
    /// Rate limits, with the operator's overrides.
    pub throttle: &'a ThrottleSettings,
    /// Where clients reach the server (empty: wherever the document was fetched from).
    pub public_url: &'a str,
}

/// The document, as a JSON value.
pub fn document(snapshot: &Snapshot, settings: &Settings<'_>) -> Value {
    let mut plugins: Vec<&LoadedPlugin> = snapshot
        .entries()
        .iter()
        .filter_map(|entry| match entry {
            crate::registry::Entry::Loaded(plugin) => Some(plugin.as_ref()),
            _ => None,
        })
        .collect();
    plugins.sort_by(|a, b| a.spec.name.cmp(&b.spec.name));

    let mut builder = Builder {
        settings,
        paths: BTreeMap::new(),
        tags: Vec::new(),
        lifted: Vec::new(),
        schemes: BTreeSet::new(),
    };
    for plugin in &plugins {
        for resource in &plugin.spec.resources {
            builder.resource(plugin, resource);
        }
    }

    let mut schemas = common_schemas();
    for (name, definition) in std::mem::take(&mut builder.lifted) {
        schemas.insert(name, definition);
    }
    let mut security_schemes = Map::new();
    for name in &builder.schemes {
        if let Some(scheme) = security::scheme(name, &settings.auth.realm, snapshot) {
            security_schemes.insert(name.clone(), scheme);
        }
    }
    let mut components = json!({
        "schemas": schemas,
        "parameters": host_parameters(),
        "headers": rate_limit_headers(),
    });
    if !security_schemes.is_empty() {
        components["securitySchemes"] = Value::Object(security_schemes);
    }

    let mut document = json!({
        "openapi": "3.1.0",
        "info": info(&plugins),
        "tags": builder.tags,
        "paths": builder.paths,
        "components": components,
    });
    // Without a public URL, paths are relative to wherever the document was fetched from.
    let server = match settings.public_url {
        "" => "/",
        url => url,
    };
    document["servers"] = json!([{ "url": server }]);
    document
}

/// The document's title, version (a digest of the loaded plugins, so it changes when
/// one does) and description.
fn info(plugins: &[&LoadedPlugin]) -> Value {
    let mut digest = Sha256::new();
    let mut listing = String::new();
    for plugin in plugins {
        digest.update(plugin.spec.name.as_bytes());
        digest.update([0]);
        digest.update(plugin.digest.as_bytes());
        listing.push_str(&format!(
            "\n- **{}** {}: {}",
            plugin.spec.name, plugin.spec.version, plugin.spec.description
        ));
    }
    let version = hex::encode(&digest.finalize()[..6]);
    let formats: Vec<String> = EMITTERS
        .iter()
        .map(|emitter| {
            let format = emitter.format();
            format!("`{}` ({})", format.name, format.media_types[0])
        })
        .collect();
    json!({
        "title": "Piston API",
        "version": version,
        "description": format!(
            "The resources of the plugins this server runs:\n{listing}\n\n\
             Every answer is available in {}: choose with the `Accept` header, `?format=`, \
             or a suffix on the path (`/posts/hello.yaml`). `?fields=` and `?exclude=` \
             narrow what an answer shows; `?indent=` pretty-prints JSON. Errors are \
             RFC 9457 problem documents carrying the request id, which is also in the \
             `X-Request-Id` header. A method a path does not list is answered 405 with \
             `Allow`; `HEAD` and `OPTIONS` are answered by the server for every path.",
            formats.join(", ")
        ),
    })
}

struct Builder<'s, 'a> {
    settings: &'s Settings<'a>,
    paths: BTreeMap<String, Map<String, Value>>,
    tags: Vec<Value>,
    lifted: Lifted,
    schemes: BTreeSet<String>,
}

impl Builder<'_, '_> {
    fn resource(&mut self, plugin: &LoadedPlugin, resource: &ResourceSpec) {
        let plugin_name = &plugin.spec.name;
        let tag = format!("{plugin_name}/{}", resource.name);
        let mut description = resource.description.clone();
        let limits = self.throttle_note(plugin_name, resource);
        if !limits.is_empty() {
            if !description.is_empty() {
                description.push_str("\n\n");
            }
            description.push_str(&limits);
        }
        self.tags.push(json!({
            "name": tag,
            "description": format!(
                "{description}\n\nServed by the plugin `{plugin_name}` {}.",
                plugin.spec.version
            ).trim_start().to_owned(),
        }));
        let chain = self.settings.auth.chain(plugin_name, &resource.name);
        self.schemes.extend(chain.iter().cloned());

        let mut operation_ids = BTreeSet::new();
        for route in &resource.routes {
            let (path, parameters) = path_template(route);
            let mut path_item = Map::new();
            if !parameters.is_empty() {
                path_item.insert("parameters".to_owned(), Value::Array(parameters));
            }
            for method in resource.allowed_methods.iter() {
                let mut id = operation_id(plugin_name, resource, route, method);
                while !operation_ids.insert(id.clone()) {
                    id.push('_');
                }
                let operation = self.operation(plugin_name, resource, method, &tag, id, chain);
                path_item.insert(method.as_str().to_ascii_lowercase(), operation);
            }
            self.paths.insert(path, path_item);
        }
    }

    fn operation(
        &mut self,
        plugin: &str,
        resource: &ResourceSpec,
        method: Method,
        tag: &str,
        id: String,
        chain: &[String],
    ) -> Value {
        let doc = resource.method_doc(method);
        let text = doc.map(|doc| doc.description.trim()).unwrap_or_default();
        let (summary, details) = match summary_and_details(text) {
            (summary, details) if summary.is_empty() => {
                (default_summary(method, resource), details)
            }
            split => split,
        };
        let anonymous = resource.anonymous_methods.contains(method);
        let scopes = self.settings.auth.scopes(plugin, &resource.name, method);
        let throttled = self.throttled(plugin, resource, method);

        let mut description = details;
        let mut note = |line: String| {
            if !description.is_empty() {
                description.push_str("\n\n");
            }
            description.push_str(&line);
        };
        if !chain.is_empty() {
            note(format!(
                "Authentication: {}{}{}.",
                chain.join(", "),
                if anonymous {
                    "; also served without credentials"
                } else {
                    ""
                },
                if scopes.is_empty() {
                    String::new()
                } else {
                    format!("; a scoped credential needs {}", scopes.join(" "))
                },
            ));
        }

        let prefix = format!("{plugin}.{}.{}", resource.name, method_word(method));
        let mut operation = json!({
            "tags": [tag],
            "summary": summary,
            "operationId": id,
            "parameters": [
                {"$ref": "#/components/parameters/format"},
                {"$ref": "#/components/parameters/indent"},
                {"$ref": "#/components/parameters/fields"},
                {"$ref": "#/components/parameters/exclude"},
            ],
            "responses": self.responses(resource, method, &prefix, chain, throttled),
        });
        if !description.is_empty() {
            operation["description"] = Value::String(description);
        }
        if method.has_body() {
            operation["requestBody"] = self.request_body(resource, method, &prefix);
        }
        if let Some(requirements) = security::requirements(chain, scopes, anonymous) {
            operation["security"] = requirements;
        }
        if anonymous && !chain.is_empty() {
            operation["x-piston-anonymous"] = Value::Bool(true);
        }
        let rules = self.rules_for(plugin, resource, method);
        if !rules.is_empty() {
            operation["x-piston-throttle"] = Value::Array(rules);
        }
        operation
    }

    fn request_body(&mut self, resource: &ResourceSpec, method: Method, prefix: &str) -> Value {
        let schema = match resource.schema(method) {
            Some(body) => {
                let name = format!("{prefix}.body");
                let embedded = schema::embedded(&body.schema, &name, &mut self.lifted);
                self.component(name, embedded)
            }
            None => json!({}),
        };
        let mut content = Map::new();
        for decoder in DECODERS.iter() {
            for media_type in decoder.media_types() {
                content.insert((*media_type).to_owned(), json!({ "schema": schema }));
            }
        }
        json!({
            "required": resource.schema(method).is_some(),
            "description": if resource.schema(method).is_some() {
                "Checked against this schema before the handler runs: a body that does not \
                 satisfy it is answered 400 with every violation."
            } else {
                "Passed to the handler as decoded; the server checks only that it is \
                 well-formed."
            },
            "content": content,
        })
    }

    fn responses(
        &mut self,
        resource: &ResourceSpec,
        method: Method,
        prefix: &str,
        chain: &[String],
        throttled: bool,
    ) -> Value {
        let limit_headers: Vec<(&str, Value)> = if throttled {
            ["RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"]
                .into_iter()
                .map(|name| {
                    (
                        name,
                        json!({"$ref": format!("#/components/headers/{name}")}),
                    )
                })
                .collect()
        } else {
            Vec::new()
        };
        let problem = |description: &str, extra: Vec<(&str, Value)>| {
            problem_response(
                description,
                extra.into_iter().chain(limit_headers.iter().cloned()),
            )
        };
        let retry_after = || {
            (
                "Retry-After",
                json!({"$ref": "#/components/headers/Retry-After"}),
            )
        };

        let mut responses = Map::new();
        let (status, success) = success_status(method);
        let mut answer = json!({ "description": success });
        if method != Method::Delete {
            answer["content"] = self.success_content(resource, method, prefix);
        }
        if throttled {
            answer["headers"] = headers_object(limit_headers.iter().cloned());
        }
        responses.insert(status.to_owned(), answer);
        responses.insert(
            "400".to_owned(),
            problem(
                "The request is malformed: a query parameter, a path parameter, or the body \
                 (with every violation of its schema, each with a JSON pointer, in `errors`).",
                vec![],
            ),
        );
        if !chain.is_empty() {
            responses.insert(
                "401".to_owned(),
                problem(
                    "No credentials, or credentials that are wrong or expired. \
                     `WWW-Authenticate` lists the schemes accepted.",
                    vec![(
                        "WWW-Authenticate",
                        json!({"schema": {"type": "string"}, "description": "One challenge per scheme of the chain."}),
                    )],
                ),
            );
            responses.insert(
                "403".to_owned(),
                problem(
                    "The credentials are valid but lack the scopes this needs \
                     (`WWW-Authenticate` names them).",
                    vec![],
                ),
            );
        }
        responses.insert(
            "404".to_owned(),
            problem(
                "Nothing is served at this path, or the handler found no such item.",
                vec![],
            ),
        );
        responses.insert(
            "406".to_owned(),
            problem(
                "No format the server emits matches `Accept`, `?format=` or the path's suffix; \
                 `available` lists those it does.",
                vec![],
            ),
        );
        if method.has_body() {
            responses.insert(
                "408".to_owned(),
                problem("The body did not arrive in time.", vec![]),
            );
            responses.insert(
                "413".to_owned(),
                problem("The body is larger than the server accepts.", vec![]),
            );
            responses.insert(
                "415".to_owned(),
                problem(
                    "The body's media type is not one the server decodes.",
                    vec![],
                ),
            );
        }
        responses.insert(
            "431".to_owned(),
            json!({
                "description": "The request line and headers are longer, or the headers more \
                    numerous, than the server reads. The HTTP layer answers this itself, \
                    before any handler, with no body."
            }),
        );
        let too_many = match (throttled, !chain.is_empty()) {
            (true, true) => Some(
                "Too many requests: the caller is over a rate limit of this resource, or \
                 its address or account is locked out after too many failed logins.",
            ),
            (true, false) => {
                Some("Too many requests: the caller is over a rate limit of this resource.")
            }
            (false, true) => Some(
                "Too many failed logins: the caller's address or account is locked out \
                 for a while.",
            ),
            (false, false) => None,
        };
        if let Some(description) = too_many {
            responses.insert("429".to_owned(), problem(description, vec![retry_after()]));
        }
        responses.insert(
            "500".to_owned(),
            problem(
                "The handler failed; the log has the reason under the request id.",
                vec![],
            ),
        );
        responses.insert(
            "503".to_owned(),
            problem(
                "The handler is busy or timed out, or a store the request needs cannot be \
                 reached right now.",
                vec![retry_after()],
            ),
        );
        responses.insert(
            "default".to_owned(),
            problem(
                "Another answer of the handler (django-piston's `rc` codes).",
                vec![],
            ),
        );
        Value::Object(responses)
    }

    /// The success body in every format the host emits: the plugin's schema narrowed
    /// to what clients see, or one derived from `fields`.
    fn success_content(&mut self, resource: &ResourceSpec, method: Method, prefix: &str) -> Value {
        let shape = resource.filter.shape();
        let resource_uri = resource.uri_template.is_some() && resource.filter.shows_resource_uri();
        let schema = match resource
            .method_doc(method)
            .and_then(|doc| doc.response_schema.as_ref())
        {
            Some(declared) => {
                let embedded = schema::embedded(declared, prefix, &mut self.lifted);
                schema::narrowed(&embedded, shape, resource_uri)
            }
            None => schema::derived(&resource.fields, shape, resource_uri),
        };
        let schema = self.component(format!("{prefix}.response"), schema);
        let mut content = Map::new();
        for emitter in EMITTERS.iter() {
            let format = emitter.format();
            content.insert(
                format.media_types[0].to_owned(),
                json!({ "schema": schema }),
            );
        }
        Value::Object(content)
    }

    /// A reference to `schema`, kept once under `name` in `components.schemas` (a
    /// body appears under every media type). The empty schema stays inline.
    fn component(&mut self, name: String, schema: Value) -> Value {
        if schema == json!({}) {
            return schema;
        }
        let reference = json!({ "$ref": format!("#/components/schemas/{name}") });
        self.lifted.push((name, schema));
        reference
    }

    /// Whether any rule counts `method` on `resource`, for anonymous or other callers.
    fn throttled(&self, plugin: &str, resource: &ResourceSpec, method: Method) -> bool {
        [false, true].into_iter().any(|anonymous| {
            self.settings
                .throttle
                .rules(plugin, resource, anonymous)
                .iter()
                .any(|rule| applies(rule, method))
        })
    }

    /// The rules counting `method`, for the `x-piston-throttle` extension; anonymous
    /// callers' own rules only where the operator set different ones.
    fn rules_for(&self, plugin: &str, resource: &ResourceSpec, method: Method) -> Vec<Value> {
        let everyone = self.settings.throttle.rules(plugin, resource, false);
        let anonymous = self.settings.throttle.rules(plugin, resource, true);
        let mut listed = vec![("everyone", everyone)];
        if anonymous != everyone {
            listed.push(("anonymous", anonymous));
        }
        listed
            .into_iter()
            .flat_map(|(callers, rules)| {
                rules
                    .iter()
                    .filter(|rule| applies(rule, method))
                    .map(move |rule| {
                        json!({
                            "callers": callers,
                            "requests": rule.requests,
                            "period_seconds": rule.period_seconds,
                        })
                    })
            })
            .collect()
    }

    /// The resource's rate limits in words, for its description.
    fn throttle_note(&self, plugin: &str, resource: &ResourceSpec) -> String {
        let rules = self.settings.throttle.rules(plugin, resource, false);
        let anonymous = self.settings.throttle.rules(plugin, resource, true);
        let words = |rules: &[Throttle]| {
            rules
                .iter()
                .map(|rule| rule.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        };
        let mut note = String::new();
        if !rules.is_empty() {
            note.push_str(&format!("Rate limits per caller: {}.", words(rules)));
        }
        if anonymous != rules && !anonymous.is_empty() {
            note.push_str(&format!(" Anonymous callers: {}.", words(anonymous)));
        }
        note.trim_start().to_owned()
    }
}

fn applies(rule: &Throttle, method: Method) -> bool {
    rule.methods.is_empty() || rule.methods.contains(method)
}

/// A route as an OpenAPI path template and its path parameters. A catch-all
/// `{*name}` becomes `{name}`, documented as taking the rest of the path.
fn path_template(route: &str) -> (String, Vec<Value>) {
    let mut path = String::with_capacity(route.len());
    let mut parameters = Vec::new();
    let mut rest = route;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}').map(|close| open + close) else {
            break;
        };
        path.push_str(&rest[..open]);
        let inner = &rest[open + 1..close];
        let (name, catch_all) = match inner.strip_prefix('*') {
            Some(name) => (name, true),
            None => (inner, false),
        };
        path.push('{');
        path.push_str(name);
        path.push('}');
        let description = if catch_all {
            "The rest of the path, slashes included (percent-decoded for the handler)."
        } else {
            "One path segment (percent-decoded for the handler)."
        };
        parameters.push(json!({
            "name": name,
            "in": "path",
            "required": true,
            "description": description,
            "schema": {"type": "string", "minLength": 1},
        }));
        rest = &rest[close + 1..];
    }
    path.push_str(rest);
    (path, parameters)
}

/// `plugin_resource_verb`, with the route's words added when the resource has several
/// routes: stable across restarts and unique in the document (plugin names are unique
/// and have no `_`; routes are unique).
fn operation_id(plugin: &str, resource: &ResourceSpec, route: &str, method: Method) -> String {
    let mut id = format!(
        "{}_{}_{}",
        plugin.replace('-', "_"),
        resource.name.replace('-', "_"),
        method_word(method)
    );
    if resource.routes.len() > 1 {
        let words: String = route
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let words: Vec<&str> = words.split('_').filter(|word| !word.is_empty()).collect();
        id.push_str("_at_");
        id.push_str(&words.join("_"));
    }
    id
}

/// django-piston's names for the verbs.
fn method_word(method: Method) -> &'static str {
    match method {
        Method::Get => "read",
        Method::Post => "create",
        Method::Put => "update",
        Method::Patch => "patch",
        Method::Delete => "delete",
    }
}

/// A description's first paragraph, on one line, and the rest.
fn summary_and_details(text: &str) -> (String, String) {
    let (first, rest) = text.split_once("\n\n").unwrap_or((text, ""));
    let summary = first.split_whitespace().collect::<Vec<_>>().join(" ");
    (summary, rest.trim().to_owned())
}

fn default_summary(method: Method, resource: &ResourceSpec) -> String {
    let what = resource
        .description
        .lines()
        .next()
        .filter(|line| !line.trim().is_empty())
        .map_or_else(
            || format!("`{}`", resource.name),
            |line| line.trim().to_owned(),
        );
    let verb = match method {
        Method::Get => "Read",
        Method::Post => "Create in",
        Method::Put => "Update",
        Method::Patch => "Change part of",
        Method::Delete => "Delete",
    };
    format!("{verb} {}", lowercase_first(&what))
}

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match (chars.next(), chars.clone().next()) {
        // Keep acronyms and names (`API`, `Piston`) as written.
        (Some(first), Some(second)) if first.is_uppercase() && second.is_lowercase() => {
            first.to_lowercase().chain(chars).collect()
        }
        _ => text.to_owned(),
    }
}

/// The status a handler conventionally answers a successful call with.
fn success_status(method: Method) -> (&'static str, &'static str) {
    match method {
        Method::Get => ("200", "The data."),
        Method::Post => ("201", "Created: the new item."),
        Method::Put => ("200", "Updated: the item."),
        Method::Patch => ("200", "Changed: the item."),
        Method::Delete => ("204", "Deleted."),
    }
}

fn headers_object<'h>(headers: impl Iterator<Item = (&'h str, Value)>) -> Value {
    Value::Object(
        headers
            .map(|(name, header)| (name.to_owned(), header))
            .collect(),
    )
}

/// A problem answer in every format the host emits problems in, with `headers`.
fn problem_response<'h>(
    description: &str,
    headers: impl IntoIterator<Item = (&'h str, Value)>,
) -> Value {
    let mut content = Map::new();
    for emitter in EMITTERS.iter() {
        content
            .entry(emitter.format().problem_media_type)
            .or_insert_with(|| json!({"schema": {"$ref": "#/components/schemas/Problem"}}));
    }
    let mut response = json!({ "description": description, "content": content });
    let headers = headers_object(headers.into_iter());
    if headers
        .as_object()
        .is_some_and(|headers| !headers.is_empty())
    {
        response["headers"] = headers;
    }
    response
}

/// The RFC 9457 problem document every error answer is.
fn common_schemas() -> Map<String, Value> {
    let problem = json!({
        "type": "object",
        "description": "An RFC 9457 problem document.",
        "required": ["type", "title", "status"],
        "properties": {
            "type": {"type": "string", "description": "`about:blank`: the status says it all."},
            "title": {"type": "string", "description": "The status's standard phrase, or the handler's title."},
            "status": {"type": "integer", "minimum": 100, "maximum": 599},
            "detail": {"type": "string", "description": "What went wrong this time."},
            "instance": {"type": "string"},
            "request_id": {"type": "string", "description": "The id also in `X-Request-Id` and in the server log."},
            "errors": {
                "type": "array",
                "description": "Field-level errors (400): where, as a JSON pointer into the body, and what.",
                "items": {
                    "type": "object",
                    "required": ["pointer", "detail"],
                    "properties": {
                        "pointer": {"type": "string"},
                        "detail": {"type": "string"},
                    },
                },
            },
        },
    });
    let mut schemas = Map::new();
    schemas.insert("Problem".to_owned(), problem);
    schemas
}

/// The query parameters the host reads itself; every other one reaches the handler.
fn host_parameters() -> Value {
    let formats: Vec<&str> = EMITTERS
        .iter()
        .map(|emitter| emitter.format().name)
        .collect();
    let suffixes: Vec<String> = EMITTERS
        .iter()
        .flat_map(|emitter| emitter.format().extensions.iter())
        .map(|extension| format!("`.{extension}`"))
        .collect();
    let field_list = |pattern: String| {
        json!({
            "type": "string",
            "pattern": pattern,
            "maxLength": MAX_LIST_CHARS,
        })
    };
    json!({
        "format": {
            "name": "format",
            "in": "query",
            "required": false,
            "description": format!(
                "The output format, over `Accept`. A suffix on the path does the same: {}.",
                suffixes.join(", ")
            ),
            "schema": {"type": "string", "enum": formats},
        },
        "indent": {
            "name": "indent",
            "in": "query",
            "required": false,
            "description": "Pretty-print JSON with this many spaces.",
            "schema": {"type": "integer", "minimum": 0, "maximum": MAX_INDENT},
        },
        "fields": {
            "name": "fields",
            "in": "query",
            "required": false,
            "description": "Show only these fields: comma-separated dotted paths (`title,author.username`). It narrows what the resource shows, never widens it.",
            "schema": field_list(fields_pattern()),
        },
        "exclude": {
            "name": "exclude",
            "in": "query",
            "required": false,
            "description": "Hide these fields: comma-separated names or dotted paths.",
            "schema": field_list(exclude_pattern()),
        },
    })
}

fn rate_limit_headers() -> Value {
    json!({
        "RateLimit-Limit": {
            "description": "Requests the rate limit closest to being reached allows per period.",
            "schema": {"type": "integer", "minimum": 1},
        },
        "RateLimit-Remaining": {
            "description": "How many more requests that limit admits now.",
            "schema": {"type": "integer", "minimum": 0},
        },
        "RateLimit-Reset": {
            "description": "Seconds until that limit's full allowance is back.",
            "schema": {"type": "integer", "minimum": 0},
        },
        "Retry-After": {
            "description": "Seconds to wait before trying again.",
            "schema": {"type": "integer", "minimum": 0},
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_become_path_templates() {
        let (path, parameters) = path_template("/other/{username}/{*data}");
        assert_eq!(path, "/other/{username}/{data}");
        assert_eq!(parameters.len(), 2);
        assert!(
            parameters[1]["description"]
                .as_str()
                .unwrap()
                .contains("slashes")
        );
        assert_eq!(path_template("/posts").0, "/posts");
    }

    #[test]
    fn the_first_paragraph_is_the_summary() {
        let (summary, details) =
            summary_and_details("Changes the post's title\nor content.\n\nThen answers.");
        assert_eq!(summary, "Changes the post's title or content.");
        assert_eq!(details, "Then answers.");
        assert_eq!(summary_and_details("").0, "");
    }

    #[test]
    fn summaries_read_as_sentences() {
        assert_eq!(lowercase_first("One blog post."), "one blog post.");
        assert_eq!(lowercase_first("API keys"), "API keys");
    }
}
