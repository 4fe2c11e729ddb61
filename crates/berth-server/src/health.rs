//! Liveness and readiness probes.

use axum::extract::State;
use axum::http::StatusCode;

use crate::AppState;

/// The process is up and serving HTTP.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// The metadata database answers, so requests can be served.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    if state.registry.ready().await {
        (StatusCode::OK, "ready\n")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "metadata database unavailable\n",
        )
    }
}
