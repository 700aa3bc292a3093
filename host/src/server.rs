//! The HTTP server: the axum app, serving, and graceful shutdown.

use crate::pipeline::Pipeline;
use axum::Router;
use axum::extract::{Request, State};
use axum::response::Response;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// How long in-flight requests (and streams) get to finish after a shutdown signal.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// The app: every request goes through the pipeline, which does its own routing from
/// the live registry (routes change while serving; axum's router is built once).
pub fn app(pipeline: Arc<Pipeline>) -> Router {
    Router::new().fallback(handle).with_state(pipeline)
}

async fn handle(State(pipeline): State<Arc<Pipeline>>, request: Request) -> Response {
    pipeline.handle(request).await
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets in-flight requests
/// finish for up to [`SHUTDOWN_GRACE`].
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (signalled, mut on_signal) = tokio::sync::watch::channel(false);
    let graceful = async move {
        shutdown.await;
        tracing::info!("shutting down: finishing in-flight requests");
        let _ = signalled.send(true);
    };
    let service = app.into_make_service_with_connect_info::<SocketAddr>();
    let server = axum::serve(listener, service).with_graceful_shutdown(graceful);
    let deadline = async move {
        let _ = on_signal.wait_for(|signalled| *signalled).await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        served = server => served,
        () = deadline => {
            tracing::warn!("in-flight requests did not finish within {SHUTDOWN_GRACE:?}; exiting");
            Ok(())
        }
    }
}

/// Calls `reload` on every SIGHUP, for as long as the process runs.
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

/// A future resolving on SIGINT (Ctrl-C) or SIGTERM. The handlers are installed
/// when this is called, not when the future is first polled, so a signal that arrives
/// while plugins are still loading is not lost (nor fatal).
pub fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}
