//! The `wasi:http` hooks of one instance: every request its calls send passes the
//! plugin's allowlist, the call's caps and the address check here.

use super::OutboundPolicy;
use super::allowlist::{Host, Target};
use super::body::CappedBody;
use super::send::send;
use crate::telemetry::OutboundOutcome;
use http_body_util::BodyExt;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tokio::sync::Semaphore;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

/// What `send_request` hands back to `wasi:http`: the response, and the rest of the
/// connection to drive while its body is read.
type Sending = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), Error>> + Send>,
                ),
                Error,
            >,
        > + Send,
>;

/// One instance's outbound requests: started, counted per call; in flight, counted
/// for the instance, so that responses a guest keeps open from one call to the next
/// hold their places (a guest hoarding connections waits, then times out, and the
/// discarded instance closes them all).
pub struct OutboundCall {
    /// The plugin's policy; `None` (nothing allowed) while it is being described.
    policy: Option<Arc<OutboundPolicy>>,
    /// Requests the current call has started.
    started: u32,
    /// Places for requests in flight.
    in_flight: Arc<Semaphore>,
}

impl OutboundCall {
    /// The hooks of an instance of a plugin with `policy`.
    pub fn new(policy: Option<Arc<OutboundPolicy>>) -> OutboundCall {
        let concurrency = policy
            .as_ref()
            .map_or(1, |policy| policy.limits.concurrency);
        OutboundCall {
            policy,
            started: 0,
            in_flight: Arc::new(Semaphore::new(concurrency as usize)),
        }
    }

    /// A call starts: its count of requests starts afresh.
    pub fn begin(&mut self) {
        self.started = 0;
    }

    /// Checks what can be checked before anything goes out: the allowlist and the
    /// request count.
    fn admit(&mut self, uri: &http::Uri) -> Result<(Arc<OutboundPolicy>, Target), Error> {
        let Some(policy) = &self.policy else {
            return Err(Error::HttpRequestDenied);
        };
        let Some(target) = Target::of(uri) else {
            count(policy, OutboundOutcome::denied);
            return Err(Error::HttpRequestUriInvalid);
        };
        if !policy.allowlist.admits(&target) {
            count(policy, OutboundOutcome::denied);
            tracing::debug!(
                plugin = &*policy.plugin,
                %target,
                "an outbound request was refused: its allowed_outbound_hosts do not list it"
            );
            return Err(Error::HttpRequestDenied);
        }
        self.started = self.started.saturating_add(1);
        if self.started > policy.limits.requests {
            count(policy, OutboundOutcome::limited);
            return Err(Error::ConnectionLimitReached);
        }
        Ok((policy.clone(), target))
    }
}

impl WasiHttpHooks for OutboundCall {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _request_sent: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> Sending {
        let (policy, target) = match self.admit(request.uri()) {
            Ok(admitted) => admitted,
            Err(error) => return Box::new(async move { Err(error) }),
        };
        let in_flight = self.in_flight.clone();
        Box::new(async move {
            let sent = async {
                let permit = in_flight
                    .acquire_owned()
                    .await
                    .map_err(|_| Error::ConnectionLimitReached)?;
                let addresses = resolve(&policy, &target).await?;
                let options = options.unwrap_or_default();
                let (response, connection) = send(
                    request,
                    &target,
                    &addresses,
                    options.connect_timeout,
                    options.first_byte_timeout,
                )
                .await?;
                let limit = policy.limits.response_bytes;
                let declared = response
                    .headers()
                    .get(http::header::CONTENT_LENGTH)
                    .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
                if declared.is_some_and(|length| length > limit) {
                    return Err(Error::HttpResponseBodySize(Some(limit)));
                }
                let cut = {
                    let policy = policy.clone();
                    Box::new(move || count(&policy, OutboundOutcome::cut))
                };
                let response = response.map(|incoming| {
                    CappedBody::new(incoming, limit, options.between_bytes_timeout, cut, permit)
                        .boxed_unsync()
                });
                Ok((response, connection))
            };
            match sent.await {
                Ok((response, connection)) => {
                    count(&policy, OutboundOutcome::answered);
                    let connection: Box<dyn Future<Output = Result<(), Error>> + Send> =
                        Box::new(connection);
                    Ok((response, connection))
                }
                Err(error) => {
                    count(&policy, outcome_of(&error));
                    tracing::debug!(
                        plugin = &*policy.plugin,
                        %target,
                        %error,
                        "an outbound request failed"
                    );
                    Err(error)
                }
            }
        })
    }
}

/// The addresses a request for `target` may connect to: those its host resolves to
/// that the allowlist lets it reach.
async fn resolve(policy: &OutboundPolicy, target: &Target) -> Result<Vec<SocketAddr>, Error> {
    let resolved: Vec<IpAddr> = match &target.host {
        Host::Address(ip) => vec![*ip],
        Host::Name(name) => tokio::net::lookup_host((name.as_str(), target.port))
            .await
            .map_err(|error| Error::DnsError {
                rcode: Some(error.to_string()),
                info_code: None,
            })?
            .map(|address| address.ip())
            .collect(),
    };
    let reachable: Vec<SocketAddr> = resolved
        .iter()
        .filter(|ip| policy.allowlist.reaches(target, **ip))
        .map(|ip| SocketAddr::new(*ip, target.port))
        .collect();
    match (reachable.is_empty(), resolved.is_empty()) {
        (false, _) => Ok(reachable),
        (true, true) => Err(Error::DestinationNotFound),
        (true, false) => Err(Error::DestinationIpProhibited),
    }
}

/// How a failed request is counted.
fn outcome_of(error: &Error) -> OutboundOutcome {
    match error {
        Error::DestinationIpProhibited => OutboundOutcome::prohibited,
        Error::HttpResponseBodySize(_) => OutboundOutcome::cut,
        _ => OutboundOutcome::failed,
    }
}

fn count(policy: &OutboundPolicy, outcome: OutboundOutcome) {
    if let Some(metrics) = crate::telemetry::metrics() {
        metrics.outbound(&policy.plugin, outcome);
    }
}
