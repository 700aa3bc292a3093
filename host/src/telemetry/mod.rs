//! What an operator sees of a running host: Prometheus metrics, log lines in text or
//! JSON with one access line a request, W3C trace context, and request spans exported
//! over OTLP when a collector is configured.

mod logging;
mod metrics;
mod otlp;
mod process;
pub(crate) mod settings;
mod spans;
mod trace;

pub use self::logging::{LogFormat, init as init_logging};
pub use self::metrics::{
    AuthOutcome, Discard, Metrics, OutboundOutcome, PoolMetrics, PullOutcome, ResourceTraffic,
    enable, metrics,
};
pub use self::otlp::{exporter, start as start_export};
pub use self::spans::{Attribute, RequestSpans, SpanKind, current as current_spans, timed};
pub use self::trace::{TRACEPARENT, TraceContext};
