//! Upload sessions. The bytes live in the blob store; this records which repository owns each
//! session, so an upload survives a restart and cannot be finished through another repository.

use crate::{Meta, MetaError};

impl Meta {
    pub async fn create_upload(
        &self,
        id: &str,
        repository_id: i64,
        now: i64,
    ) -> Result<(), MetaError> {
        let mut tx = self.write().await?;
        sqlx::query("INSERT INTO uploads (id, repository_id, created_at) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(repository_id)
            .bind(now)
            .execute(&mut *tx.tx)
            .await?;
        tx.commit().await
    }

    /// The repository that owns the upload.
    pub async fn upload_repository(&self, id: &str) -> Result<Option<i64>, MetaError> {
        Ok(
            sqlx::query_scalar("SELECT repository_id FROM uploads WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    pub async fn delete_upload(&self, id: &str) -> Result<(), MetaError> {
        let mut tx = self.write().await?;
        sqlx::query("DELETE FROM uploads WHERE id = $1")
            .bind(id)
            .execute(&mut *tx.tx)
            .await?;
        tx.commit().await
    }
}
