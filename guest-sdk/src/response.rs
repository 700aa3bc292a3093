//! What a handler answers with.

use crate::bindings::exports::piston::handler::handler as wit;
use crate::bindings::piston::handler::types::Problem;
use crate::rc::Rc;
use crate::stream::ItemStream;
use crate::{Error, Result};
use serde::Serialize;

/// A handler's answer: a status, extra headers, and a body the host emits in the
/// client's format.
pub struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Body,
}

enum Body {
    None,
    Data(String),
    Raw {
        content_type: String,
        bytes: Vec<u8>,
    },
    Problem(Problem),
    Stream(ItemStream),
}

impl Response {
    /// 200 with `value` as the data. The host filters it by the resource's fields and
    /// emits it as JSON, YAML, XML, ... whatever the client asked for.
    pub fn data<T: Serialize + ?Sized>(value: &T) -> Result<Response> {
        let text = serde_json::to_string(value).map_err(|error| {
            Error::failure(format!("cannot serialize the response data: {error}"))
        })?;
        Ok(Response::with_body(200, Body::Data(text)))
    }

    /// 200 with bytes the host passes through untouched, under `content_type`.
    pub fn raw(content_type: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Response {
        Response::with_body(
            200,
            Body::Raw {
                content_type: content_type.into(),
                bytes: bytes.into(),
            },
        )
    }

    /// 200 streaming `items` to the client as they are produced, so a large listing
    /// never sits whole in memory. The host filters and emits each item.
    pub fn stream<I, T>(items: I) -> Response
    where
        I: IntoIterator<Item = T>,
        I::IntoIter: 'static,
        T: Serialize,
    {
        Response::with_body(200, Body::Stream(ItemStream::new(items)))
    }

    /// Like [`Response::stream`], for items that can fail: an error ends the stream (the
    /// client's response is cut short, since it has already begun) and is logged.
    pub fn try_stream<I, T>(items: I) -> Response
    where
        I: IntoIterator<Item = Result<T>>,
        I::IntoIter: 'static,
        T: Serialize,
    {
        Response::with_body(200, Body::Stream(ItemStream::fallible(items)))
    }

    /// A response with this status and no body (e.g. 204).
    pub fn empty(status: u16) -> Response {
        Response::with_body(status, Body::None)
    }

    /// Replaces the status.
    pub fn with_status(mut self, status: u16) -> Response {
        self.status = status;
        self
    }

    /// Adds a response header, e.g. `location`.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Response {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The status.
    pub fn status(&self) -> u16 {
        self.status
    }

    fn with_body(status: u16, body: Body) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body,
        }
    }

    pub(crate) fn into_wit(self) -> wit::Response {
        let body = match self.body {
            Body::None => wit::Body::None,
            Body::Data(text) => wit::Body::Data(text),
            Body::Raw {
                content_type,
                bytes,
            } => wit::Body::Raw(wit::RawBody {
                content_type,
                bytes,
            }),
            Body::Problem(problem) => wit::Body::Problem(problem),
            Body::Stream(stream) => wit::Body::Items(wit::ItemStream::new(stream)),
        };
        wit::Response {
            status: self.status,
            headers: self.headers,
            body,
        }
    }
}

impl From<Rc> for Response {
    /// A success code answers with no body; an error code with a problem document
    /// carrying the code's title.
    fn from(code: Rc) -> Response {
        if code.is_success() {
            Response::empty(code.status)
        } else {
            Response::with_body(
                code.status,
                Body::Problem(Problem {
                    title: code.title.to_owned(),
                    detail: None,
                    violations: Vec::new(),
                }),
            )
        }
    }
}
