//! One log event per request: method, path, status and duration. Successful requests log at
//! DEBUG, so the pull hot path costs nothing by default; client errors at INFO and server
//! errors at WARN, so problems show up under the default filter.

use std::time::Instant;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;

pub async fn access_log(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let mut path = request.uri().path().to_owned();
    // A layer download URL is a bearer credential: log that one was used, not which.
    if path.starts_with("/berth/layers/") {
        path.truncate("/berth/layers/".len());
        path.push_str("...");
    }
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let micros = started.elapsed().as_micros() as u64;
    if response.status().is_server_error() {
        tracing::warn!(%method, %path, status, micros, "request failed");
    } else if response.status().is_client_error() {
        tracing::info!(%method, %path, status, micros, "request refused");
    } else {
        tracing::debug!(%method, %path, status, micros, "request");
    }
    response
}
