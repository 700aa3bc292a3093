//! django-piston's `rc` status codes, with correct HTTP statuses.
//!
//! django-piston answered `rc.FORBIDDEN` with 401 and `rc.THROTTLED` with 503; here they
//! are 403 and 429. Use a code as an answer (`Ok(rc::DELETED.into())`), as an error
//! (`.ok_or(rc::NOT_FOUND)?`), or with data (`rc::CREATED.data(&post)`).

use crate::{Error, Response, Result};
use serde::Serialize;

/// A status code with its standard title.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rc {
    /// The HTTP status.
    pub status: u16,
    /// The short, human title the host puts in problem documents.
    pub title: &'static str,
}

/// 200: the request succeeded.
pub const ALL_OK: Rc = Rc {
    status: 200,
    title: "OK",
};
/// 201: something was created.
pub const CREATED: Rc = Rc {
    status: 201,
    title: "Created",
};
/// 204: something was deleted; no body.
pub const DELETED: Rc = Rc {
    status: 204,
    title: "Deleted",
};
/// 400: the request is malformed or fails a check.
pub const BAD_REQUEST: Rc = Rc {
    status: 400,
    title: "Bad Request",
};
/// 403: the caller is known but may not do this.
pub const FORBIDDEN: Rc = Rc {
    status: 403,
    title: "Forbidden",
};
/// 404: there is no such thing.
pub const NOT_FOUND: Rc = Rc {
    status: 404,
    title: "Not Found",
};
/// 409: the thing to create already exists.
pub const DUPLICATE_ENTRY: Rc = Rc {
    status: 409,
    title: "Conflict/Duplicate",
};
/// 410: the thing is gone.
pub const NOT_HERE: Rc = Rc {
    status: 410,
    title: "Gone",
};
/// 429: the caller made too many requests.
pub const THROTTLED: Rc = Rc {
    status: 429,
    title: "Throttled",
};
/// 500: the handler failed.
pub const INTERNAL_ERROR: Rc = Rc {
    status: 500,
    title: "Internal Server Error",
};
/// 501: the resource does not implement this.
pub const NOT_IMPLEMENTED: Rc = Rc {
    status: 501,
    title: "Not Implemented",
};

impl Rc {
    /// A response with this status carrying `value` as its data.
    pub fn data<T: Serialize + ?Sized>(self, value: &T) -> Result<Response> {
        Ok(Response::data(value)?.with_status(self.status))
    }

    /// An error answer with this status and a detail saying what went wrong this time.
    pub fn detail(self, detail: impl Into<String>) -> Error {
        Error::from(self).with_detail(detail)
    }

    /// Whether this is a success (2xx) code.
    pub fn is_success(self) -> bool {
        (200..300).contains(&self.status)
    }
}
