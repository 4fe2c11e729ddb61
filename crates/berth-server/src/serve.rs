//! Serving: plain HTTP or TLS, a cap on concurrent requests, and graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use axum_server::accept::NoDelayAcceptor;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use axum_server::Handle;

use crate::{router, AppState};

/// How to listen.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    pub listen: SocketAddr,
    /// PEM certificate chain and private key; both or neither.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// How long in-flight requests may take to finish after a shutdown signal.
    pub drain_timeout: Duration,
    /// Requests served at once; more wait their turn instead of exhausting memory or files.
    pub max_concurrent_requests: usize,
}

/// Serves until `shutdown` completes, then stops accepting and drains in-flight requests
/// for up to `drain_timeout`. `on_listening` receives the bound address (useful with port 0).
pub async fn serve(
    state: AppState,
    config: ServeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
    on_listening: impl FnOnce(SocketAddr) + Send + 'static,
) -> std::io::Result<()> {
    // TCP_NODELAY: hyper writes headers and body separately, and with Nagle's algorithm the
    // second write waits for the client's delayed ACK, adding ~40 ms to small responses.
    let app = router(state).layer(tower::limit::GlobalConcurrencyLimitLayer::new(
        config.max_concurrent_requests,
    ));
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
    let service = app.into_make_service();
    match config.tls {
        None => {
            axum_server::bind(config.listen)
                .acceptor(NoDelayAcceptor::new())
                .handle(handle)
                .serve(service)
                .await
        }
        Some((cert, key)) => {
            // ring is the one crypto provider compiled in; installing twice is harmless.
            let _ = rustls::crypto::ring::default_provider().install_default();
            let tls = RustlsConfig::from_pem_file(cert, key).await?;
            axum_server::bind(config.listen)
                .acceptor(RustlsAcceptor::new(tls).acceptor(NoDelayAcceptor::new()))
                .handle(handle)
                .serve(service)
                .await
        }
    }
}
