//! A guest's stdout and stderr, line by line into the host log, tagged with the plugin.

use bytes::Bytes;
use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// Longer lines are logged in pieces: a guest cannot make the host hold an unbounded
/// line.
const MAX_LINE_BYTES: usize = 16 * 1024;

/// How many recent lines a stream remembers, to explain a trap that follows them (a
/// panic message, the last line of a traceback).
const TAIL_LINES: usize = 4;

/// Which of the guest's output streams.
#[derive(Debug, Clone, Copy)]
pub enum GuestStream {
    /// Logged at `info`.
    Stdout,
    /// Logged at `warn`: panics and tracebacks land here.
    Stderr,
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
    pending: Vec<u8>,
    tail: VecDeque<String>,
}

impl GuestLog {
    /// A stream for `plugin`'s `stream`.
    pub fn new(plugin: Arc<str>, stream: GuestStream) -> GuestLog {
        GuestLog {
            lines: Arc::new(Mutex::new(LineBuffer {
                plugin,
                request_id: String::new(),
                stream,
                pending: Vec::new(),
                tail: VecDeque::new(),
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
            lines.emit("");
        }
        lines.tail.iter().cloned().collect()
    }

    /// A new call starts: the remembered lines are forgotten, and from now on lines are
    /// tagged with `request_id` if given (a stream's later calls keep the request's).
    pub fn begin(&self, request_id: Option<&str>) {
        let mut lines = self.lock();
        lines.tail.clear();
        if let Some(request_id) = request_id
            && lines.request_id != request_id
        {
            lines.request_id.clear();
            lines.request_id.push_str(request_id);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LineBuffer> {
        // The buffer holds only text; a panic elsewhere cannot break it.
        self.lines
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl LineBuffer {
    /// Logs every complete line; a line longer than [`MAX_LINE_BYTES`] is logged in
    /// pieces, each marked as continued.
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.split_inclusive(|&byte| byte == b'\n') {
            let (mut text, ends_line) = match chunk.strip_suffix(b"\n") {
                Some(text) => (text, true),
                None => (chunk, false),
            };
            while self.pending.len() + text.len() > MAX_LINE_BYTES {
                let room = MAX_LINE_BYTES - self.pending.len();
                self.pending.extend_from_slice(&text[..room]);
                self.emit(" [continues]");
                text = &text[room..];
            }
            self.pending.extend_from_slice(text);
            if ends_line {
                self.emit("");
            }
        }
    }

    fn emit(&mut self, suffix: &str) {
        let line = String::from_utf8_lossy(&self.pending);
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            self.pending.clear();
            return;
        }
        if self.tail.len() == TAIL_LINES {
            self.tail.pop_front();
        }
        self.tail.push_back(line.to_owned());
        let (plugin, request_id) = (&*self.plugin, self.request_id.as_str());
        match self.stream {
            GuestStream::Stdout => {
                tracing::info!(target: "piston::guest", plugin, request_id, stream = "stdout", "{line}{suffix}")
            }
            GuestStream::Stderr => {
                tracing::warn!(target: "piston::guest", plugin, request_id, stream = "stderr", "{line}{suffix}")
            }
        }
        self.pending.clear();
    }
}

impl Drop for LineBuffer {
    fn drop(&mut self) {
        if !self.pending.is_empty() {
            self.emit("");
        }
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
