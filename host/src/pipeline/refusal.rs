//! Why a request was refused, step by step, and the one place a refusal becomes the
//! problem document the client reads.
//!
//! Steps whose modules already answer with a problem of their own (authentication
//! carries its challenges, throttling its `Retry-After`, body decoding the position of
//! the error, validation the violations) hand it through unchanged; the pipeline's own
//! steps say what went wrong as data, and only [`From<Refusal> for Problem`] words it.

use crate::fields::FieldError;
use crate::problem::Problem;
use crate::runtime::{CallError, CheckoutError, wit};
use crate::vocab::MethodSet;
use http::header::{ALLOW, RETRY_AFTER};
use http::{HeaderValue, StatusCode};

/// A request the pipeline will not carry further.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// The query string passes the guest more parameters than it may.
    TooManyQueryParameters { max: usize },
    /// No resource is served at the path.
    NotFound { path: String },
    /// The resource does not allow the method.
    MethodNotAllowed {
        method: http::Method,
        allowed: MethodSet,
    },
    /// No output format the client accepts (or a bad `?indent=`).
    Format(Problem),
    /// Authentication or throttling said no.
    Admission(Problem),
    /// `?fields=` / `?exclude=` cannot be applied.
    Fields(FieldError),
    /// The body could not be read or decoded.
    Body(Problem),
    /// The body does not match the method's schema.
    Invalid(Problem),
    /// A path parameter is not UTF-8 once percent-decoded.
    PathParameter { name: String },
    /// No instance could serve the request.
    Checkout {
        plugin: String,
        error: CheckoutError,
    },
    /// The guest trapped, ran out of time or memory, or returned too much.
    Call { plugin: String, error: CallError },
    /// The guest reported an error of its own.
    Guest {
        plugin: String,
        error: wit::GuestError,
    },
    /// The guest's answer cannot be sent as it is.
    Answer(Problem),
}

impl From<Refusal> for Problem {
    fn from(refusal: Refusal) -> Problem {
        match refusal {
            Refusal::TooManyQueryParameters { max } => Problem::new(StatusCode::BAD_REQUEST)
                .detail(format!("the query string has more than {max} parameters")),
            Refusal::NotFound { path } => Problem::new(StatusCode::NOT_FOUND)
                .detail(format!("no resource is served at `{path}`")),
            Refusal::MethodNotAllowed { method, allowed } => {
                let allow = allowed.allow_header();
                Problem::new(StatusCode::METHOD_NOT_ALLOWED)
                    .detail(format!("{method} is not allowed here; allowed: {allow}"))
                    .header(
                        ALLOW,
                        HeaderValue::from_str(&allow)
                            .unwrap_or(HeaderValue::from_static("OPTIONS")),
                    )
            }
            Refusal::Fields(error) => {
                Problem::new(StatusCode::BAD_REQUEST).detail(error.to_string())
            }
            Refusal::PathParameter { name } => Problem::new(StatusCode::BAD_REQUEST).detail(
                format!("path parameter `{name}` is not valid UTF-8 once percent-decoded"),
            ),
            Refusal::Checkout { plugin, error } => match error {
                CheckoutError::Busy(limit) => Problem::new(StatusCode::SERVICE_UNAVAILABLE)
                    .detail("the handler is busy; try again shortly")
                    .header(RETRY_AFTER, HeaderValue::from_static("1"))
                    .cause(format!(
                        "plugin `{plugin}` has all {limit} of its instances busy (limits.concurrency)"
                    )),
                CheckoutError::Start(error) => Problem::new(StatusCode::SERVICE_UNAVAILABLE)
                    .detail("the handler could not be started")
                    .cause(format!("plugin `{plugin}` cannot be instantiated: {error}")),
            },
            Refusal::Call { plugin, error } => match error {
                CallError::Timeout(_) => Problem::new(StatusCode::SERVICE_UNAVAILABLE)
                    .detail("the handler did not answer in time")
                    .cause(format!("plugin `{plugin}`: {error}")),
                CallError::Trap(_) | CallError::Memory(_) | CallError::TooMuchData(_) => {
                    Problem::new(StatusCode::INTERNAL_SERVER_ERROR)
                        .detail("the handler failed")
                        .cause(format!("plugin `{plugin}`: {error}"))
                }
            },
            Refusal::Guest { plugin, error } => Problem::new(StatusCode::INTERNAL_SERVER_ERROR)
                .detail("the handler failed")
                .cause(format!(
                    "plugin `{plugin}` reported an error: {}{}",
                    error.message,
                    trace_suffix(error.trace.as_deref())
                )),
            Refusal::Format(problem)
            | Refusal::Admission(problem)
            | Refusal::Body(problem)
            | Refusal::Invalid(problem)
            | Refusal::Answer(problem) => problem,
        }
    }
}

/// A guest's trace for a log line: escaped onto the same line, so that one log line is
/// one event however many lines the traceback has.
pub(super) fn trace_suffix(trace: Option<&str>) -> String {
    trace
        .map(|trace| format!("; trace: {trace:?}"))
        .unwrap_or_default()
}
