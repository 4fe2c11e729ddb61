//! The state every handler shares.

use std::sync::Arc;

use berth_core::Registry;

#[derive(Clone)]
pub struct AppState {
    pub registry: Arc<Registry>,
}
