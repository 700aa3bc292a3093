//! Exports request spans over OTLP/HTTP (protobuf) to a collector, from a thread of
//! its own: a request hands its spans over without waiting, a batch leaves every
//! second (or sooner when full), and when the collector is slow or down spans are
//! dropped, counted and logged, never queued without bound.

use super::settings::OtlpSettings;
use super::spans::{Attribute, SpanKind, SpanRecord, TraceBatch};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, Status, span, status,
};
use prost::Message;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

/// Spans waiting for the exporter thread, all requests together; a request whose
/// spans do not fit is dropped. At a few hundred bytes a span, a collector that never
/// answers holds at most some 16 MiB.
const QUEUED_SPANS: usize = 65_536;
/// Spans sent in one export at most.
const BATCH_SPANS: usize = 512;
/// How long spans wait for a batch to fill.
const BATCH_WAIT: Duration = Duration::from_secs(1);
/// How long the collector has to answer one export.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);

/// Hands finished requests' spans to the exporter thread.
pub struct Exporter {
    queue: Sender<TraceBatch>,
    queued: Arc<AtomicUsize>,
    dropped: AtomicU64,
}

static EXPORTER: OnceLock<Exporter> = OnceLock::new();

/// The exporter, when `[telemetry] otlp_endpoint` started one.
pub fn exporter() -> Option<&'static Exporter> {
    EXPORTER.get()
}

/// Starts exporting to the collector `settings` name, for the rest of the process.
pub fn start(settings: &OtlpSettings) -> Result<(), String> {
    let (queue, waiting) = crossbeam_channel::unbounded();
    let queued = Arc::new(AtomicUsize::new(0));
    let settings = settings.clone();
    let taken = queued.clone();
    std::thread::Builder::new()
        .name("piston-otlp".into())
        .spawn(move || export(&settings, &waiting, &taken))
        .map_err(|error| format!("cannot start the OTLP exporter: {error}"))?;
    let _ = EXPORTER.set(Exporter {
        queue,
        queued,
        dropped: AtomicU64::new(0),
    });
    Ok(())
}

impl Exporter {
    /// Queues one request's spans, or drops them when the queue is full.
    pub fn send(&self, batch: TraceBatch) {
        let spans = batch.spans.len();
        let admitted = self
            .queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |queued| {
                (queued + spans <= QUEUED_SPANS).then_some(queued + spans)
            })
            .is_ok();
        if admitted {
            // The exporter thread lives as long as the process: the send succeeds.
            let _ = self.queue.send(batch);
        } else {
            let dropped = self.dropped.fetch_add(1, Ordering::Relaxed);
            if dropped.is_power_of_two() || dropped == 0 {
                tracing::warn!(
                    "OTLP: the collector is not keeping up; {} requests' spans dropped so far",
                    dropped + 1
                );
            }
        }
    }
}

/// The exporter thread: batches spans and posts them until the process ends.
fn export(settings: &OtlpSettings, waiting: &Receiver<TraceBatch>, queued: &AtomicUsize) {
    let agent = ureq::Agent::config_builder()
        .timeout_global(Some(EXPORT_TIMEOUT))
        .http_status_as_error(false)
        .build()
        .new_agent();
    let mut failing = false;
    loop {
        let mut batches = Vec::new();
        let mut spans = 0;
        let deadline = Instant::now() + BATCH_WAIT;
        while spans < BATCH_SPANS {
            match waiting.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(batch) => {
                    spans += batch.spans.len();
                    queued.fetch_sub(batch.spans.len(), Ordering::AcqRel);
                    batches.push(batch);
                }
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
        if batches.is_empty() {
            continue;
        }
        let body = request(settings, batches).encode_to_vec();
        let outcome = agent
            .post(&settings.traces_url)
            .header("content-type", "application/x-protobuf")
            .send(&body[..]);
        let failure = match outcome {
            Ok(response) if response.status().is_success() => None,
            Ok(response) => Some(format!("it answered {}", response.status())),
            Err(error) => Some(error.to_string()),
        };
        match failure {
            Some(error) if !failing => {
                tracing::warn!(
                    "OTLP: cannot export spans to {}: {error}; spans are dropped until it answers",
                    settings.traces_url
                );
                failing = true;
            }
            None if failing => {
                tracing::info!("OTLP: {} answers again", settings.traces_url);
                failing = false;
            }
            _ => {}
        }
    }
}

/// One export request: the host as the resource, its spans under one scope.
fn request(settings: &OtlpSettings, batches: Vec<TraceBatch>) -> ExportTraceServiceRequest {
    let spans = batches
        .into_iter()
        .flat_map(|batch| {
            let trace_id = batch.trace_id.to_be_bytes().to_vec();
            batch
                .spans
                .into_iter()
                .map(move |record| span(&trace_id, record))
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    key_value(
                        "service.name",
                        Attribute::Text(settings.service_name.clone()),
                    ),
                    key_value(
                        "service.version",
                        Attribute::Text(env!("CARGO_PKG_VERSION").to_owned()),
                    ),
                ],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "piston".to_owned(),
                    version: env!("CARGO_PKG_VERSION").to_owned(),
                    ..Default::default()
                }),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn span(trace_id: &[u8], record: SpanRecord) -> Span {
    let kind = match record.kind {
        SpanKind::Server => span::SpanKind::Server,
        SpanKind::Internal => span::SpanKind::Internal,
        SpanKind::Client => span::SpanKind::Client,
    };
    Span {
        trace_id: trace_id.to_vec(),
        span_id: record.span_id.to_be_bytes().to_vec(),
        parent_span_id: if record.parent_id == 0 {
            Vec::new()
        } else {
            record.parent_id.to_be_bytes().to_vec()
        },
        name: record.name,
        kind: kind as i32,
        start_time_unix_nano: unix_nanos(record.start),
        end_time_unix_nano: unix_nanos(record.end),
        attributes: record
            .attributes
            .into_iter()
            .map(|(key, value)| key_value(key, value))
            .collect(),
        status: Some(Status {
            code: if record.error {
                status::StatusCode::Error
            } else {
                status::StatusCode::Unset
            } as i32,
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn key_value(key: &str, value: Attribute) -> KeyValue {
    let value = match value {
        Attribute::Text(text) => any_value::Value::StringValue(text),
        Attribute::Int(number) => any_value::Value::IntValue(number),
    };
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn unix_nanos(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
        })
}
