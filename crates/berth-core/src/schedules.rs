//! Periodic work that runs on one node at a time, through a lease in the database
//! ([`berth_meta::Meta::claim_schedule`]): with several berth nodes on one PostgreSQL, each
//! schedule runs once per period, on whichever node claims it first, and is taken over when
//! that node dies. With one node it simply runs once per period.

use std::time::Duration;

use crate::{CoreError, Registry};

/// The schedule that removes upload sessions left unwritten past their expiry.
const EXPIRE_UPLOADS: &str = "expire-upload-sessions";

/// A name for this process in the leases it holds: host, process id and a random part, so
/// that a restarted process never inherits its predecessor's leases.
pub(crate) fn new_node_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "host".into());
    format!(
        "{host}:{}:{:08x}",
        std::process::id(),
        rand::random::<u32>()
    )
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Registry {
    /// Removes expired upload sessions if it is this node's turn: at most once per `period`
    /// across every node sharing the database. Returns how many went, or `None` when another
    /// node ran (or runs) the sweep this period.
    pub async fn sweep_uploads_when_due(
        &self,
        period: Duration,
    ) -> Result<Option<usize>, CoreError> {
        let period = millis(period);
        // The lease lasts the period: the holder is the one to run it next time too, unless
        // it dies, and then another node takes over within a period.
        let due = self
            .meta
            .claim_schedule(
                EXPIRE_UPLOADS,
                &self.node_id,
                self.now_millis(),
                period,
                period,
            )
            .await?;
        if !due {
            return Ok(None);
        }
        Ok(Some(self.sweep_uploads().await?))
    }
}
