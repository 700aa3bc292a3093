//! The `Resource` trait: django-piston's `BaseHandler` with `read/create/update/delete`.

use crate::rc;
use crate::{Method, Request, Response, Result, Spec};

/// One REST resource a plugin serves.
///
/// Implement the verbs the resource supports and mark the impl with
/// [`#[resource]`](crate::resource), which records which verbs you defined so that the
/// host answers every other method with 405 and an accurate `Allow` header. The host
/// creates one value of the type (with `Default`) per plugin instance and reuses it for
/// the requests that instance serves, as django-piston kept one handler per `Resource`.
///
/// ```
/// use piston_guest::{Request, Resource, Response, Result, Spec, rc, resource};
///
/// #[derive(Default)]
/// struct Greeting;
///
/// #[resource]
/// impl Resource for Greeting {
///     fn spec() -> Spec {
///         Spec::new("greeting").route("/hello/{name}")
///     }
///
///     fn read(&self, req: &Request) -> Result<Response> {
///         let name = req.param("name").ok_or(rc::NOT_FOUND)?;
///         Response::data(&serde_json::json!({ "hello": name }))
///     }
/// }
/// ```
pub trait Resource: 'static {
    /// The methods this impl defines a verb for. Written by `#[resource]`; do not set
    /// it by hand.
    const IMPLEMENTED: &'static [Method];

    /// The doc comments of the verbs this impl defines, by method: each method's
    /// description in the generated documentation unless the spec gives one
    /// ([`Spec::doc`]). Written by `#[resource]`.
    const VERB_DOCS: &'static [(Method, &'static str)] = &[];

    /// The resource's spec: name, routes, fields, limits. Called when the plugin loads,
    /// and once in every new instance, which finds its resources by name: keep it cheap
    /// (with `isolation = "request"`, that is once a request).
    fn spec() -> Spec;

    /// `GET`: return one item or a listing. With `#[resource]`, this method's doc
    /// comment (like every verb's) documents it in the generated OpenAPI document.
    fn read(&self, req: &Request) -> Result<Response> {
        unimplemented_verb(req)
    }

    /// `POST`: create an item (answer `rc::CREATED`, or `rc::DUPLICATE_ENTRY`).
    fn create(&self, req: &Request) -> Result<Response> {
        unimplemented_verb(req)
    }

    /// `PUT`: replace or update an item and return it.
    fn update(&self, req: &Request) -> Result<Response> {
        unimplemented_verb(req)
    }

    /// `PATCH`: change part of an item and return it.
    fn patch(&self, req: &Request) -> Result<Response> {
        unimplemented_verb(req)
    }

    /// `DELETE`: remove an item (answer `rc::DELETED`).
    fn delete(&self, req: &Request) -> Result<Response> {
        unimplemented_verb(req)
    }
}

/// Reached only when a spec declares a method whose verb the impl does not define.
fn unimplemented_verb(req: &Request) -> Result<Response> {
    Err(rc::NOT_IMPLEMENTED.detail(format!(
        "resource `{}` does not implement {:?}",
        req.resource(),
        req.method()
    )))
}

/// Calls the verb for the request's method.
pub(crate) fn dispatch<R: Resource>(resource: &R, req: &Request) -> Result<Response> {
    match req.method() {
        Method::Get => resource.read(req),
        Method::Post => resource.create(req),
        Method::Put => resource.update(req),
        Method::Patch => resource.patch(req),
        Method::Delete => resource.delete(req),
    }
}
