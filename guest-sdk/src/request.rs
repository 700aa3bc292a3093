//! The request a handler receives, with typed accessors.

use crate::bindings::piston::handler::types as wit;
use crate::rc;
use crate::{Error, Method, Result};
use serde::de::DeserializeOwned;
use std::str::FromStr;

/// The authenticated caller: who it is, how it proved it, and what it may do.
pub use wit::Principal;

/// One request, after the host has routed, authenticated, throttled, decoded and
/// validated it.
pub struct Request {
    inner: wit::Request,
}

impl Request {
    pub(crate) fn new(inner: wit::Request) -> Request {
        Request { inner }
    }

    /// The name of the resource the request is for.
    pub fn resource(&self) -> &str {
        &self.inner.resource_name
    }

    /// The method being performed.
    pub fn method(&self) -> Method {
        self.inner.method
    }

    /// The request path, without the query string.
    pub fn path(&self) -> &str {
        &self.inner.path
    }

    /// A value captured by the route (`{post_slug}` in `/posts/{post_slug}`), decoded.
    /// `None` when the matched route has no such parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        find(&self.inner.params, name)
    }

    /// A route value parsed as `T`. A value that does not parse answers 404: the path
    /// names nothing this resource has. A route without the parameter is a handler bug
    /// and answers 500.
    pub fn param_as<T: FromStr>(&self, name: &str) -> Result<T> {
        let raw = self
            .param(name)
            .ok_or_else(|| Error::failure(format!("the route has no parameter `{name}`")))?;
        raw.parse()
            .map_err(|_| rc::NOT_FOUND.detail(format!("`{raw}` is not a valid {name}")))
    }

    /// Every route value, as `(name, value)` pairs in route order.
    pub fn params(&self) -> impl Iterator<Item = (&str, &str)> {
        pairs(&self.inner.params)
    }

    /// The first value of a query parameter (`?page=2`), decoded.
    pub fn query(&self, name: &str) -> Option<&str> {
        find(&self.inner.query, name)
    }

    /// Every value of a repeated query parameter, in order.
    pub fn query_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.inner
            .query
            .iter()
            .filter(move |(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// A query parameter parsed as `T`: `Ok(None)` when absent, 400 when it does not
    /// parse.
    pub fn query_as<T: FromStr>(&self, name: &str) -> Result<Option<T>> {
        match self.query(name) {
            None => Ok(None),
            Some(raw) => raw.parse().map(Some).map_err(|_| {
                rc::BAD_REQUEST.detail(format!(
                    "query parameter `{name}` has an invalid value `{raw}`"
                ))
            }),
        }
    }

    /// Every query parameter, as `(name, value)` pairs in order, repeats kept.
    pub fn query_pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        pairs(&self.inner.query)
    }

    /// Every header the host passed, as `(lower-case name, value)` pairs.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        pairs(&self.inner.headers)
    }

    /// A request header, by lower-case name. Only the headers the resource's spec asks
    /// for (`Spec::request_headers`) are passed.
    pub fn header(&self, name: &str) -> Option<&str> {
        find(&self.inner.headers, name)
    }

    /// The authenticated caller, or `None` for an anonymous request.
    pub fn principal(&self) -> Option<&Principal> {
        self.inner.principal.as_ref()
    }

    /// The decoded body as JSON text, or `None` when the request has none.
    pub fn raw_data(&self) -> Option<&str> {
        self.inner.data.as_deref()
    }

    /// The body deserialized as `T` (django-piston's `request.data`). A missing body or
    /// one that does not fit `T` answers 400 with a violation pointing at the offending
    /// field, whatever format the client sent it in.
    pub fn data<T: DeserializeOwned>(&self) -> Result<T> {
        let raw = self
            .raw_data()
            .ok_or_else(|| rc::BAD_REQUEST.detail("this request needs a body"))?;
        let mut json = serde_json::Deserializer::from_str(raw);
        serde_path_to_error::deserialize(&mut json).map_err(|error| {
            let pointer = json_pointer(error.path());
            let message = error.into_inner().to_string();
            rc::BAD_REQUEST
                .detail("the request data does not have the expected shape")
                .with_violation(pointer, strip_position(&message))
        })
    }
}

fn pairs(pairs: &[(String, String)]) -> impl Iterator<Item = (&str, &str)> {
    pairs
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
}

fn find<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// Renders a serde path (`author.username`, `tags[2]`) as a JSON Pointer
/// (`/author/username`, `/tags/2`).
fn json_pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut pointer = String::new();
    for segment in path.iter() {
        pointer.push('/');
        match segment {
            Segment::Seq { index } => pointer.push_str(&index.to_string()),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                pointer.push_str(&key.replace('~', "~0").replace('/', "~1"))
            }
            Segment::Unknown => pointer.push('?'),
        }
    }
    pointer
}

/// serde_json appends "at line 1 column 42" to its messages; the position is in the
/// host's re-encoded JSON, not in what the client sent, so it would only mislead.
fn strip_position(message: &str) -> &str {
    match message.rfind(" at line ") {
        Some(index) => &message[..index],
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(data: Option<&str>) -> Request {
        Request::new(wit::Request {
            resource_name: "posts".into(),
            method: Method::Post,
            path: "/posts/hello".into(),
            params: vec![("slug".into(), "hello".into()), ("id".into(), "x7".into())],
            query: vec![
                ("tag".into(), "a".into()),
                ("tag".into(), "b".into()),
                ("page".into(), "two".into()),
            ],
            headers: vec![],
            principal: None,
            data: data.map(str::to_owned),
        })
    }

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Post {
        title: String,
        author: Author,
    }

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Author {
        username: String,
    }

    #[test]
    fn params_and_query() {
        let req = request(None);
        assert_eq!(req.param("slug"), Some("hello"));
        assert_eq!(req.param("nope"), None);
        assert_eq!(req.query_all("tag").collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(req.param_as::<u32>("id").unwrap_err().status(), 404);
        assert_eq!(req.param_as::<u32>("missing").unwrap_err().status(), 500);
        assert_eq!(req.query_as::<u32>("page").unwrap_err().status(), 400);
        assert_eq!(req.query_as::<u32>("absent").unwrap(), None);
    }

    #[test]
    fn data_errors_point_at_the_field() {
        let err = request(Some(r#"{"title": "t", "author": {"username": 7}}"#))
            .data::<Post>()
            .unwrap_err();
        assert_eq!(err.status(), 400);
        let rendered = format!("{:?}", err.into_wit());
        assert!(rendered.contains("/author/username"), "{rendered}");
        assert!(!rendered.contains("at line"), "{rendered}");
        assert_eq!(request(None).data::<Post>().unwrap_err().status(), 400);
    }
}
