//! Errors a handler answers with.
//!
//! There are two kinds, and the difference matters to the client: a *problem* is an
//! answer the handler chose (404, 409, a 400 listing what is wrong with the input); a
//! *failure* is something that broke (the store, a bug). A problem reaches the client
//! as an RFC 9457 document with its status and detail; a failure reaches the client as
//! a bare 500 and the operator as a log line with the message.

use crate::bindings::exports::piston::handler::handler as wit;
use crate::bindings::piston::handler::types::{GuestError, Problem, Violation};
use crate::rc::Rc;
use std::fmt;

/// What a handler returns instead of a response. See the module docs.
///
/// `?` converts any `std::error::Error` into a failure, and any [`Rc`] code into a
/// problem: `store.get(key)?.ok_or(rc::NOT_FOUND)?`.
pub struct Error {
    kind: Kind,
}

enum Kind {
    Problem {
        status: u16,
        title: String,
        detail: Option<String>,
        violations: Vec<Violation>,
    },
    Failure {
        message: String,
    },
}

impl Error {
    /// A failure: the client gets a 500, the operator the message in the host log.
    pub fn failure(message: impl Into<String>) -> Error {
        Error {
            kind: Kind::Failure {
                message: message.into(),
            },
        }
    }

    /// Says what went wrong this time (a problem's `detail`). On a failure it is
    /// appended to the message.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Error {
        match &mut self.kind {
            Kind::Problem { detail: slot, .. } => *slot = Some(detail.into()),
            Kind::Failure { message } => {
                message.push_str(": ");
                message.push_str(&detail.into());
            }
        }
        self
    }

    /// Adds a field-level violation: a JSON Pointer into the request data (`/title`) and
    /// what is wrong with it. Ignored on a failure.
    pub fn with_violation(
        mut self,
        pointer: impl Into<String>,
        message: impl Into<String>,
    ) -> Error {
        if let Kind::Problem { violations, .. } = &mut self.kind {
            violations.push(Violation {
                pointer: pointer.into(),
                message: message.into(),
            });
        }
        self
    }

    /// The HTTP status this error answers with.
    pub fn status(&self) -> u16 {
        match &self.kind {
            Kind::Problem { status, .. } => *status,
            Kind::Failure { .. } => 500,
        }
    }

    /// Turns the error into what `handle` returns across the WIT boundary.
    pub(crate) fn into_wit(self) -> Result<wit::Response, GuestError> {
        match self.kind {
            Kind::Problem {
                status,
                title,
                detail,
                violations,
            } => Ok(wit::Response {
                status,
                headers: Vec::new(),
                body: wit::Body::Problem(Problem {
                    title,
                    detail,
                    violations,
                }),
            }),
            Kind::Failure { message } => Err(GuestError {
                message,
                trace: None,
            }),
        }
    }
}

/// Field-level problems collected while checking a request, answered together as one
/// 400 so the client can fix everything at once.
///
/// ```
/// use piston_guest::Violations;
///
/// let title = "";
/// let mut violations = Violations::new();
/// if title.is_empty() {
///     violations.add("/title", "must not be empty");
/// }
/// assert_eq!(violations.into_result("the post is not valid").unwrap_err().status(), 400);
/// ```
#[derive(Debug, Default)]
pub struct Violations {
    violations: Vec<Violation>,
}

impl Violations {
    /// No violations yet.
    pub fn new() -> Violations {
        Violations::default()
    }

    /// Records that the value at `pointer` (a JSON Pointer such as `/title`) is wrong.
    pub fn add(&mut self, pointer: impl Into<String>, message: impl Into<String>) {
        self.violations.push(Violation {
            pointer: pointer.into(),
            message: message.into(),
        });
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.violations.is_empty()
    }

    /// `Ok(())` when nothing was recorded, else a 400 problem with `detail` and every
    /// violation.
    pub fn into_result(self, detail: impl Into<String>) -> Result<(), Error> {
        if self.violations.is_empty() {
            return Ok(());
        }
        Err(Error {
            kind: Kind::Problem {
                status: crate::rc::BAD_REQUEST.status,
                title: crate::rc::BAD_REQUEST.title.to_owned(),
                detail: Some(detail.into()),
                violations: self.violations,
            },
        })
    }
}

impl From<Rc> for Error {
    fn from(code: Rc) -> Error {
        if code.is_success() {
            // A success code used as an error is a handler bug; say so rather than
            // sending a 2xx "problem".
            return Error::failure(format!(
                "handler returned success code {} as an error",
                code.status
            ));
        }
        Error {
            kind: Kind::Problem {
                status: code.status,
                title: code.title.to_owned(),
                detail: None,
                violations: Vec::new(),
            },
        }
    }
}

impl<E: std::error::Error> From<E> for Error {
    fn from(error: E) -> Error {
        let mut message = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        Error::failure(message)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Problem {
                status,
                title,
                detail,
                violations,
            } => f
                .debug_struct("Problem")
                .field("status", status)
                .field("title", title)
                .field("detail", detail)
                .field("violations", &violations.len())
                .finish(),
            Kind::Failure { message } => {
                f.debug_struct("Failure").field("message", message).finish()
            }
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Problem {
                status,
                title,
                detail: Some(detail),
                ..
            } => write!(f, "{status} {title}: {detail}"),
            Kind::Problem { status, title, .. } => write!(f, "{status} {title}"),
            Kind::Failure { message } => f.write_str(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::exports::piston::handler::handler::Body;
    use crate::rc;

    #[test]
    fn codes_become_problems_and_errors_become_failures() {
        let problem = rc::NOT_FOUND
            .detail("no such post")
            .into_wit()
            .expect("a response");
        assert_eq!(problem.status, 404);
        let Body::Problem(body) = problem.body else {
            panic!("not a problem body")
        };
        assert_eq!(body.title, "Not Found");
        assert_eq!(body.detail.as_deref(), Some("no such post"));

        let io = std::io::Error::other("disk on fire");
        let failure = Error::from(io).into_wit().expect_err("a guest error");
        assert_eq!(failure.message, "disk on fire");

        let misuse = Error::from(rc::CREATED);
        assert_eq!(misuse.status(), 500, "a success code is not an error");
    }

    #[test]
    fn violations_are_reported_together() {
        assert!(Violations::new().into_result("fine").is_ok());
        let mut violations = Violations::new();
        violations.add("/title", "must not be empty");
        violations.add("/slug", "must be lower-case");
        let response = violations
            .into_result("invalid")
            .unwrap_err()
            .into_wit()
            .unwrap();
        let Body::Problem(problem) = response.body else {
            panic!("not a problem body")
        };
        assert_eq!(response.status, 400);
        assert_eq!(problem.violations.len(), 2);
    }
}
