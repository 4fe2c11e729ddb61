//! Blobs and their links to repositories.
//!
//! A blob is stored once (`blobs`) and linked into each repository that may use it
//! (`repository_blobs`). A manifest may only reference blobs linked into its own repository;
//! a cross-repository mount adds a link without moving bytes.

use crate::pool::WriteTx;
use crate::{Meta, MetaError};

async fn link_blob_in(
    tx: &mut WriteTx<'_>,
    repository_id: i64,
    digest: &str,
    size: i64,
    now: i64,
) -> Result<(), MetaError> {
    sqlx::query(
        "INSERT INTO blobs (digest, size, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (digest) DO NOTHING",
    )
    .bind(digest)
    .bind(size)
    .bind(now)
    .execute(&mut *tx.tx)
    .await?;
    sqlx::query(
        "INSERT INTO repository_blobs (repository_id, digest, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (repository_id, digest) DO NOTHING",
    )
    .bind(repository_id)
    .bind(digest)
    .bind(now)
    .execute(&mut *tx.tx)
    .await?;
    Ok(())
}

impl Meta {
    /// The size of `digest` if it is linked into the repository.
    pub async fn repository_blob(
        &self,
        repository_id: i64,
        digest: &str,
    ) -> Result<Option<i64>, MetaError> {
        Ok(sqlx::query_scalar(
            "SELECT b.size FROM repository_blobs r JOIN blobs b ON b.digest = r.digest \
             WHERE r.repository_id = $1 AND r.digest = $2",
        )
        .bind(repository_id)
        .bind(digest)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Records a committed blob and links it into the repository. Idempotent.
    pub async fn link_blob(
        &self,
        repository_id: i64,
        digest: &str,
        size: i64,
        now: i64,
    ) -> Result<(), MetaError> {
        let mut tx = self.write_repository(repository_id).await?;
        link_blob_in(&mut tx, repository_id, digest, size, now).await?;
        tx.commit().await
    }

    /// Links a blob already known to the registry into another repository, when the source
    /// repository holds it. Returns its size, or `None` when the source does not have it.
    pub async fn mount_blob(
        &self,
        from_repository_id: i64,
        to_repository_id: i64,
        digest: &str,
        now: i64,
    ) -> Result<Option<i64>, MetaError> {
        let mut tx = self.write_repository(to_repository_id).await?;
        let size: Option<i64> = sqlx::query_scalar(
            "SELECT b.size FROM repository_blobs r JOIN blobs b ON b.digest = r.digest \
             WHERE r.repository_id = $1 AND r.digest = $2",
        )
        .bind(from_repository_id)
        .bind(digest)
        .fetch_optional(&mut *tx.tx)
        .await?;
        if size.is_some() {
            sqlx::query(
                "INSERT INTO repository_blobs (repository_id, digest, created_at) \
                 VALUES ($1, $2, $3) ON CONFLICT (repository_id, digest) DO NOTHING",
            )
            .bind(to_repository_id)
            .bind(digest)
            .bind(now)
            .execute(&mut *tx.tx)
            .await?;
            tx.commit().await?;
        }
        Ok(size)
    }

    /// Removes a blob's link from a repository. Returns whether it was linked.
    pub async fn unlink_blob(&self, repository_id: i64, digest: &str) -> Result<bool, MetaError> {
        let mut tx = self.write_repository(repository_id).await?;
        // Checked under the repository's lock, so no manifest that lists it commits meanwhile.
        if crate::images::is_referenced_in(&mut tx, repository_id, digest).await? {
            return Err(MetaError::BlobReferenced);
        }
        let done =
            sqlx::query("DELETE FROM repository_blobs WHERE repository_id = $1 AND digest = $2")
                .bind(repository_id)
                .bind(digest)
                .execute(&mut *tx.tx)
                .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }
}
