//! The host's Prometheus metrics, one registry a process, served in the OpenMetrics text
//! format on the admin listener's `/metrics`.
//!
//! Labels are bounded: plugin and resource names come from plugin specs, schemes from
//! the configured chains, formats and reasons from fixed lists; never a raw path, a
//! user id or an address. What a request records on the hot path was resolved when
//! its plugin loaded ([`ResourceTraffic`]), so counting a request is a few atomic
//! additions and no label lookup.

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Metric, Registry, Unit};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// A plugin or resource name, as a label.
type Name = Arc<str>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PluginLabels {
    plugin: Name,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResourceLabels {
    plugin: Name,
    resource: Name,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    plugin: Name,
    resource: Name,
    method: &'static str,
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DiscardLabels {
    plugin: Name,
    reason: Discard,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AuthLabels {
    scheme: Name,
    outcome: AuthOutcome,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FormatLabels {
    format: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StoreLabels {
    backend: &'static str,
    operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
    wasmtime: &'static str,
}

/// Why an instance was not returned to its pool.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)] // the label values, as Prometheus shows them
pub enum Discard {
    /// The guest trapped.
    trap,
    /// The guest ran past its deadline.
    timeout,
    /// The guest asked for more memory than its limit.
    memory,
    /// The guest handed over more than a call allows.
    oversize,
    /// The host gave up on the call (the client left, a stream was dropped).
    abandoned,
}

/// What authentication made of a request's credentials.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)] // the label values, as Prometheus shows them
pub enum AuthOutcome {
    /// A principal was established.
    admitted,
    /// The credentials were refused, or missing where they are needed.
    refused,
    /// The credentials or the address are over a failed-login limit.
    locked_out,
}

/// What became of a request a plugin sent out.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)] // the label values, as Prometheus shows them
pub enum OutboundOutcome {
    /// The upstream answered (whatever its status).
    answered,
    /// Its URL is not in the plugin's `allowed_outbound_hosts`.
    denied,
    /// Its host resolved only to internal addresses no entry names.
    prohibited,
    /// The call had already started as many requests as it may.
    limited,
    /// The answer's body was longer than the call's cap and was cut off.
    cut,
    /// It could not be sent or answered (DNS, connection, TLS, protocol, timeout).
    failed,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutboundLabels {
    plugin: Name,
    outcome: OutboundOutcome,
}

/// What became of one look at a plugin's registry source.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)] // the label values, as Prometheus shows them
pub enum PullOutcome {
    /// A new digest was pulled and written.
    pulled,
    /// The source still names what is on disk.
    unchanged,
    /// The source could not be resolved or pulled (the reason is its status).
    failed,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PullLabels {
    plugin: Name,
    outcome: PullOutcome,
}

/// The methods a request is counted under; anything else is `other`.
const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "other"];
/// The status classes a request is counted under.
const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// A histogram of durations from 100 µs to about 26 s.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 2.0, 19))
}

/// A family of duration histograms.
fn latency_family<S: Clone + std::hash::Hash + Eq>() -> Family<S, Histogram> {
    Family::new_with_constructor(latency_histogram)
}

/// Every family the host records, registered once.
pub struct Metrics {
    registry: Registry,
    per_resource: ResourceFamilies,
    instances_live: Family<PluginLabels, Gauge>,
    instances_idle: Family<PluginLabels, Gauge>,
    instances_created: Family<PluginLabels, Counter>,
    instances_discarded: Family<DiscardLabels, Counter>,
    instantiation: Family<PluginLabels, Histogram>,
    concurrency: Family<PluginLabels, Gauge>,
    concurrency_refusals: Family<PluginLabels, Counter>,
    auth: Family<AuthLabels, Counter>,
    outbound: Family<OutboundLabels, Counter>,
    pulls: Family<PullLabels, Counter>,
    throttle_refusals: Family<ResourceLabels, Counter>,
    decode_failures: Family<FormatLabels, Counter>,
    validation_failures: Family<FormatLabels, Counter>,
    store_operations: Family<StoreLabels, Counter>,
    store_errors: Family<StoreLabels, Counter>,
    coordination: Family<StoreLabels, Counter>,
    loads: Family<OutcomeLabels, Counter>,
    refused_updates: Counter,
    reload_duration: Histogram,
    compile_cache: Family<OutcomeLabels, Counter>,
    connections: Gauge,
    unrouted: Arc<ResourceTraffic>,
}

static METRICS: OnceLock<Metrics> = OnceLock::new();

/// Registers metrics and hands each back, to be kept and recorded into.
struct Registering<'a>(&'a mut Registry);

impl Registering<'_> {
    fn metric<M: Metric + Clone>(
        &mut self,
        name: &str,
        help: &str,
        unit: Option<Unit>,
        metric: M,
    ) -> M {
        match unit {
            Some(unit) => self.0.register_with_unit(name, help, unit, metric.clone()),
            None => self.0.register(name, help, metric.clone()),
        }
        metric
    }
}

/// The process's metrics, once [`enable`]d; `None` when the operator turned them off,
/// and then recording anything costs one atomic load.
pub fn metrics() -> Option<&'static Metrics> {
    METRICS.get()
}

/// Turns recording on for the rest of the process.
pub fn enable() -> &'static Metrics {
    METRICS.get_or_init(Metrics::new)
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::with_prefix("piston");
        let mut add = Registering(&mut registry);
        let requests = add.metric(
            "requests",
            "Requests answered, by plugin, resource, method and status class (no plugin: no resource matched)",
            None,
            Family::default(),
        );
        let request_duration = add.metric(
            "request_duration",
            "Time from a request's head to its answer's head, by plugin and resource",
            Some(Unit::Seconds),
            latency_family(),
        );
        let guest_duration = add.metric(
            "guest_call_duration",
            "Time spent in the guest's handle call, by plugin and resource",
            Some(Unit::Seconds),
            latency_family(),
        );
        let response_bytes = add.metric(
            "response",
            "Response body bytes sent, by plugin and resource",
            Some(Unit::Bytes),
            Family::default(),
        );
        let streams = add.metric(
            "streams_in_progress",
            "Streamed answers being sent now, by plugin and resource",
            None,
            Family::default(),
        );
        let instances_live = add.metric(
            "instances_live",
            "Instances alive, busy or idle, by plugin",
            None,
            Family::default(),
        );
        let instances_idle = add.metric(
            "instances_idle",
            "Warm instances waiting for a request, by plugin",
            None,
            Family::default(),
        );
        let instances_created = add.metric(
            "instances_created",
            "Instances started, by plugin",
            None,
            Family::default(),
        );
        let instances_discarded = add.metric(
            "instances_discarded",
            "Instances thrown away after a call that did not return normally, by plugin and reason",
            None,
            Family::default(),
        );
        let instantiation = add.metric(
            "instantiation_duration",
            "Time to start a new instance, by plugin",
            Some(Unit::Seconds),
            latency_family(),
        );
        let concurrency = add.metric(
            "concurrency_in_use",
            "Instances checked out for a call now, by plugin (at most its concurrency limit)",
            None,
            Family::default(),
        );
        let concurrency_refusals = add.metric(
            "concurrency_refusals",
            "Requests refused with 503 because every instance slot of the plugin was busy",
            None,
            Family::default(),
        );
        let auth = add.metric(
            "auth_outcomes",
            "Credentials checked, by authenticator (scheme) and outcome",
            None,
            Family::default(),
        );
        let outbound = add.metric(
            "outbound_requests",
            "Requests plugins sent out, by plugin and outcome (answered, denied, prohibited, limited, cut, failed; a body cut at the cap also counted as answered)",
            None,
            Family::default(),
        );
        let pulls = add.metric(
            "plugin_pulls",
            "Looks at plugins' registry sources, by plugin and outcome (pulled, unchanged, failed)",
            None,
            Family::default(),
        );
        let throttle_refusals = add.metric(
            "throttle_refusals",
            "Requests refused with 429 by a rate limit, by plugin and resource",
            None,
            Family::default(),
        );
        let decode_failures = add.metric(
            "body_decode_failures",
            "Request bodies that could not be read or decoded, by format",
            None,
            Family::default(),
        );
        let validation_failures = add.metric(
            "body_validation_failures",
            "Request bodies refused by their schema, by format",
            None,
            Family::default(),
        );
        let store_operations = add.metric(
            "store_operations",
            "Plugin store operations, by backend and operation",
            None,
            Family::default(),
        );
        let store_errors = add.metric(
            "store_errors",
            "Plugin store operations that failed, by backend and operation",
            None,
            Family::default(),
        );
        let coordination = add.metric(
            "coordination_round_trips",
            "Round trips to the coordination backend (throttle counters, failed logins, nonces), by backend and operation",
            None,
            Family::default(),
        );
        let loads = add.metric(
            "plugin_loads",
            "Plugin files loaded, by outcome (loaded, failed)",
            None,
            Family::default(),
        );
        let refused_updates = add.metric(
            "plugin_updates_refused",
            "New contents of a serving plugin's file refused while the old version keeps serving",
            None,
            Counter::default(),
        );
        let reload_duration = add.metric(
            "reload_duration",
            "Time to reload the plugin directory after a change",
            Some(Unit::Seconds),
            Histogram::new(exponential_buckets(0.001, 2.0, 16)),
        );
        let compile_cache = add.metric(
            "compile_cache",
            "Compile cache lookups, by outcome (hit, miss)",
            None,
            Family::default(),
        );
        let connections = add.metric(
            "open_connections",
            "Client connections open on the public listener",
            None,
            Gauge::default(),
        );
        registry.register(
            "build",
            "The running build",
            Info::new(BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
                wasmtime: env!("PISTON_WASMTIME_VERSION"),
            }),
        );
        registry.register_collector(Box::new(super::process::ProcessCollector));
        let per_resource = ResourceFamilies {
            requests,
            duration: request_duration,
            guest: guest_duration,
            bytes: response_bytes,
            streams,
        };
        Metrics {
            registry,
            unrouted: Arc::new(per_resource.resolve("", "")),
            per_resource,
            instances_live,
            instances_idle,
            instances_created,
            instances_discarded,
            instantiation,
            concurrency,
            concurrency_refusals,
            auth,
            outbound,
            pulls,
            throttle_refusals,
            decode_failures,
            validation_failures,
            store_operations,
            store_errors,
            coordination,
            loads,
            refused_updates,
            reload_duration,
            compile_cache,
            connections,
        }
    }

    /// The whole exposition, in the OpenMetrics text format.
    pub fn render(&self) -> String {
        let mut text = String::with_capacity(16 * 1024);
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String does not fail");
        text
    }

    /// What a resource's requests record, resolved once per loaded plugin.
    pub fn resource(&self, plugin: &str, resource: &str) -> Arc<ResourceTraffic> {
        Arc::new(self.per_resource.resolve(plugin, resource))
    }

    /// What requests no resource answered record (404 on an unknown path, the docs,
    /// OAuth endpoints).
    pub fn unrouted(&self) -> &Arc<ResourceTraffic> {
        &self.unrouted
    }

    /// What a plugin's instance pool records.
    pub fn pool(&self, plugin: &str) -> PoolMetrics {
        let labels = PluginLabels {
            plugin: plugin.into(),
        };
        PoolMetrics {
            live: self.instances_live.get_or_create_owned(&labels),
            idle: self.instances_idle.get_or_create_owned(&labels),
            created: self.instances_created.get_or_create_owned(&labels),
            instantiation: self.instantiation.get_or_create_owned(&labels),
            in_use: self.concurrency.get_or_create_owned(&labels),
            refusals: self.concurrency_refusals.get_or_create_owned(&labels),
            discarded: self.instances_discarded.clone(),
            plugin: labels.plugin,
        }
    }

    /// Counts one authentication outcome of the authenticator `scheme`.
    pub fn authenticated(&self, scheme: &str, outcome: AuthOutcome) {
        self.auth
            .get_or_create(&AuthLabels {
                scheme: scheme.into(),
                outcome,
            })
            .inc();
    }

    /// Counts one outbound request of `plugin`.
    pub fn outbound(&self, plugin: &str, outcome: OutboundOutcome) {
        self.outbound
            .get_or_create(&OutboundLabels {
                plugin: plugin.into(),
                outcome,
            })
            .inc();
    }

    /// Counts one look at the registry source of `plugin`.
    pub fn pull(&self, plugin: &str, outcome: PullOutcome) {
        self.pulls
            .get_or_create(&PullLabels {
                plugin: plugin.into(),
                outcome,
            })
            .inc();
    }

    /// Counts one request refused by a rate limit.
    pub fn throttled(&self, traffic: &ResourceTraffic) {
        self.throttle_refusals.get_or_create(&traffic.labels).inc();
    }

    /// Counts one body that could not be read or decoded, in `format`.
    pub fn undecodable(&self, format: &'static str) {
        self.decode_failures
            .get_or_create(&FormatLabels { format })
            .inc();
    }

    /// Counts one body its schema refused, in `format`.
    pub fn invalid(&self, format: &'static str) {
        self.validation_failures
            .get_or_create(&FormatLabels { format })
            .inc();
    }

    /// Counts one store operation, and whether it failed.
    pub fn store(&self, backend: &'static str, operation: &'static str, failed: bool) {
        let labels = StoreLabels { backend, operation };
        self.store_operations.get_or_create(&labels).inc();
        if failed {
            self.store_errors.get_or_create(&labels).inc();
        }
    }

    /// Counts one round trip to the coordination backend.
    pub fn coordinated(&self, backend: &'static str, operation: &'static str) {
        self.coordination
            .get_or_create(&StoreLabels { backend, operation })
            .inc();
    }

    /// Counts one plugin file loaded (or not).
    pub fn loaded(&self, ok: bool) {
        let outcome = if ok { "loaded" } else { "failed" };
        self.loads.get_or_create(&OutcomeLabels { outcome }).inc();
    }

    /// Counts one refused update of a serving plugin.
    pub fn update_refused(&self) {
        self.refused_updates.inc();
    }

    /// Records how long one reload took.
    pub fn reloaded(&self, took: Duration) {
        self.reload_duration.observe(took.as_secs_f64());
    }

    /// Counts one compile cache lookup.
    pub fn compile_cache(&self, hit: bool) {
        let outcome = if hit { "hit" } else { "miss" };
        self.compile_cache
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    /// An open connection, counted until the guard is dropped.
    pub fn connection(&self) -> Held {
        Held::raise(&self.connections)
    }
}

