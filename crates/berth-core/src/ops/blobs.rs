//! Blobs: check, read and delete.

use berth_oci::Digest;
use berth_store::BlobRead;

use crate::{Action, CoreError, Principal, Registry, RepositoryRef};

impl Registry {
    /// The size of a blob in the repository (HEAD).
    pub async fn stat_blob(
        &self,
        principal: &Principal,
        repo: &RepositoryRef,
        digest: &Digest,
    ) -> Result<u64, CoreError> {
        let row = self
            .repository(principal, Action::BatchCheckLayerAvailability, repo)
            .await?;
        let size = self
            .meta
            .repository_blob(row.id, &digest.to_string())
            .await?
            .ok_or(CoreError::BlobUnknown)?;
        u64::try_from(size).map_err(|e| CoreError::Internal(e.to_string()))
    }

    /// Opens a blob for reading, optionally a byte range `(start, end inclusive)`.
    pub async fn read_blob(
        &self,
        principal: &Principal,
        repo: &RepositoryRef,
        digest: &Digest,
        range: Option<(u64, Option<u64>)>,
    ) -> Result<BlobRead, CoreError> {
        let row = self
            .repository(principal, Action::GetDownloadUrlForLayer, repo)
            .await?;
        let size = self
            .meta
            .repository_blob(row.id, &digest.to_string())
            .await?
            .ok_or(CoreError::BlobUnknown)?;
        match self.store.read(digest, range).await {
            Err(berth_store::StoreError::RangeNotSatisfiable) => {
                Err(CoreError::RangeNotSatisfiable { size: size as u64 })
            }
            other => Ok(other?),
        }
    }

    /// Removes a blob from the repository. Its bytes stay until no repository links them.
    /// A blob that a manifest in the repository lists is refused: deleting it would break that
    /// image, immutable or not (ECR has no blob delete at all; distribution refuses unless
    /// deletion is enabled).
    pub async fn delete_blob(
        &self,
        principal: &Principal,
        repo: &RepositoryRef,
        digest: &Digest,
    ) -> Result<(), CoreError> {
        let row = self
            .repository(principal, Action::BatchDeleteImage, repo)
            .await?;
        match self.meta.unlink_blob(row.id, &digest.to_string()).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(CoreError::BlobUnknown),
            Err(berth_meta::MetaError::BlobReferenced) => {
                Err(CoreError::BlobReferenced(digest.clone()))
            }
            Err(e) => Err(crate::registry::on_repository(&row)(e)),
        }
    }
}
