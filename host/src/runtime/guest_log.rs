//! A guest's stdout and stderr, line by line into the host log, tagged with the plugin
//! and the request.
//!
//! Bounded whatever the guest prints: a line longer than [`MAX_LINE_BYTES`] is cut,
//! each request may log [`LogLimits::per_request`] bytes and each plugin (all its
//! instances together) [`LogLimits::per_second`]; what is held back is counted and
//! reported in one line when the call ends.

use bytes::Bytes;
use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// Longer lines are cut: a guest cannot make the host hold or log an unbounded line.
pub const MAX_LINE_BYTES: usize = 16 * 1024;

/// How many recent lines a stream remembers, to explain a trap that follows them (a
/// panic message, the last line of a traceback).
const TAIL_LINES: usize = 4;

/// How much a plugin may log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogLimits {
    /// Bytes one request's calls may log (stdout and stderr each).
    pub per_request: usize,
    /// Bytes all of a plugin's instances may log per second, on average.
    pub per_second: usize,
}

/// One plugin's log allowance, shared by all its instances: a token bucket holding at
/// most a second's worth of bytes.
pub struct LogBudget {
    limits: LogLimits,
    bucket: Mutex<Bucket>,
}

struct Bucket {
    tokens: f64,
    refilled: Instant,
}

impl LogBudget {
    /// A full budget for `limits`.
    pub fn new(limits: LogLimits) -> LogBudget {
        LogBudget {
            limits,
            bucket: Mutex::new(Bucket {
                tokens: limits.per_second as f64,
                refilled: Instant::now(),
            }),
        }
    }

    /// Takes `bytes` from the per-second allowance, if it has them.
    fn take(&self, bytes: usize) -> bool {
        let mut bucket = self
            .bucket
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Instant::now();
        let rate = self.limits.per_second as f64;
        let elapsed = now.duration_since(bucket.refilled).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(rate);
        bucket.refilled = now;
        if bucket.tokens >= bytes as f64 {
            bucket.tokens -= bytes as f64;
            true
        } else {
            false
        }
    }
}

/// Which of the guest's output streams.
#[derive(Debug, Clone, Copy)]
pub enum GuestStream {
    /// Logged at `info`.
    Stdout,
    /// Logged at `warn`: panics and tracebacks land here.
    Stderr,
}

impl GuestStream {
    fn name(self) -> &'static str {
        match self {
            GuestStream::Stdout => "stdout",
            GuestStream::Stderr => "stderr",
        }
    }
}

/// One guest output stream. Clones share the line buffer.
#[derive(Clone)]
pub struct GuestLog {
    lines: Arc<Mutex<LineBuffer>>,
}

struct LineBuffer {
    plugin: Arc<str>,
    /// The request being served (empty while loading).
    request_id: String,
    stream: GuestStream,
    budget: Arc<LogBudget>,
    /// The current line, at most [`MAX_LINE_BYTES`] of it.
    pending: Vec<u8>,
    /// How much of the current line was cut off past [`MAX_LINE_BYTES`].
    cut: usize,
    /// The last few lines, as written (made text only when asked for).
    tail: VecDeque<Vec<u8>>,
    /// Bytes logged for the current request.
    logged: usize,
    /// Bytes held back since the last report.
    dropped: usize,
}

impl GuestLog {
    /// A stream for `plugin`'s `stream`, logging within `budget`.
    pub fn new(plugin: Arc<str>, stream: GuestStream, budget: Arc<LogBudget>) -> GuestLog {
        GuestLog {
            lines: Arc::new(Mutex::new(LineBuffer {
                plugin,
                request_id: String::new(),
                stream,
                budget,
                pending: Vec::new(),
                cut: 0,
                tail: VecDeque::new(),
                logged: 0,
                dropped: 0,
            })),
        }
    }

    fn write_bytes(&self, bytes: &[u8]) {
        self.lock().write(bytes);
    }

    /// The last few lines written since [`GuestLog::begin`], oldest first.
    pub fn tail(&self) -> Vec<String> {
        let mut lines = self.lock();
        if !lines.pending.is_empty() {
            lines.end_line();
        }
        lines.tail.iter().map(|line| printable(line)).collect()
    }

    /// A new call starts: the remembered lines are forgotten, and from now on lines are
    /// tagged with `request_id` if given (a stream's later calls keep the request's, and
    /// its allowance).
    pub fn begin(&self, request_id: Option<&str>) {
        let mut lines = self.lock();
        lines.tail.clear();
        if let Some(request_id) = request_id
            && lines.request_id != request_id
        {
            lines.request_id.clear();
            lines.request_id.push_str(request_id);
            lines.logged = 0;
        }
    }

