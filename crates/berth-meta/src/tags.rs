//! AWS resource tags on repositories (TagResource, UntagResource, ListTagsForResource).

use sqlx::Row;

use crate::pool::WriteTx;
use crate::{Meta, MetaError};

/// Sets each key to its value inside the caller's transaction.
pub(crate) async fn insert_tags(
    tx: &mut WriteTx<'_>,
    resource_id: i64,
    tags: &[(String, String)],
) -> Result<(), MetaError> {
    for (k, v) in tags {
        sqlx::query(
            "INSERT INTO resource_tags (resource_id, tag_key, tag_value) VALUES ($1, $2, $3) \
             ON CONFLICT (resource_id, tag_key) DO UPDATE SET tag_value = excluded.tag_value",
        )
        .bind(resource_id)
        .bind(k)
        .bind(v)
        .execute(&mut *tx.tx)
        .await?;
    }
    Ok(())
}

impl Meta {
    /// Sets each key to its value, replacing values of keys that exist. If the resource would
    /// then have more than `limit` tags, nothing changes.
    pub async fn tag_resource(
        &self,
        resource_id: i64,
        tags: &[(String, String)],
        limit: usize,
    ) -> Result<(), MetaError> {
        // The repository's row lock serializes concurrent TagResource calls on PostgreSQL, so
        // two cannot each count under the limit and together pass it.
        let mut tx = self.write_repository(resource_id).await?;
        insert_tags(&mut tx, resource_id, tags).await?;
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM resource_tags WHERE resource_id = $1")
                .bind(resource_id)
                .fetch_one(&mut *tx.tx)
                .await?;
        let count = usize::try_from(count).unwrap_or(usize::MAX);
        if count > limit {
            return Err(MetaError::TooManyTags { count });
        }
        tx.commit().await
    }

    pub async fn untag_resource(&self, resource_id: i64, keys: &[String]) -> Result<(), MetaError> {
        let mut tx = self.write().await?;
        for k in keys {
            sqlx::query("DELETE FROM resource_tags WHERE resource_id = $1 AND tag_key = $2")
                .bind(resource_id)
                .bind(k)
                .execute(&mut *tx.tx)
                .await?;
        }
        tx.commit().await
    }

    /// Tags in key order.
    pub async fn resource_tags(
        &self,
        resource_id: i64,
    ) -> Result<Vec<(String, String)>, MetaError> {
        let rows = sqlx::query(
            "SELECT tag_key, tag_value FROM resource_tags WHERE resource_id = $1 ORDER BY tag_key",
        )
        .bind(resource_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }
}
