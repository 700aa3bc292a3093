//! Sends one checked request: connects to an address the allowlist let through (never
//! looking the name up again), TLS for `https`, one HTTP/1.1 exchange on the
//! connection.

use super::allowlist::{Host, Scheme, Target};
use super::tls;
use hyper::body::Incoming;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;
use tokio::net::TcpStream;
use wasmtime_wasi_http::{Error, WasiBody};

/// What is left of a connection once its response has arrived: driving it delivers
/// the body.
pub(super) type Connection = Pin<Box<dyn Future<Output = Result<(), Error>> + Send>>;

/// Connects to the first of `addresses` that answers within `connect_timeout` and sends
/// `request` on it, waiting up to `first_byte_timeout` for the response's head.
pub(super) async fn send(
    mut request: http::Request<WasiBody>,
    target: &Target,
    addresses: &[SocketAddr],
    connect_timeout: Option<Duration>,
    first_byte_timeout: Option<Duration>,
) -> Result<(http::Response<Incoming>, Connection), Error> {
    let tcp = within(
        connect_timeout,
        Error::ConnectionTimeout,
        connect(addresses),
    )
    .await?;
    let (mut sender, connection): (_, Connection) = match target.scheme {
        Scheme::Http => {
            let (sender, connection) = http1::handshake(TokioIo::new(tcp)).await?;
            (sender, Box::pin(async move { Ok(connection.await?) }))
        }
        Scheme::Https => {
            let name = match &target.host {
                Host::Name(name) => {
                    ServerName::try_from(name.clone()).map_err(|_| Error::HttpRequestUriInvalid)?
                }
                Host::Address(ip) => ServerName::from(*ip),
            };
            let tls = within(connect_timeout, Error::ConnectionTimeout, async {
                tokio_rustls::TlsConnector::from(tls::config())
                    .connect(name, tcp)
                    .await
                    .map_err(Error::Tls)
            })
            .await?;
            let (sender, connection) = http1::handshake(TokioIo::new(tls)).await?;
            (sender, Box::pin(async move { Ok(connection.await?) }))
        }
    };

    // The request line carries the path alone: the scheme and authority went into
    // choosing the connection, and the `host` header names the host.
    let path = request
        .uri()
        .path_and_query()
        .map_or("/", |path| path.as_str())
        .to_owned();
    *request.uri_mut() = http::Uri::builder()
        .path_and_query(path)
        .build()
        .map_err(|_| Error::HttpRequestUriInvalid)?;

    // The response arrives only while the connection is driven; a connection that ends
    // first leaves the response to say why.
    let mut connection = Some(connection);
    let exchange = async {
        let response = sender.send_request(request);
        tokio::pin!(response);
        if let Some(driving) = connection.as_mut() {
            tokio::select! {
                biased;
                answered = &mut response => return answered.map_err(Error::from),
                ended = driving => ended?,
            }
            connection = None;
        }
        response.await.map_err(Error::from)
    };
    let response = within(first_byte_timeout, Error::ConnectionReadTimeout, exchange).await?;
    let rest = connection.unwrap_or_else(|| Box::pin(async { Ok(()) }));
    Ok((response, rest))
}

/// A TCP connection to the first address that takes one.
async fn connect(addresses: &[SocketAddr]) -> Result<TcpStream, Error> {
    let mut last = None;
    for address in addresses {
        match TcpStream::connect(address).await {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(error) => last = Some(error),
        }
    }
    Err(last.map_or(Error::DestinationNotFound, Error::Connect))
}

/// `work`, or `elapsed` if `limit` passes first.
async fn within<T>(
    limit: Option<Duration>,
    elapsed: Error,
    work: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    match limit {
        Some(limit) => tokio::time::timeout(limit, work)
            .await
            .unwrap_or(Err(elapsed)),
        None => work.await,
    }
}
