//! The request body, read at most once: by authentication when an OAuth 1.0a form
//! carries the signature parameters, else by the decode step; and drained, if nobody
//! read it, when the request is refused.

use crate::decode::{self, BodyError, BodyLimits};
use axum::body::Body;
use http::HeaderMap;

/// A request's body and what has become of it.
pub(super) struct RequestBody {
    state: State,
    limits: BodyLimits,
}

enum State {
    Unread(Body),
    Read(Vec<u8>),
    Taken,
}

impl RequestBody {
    pub(super) fn new(body: Body, limits: BodyLimits) -> RequestBody {
        RequestBody {
            state: State::Unread(body),
            limits,
        }
    }

    /// The whole body, read within its limits the first time it is asked for.
    pub(super) async fn read(&mut self, headers: &HeaderMap) -> Result<&[u8], BodyError> {
        if let State::Unread(_) = self.state
            && let State::Unread(body) = std::mem::replace(&mut self.state, State::Taken)
        {
            self.state = State::Read(decode::read_body(headers, body, self.limits).await?);
        }
        match &self.state {
            State::Read(bytes) => Ok(bytes),
            State::Unread(_) | State::Taken => Ok(&[]),
        }
    }

    /// The whole body, read if it was not yet, for the decoder to own.
    pub(super) async fn take(&mut self, headers: &HeaderMap) -> Result<Vec<u8>, BodyError> {
        self.read(headers).await?;
        match std::mem::replace(&mut self.state, State::Taken) {
            State::Read(bytes) => Ok(bytes),
            State::Unread(_) | State::Taken => Ok(Vec::new()),
        }
    }

    /// The body as it came, for an endpoint that reads it its own way (empty if it was
    /// read already).
    pub(super) fn take_unread(&mut self) -> Body {
        match std::mem::replace(&mut self.state, State::Taken) {
            State::Unread(body) => body,
            read => {
                self.state = read;
                Body::empty()
            }
        }
    }

    /// Reads what the client is still sending of a body nobody read, so that it gets
    /// the answer (not a reset connection) and can send its next request on the same
    /// connection — a Digest client repeats its PUT after the first 401.
    pub(super) async fn discard_unread(self, headers: &HeaderMap) {
        if let State::Unread(body) = self.state {
            decode::discard(headers, body, self.limits).await;
        }
    }
}
