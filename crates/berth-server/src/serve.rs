//! Serving: plain HTTP or TLS on a listener the caller bound, connection timeouts, HTTP/2
//! limits, and graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use axum_server::accept::NoDelayAcceptor;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use axum_server::Handle;
use hyper_util::rt::TokioTimer;

use crate::{router, AppState};

/// How to serve connections.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// PEM certificate chain and private key; both or neither.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// How long in-flight requests may take to finish after a shutdown signal.
    pub drain_timeout: Duration,
    /// How long an HTTP/1 client may take to send a request's headers. It also closes a
    /// keep-alive connection that has sent nothing for this long, since hyper starts the next
    /// request's header timer as soon as the previous response is written.
    pub header_read_timeout: Duration,
    /// Streams one HTTP/2 connection may have open at once.
    pub http2_max_concurrent_streams: u32,
    /// How often an idle HTTP/2 connection is pinged; one that does not answer within the
    /// same time is closed.
    pub http2_keep_alive_interval: Duration,
}

impl Default for ServeConfig {
    fn default() -> ServeConfig {
        ServeConfig {
            tls: None,
            drain_timeout: Duration::from_secs(30),
            header_read_timeout: Duration::from_secs(30),
            http2_max_concurrent_streams: 128,
            http2_keep_alive_interval: Duration::from_secs(20),
        }
    }
}

/// Loads the TLS certificate chain and key, as [`serve`] will: a caller checks them before
/// doing anything it could not undo (the first start's root key pair, whose secret is shown
/// only once the server listens).
pub async fn load_tls(cert: &Path, key: &Path) -> std::io::Result<RustlsConfig> {
    // ring is the one crypto provider compiled in; installing twice is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    RustlsConfig::from_pem_file(cert, key).await
}

/// Serves on `listener` until `shutdown` completes, then stops accepting and drains in-flight
/// requests for up to `drain_timeout`. `on_listening` receives the bound address.
pub async fn serve(
    state: AppState,
    config: ServeConfig,
    listener: std::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    on_listening: impl FnOnce(SocketAddr) + Send + 'static,
) -> std::io::Result<()> {
    listener.set_nonblocking(true)?;
    let app = router(state);
    let handle = Handle::new();
    let drain = config.drain_timeout;
    let h = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down: draining in-flight requests");
        h.graceful_shutdown(Some(drain));
    });
    let h = handle.clone();
    tokio::spawn(async move {
        if let Some(addr) = h.listening().await {
            on_listening(addr);
        }
    });
    let mut server = axum_server::from_tcp(listener);
    let builder = server.http_builder();
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(config.http2_max_concurrent_streams)
        .keep_alive_interval(config.http2_keep_alive_interval)
        .keep_alive_timeout(config.http2_keep_alive_interval);
    let service = app.into_make_service();
    // TCP_NODELAY: hyper writes headers and body separately, and with Nagle's algorithm the
    // second write waits for the client's delayed ACK, adding ~40 ms to small responses.
    match config.tls {
        None => {
            server
                .acceptor(NoDelayAcceptor::new())
                .handle(handle)
                .serve(service)
                .await
        }
        Some((cert, key)) => {
            let tls = load_tls(&cert, &key).await?;
            server
                .acceptor(RustlsAcceptor::new(tls).acceptor(NoDelayAcceptor::new()))
                .handle(handle)
                .serve(service)
                .await
        }
    }
}
