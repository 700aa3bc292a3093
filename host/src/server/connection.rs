//! One client connection's clocks: how long it may take to send a request head, how
//! long it may sit idle between requests, and how long it may stall reading an answer.
//!
//! hyper's own header timer starts when a connection becomes idle, so it cannot tell a
//! slow request head from a quiet keep-alive connection; and it has no write timeout.
//! [`Timed`] wraps the socket and keeps the three apart, using [`Activity`], which the
//! service updates as requests start and their answers finish:
//!
//! - a new connection must send its first request head within `header_timeout`;
//! - between requests, a connection may stay silent for `idle_timeout`, and once the
//!   next head starts arriving, it must be complete within `header_timeout`;
//! - while a request is being answered, reads have no deadline here (the body's read
//!   timeout and the plugin's deadline apply), but a write that makes no progress for
//!   `send_timeout` ends the connection — a client that stops reading a stream is
//!   dropped, and the stream's instance freed.

use super::ConnectionLimits;
use futures_util::task::AtomicWaker;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// Requests started and answers finished on one connection.
#[derive(Debug, Default)]
pub struct Activity {
    started: AtomicU64,
    finished: AtomicU64,
    /// The reader waiting, with no deadline, for the answer to finish.
    reader: AtomicWaker,
}

impl Activity {
    /// A request's head has been read.
    pub fn request_started(&self) {
        self.started.fetch_add(1, Ordering::Relaxed);
    }

    /// A request's answer has been sent (or abandoned): the connection's idle clock
    /// starts.
    pub fn answer_finished(&self) {
        self.finished.fetch_add(1, Ordering::Relaxed);
        self.reader.wake();
    }

    /// Whether a request is being answered, and how many answers have finished.
    fn state(&self) -> (bool, u64) {
        let finished = self.finished.load(Ordering::Relaxed);
        let started = self.started.load(Ordering::Relaxed);
        (started > finished, finished)
    }
}

/// Where a connection is between requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No byte of the next head yet, since `since`.
    Waiting { since: Instant, first: bool },
    /// The next head started arriving at `since`.
    Head { since: Instant },
    /// A request is being answered.
    Busy,
}

/// A socket with the connection's clocks. See the module docs.
pub struct Timed<S> {
    inner: S,
    limits: ConnectionLimits,
    activity: Arc<Activity>,
    phase: Phase,
    /// How many answers had finished when the phase was last worked out.
    finished: u64,
    /// A timer at or before the current read deadline. It is moved only when the
    /// deadline comes earlier than it, or when it fires before the deadline: not on
    /// every request, which would cost a timer update each.
    read_timer: Pin<Box<Sleep>>,
    write_stalled: Option<Pin<Box<Sleep>>>,
}

impl<S> Timed<S> {
    /// `inner`, accepted now.
    pub fn new(inner: S, limits: ConnectionLimits, activity: Arc<Activity>) -> Timed<S> {
        let now = Instant::now();
        Timed {
            inner,
            limits,
            activity,
            phase: Phase::Waiting {
                since: now,
                first: true,
            },
            finished: 0,
            read_timer: Box::pin(tokio::time::sleep_until(now + limits.header_timeout)),
            write_stalled: None,
        }
    }

    /// Brings the phase up to date with the service's view of the requests.
    fn update_phase(&mut self) {
        let (busy, finished) = self.activity.state();
        if busy {
            self.phase = Phase::Busy;
        } else if self.phase == Phase::Busy || finished != self.finished {
            self.phase = Phase::Waiting {
                since: Instant::now(),
                first: false,
            };
        }
        self.finished = finished;
    }

    /// When the current read phase ends, if it has a deadline.
    fn read_deadline(&self) -> Option<Instant> {
        match self.phase {
            Phase::Waiting { since, first: true } => Some(since + self.limits.header_timeout),
            Phase::Waiting {
                since,
                first: false,
            } => Some(since + self.limits.idle_timeout),
            Phase::Head { since } => Some(since + self.limits.header_timeout),
            Phase::Busy => None,
        }
    }
}

fn timed_out(what: &str, after: Duration) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!("the client {what} within {after:?}"),
    )
}

impl<S: AsyncRead + Unpin> AsyncRead for Timed<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.update_phase();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before
                    && let Phase::Waiting { .. } = this.phase
                {
                    this.phase = Phase::Head {
                        since: Instant::now(),
                    };
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => {
                let Some(deadline) = this.read_deadline() else {
                    // Busy: looked at again when the answer finishes.
                    this.activity.reader.register(cx.waker());
                    if this.activity.state().0 {
                        return Poll::Pending;
                    }
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                };
                if this.read_timer.deadline() > deadline {
                    this.read_timer.as_mut().reset(deadline);
                }
                loop {
                    ready!(this.read_timer.as_mut().poll(cx));
                    if Instant::now() >= deadline {
                        break;
                    }
                    // Early: the deadline moved on since the timer was set.
                    this.read_timer.as_mut().reset(deadline);
                }
                Poll::Ready(Err(match this.phase {
                    Phase::Waiting { first: false, .. } => {
                        timed_out("sent no new request", this.limits.idle_timeout)
                    }
                    _ => timed_out(
                        "did not send a complete request head",
                        this.limits.header_timeout,
                    ),
                }))
            }
        }
    }
}

