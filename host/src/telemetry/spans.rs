//! The spans of one request — the request itself, authentication, throttling, the
//! guest call and each store call — collected while it is served and handed to the
//! OTLP exporter when it is answered. Only made when `[telemetry] otlp_endpoint` is
//! set: otherwise nothing here runs but one task-local lookup a store call.

use super::trace::{TraceContext, new_span_id};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

/// The most child spans one request records: a guest calling its store in a loop
/// cannot make a trace, or the host's memory, grow without bound. The request's span
/// says how many more there were.
const MAX_CHILD_SPANS: usize = 256;

tokio::task_local! {
    /// The spans of the request the current task serves.
    static CURRENT: RequestSpans;
}

/// What a span is to its trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanKind {
    /// The request as the server received it.
    Server,
    /// A step of the host's own.
    Internal,
    /// A call out of the host (the store).
    Client,
}

/// A span attribute's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Attribute {
    /// Text.
    Text(String),
    /// A whole number.
    Int(i64),
}

/// One finished span.
#[derive(Debug, Clone)]
pub struct SpanRecord {
    /// What it was: `GET /posts/{slug}`, `authenticate`, `store get`...
    pub name: String,
    /// Its own id.
    pub span_id: u64,
    /// Its parent's id; 0 for none.
    pub parent_id: u64,
    /// Server, internal or client.
    pub kind: SpanKind,
    /// When it began.
    pub start: SystemTime,
    /// When it ended.
    pub end: SystemTime,
    /// What else is known.
    pub attributes: Vec<(&'static str, Attribute)>,
    /// Whether it failed.
    pub error: bool,
}

/// The spans of one trace a request made, finished.
#[derive(Debug)]
pub struct TraceBatch {
    /// The trace they belong to.
    pub trace_id: u128,
    /// The spans.
    pub spans: Vec<SpanRecord>,
}

/// The spans of one request, shared by its steps.
#[derive(Clone)]
pub struct RequestSpans {
    trace: TraceContext,
    /// The span new children hang under: the request's, or the step's they happen in.
    parent: u64,
    started: SystemTime,
    finished: Arc<Mutex<Finished>>,
}

/// The child spans ended so far, and how many were left out past the limit.
#[derive(Default)]
struct Finished {
    spans: Vec<SpanRecord>,
    left_out: i64,
}

impl RequestSpans {
    /// Begins collecting the spans of the request in `trace`; its own span starts now.
    pub fn new(trace: TraceContext) -> RequestSpans {
        RequestSpans {
            trace,
            parent: trace.span_id,
            started: SystemTime::now(),
            finished: Arc::new(Mutex::new(Finished::default())),
        }
    }

    /// Runs `future` with these spans as the current request's, so that the steps it
    /// takes (down to store calls made from guest code) can add theirs.
    pub async fn scope<F: Future>(self, future: F) -> F::Output {
        CURRENT.scope(self, future).await
    }

    /// Begins a span named `name` under the current parent.
    pub fn child(&self, name: &'static str, kind: SpanKind) -> SpanTimer {
        SpanTimer {
            spans: self.clone(),
            span_id: new_span_id(),
            name,
            kind,
            start: SystemTime::now(),
        }
    }

    /// The same request's spans, with new children hanging under `parent`.
    fn under(&self, parent: u64) -> RequestSpans {
        RequestSpans {
            parent,
            ..self.clone()
        }
    }

    /// Ends the request's own span and hands every span over, in the order they
    /// ended (the request's last).
    pub fn finish(
        self,
        name: String,
        mut attributes: Vec<(&'static str, Attribute)>,
        error: bool,
    ) -> TraceBatch {
        let Finished {
            mut spans,
            left_out,
        } = std::mem::take(&mut *self.finished.lock().unwrap_or_else(PoisonError::into_inner));
        if left_out > 0 {
            attributes.push(("piston.spans_left_out", Attribute::Int(left_out)));
        }
        spans.push(SpanRecord {
            name,
            span_id: self.trace.span_id,
            parent_id: self.trace.parent_id.unwrap_or(0),
            kind: SpanKind::Server,
            start: self.started,
            end: SystemTime::now(),
            attributes,
            error,
        });
        TraceBatch {
            trace_id: self.trace.trace_id,
            spans,
        }
    }
}

/// The spans of the request this task serves, if they are being collected.
pub fn current() -> Option<RequestSpans> {
    CURRENT.try_with(RequestSpans::clone).ok()
}

/// A child span under way: ended (and recorded) by [`SpanTimer::end`].
pub struct SpanTimer {
    spans: RequestSpans,
    span_id: u64,
    name: &'static str,
    kind: SpanKind,
    start: SystemTime,
}

impl SpanTimer {
    /// Ends the span now; `error` if what it timed failed.
    pub fn end(self, error: bool) {
        let record = SpanRecord {
            name: self.name.to_owned(),
            span_id: self.span_id,
            parent_id: self.spans.parent,
            kind: self.kind,
            start: self.start,
            end: SystemTime::now(),
            attributes: Vec::new(),
            error,
        };
        let mut finished = self
            .spans
            .finished
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if finished.spans.len() < MAX_CHILD_SPANS {
            finished.spans.push(record);
        } else {
            finished.left_out += 1;
        }
    }
}

/// Times `future` as a span `name` of the current request's, when spans are
/// collected, with the spans made meanwhile as its children; `failed` says from its
/// output whether it failed.
pub async fn timed<F: Future>(
    name: &'static str,
    kind: SpanKind,
    failed: impl FnOnce(&F::Output) -> bool,
    future: F,
) -> F::Output {
    let Some(spans) = current() else {
        return future.await;
    };
    let timer = spans.child(name, kind);
    let output = CURRENT.scope(spans.under(timer.span_id), future).await;
    timer.end(failed(&output));
    output
}