/// One unit of a gauge (an open connection, a stream in progress), held until dropped.
pub struct Held(Gauge);

impl Held {
    fn raise(gauge: &Gauge) -> Held {
        gauge.inc();
        Held(gauge.clone())
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// What one resource's requests record: its series, resolved once. Request counters
/// are resolved on first use, so a resource shows only the methods and classes it saw.
pub struct ResourceTraffic {
    labels: ResourceLabels,
    requests: Family<RequestLabels, Counter>,
    counted: [[OnceLock<Counter>; CLASSES.len()]; METHODS.len()],
    duration: Histogram,
    guest: Histogram,
    bytes: Counter,
    streams: Gauge,
}

/// The families every resource has series in.
struct ResourceFamilies {
    requests: Family<RequestLabels, Counter>,
    duration: Family<ResourceLabels, Histogram>,
    guest: Family<ResourceLabels, Histogram>,
    bytes: Family<ResourceLabels, Counter>,
    streams: Family<ResourceLabels, Gauge>,
}

impl ResourceFamilies {
    /// The series of `resource` of `plugin`.
    fn resolve(&self, plugin: &str, resource: &str) -> ResourceTraffic {
        let labels = ResourceLabels {
            plugin: plugin.into(),
            resource: resource.into(),
        };
        ResourceTraffic {
            requests: self.requests.clone(),
            counted: Default::default(),
            duration: self.duration.get_or_create_owned(&labels),
            guest: self.guest.get_or_create_owned(&labels),
            bytes: self.bytes.get_or_create_owned(&labels),
            streams: self.streams.get_or_create_owned(&labels),
            labels,
        }
    }
}

impl ResourceTraffic {
    /// Counts one answered request, its duration and the body bytes known now.
    pub fn answered(&self, method: &http::Method, status: u16, took: Duration, bytes: u64) {
        let method = match METHODS.iter().position(|known| *known == method.as_str()) {
            Some(index) => index,
            None => METHODS.len() - 1,
        };
        let class = usize::from((status / 100).clamp(1, 5) - 1);
        self.counted[method][class]
            .get_or_init(|| {
                self.requests.get_or_create_owned(&RequestLabels {
                    plugin: self.labels.plugin.clone(),
                    resource: self.labels.resource.clone(),
                    method: METHODS[method],
                    status: CLASSES[class],
                })
            })
            .inc();
        self.duration.observe(took.as_secs_f64());
        if bytes > 0 {
            self.bytes.inc_by(bytes);
        }
    }

    /// Records one guest call's duration.
    pub fn guest_call(&self, took: Duration) {
        self.guest.observe(took.as_secs_f64());
    }

    /// Counts body bytes sent after the answer's head (a stream's).
    pub fn sent(&self, bytes: u64) {
        self.bytes.inc_by(bytes);
    }

    /// A stream in progress, counted until the guard is dropped.
    pub fn stream(&self) -> Held {
        Held::raise(&self.streams)
    }
}

/// What one plugin's instance pool records.
pub struct PoolMetrics {
    plugin: Name,
    live: Gauge,
    idle: Gauge,
    created: Counter,
    instantiation: Histogram,
    in_use: Gauge,
    refusals: Counter,
    discarded: Family<DiscardLabels, Counter>,
}

impl PoolMetrics {
    /// A new instance started after `took`.
    pub fn created(&self, took: Duration) {
        self.created.inc();
        self.live.inc();
        self.instantiation.observe(took.as_secs_f64());
    }

    /// An instance ended: thrown away for `reason`, or simply not kept (`None`).
    pub fn ended(&self, reason: Option<Discard>) {
        self.live.dec();
        if let Some(reason) = reason {
            self.discarded
                .get_or_create(&DiscardLabels {
                    plugin: self.plugin.clone(),
                    reason,
                })
                .inc();
        }
    }

    /// `count` warm instances ended with their pool.
    pub fn retired(&self, count: usize) {
        let count = i64::try_from(count).unwrap_or(i64::MAX);
        self.live.dec_by(count);
        self.idle.dec_by(count);
    }

    /// An instance went back to the pool (`true`) or out of it (`false`).
    pub fn idle(&self, parked: bool) {
        if parked {
            self.idle.inc();
        } else {
            self.idle.dec();
        }
    }

    /// An instance slot was taken (`true`) or given back (`false`).
    pub fn in_use(&self, taken: bool) {
        if taken {
            self.in_use.inc();
        } else {
            self.in_use.dec();
        }
    }

    /// A request found every slot busy.
    pub fn refused(&self) {
        self.refusals.inc();
    }
}
