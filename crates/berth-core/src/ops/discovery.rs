//! Content discovery: tag lists, the catalog and referrers.

use berth_meta::images::ReferrerRow;
use berth_oci::Digest;

use crate::ops::repositories::clamp;
use crate::{Action, CoreError, Principal, Registry, RepositoryRef};

impl Registry {
    /// Tags in lexical order after `last`, at most `limit`.
    pub async fn list_tags(
        &self,
        principal: &Principal,
        repo: &RepositoryRef,
        last: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, CoreError> {
        let row = self.repository(principal, Action::ListImages, repo).await?;
        if limit == 0 {
            return Ok(Vec::new());
        }
        Ok(self.meta.list_tags(row.id, last, clamp(limit)).await?)
    }

    /// Manifests in the repository whose subject is `digest`, optionally only those of one
    /// artifact type.
    pub async fn referrers(
        &self,
        principal: &Principal,
        repo: &RepositoryRef,
        digest: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<ReferrerRow>, CoreError> {
        let row = self
            .repository(principal, Action::BatchGetImage, repo)
            .await?;
        let mut rows = self.meta.referrers(row.id, &digest.to_string()).await?;
        if let Some(t) = artifact_type {
            rows.retain(|r| r.artifact_type.as_deref() == Some(t));
        }
        Ok(rows)
    }
}
