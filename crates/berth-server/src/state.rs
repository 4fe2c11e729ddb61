//! The state every handler shares, and the limits it enforces.

use std::sync::Arc;
use std::time::Duration;

use berth_core::Registry;

use crate::admission::Admission;
use crate::buffered_body::BodyBudget;

/// Bounds on what clients may hold of the server: request slots, buffered bytes, and how long
/// a request body may go without sending anything.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Requests with credentials served at once; more wait their turn.
    pub max_concurrent_requests: usize,
    /// Requests without credentials served at once, in a pool of their own.
    pub max_anonymous_requests: usize,
    /// Bytes of request bodies buffered in memory at once across the server (JSON requests,
    /// manifests); blob uploads stream and are not counted.
    pub max_buffered_body_bytes: usize,
    /// How long a request body may send nothing before the request fails.
    pub body_read_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_concurrent_requests: 4096,
            max_anonymous_requests: 256,
            max_buffered_body_bytes: 256 * 1024 * 1024,
            body_read_timeout: Duration::from_secs(60),
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    pub registry: Arc<Registry>,
    /// `https` when the listener serves TLS, so URLs handed to clients (the proxy endpoint,
    /// layer download URLs) use the scheme they came in on.
    pub scheme: &'static str,
    pub(crate) bodies: BodyBudget,
    pub(crate) admission: Admission,
    pub(crate) body_read_timeout: Duration,
}

impl AppState {
    pub fn new(registry: Arc<Registry>, scheme: &'static str, limits: &Limits) -> AppState {
        AppState {
            registry,
            scheme,
            bodies: BodyBudget::new(limits.max_buffered_body_bytes),
            admission: Admission::new(
                limits.max_concurrent_requests,
                limits.max_anonymous_requests,
            ),
            body_read_timeout: limits.body_read_timeout,
        }
    }

    /// The registry's URL as a client reached it, from the Host it called.
    pub fn url_for_host(&self, host: &str) -> String {
        format!("{}://{host}", self.scheme)
    }
}
