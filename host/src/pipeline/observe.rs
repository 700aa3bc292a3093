//! What an answered request leaves for the operator: its metrics, its spans for the
//! OTLP exporter, and its access line.

use super::Refusal;
use crate::decode;
use crate::registry::RouteTarget;
use crate::telemetry::{self, Attribute, RequestSpans, TraceContext};
use axum::response::Response;
use http::HeaderMap;
use http::request::Parts;
use std::net::IpAddr;
use std::time::Duration;

/// What served a request: the resource it was routed to, and how long the guest took.
/// The steps fill it in as they go.
#[derive(Default)]
pub(super) struct Served {
    pub(super) target: Option<RouteTarget>,
    pub(super) guest: Option<Duration>,
}

impl Served {
    /// The plugin and resource names, empty when no resource was routed to.
    fn names(&self) -> (&str, &str) {
        match &self.target {
            Some(target) => (&target.plugin.spec.name, &target.resource().name),
            None => ("", ""),
        }
    }
}

/// One answered request, as the operator sees it.
pub(super) struct Answered<'a> {
    pub(super) parts: &'a Parts,
    pub(super) id: &'a str,
    /// The `traceparent` naming the request's span, as its answer carries it.
    pub(super) traceparent: &'a str,
    pub(super) client: IpAddr,
    pub(super) served: &'a Served,
    pub(super) response: &'a Response,
    pub(super) took: Duration,
    /// Its spans, when they are exported.
    pub(super) spans: Option<RequestSpans>,
    pub(super) access_log: bool,
}

/// Records an answered request: its metrics, its spans, its access line.
pub(super) fn answered(answered: Answered<'_>) {
    let Answered {
        parts,
        id,
        traceparent,
        client,
        served,
        response,
        took,
        spans,
        access_log,
    } = answered;
    let status = response.status().as_u16();
    if let Some(metrics) = telemetry::metrics() {
        let traffic = served
            .target
            .as_ref()
            .and_then(RouteTarget::traffic)
            .unwrap_or(metrics.unrouted());
        // A streamed body's bytes are counted as they are sent.
        let bytes = http_body::Body::size_hint(response.body())
            .exact()
            .unwrap_or(0);
        traffic.answered(&parts.method, status, took, bytes);
    }
    let (plugin, resource) = served.names();
    if let (Some(spans), Some(exporter)) = (spans, telemetry::exporter()) {
        let name = match served.target {
            Some(_) => format!("{} {plugin}/{resource}", parts.method),
            None => parts.method.to_string(),
        };
        let attributes = vec![
            (
                "http.request.method",
                Attribute::Text(parts.method.to_string()),
            ),
            ("url.path", Attribute::Text(parts.uri.path().to_owned())),
            ("http.response.status_code", Attribute::Int(status.into())),
            ("client.address", Attribute::Text(client.to_string())),
            ("piston.request_id", Attribute::Text(id.to_owned())),
            ("piston.plugin", Attribute::Text(plugin.to_owned())),
            ("piston.resource", Attribute::Text(resource.to_owned())),
        ];
        exporter.send(spans.finish(name, attributes, status >= 500));
    }
    if access_log {
        tracing::info!(
            target: "piston::access",
            request_id = id,
            trace_id = TraceContext::trace_id_in(traceparent),
            span_id = TraceContext::span_id_in(traceparent),
            method = %parts.method,
            path = parts.uri.path(),
            plugin,
            resource,
            status,
            duration_us = micros(took),
            guest_us = served.guest.map(micros),
            client = %client,
            "answered"
        );
    }
}

/// Whole microseconds: cheaper to write on every access line than a fraction.
fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

/// Counts a refusal its step's module does not count itself: rate limits, bodies that
/// do not decode or validate.
pub(super) fn count_refusal(refusal: &Refusal, served: &Served, headers: &HeaderMap) {
    let Some(metrics) = telemetry::metrics() else {
        return;
    };
    match refusal {
        Refusal::Throttled(_) => {
            if let Some(traffic) = served.target.as_ref().and_then(RouteTarget::traffic) {
                metrics.throttled(traffic);
            }
        }
        Refusal::Body(_) => metrics.undecodable(decode::format_label(headers)),
        Refusal::Invalid(_) => metrics.invalid(decode::format_label(headers)),
        _ => {}
    }
}
