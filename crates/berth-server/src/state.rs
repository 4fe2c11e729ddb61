//! The state every handler shares.

use std::sync::Arc;

use berth_core::Registry;

#[derive(Clone)]
pub struct AppState {
    pub registry: Arc<Registry>,
    /// `https` when the listener serves TLS, so URLs handed to clients (the proxy endpoint,
    /// layer download URLs) use the scheme they came in on.
    pub scheme: &'static str,
}

impl AppState {
    /// The registry's URL as a client reached it, from the Host it called.
    pub fn url_for_host(&self, host: &str) -> String {
        format!("{}://{host}", self.scheme)
    }
}
