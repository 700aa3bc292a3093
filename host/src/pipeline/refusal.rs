//! Why a request was refused, step by step, and the one place a refusal becomes the
//! problem document the client reads.
//!
//! Every step says what went wrong as data: the pipeline's own steps with a variant
//! here, the steps other modules own with their module's error (authentication's
//! [`Denied`] carries its challenges, throttling's [`Throttled`] its wait, the body's
//! [`BodyError`] where decoding failed, validation's [`Invalid`] the violations), which
//! that module words. [`From<Refusal> for Problem`] is where all of them are turned
//! into the problem the client reads, once, when the request is answered.

use crate::auth::Denied;
use crate::decode::BodyError;
use crate::fields::FieldError;
use crate::negotiate::FormatError;
use crate::problem::{FieldError as Violation, Problem};
use crate::runtime::{CallError, CheckoutError, wit};
use crate::throttle::Throttled;
use crate::validate::Invalid;
use crate::vocab::MethodSet;
use http::header::{ALLOW, RETRY_AFTER};
use http::{HeaderMap, HeaderValue, StatusCode};

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
    Format(FormatError),
    /// Authentication said no.
    Denied(Denied),
    /// Throttling said no.
    Throttled(Throttled),
    /// `?fields=` / `?exclude=` cannot be applied.
    Fields(FieldError),
    /// The body could not be read or decoded.
    Body(BodyError),
    /// The body does not match the method's schema.
    Invalid(Invalid),
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
    /// The guest's answer breaks the contract and cannot be sent as it is.
    Malformed { plugin: String, reason: String },
    /// An OAuth 1.0a endpoint refused the request, in its own words.
    Endpoint(Problem),
    /// The guest answered with a problem of its own, written like the host's.
    GuestProblem(Box<GuestProblem>),
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
                // No cause: the outage is logged once, when the store stops answering.
                CallError::StoreUnavailable(_) => Problem::new(StatusCode::SERVICE_UNAVAILABLE)
                    .detail("the handler's data cannot be reached right now; try again shortly")
                    .header(RETRY_AFTER, crate::reachability::retry_after()),
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
            Refusal::Format(error) => error.into(),
            Refusal::Denied(denied) => denied.into(),
            Refusal::Throttled(throttled) => throttled.into(),
            Refusal::Body(error) => error.into(),
            Refusal::Invalid(invalid) => invalid.into(),
            Refusal::Malformed { plugin, reason } => {
                Problem::new(StatusCode::INTERNAL_SERVER_ERROR)
                    .detail("the handler's response is malformed")
                    .cause(format!(
                        "plugin `{plugin}` answered with a malformed response: {reason}"
                    ))
            }
            Refusal::GuestProblem(answer) => answer.into_problem(),
            Refusal::Endpoint(problem) => problem,
        }
    }
}

/// A problem the guest chose to answer with: its status, the problem and its headers.
#[derive(Debug)]
pub(crate) struct GuestProblem {
    pub(super) status: StatusCode,
    pub(super) problem: wit::Problem,
    pub(super) headers: HeaderMap,
}

impl GuestProblem {
    fn into_problem(self) -> Problem {
        let GuestProblem {
            status,
            problem,
            headers,
        } = self;
        let errors = problem
            .violations
            .into_iter()
            .map(|violation| Violation {
                pointer: violation.pointer,
                detail: violation.message,
            })
            .collect();
        let mut answer = Problem::new(status).title(problem.title).errors(errors);
        if let Some(detail) = problem.detail {
            answer = answer.detail(detail);
        }
        headers
            .into_iter()
            .filter_map(|(name, value)| Some((name?, value)))
            .fold(answer, |answer, (name, value)| answer.header(name, value))
    }
}

/// A guest's trace for a log line: escaped onto the same line, so that one log line is
/// one event however many lines the traceback has.
pub(super) fn trace_suffix(trace: Option<&str>) -> String {
    trace
        .map(|trace| format!("; trace: {trace:?}"))
        .unwrap_or_default()
}
