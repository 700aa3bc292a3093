//! The HTTP server: the public app and the admin app, each on its own listener, the
//! connection limits, and graceful shutdown.
//!
//! Connections are served by hyper directly (not `axum::serve`) so that each is
//! bounded: at most [`ConnectionLimits::max`] at once (more wait in the kernel's
//! backlog), a request head within its time, request heads of at most
//! [`MAX_HEAD_BYTES`], and the clocks of [`connection::Timed`]. On a shutdown signal
//! the listeners stop accepting, every connection finishes the request it is
//! answering and closes, and the server returns once they all have, or when the
//! shutdown timeout ends.

mod connection;
pub(crate) mod settings;

use self::connection::{Activity, Timed};
use crate::admin::Admin;
use crate::auth::oauth::Endpoint;
use crate::openapi::Page;
use crate::pipeline::Pipeline;
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::Response;
use axum::routing::any;
use http_body::Frame;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tower_service::Service;

/// The largest request head (request line and headers) read, in bytes; a larger one is
/// answered 431.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// The most headers one request may have; more is answered 431.
pub const MAX_HEADERS: usize = 100;

/// How many connections, and how slow they may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections the public listener serves at once.
    pub max: usize,
    /// How long a client may take to send a request head.
    pub header_timeout: Duration,
    /// How long a kept-alive connection may sit idle between requests.
    pub idle_timeout: Duration,
    /// How long a write to the client may make no progress.
    pub send_timeout: Duration,
}

/// The public app: the OAuth 1.0a endpoints, the generated documentation, and every
/// other path through the pipeline to the plugin resources, which it routes itself
/// from the live registry (plugin routes change while serving; axum's router is built
/// once).
pub fn app(pipeline: Arc<Pipeline>) -> Router {
    let oauth = |endpoint: Endpoint| {
        any(
            async move |State(pipeline): State<Arc<Pipeline>>, request: Request| {
                pipeline.oauth(endpoint, request).await
            },
        )
    };
    let docs = |page: Page| {
        any(
            async move |State(pipeline): State<Arc<Pipeline>>, request: Request| {
                pipeline.docs(page, request).await
            },
        )
    };
    Router::new()
        .route("/oauth/request_token", oauth(Endpoint::RequestToken))
        .route("/oauth/authorize", oauth(Endpoint::Authorize))
        .route("/oauth/access_token", oauth(Endpoint::AccessToken))
        .route("/openapi.json", docs(Page::Json))
        .route("/openapi.yaml", docs(Page::Yaml))
        .route("/docs", docs(Page::Redirect))
        .route("/docs/", docs(Page::Asset))
        .route("/docs/{*file}", docs(Page::Asset))
        .fallback(resource)
        .with_state(pipeline)
}

async fn resource(State(pipeline): State<Arc<Pipeline>>, request: Request) -> Response {
    pipeline.handle(request).await
}

/// The admin app, for the admin listener only.
pub fn admin_app(admin: Arc<Admin>) -> Router {
    crate::admin::routes(admin)
}

/// One listening socket and what it serves.
pub struct Listener {
    /// The socket.
    pub socket: TcpListener,
    /// The app.
    pub app: Router,
    /// How many of its connections are served at once.
    pub max_connections: usize,
    /// Whether its connections count in the open connections metric (the public
    /// listener's do, the admin listener's not).
    pub counted: bool,
}

/// Serves each listener's app, within `limits`, until `shutdown` resolves; then lets
/// in-flight requests finish for up to `grace`.
pub async fn serve(
    listeners: Vec<Listener>,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    let (stop, stopping) = watch::channel(false);
    let mut accepting = Vec::new();
    let mut all_slots = Vec::new();
    for listener in listeners {
        let slots = Arc::new(Semaphore::new(listener.max_connections));
        all_slots.push((slots.clone(), listener.max_connections));
        accepting.push(tokio::spawn(accept(
            listener.socket,
            listener.app,
            limits,
            slots,
            stopping.clone(),
            listener.counted,
        )));
    }
    shutdown.await;
    tracing::info!("shutting down: finishing in-flight requests (at most {grace:?})");
    let _ = stop.send(true);
    for task in accepting {
        task.abort();
    }
    // Every connection holds a slot: when all are back, every connection has closed.
    let closed = async {
        for (slots, max) in &all_slots {
            let _ = slots
                .acquire_many(u32::try_from(*max).unwrap_or(u32::MAX))
                .await;
        }
    };
    match tokio::time::timeout(grace, closed).await {
        Ok(()) => tracing::info!("every connection has closed"),
        Err(_) => {
            let open: usize = all_slots
                .iter()
                .map(|(slots, max)| max - slots.available_permits())
                .sum();
            tracing::warn!("{open} connections were still open after {grace:?}; exiting");
        }
    }
    Ok(())
}