impl<S> Timed<S> {
    /// Tracks a write that could not proceed: the connection ends if none can for
    /// `send_timeout`; any progress resets the clock.
    fn stalled(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        let send_timeout = self.limits.send_timeout;
        let stalled = self
            .write_stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(send_timeout)));
        ready!(stalled.as_mut().poll(cx));
        Poll::Ready(timed_out("read nothing of the answer", send_timeout))
    }

    /// Watches a write's outcome: pending starts (or continues) the stall clock, any
    /// other outcome stops it.
    fn watched<T>(
        &mut self,
        cx: &mut Context<'_>,
        outcome: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match outcome {
            Poll::Pending => self.stalled(cx).map(Err),
            ready => {
                self.write_stalled = None;
                ready
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Timed<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let outcome = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.watched(cx, outcome)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let outcome = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.watched(cx, outcome)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let outcome = Pin::new(&mut this.inner).poll_flush(cx);
        this.watched(cx, outcome)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const LIMITS: ConnectionLimits = ConnectionLimits {
        max: 10,
        header_timeout: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(60),
        send_timeout: Duration::from_secs(30),
    };

    #[tokio::test(start_paused = true)]
    async fn a_silent_new_connection_gets_the_header_timeout() {
        let (client, server) = tokio::io::duplex(64);
        let mut timed = Timed::new(server, LIMITS, Arc::default());
        let started = Instant::now();
        let error = timed.read(&mut [0; 8]).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), LIMITS.header_timeout);
        drop(client);
    }

    #[tokio::test(start_paused = true)]
    async fn a_kept_alive_connection_gets_the_idle_timeout_then_the_header_timeout() {
        let (mut client, server) = tokio::io::duplex(64);
        let activity = Arc::new(Activity::default());
        let mut timed = Timed::new(server, LIMITS, activity.clone());
        client.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
        assert_eq!(timed.read(&mut [0; 64]).await.unwrap(), 18);
        activity.request_started();
        activity.answer_finished();
        // Idle: a minute of silence is allowed, not more.
        let started = Instant::now();
        let error = timed.read(&mut [0; 8]).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), LIMITS.idle_timeout);

        // A head that starts but does not finish gets the header timeout from its
        // first byte.
        let (mut client, server) = tokio::io::duplex(64);
        let activity = Arc::new(Activity::default());
        let mut timed = Timed::new(server, LIMITS, activity.clone());
        activity.request_started();
        activity.answer_finished();
        tokio::time::sleep(Duration::from_secs(30)).await;
        client.write_all(b"GE").await.unwrap();
        assert_eq!(timed.read(&mut [0; 64]).await.unwrap(), 2);
        let started = Instant::now();
        let error = timed.read(&mut [0; 8]).await.unwrap_err();
        assert!(
            error.to_string().contains("complete request head"),
            "{error}"
        );
        assert_eq!(started.elapsed(), LIMITS.header_timeout);
    }

    #[tokio::test(start_paused = true)]
    async fn the_idle_clock_starts_when_the_answer_finishes() {
        let (_client, server) = tokio::io::duplex(64);
        let activity = Arc::new(Activity::default());
        let mut timed = Timed::new(server, LIMITS, activity.clone());
        activity.request_started();
        let read = tokio::spawn(async move { timed.read(&mut [0; 8]).await });
        tokio::time::sleep(Duration::from_secs(600)).await;
        let finished = Instant::now();
        activity.answer_finished();
        let error = read.await.unwrap().unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert_eq!(finished.elapsed(), LIMITS.idle_timeout);
    }

    #[tokio::test(start_paused = true)]
    async fn a_busy_connection_has_no_read_deadline() {
        let (mut client, server) = tokio::io::duplex(64);
        let activity = Arc::new(Activity::default());
        let mut timed = Timed::new(server, LIMITS, activity.clone());
        activity.request_started();
        let read = tokio::spawn(async move {
            let mut byte = [0; 1];
            timed.read(&mut byte).await.map(|_| byte[0])
        });
        tokio::time::sleep(Duration::from_secs(600)).await;
        client.write_all(b"x").await.unwrap();
        assert_eq!(read.await.unwrap().unwrap(), b'x');
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_stops_reading_is_dropped() {
        let (_client, server) = tokio::io::duplex(16);
        let activity = Arc::new(Activity::default());
        let mut timed = Timed::new(server, LIMITS, activity);
        let started = Instant::now();
        let error = timed.write_all(&[0; 1024]).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), LIMITS.send_timeout);
    }
}
