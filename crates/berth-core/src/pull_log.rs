//! When images were last pulled, recorded off the hot path.
//!
//! A manifest GET only notes `(repository, digest) → time` in memory; [`Registry::flush_pulls`]
//! writes the notes in one transaction, and the server calls it every few seconds and at
//! shutdown. Pull times are telemetry, not acknowledged data: ECR itself only promises to
//! refresh `lastRecordedPullTime` within a day, so a crash that loses a few seconds of notes
//! breaks no promise, and the pull path stays free of database writes.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::{CoreError, Registry};

#[derive(Default)]
pub(crate) struct PullLog {
    pending: Mutex<HashMap<(i64, String), i64>>,
}

impl PullLog {
    pub(crate) fn note(&self, repository_id: i64, digest: &str, at: i64) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let entry = pending
            .entry((repository_id, digest.to_owned()))
            .or_insert(at);
        *entry = (*entry).max(at);
    }

    fn put_back(&self, pulls: Vec<(i64, String, i64)>) {
        for (repository_id, digest, at) in pulls {
            self.note(repository_id, &digest, at);
        }
    }

    fn take(&self) -> Vec<(i64, String, i64)> {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.drain().map(|((r, d), at)| (r, d, at)).collect()
    }
}

impl Registry {
    /// Writes the pull times noted since the last flush.
    pub async fn flush_pulls(&self) -> Result<(), CoreError> {
        let pulls = self.pull_log.take();
        if pulls.is_empty() {
            return Ok(());
        }
        if let Err(e) = self.meta.record_pulls(&pulls).await {
            // Keep the notes for the next flush.
            self.pull_log.put_back(pulls);
            return Err(e.into());
        }
        Ok(())
    }
}
