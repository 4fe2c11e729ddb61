//! Request slots. Requests that carry credentials share the large pool; requests with none
//! (docker's first challenge, probes of the API, strangers) have their own, smaller one, so
//! anonymous traffic cannot take every slot. The health probes take no slot at all: they
//! must answer while every slot is taken, or an orchestrator restarts a server that is only
//! busy. A request waits for its slot; the slot is released when its response starts.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use tokio::sync::Semaphore;

use crate::AppState;

#[derive(Clone)]
pub struct Admission {
    credentialed: Arc<Semaphore>,
    anonymous: Arc<Semaphore>,
}

impl Admission {
    pub fn new(credentialed: usize, anonymous: usize) -> Admission {
        Admission {
            credentialed: Arc::new(Semaphore::new(credentialed)),
            anonymous: Arc::new(Semaphore::new(anonymous)),
        }
    }
}

/// The paths served without a slot.
fn is_probe(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz")
}

pub async fn admit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if is_probe(request.uri().path()) {
        return next.run(request).await;
    }
    let pool = if request.headers().contains_key(header::AUTHORIZATION) {
        &state.admission.credentialed
    } else {
        &state.admission.anonymous
    };
    // The semaphores are never closed, so acquiring cannot fail; were it to, serving without
    // a slot beats refusing.
    let _slot = pool.acquire().await.ok();
    next.run(request).await
}
