//! Write [Piston] handler plugins in Rust.
//!
//! A plugin is a WebAssembly component that serves one or more REST resources. You
//! write only what django-piston's handlers did — `read`, `create`, `update`,
//! `delete` — and return data; the Piston host does the routing, authentication,
//! throttling, body decoding, validation, field filtering and output formats.
//!
//! ```
//! use piston_guest::{Request, Resource, Response, Result, Spec, rc, resource};
//! use serde::Serialize;
//!
//! #[derive(Serialize)]
//! struct Post { slug: String, title: String }
//!
//! #[derive(Default)]
//! struct PostHandler;
//!
//! #[resource]
//! impl Resource for PostHandler {
//!     fn spec() -> Spec {
//!         Spec::new("post")
//!             .route("/posts/{post_slug}")
//!             .fields(["slug", "title"])
//!     }
//!
//!     fn read(&self, req: &Request) -> Result<Response> {
//!         let slug = req.param("post_slug").ok_or(rc::NOT_FOUND)?;
//!         Response::data(&Post { slug: slug.into(), title: "Hello".into() })
//!     }
//! }
//!
//! // In the plugin crate (a `cdylib` built for `wasm32-wasip2`):
//! // piston_guest::export_plugin!(PostHandler);
//! ```
//!
//! The pieces:
//! - [`Resource`] and [`#[resource]`](resource): a resource's verbs; the attribute
//!   derives its allowed methods from the verbs you define.
//! - [`Spec`]: routes, fields and exclusions, throttles, body schemas, `resource_uri`.
//! - [`Request`]: path params, query, headers, the decoded body, the principal.
//! - [`Response`] and [`rc`]: data, raw bytes, streams, and django-piston's status codes.
//! - [`Error`]: problems the client should see, and failures only the operator should.
//! - [`kv`] and [`config`]: the plugin's persistent data and its settings.
//! - [`http`]: requests to other services, where the operator allows them.
//! - [`export_plugin!`]: turns the resources into the plugin's exports.
//!
//! [Piston]: https://github.com/piston-rs/piston

#![warn(missing_docs)]

pub mod bindings;
pub mod config;
mod error;
pub mod http;
pub mod kv;
mod plugin;
pub mod rc;
mod request;
mod resource;
mod response;
mod spec;
mod stream;

pub use crate::error::{Error, Violations};
pub use crate::request::{Principal, Request};
pub use crate::resource::Resource;
pub use crate::response::Response;
pub use crate::spec::Spec;
pub use piston_guest_macros::resource;

/// An HTTP method a resource can implement (`HEAD` and `OPTIONS` are the host's).
pub use crate::bindings::piston::handler::types::Method;

impl Method {
    /// The method's name on the wire (`GET`, `POST`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

/// The result of a handler verb.
pub type Result<T, E = Error> = core::result::Result<T, E>;

#[doc(hidden)]
pub mod __private {
    pub use crate::plugin::*;
}
