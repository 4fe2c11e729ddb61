//! ECR's layer operations that go beyond `/v2`: completing an upload without a final chunk,
//! and short-lived download URLs that need no other credentials.

use std::time::Duration;

use berth_oci::Digest;
use berth_store::BlobRead;

use crate::{Action, AuthFailure, CoreError, Principal, Registry, RepositoryRef, UploadId};

/// How long a GetDownloadUrlForLayer URL works. ECR's presigned URLs are short-lived too; an
/// hour covers a slow download of a large layer.
pub const DOWNLOAD_URL_VALIDITY: Duration = Duration::from_secs(60 * 60);

impl Registry {
    /// CompleteLayerUpload: refuses a layer the repository already has, as ECR does, and
    /// otherwise commits the upload under `digest`.
    pub async fn complete_layer_upload(
        &self,
        principal: &Principal,
        repo: &RepositoryRef,
        id: UploadId,
        digest: &Digest,
    ) -> Result<u64, CoreError> {
        if self.stat_blob(principal, repo, digest).await.is_ok() {
            return Err(CoreError::LayerAlreadyExists {
                digest: digest.to_string(),
                repository: repo.name.to_string(),
                registry_id: repo.account.to_string(),
            });
        }
        let (_, key) = self
            .upload_key(principal, Action::CompleteLayerUpload, repo, id)
            .await?;
        if self.store.upload_size(key).await? == 0 {
            return Err(CoreError::EmptyUpload(id.to_string()));
        }
        let nothing =
            futures_util::stream::empty::<Result<bytes::Bytes, std::convert::Infallible>>();
        self.complete_upload(principal, repo, id, None, digest, nothing)
            .await
    }

    /// A grant that downloads one layer of one repository until it expires.
    pub async fn grant_layer_download(
        &self,
        principal: &Principal,
        repo: &RepositoryRef,
        digest: &Digest,
    ) -> Result<String, CoreError> {
        let row = self
            .repository(principal, Action::GetDownloadUrlForLayer, repo)
            .await?;
        self.require_blob(row.id, digest).await?;
        // As on ECR, only layers of images are handed out; a layer no manifest lists may be
        // collected at any time.
        if !self.meta.is_referenced(row.id, &digest.to_string()).await? {
            return Err(CoreError::LayerInaccessible(digest.clone()));
        }
        // The grant names the key it was issued to, so deleting the key revokes it.
        let what = format!(
            "{}|{}/{}@{digest}",
            principal.access_key_id(),
            repo.account,
            repo.name
        );
        Ok(self
            .signer
            .grant_download(&what, self.clock.now(), DOWNLOAD_URL_VALIDITY))
    }

    /// Opens the layer a download grant names. The grant is the authorization; the layer must
    /// still be in its repository.
    pub async fn read_granted_layer(&self, grant: &str) -> Result<(Digest, BlobRead), CoreError> {
        let what = self
            .signer
            .verify_download(grant, self.clock.now())
            .map_err(|e| match e {
                berth_iam::TokenError::Expired => CoreError::Unauthenticated(AuthFailure::Expired),
                _ => CoreError::Unauthenticated(AuthFailure::Invalid),
            })?;
        let invalid = || CoreError::Unauthenticated(AuthFailure::Invalid);
        let (key, what) = what.split_once('|').ok_or_else(invalid)?;
        self.access_key(key).await?;
        let (path, digest) = what.split_once('@').ok_or_else(invalid)?;
        let (account, name) = path.split_once('/').ok_or_else(invalid)?;
        let digest: Digest = digest.parse().map_err(|_| invalid())?;
        let row = self
            .meta
            .repository(account, name)
            .await?
            .ok_or(CoreError::BlobUnknown)?;
        self.require_blob(row.id, &digest).await?;
        Ok((digest.clone(), self.store.read(&digest, None).await?))
    }

    async fn require_blob(&self, repository_id: i64, digest: &Digest) -> Result<(), CoreError> {
        match self
            .meta
            .repository_blob(repository_id, &digest.to_string())
            .await?
        {
            Some(_) => Ok(()),
            None => Err(CoreError::BlobUnknown),
        }
    }
}