    /// A call ended: says how much output was held back, if any was.
    pub fn end(&self) {
        self.lock().report_dropped();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LineBuffer> {
        // The buffer holds only text; a panic elsewhere cannot break it.
        self.lines
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl LineBuffer {
    /// Logs every complete line; of a line longer than [`MAX_LINE_BYTES`] only the
    /// beginning is kept.
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.split_inclusive(|&byte| byte == b'\n') {
            let (text, ends_line) = match chunk.strip_suffix(b"\n") {
                Some(text) => (text, true),
                None => (chunk, false),
            };
            let room = MAX_LINE_BYTES - self.pending.len();
            let kept = text.len().min(room);
            self.pending.extend_from_slice(&text[..kept]);
            self.cut += text.len() - kept;
            if ends_line {
                self.end_line();
            }
        }
    }

    fn end_line(&mut self) {
        let cut = std::mem::take(&mut self.cut);
        let line = self.pending.trim_ascii_end();
        if line.is_empty() {
            self.pending.clear();
            return;
        }
        let mut kept = if self.tail.len() == TAIL_LINES {
            self.tail.pop_front().unwrap_or_default()
        } else {
            Vec::new()
        };
        kept.clear();
        kept.extend_from_slice(line);
        self.tail.push_back(kept);
        let size = self.pending.len() + cut;
        let allowed = self.logged + self.pending.len() <= self.budget.limits.per_request
            && self.budget.take(self.pending.len());
        if !allowed {
            self.dropped += size;
            self.pending.clear();
            return;
        }
        self.logged += self.pending.len();
        self.dropped += cut;
        let line = printable(line);
        let (plugin, request_id, stream) =
            (&*self.plugin, self.request_id.as_str(), self.stream.name());
        let suffix = if cut > 0 {
            format!(" [{cut} more bytes of this line cut]")
        } else {
            String::new()
        };
        match self.stream {
            GuestStream::Stdout => {
                tracing::info!(target: "piston::guest", plugin, request_id, stream, "{line}{suffix}")
            }
            GuestStream::Stderr => {
                tracing::warn!(target: "piston::guest", plugin, request_id, stream, "{line}{suffix}")
            }
        }
        self.pending.clear();
    }

    fn report_dropped(&mut self) {
        let dropped = std::mem::take(&mut self.dropped);
        if dropped == 0 {
            return;
        }
        let limits = self.budget.limits;
        tracing::warn!(
            target: "piston::guest",
            plugin = &*self.plugin,
            request_id = self.request_id.as_str(),
            stream = self.stream.name(),
            dropped_bytes = dropped,
            "{dropped} bytes of the plugin's {} were not logged (limits: {} bytes per \
             request, {} bytes per second, lines cut at {MAX_LINE_BYTES} bytes)",
            self.stream.name(),
            limits.per_request,
            limits.per_second,
        );
    }
}

/// A guest's line as log text. Control characters (terminal escapes, carriage
/// returns) could forge or hide log lines: they are shown as replacement characters.
fn printable(line: &[u8]) -> String {
    String::from_utf8_lossy(line)
        .chars()
        .map(|c| {
            if c.is_control() && c != '\t' {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect()
}

impl Drop for LineBuffer {
    fn drop(&mut self) {
        if !self.pending.is_empty() {
            self.end_line();
        }
        self.report_dropped();
    }
}

impl IsTerminal for GuestLog {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestLog {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl OutputStream for GuestLog {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.write_bytes(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(MAX_LINE_BYTES)
    }
}

#[async_trait::async_trait]
impl Pollable for GuestLog {
    async fn ready(&mut self) {}
}

impl AsyncWrite for GuestLog {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.write_bytes(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(per_request: usize, per_second: usize) -> GuestLog {
        let budget = Arc::new(LogBudget::new(LogLimits {
            per_request,
            per_second,
        }));
        GuestLog::new("test".into(), GuestStream::Stdout, budget)
    }

    #[test]
    fn long_lines_are_cut_not_held() {
        let log = log(1 << 30, 1 << 30);
        log.begin(Some("r1"));
        log.write_bytes(&vec![b'x'; 3 * MAX_LINE_BYTES]);
        log.write_bytes(b"tail\n");
        let lines = log.lock();
        assert_eq!(lines.pending.len(), 0);
        assert_eq!(lines.tail.back().map(Vec::len), Some(MAX_LINE_BYTES));
        assert_eq!(lines.dropped, 2 * MAX_LINE_BYTES + 4);
    }

    #[test]
    fn each_request_logs_within_its_allowance() {
        let log = log(100, 1 << 30);
        log.begin(Some("r1"));
        for _ in 0..10 {
            log.write_bytes(b"0123456789012345678\n");
        }
        {
            let lines = log.lock();
            assert_eq!(lines.logged, 95);
            assert_eq!(lines.dropped, 5 * 19);
        }
        log.end();
        assert_eq!(log.lock().dropped, 0, "reported once");
        log.begin(Some("r2"));
        log.write_bytes(b"a new request logs again\n");
        assert_eq!(log.lock().logged, 24);
    }

    #[test]
    fn a_plugin_logs_within_its_rate() {
        let budget = Arc::new(LogBudget::new(LogLimits {
            per_request: 1 << 30,
            per_second: 1000,
        }));
        let first = GuestLog::new("test".into(), GuestStream::Stdout, budget.clone());
        let second = GuestLog::new("test".into(), GuestStream::Stderr, budget);
        let line = [vec![b'y'; 99], vec![b'\n']].concat();
        for _ in 0..10 {
            first.write_bytes(&line);
            second.write_bytes(&line);
        }
        let logged = first.lock().logged + second.lock().logged;
        assert!((990..=1100).contains(&logged), "{logged}");
    }

    #[test]
    fn control_characters_cannot_forge_lines() {
        let log = log(1 << 30, 1 << 30);
        log.write_bytes(b"fake\r\x1b[2Kline\n");
        assert_eq!(log.tail(), ["fake\u{fffd}\u{fffd}[2Kline"]);
    }
}
