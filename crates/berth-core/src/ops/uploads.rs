//! Blob uploads: monolithic, chunked, resumable, and cross-repository mounts.
//!
//! The order of every commit is: the store verifies the digest and makes the bytes durable,
//! then the metadata links the blob into the repository. A crash between the two leaves an
//! unreferenced file (collected later), never a link to missing bytes.
//!
//! Upload sessions have no metadata row: the store files each one under its id and its
//! repository's id, so a session survives restarts and cannot be continued through another
//! repository. Sessions of a deleted repository are never resumable, because repository ids
//! are not reused; their files wait for garbage collection.

use berth_meta::repositories::RepositoryRow;
use berth_oci::{Digest, RepositoryName};
use berth_store::{UploadId, UploadKey};

use crate::registry::on_repository;
use crate::{Action, BodyStream, CoreError, Principal, Registry, RepositoryRef};

/// How a `POST …/blobs/uploads/?mount=` ended.
#[derive(Debug)]
pub enum MountOutcome {
    /// The blob is now in the repository; nothing needs uploading.
    Mounted,
    /// The source did not have it (or may not be read); an ordinary upload was started.
    Started(UploadId),
}

impl Registry {
    /// Authorizes `action` on the repository and names the upload within it. Whether the
    /// upload exists is the store's answer: an id from another repository names no file.
    pub(crate) async fn upload_key(
        &self,
        principal: &Principal,
        action: Action,
        repo: &RepositoryRef,
        id: UploadId,
    ) -> Result<(RepositoryRow, UploadKey), CoreError> {
        let row = self.repository(principal, action, repo).await?;
        let key = UploadKey { id, owner: row.id };
        Ok((row, key))
    }

    async fn link(&self, row: &RepositoryRow, digest: &Digest, size: u64) -> Result<(), CoreError> {
        let size = i64::try_from(size).map_err(|e| CoreError::Internal(e.to_string()))?;
        self.meta
            .link_blob(row.id, &digest.to_string(), size, self.now_millis())
            .await
            .map_err(on_repository(row))
    }

    /// Starts an upload session.
    pub async fn start_upload(
        &self,
        principal: &Principal,
        repo: &RepositoryRef,
    ) -> Result<UploadId, CoreError> {
        let row = self
            .repository_for_push(principal, Action::InitiateLayerUpload, repo)
            .await?;
        let id = UploadId::new_random();
        self.store
            .start_upload(UploadKey { id, owner: row.id })
            .await?;
        Ok(id)
    }

    /// Links a blob from another repository of the same registry without moving bytes. When
    /// the source does not hold it, falls back to starting an upload, as the spec asks.
    pub async fn mount_blob(
        &self,
        principal: &Principal,
        repo: &RepositoryRef,
        from: &RepositoryName,
        digest: &Digest,
    ) -> Result<MountOutcome, CoreError> {
        let target = self
            .repository_for_push(principal, Action::InitiateLayerUpload, repo)
            .await?;
        let source_ref = RepositoryRef {
            account: repo.account.clone(),
            name: from.clone(),
        };
        let source = self
            .repository(principal, Action::GetDownloadUrlForLayer, &source_ref)
            .await;
        if let Ok(source) = source {
            let in_store = self.store.stat(digest).await?.is_some();
            if in_store
                && self
                    .meta
                    .mount_blob(source.id, target.id, &digest.to_string(), self.now_millis())
                    .await
                    .map_err(on_repository(&target))?
                    .is_some()
            {
                return Ok(MountOutcome::Mounted);
            }
        }
        Ok(MountOutcome::Started(
            self.start_upload(principal, repo).await?,
        ))
    }

    /// The number of bytes an upload holds.
    pub async fn upload_status(
        &self,
        principal: &Principal,
        repo: &RepositoryRef,
        id: UploadId,
    ) -> Result<u64, CoreError> {
        let (_, key) = self
            .upload_key(principal, Action::UploadLayerPart, repo, id)
            .await?;
        Ok(self.store.upload_size(key).await?)
    }

    /// Appends a chunk. `offset` (from Content-Range) must be where the upload ends.
    pub async fn upload_chunk<S: BodyStream>(
        &self,
        principal: &Principal,
        repo: &RepositoryRef,
        id: UploadId,
        offset: Option<u64>,
        body: S,
    ) -> Result<u64, CoreError> {
        let (_, key) = self
            .upload_key(principal, Action::UploadLayerPart, repo, id)
            .await?;
        Ok(self.store.append(key, offset, body).await?)
    }

    /// Appends the final chunk, if any, verifies the digest and makes the blob visible.
    /// Writes the final chunk (which, with `offset` from Content-Range, must start where the
    /// upload ends, checked under the upload's lock) and commits the blob.
    pub async fn complete_upload<S: BodyStream>(
        &self,
        principal: &Principal,
        repo: &RepositoryRef,
        id: UploadId,
        offset: Option<u64>,
        digest: &Digest,
        body: S,
    ) -> Result<u64, CoreError> {
        let (row, key) = self
            .upload_key(principal, Action::CompleteLayerUpload, repo, id)
            .await?;
        let size = self.store.commit(key, offset, digest, body).await?;
        self.link(&row, digest, size).await?;
        Ok(size)
    }

    /// Removes upload sessions left unwritten for longer than the configured expiry, with their
    /// files. Run periodically; returns how many went.
    pub async fn sweep_uploads(&self) -> Result<usize, CoreError> {
        let before = self
            .clock
            .now()
            .checked_sub(self.config.upload_expiry)
            .unwrap_or(std::time::UNIX_EPOCH);
        Ok(self.store.sweep_uploads(before).await?)
    }

    /// Abandons an upload and discards its bytes.
    pub async fn cancel_upload(
        &self,
        principal: &Principal,
        repo: &RepositoryRef,
        id: UploadId,
    ) -> Result<(), CoreError> {
        let (_, key) = self
            .upload_key(principal, Action::UploadLayerPart, repo, id)
            .await?;
        self.store.cancel(key).await?;
        Ok(())
    }

    /// Uploads a whole blob in one request (`POST …/uploads/?digest=`).
    pub async fn put_blob<S: BodyStream>(
        &self,
        principal: &Principal,
        repo: &RepositoryRef,
        digest: &Digest,
        body: S,
    ) -> Result<u64, CoreError> {
        let row = self
            .repository_for_push(principal, Action::InitiateLayerUpload, repo)
            .await?;
        let key = UploadKey {
            id: UploadId::new_random(),
            owner: row.id,
        };
        let size = self.store.put(key, digest, body).await?;
        self.link(&row, digest, size).await?;
        Ok(size)
    }
}