/// Accepts connections while a slot is free, until told to stop.
async fn accept(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    slots: Arc<Semaphore>,
    stopping: watch::Receiver<bool>,
    counted: bool,
) {
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors, or the peer gave up before we accepted:
                // pause briefly rather than spin.
                tracing::warn!("cannot accept a connection: {error}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let mut stopping = stopping.clone();
        tokio::spawn(async move {
            let _open = crate::telemetry::metrics()
                .filter(|_| counted)
                .map(crate::telemetry::Metrics::connection);
            let activity = Arc::new(Activity::default());
            let io = TokioIo::new(Timed::new(stream, limits, activity.clone()));
            let service = Connection {
                app,
                peer,
                activity,
            };
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .max_header_size(MAX_HEAD_BYTES)
                .max_headers(MAX_HEADERS);
            let connection = builder.serve_connection(io, service);
            let mut connection = std::pin::pin!(connection);
            let stop = async move {
                // The watch's guard is dropped here, before the connection is awaited.
                let _ = stopping.wait_for(|stop| *stop).await;
            };
            let outcome = tokio::select! {
                outcome = connection.as_mut() => outcome,
                () = stop => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(error) = outcome {
                tracing::debug!(%peer, "connection ended: {error}");
            }
            drop(slot);
        });
    }
}

/// One connection's service: the app, told who the peer is, with each answer's end
/// reported to the connection's clocks.
#[derive(Clone)]
struct Connection {
    app: Router,
    peer: SocketAddr,
    activity: Arc<Activity>,
}

impl hyper::service::Service<hyper::Request<Incoming>> for Connection {
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Self::Error>> + Send>>;

    fn call(&self, request: hyper::Request<Incoming>) -> Self::Future {
        self.activity.request_started();
        let mut request = request.map(Body::new);
        request.extensions_mut().insert(ConnectInfo(self.peer));
        let answer = self.app.clone().call(request);
        let activity = self.activity.clone();
        Box::pin(async move {
            let response = answer.await?;
            Ok(response.map(|body| Body::new(Finishing::new(body, activity))))
        })
    }
}

/// An answer's body that reports to the connection when it is done with (sent whole,
/// or dropped because the connection ended).
struct Finishing {
    body: Body,
    activity: Option<Arc<Activity>>,
}

impl Finishing {
    fn new(body: Body, activity: Arc<Activity>) -> Finishing {
        Finishing {
            body,
            activity: Some(activity),
        }
    }
}

impl Drop for Finishing {
    fn drop(&mut self) {
        if let Some(activity) = self.activity.take() {
            activity.answer_finished();
        }
    }
}

impl http_body::Body for Finishing {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// Runs `reload` on every SIGHUP, for as long as the process runs.
pub fn on_hangup(reload: impl Fn() + Send + 'static) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangups = signal(SignalKind::hangup())?;
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            tracing::info!("SIGHUP: reloading piston.toml and the plugin directory");
            reload();
        }
    });
    Ok(())
}

/// A future resolving on the first SIGINT (Ctrl-C) or SIGTERM. A second one ends the
/// process at once, whatever is still running. The handlers are installed when this
/// is called, not when the future is first polled, so a signal that arrives while
/// plugins are still loading is not lost (nor fatal).
pub fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        tokio::spawn(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            tracing::warn!("a second signal: exiting now, without waiting for requests");
            std::process::exit(1);
        });
    })
}
