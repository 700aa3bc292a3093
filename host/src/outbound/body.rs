//! An upstream's response body as the guest reads it: cut off with an error past the
//! call's byte cap or after too long a silence, and holding the request's place among
//! the call's concurrent requests until it is read or dropped.

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::{Instant, Sleep};
use wasmtime_wasi_http::Error;

/// A response body under the call's caps.
pub(super) struct CappedBody {
    incoming: Incoming,
    limit: u64,
    received: u64,
    /// How long the upstream may stay silent between frames, and the timer for it.
    silence: Option<(Duration, Pin<Box<Sleep>>)>,
    /// Told when the body is cut at the cap.
    on_cut: Option<Box<dyn FnOnce() + Send>>,
    /// Set once the body has failed: nothing more is read.
    failed: bool,
    /// The request's place among the call's concurrent requests.
    _permit: OwnedSemaphorePermit,
}

impl CappedBody {
    pub(super) fn new(
        incoming: Incoming,
        limit: u64,
        between_bytes: Option<Duration>,
        on_cut: Box<dyn FnOnce() + Send>,
        permit: OwnedSemaphorePermit,
    ) -> CappedBody {
        CappedBody {
            incoming,
            limit,
            received: 0,
            silence: between_bytes.map(|limit| (limit, Box::pin(tokio::time::sleep(limit)))),
            on_cut: Some(on_cut),
            failed: false,
            _permit: permit,
        }
    }
}

impl Body for CappedBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = self.get_mut();
        if this.failed {
            return Poll::Ready(None);
        }
        let frame = match Pin::new(&mut this.incoming).poll_frame(cx) {
            Poll::Pending => {
                if let Some((_, timer)) = &mut this.silence {
                    ready!(timer.as_mut().poll(cx));
                    this.failed = true;
                    return Poll::Ready(Some(Err(Error::ConnectionReadTimeout)));
                }
                return Poll::Pending;
            }
            Poll::Ready(frame) => frame,
        };
        if let Some((limit, timer)) = &mut this.silence {
            timer.as_mut().reset(Instant::now() + *limit);
        }
        let frame = match frame {
            None => return Poll::Ready(None),
            Some(Err(error)) => return Poll::Ready(Some(Err(Error::from(error)))),
            Some(Ok(frame)) => frame,
        };
        if let Some(data) = frame.data_ref() {
            this.received = this.received.saturating_add(data.len() as u64);
            if this.received > this.limit {
                this.failed = true;
                if let Some(cut) = this.on_cut.take() {
                    cut();
                }
                return Poll::Ready(Some(Err(Error::HttpResponseBodySize(Some(this.limit)))));
            }
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.failed || self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.incoming.size_hint()
    }
}
