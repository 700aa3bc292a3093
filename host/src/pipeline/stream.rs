//! Streamed answers: items pulled from the guest a batch at a time and emitted as they
//! come.

use super::refusal::{Refusal, trace_suffix};
use crate::emit::Negotiated;
use crate::emit::{self, ItemWriter, View};
use crate::fields::{FieldFilter, UriTemplate};
use crate::registry::RouteTarget;
use crate::runtime::{Checkout, ResourceAny};
use crate::telemetry::ResourceTraffic;
use axum::body::Body;
use bytes::Bytes;
use std::sync::Arc;
use tokio::sync::mpsc::Sender;

/// How many items a stream hands over per call.
const BATCH: u32 = 64;

/// What a stream's items are shown through, owned by the task that emits them.
pub(super) struct StreamView {
    pub(super) filter: FieldFilter,
    pub(super) uri: Option<(UriTemplate, Arc<str>)>,
}

impl StreamView {
    fn view(&self) -> View<'_> {
        View {
            filter: &self.filter,
            uri: self
                .uri
                .as_ref()
                .map(|(template, base)| (template, &**base)),
        }
    }
}

/// A streamed body: a task pulls batches from the guest, filters and emits them, at
/// most two chunks ahead of the client, so memory stays flat however long the stream
/// is. The first batch is pulled before the answer's head is sent, so a guest (or its
/// store) that fails at once gets the client an error status rather than a cut body.
/// If the guest fails midway, the response is cut off: the client sees an incomplete
/// body, never a well-formed but truncated one. A client that stops reading is dropped
/// by the connection's send timeout, which ends the stream and frees the instance.
pub(super) async fn body(
    target: RouteTarget,
    mut instance: Checkout,
    stream: ResourceAny,
    format: Negotiated,
    view: StreamView,
    request_id: String,
) -> Result<Body, Refusal> {
    let plugin = || target.plugin.spec.name.clone();
    let first = match instance.next_items(stream, BATCH).await {
        Ok(Ok(batch)) => match check_batch(&batch, instance.output_bytes()) {
            Ok(()) => batch,
            Err(reason) => {
                let _ = instance.drop_stream(stream).await;
                return Err(Refusal::Malformed {
                    plugin: plugin(),
                    reason,
                });
            }
        },
        Ok(Err(error)) => {
            let _ = instance.drop_stream(stream).await;
            return Err(Refusal::Guest {
                plugin: plugin(),
                error,
            });
        }
        Err(error) => {
            if instance.is_sound() {
                let _ = instance.drop_stream(stream).await;
            }
            return Err(Refusal::Call {
                plugin: plugin(),
                error,
            });
        }
    };
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(2);
    let counted = target.clone();
    tokio::spawn(async move {
        let _in_progress = target.traffic().map(ResourceTraffic::stream);
        let mut writer = format.emitter.items(format.options);
        let outcome = pump(
            &mut instance,
            stream,
            first,
            writer.as_mut(),
            &view.view(),
            &sender,
        )
        .await;
        let reusable = match outcome {
            Ok(()) => true,
            Err(abort) => {
                tracing::error!(
                    request_id,
                    plugin = target.plugin.spec.name,
                    "stream aborted: {}",
                    abort.reason
                );
                let _ = sender
                    .send(Err(std::io::Error::other("plugin failed")))
                    .await;
                abort.reusable
            }
        };
        if reusable {
            // A failed drop leaves the instance unsound: the checkout discards it.
            let _ = instance.drop_stream(stream).await;
        } else {
            instance.discard();
        }
    });
    Ok(Body::from_stream(futures_util::stream::unfold(
        (receiver, counted),
        |(mut receiver, counted)| async move {
            let chunk = receiver.recv().await?;
            if let (Ok(bytes), Some(traffic)) = (&chunk, counted.traffic()) {
                traffic.sent(bytes.len() as u64);
            }
            Some((chunk, (receiver, counted)))
        },
    )))
}

/// Whether a batch keeps to what was asked: at most [`BATCH`] items, at most
/// `output_bytes` in all; else what is wrong with it.
fn check_batch(batch: &[String], output_bytes: usize) -> Result<(), String> {
    if batch.len() > BATCH as usize {
        return Err(format!(
            "the plugin returned {} items when asked for {BATCH}",
            batch.len()
        ));
    }
    let bytes: usize = batch.iter().map(String::len).sum();
    if bytes > output_bytes {
        return Err(format!(
            "the plugin returned a batch of {bytes} bytes (limits.response_bytes is {output_bytes})"
        ));
    }
    Ok(())
}

/// Why a stream was cut short.
struct Abort {
    reason: String,
    /// Whether the instance is still sound (the guest failed politely rather than
    /// trapping or timing out).
    reusable: bool,
}

/// Moves items from the guest to the client, `first` the batch already pulled, until
/// the stream ends, the client goes away, or something fails.
async fn pump(
    instance: &mut Checkout,
    stream: ResourceAny,
    first: Vec<String>,
    writer: &mut dyn ItemWriter,
    view: &View<'_>,
    sender: &Sender<Result<Bytes, std::io::Error>>,
) -> Result<(), Abort> {
    let polite = |reason: String| Abort {
        reason,
        reusable: true,
    };
    let mut chunk = Vec::new();
    writer
        .begin(&mut chunk)
        .map_err(|error| polite(error.to_string()))?;
    let mut first = Some(first);
    loop {
        let pulled = match first.take() {
            Some(batch) => Ok(Ok(batch)),
            None => instance.next_items(stream, BATCH).await,
        };
        let batch = match pulled {
            Ok(Ok(batch)) => batch,
            Ok(Err(error)) => {
                return Err(polite(format!(
                    "{}{}",
                    error.message,
                    trace_suffix(error.trace.as_deref())
                )));
            }
            Err(error) => {
                return Err(Abort {
                    reason: error.to_string(),
                    reusable: false,
                });
            }
        };
        if batch.is_empty() {
            writer
                .finish(&mut chunk)
                .map_err(|error| polite(error.to_string()))?;
            let _ = sender.send(Ok(Bytes::from(chunk))).await;
            return Ok(());
        }
        check_batch(&batch, instance.output_bytes()).map_err(polite)?;
        emit::batch(writer, &batch, view, &mut chunk).map_err(|error| polite(error.to_string()))?;
        if sender
            .send(Ok(Bytes::from(std::mem::take(&mut chunk))))
            .await
            .is_err()
        {
            // The client went away; the guest did nothing wrong.
            return Ok(());
        }
    }
}
