//! Describing a resource: django-piston's handler attributes as a builder.

use crate::Method;
use crate::bindings::piston::handler::types::{BodySchema, MethodDoc, ResourceSpec, Throttle};

/// A resource's spec: its routes, fields, limits and schemas. Built in
/// `Resource::spec` and returned to the host once, when the plugin loads.
///
/// ```
/// use piston_guest::{Method, Spec};
///
/// let spec = Spec::new("post")
///     .describe("One blog post.")
///     .route("/posts/{post_slug}")
///     .fields(["title", "content", "author.username", "content_size"])
///     .exclude(["id", "re:private_"])
///     .throttle([Method::Put], 5, 10 * 60)
///     .item_uri("/posts/{slug}");
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct Spec {
    inner: ResourceSpec,
    declared_methods: bool,
}

impl Spec {
    /// A spec for the resource called `name` (lower-case letters, digits and `-`;
    /// unique within the plugin).
    pub fn new(name: impl Into<String>) -> Spec {
        Spec {
            inner: ResourceSpec {
                name: name.into(),
                description: String::new(),
                routes: Vec::new(),
                allowed_methods: Vec::new(),
                anonymous_methods: Vec::new(),
                fields: Vec::new(),
                exclude: Vec::new(),
                throttles: Vec::new(),
                schemas: Vec::new(),
                item_uri: None,
                request_headers: Vec::new(),
                method_docs: Vec::new(),
            },
            declared_methods: false,
        }
    }

    /// What the resource is, in Markdown, for the generated documentation.
    pub fn describe(mut self, description: impl Into<String>) -> Spec {
        self.inner.description = description.into();
        self
    }

    /// A URL path this resource answers: `/posts`, `/posts/{post_slug}`, or
    /// `/files/{*path}` to capture the rest of the path.
    pub fn route(mut self, pattern: impl Into<String>) -> Spec {
        self.inner.routes.push(pattern.into());
        self
    }

    /// The methods the resource allows. By default these are the verbs its `Resource`
    /// impl defines; declare them to allow fewer.
    pub fn methods(mut self, methods: impl IntoIterator<Item = Method>) -> Spec {
        self.inner.allowed_methods = methods.into_iter().collect();
        self.declared_methods = true;
        self
    }

    /// Methods served without credentials even when authentication is configured.
    pub fn anonymous(mut self, methods: impl IntoIterator<Item = Method>) -> Spec {
        self.inner.anonymous_methods = methods.into_iter().collect();
        self
    }

    /// The fields clients may see, as dotted paths (`author.username`). By default
    /// every field is shown.
    pub fn fields<S: Into<String>>(mut self, fields: impl IntoIterator<Item = S>) -> Spec {
        self.inner.fields = fields.into_iter().map(Into::into).collect();
        self
    }

    /// Fields never shown: names, or `re:` and a regular expression matched from the
    /// start of the key.
    pub fn exclude<S: Into<String>>(mut self, exclude: impl IntoIterator<Item = S>) -> Spec {
        self.inner.exclude = exclude.into_iter().map(Into::into).collect();
        self
    }

    /// At most `requests` per `period_seconds` for each caller, counted together for
    /// `methods` (all allowed methods when empty), like `@throttle(5, 10*60)`.
    pub fn throttle(
        mut self,
        methods: impl IntoIterator<Item = Method>,
        requests: u32,
        period_seconds: u32,
    ) -> Spec {
        self.inner.throttles.push(Throttle {
            methods: methods.into_iter().collect(),
            requests,
            period_seconds,
        });
        self
    }

    /// A JSON Schema (draft 2020-12, as JSON text) the body of `method` must satisfy;
    /// the host checks it before calling the handler and answers 400 with every
    /// violation.
    pub fn schema(mut self, method: Method, schema: impl Into<String>) -> Spec {
        self.inner.schemas.push(BodySchema {
            method,
            schema: schema.into(),
        });
        self
    }

    /// What `method` does, in Markdown, for the generated documentation: the first
    /// paragraph is the operation's summary. `#[resource]` takes it from the verb's doc comment;
    /// this overrides that.
    pub fn doc(mut self, method: Method, description: impl Into<String>) -> Spec {
        self.method_doc(method).description = description.into();
        self
    }

    /// A JSON Schema (draft 2020-12, as JSON text) of the data a successful `method`
    /// answers with, as a JSON client receives it (for a stream: the array of its
    /// items), for the generated documentation. Describe
    /// what the handler returns: the host narrows it to the resource's fields and adds
    /// `resource_uri`. Without one, the documentation derives a schema from `fields`.
    pub fn response(mut self, method: Method, schema: impl Into<String>) -> Spec {
        self.method_doc(method).response_schema = Some(schema.into());
        self
    }

    fn method_doc(&mut self, method: Method) -> &mut MethodDoc {
        let docs = &mut self.inner.method_docs;
        let index = match docs.iter().position(|doc| doc.method == method) {
            Some(index) => index,
            None => {
                docs.push(MethodDoc {
                    method,
                    description: String::new(),
                    response_schema: None,
                });
                docs.len() - 1
            }
        };
        &mut docs[index]
    }

    /// The URI template of one item (`/posts/{slug}`), filled from each emitted
    /// object's own fields into its `resource_uri`.
    pub fn item_uri(mut self, template: impl Into<String>) -> Spec {
        self.inner.item_uri = Some(template.into());
        self
    }

    /// Request headers the handler wants to read (lower-case names, or `*` for all).
    pub fn request_headers<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Spec {
        self.inner.request_headers = names.into_iter().map(Into::into).collect();
        self
    }

    /// The resource's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The final spec, with the allowed methods defaulted to `implemented` and each
    /// method's description defaulted to its verb's doc comment (`verb_docs`).
    pub(crate) fn finish(
        mut self,
        implemented: &[Method],
        verb_docs: &[(Method, &str)],
    ) -> ResourceSpec {
        if !self.declared_methods {
            self.inner.allowed_methods = implemented.to_vec();
        }
        for (method, text) in verb_docs {
            if self.inner.allowed_methods.contains(method) {
                let doc = self.method_doc(*method);
                if doc.description.is_empty() {
                    doc.description = (*text).to_owned();
                }
            }
        }
        self.inner
    }
}
