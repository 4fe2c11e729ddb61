//! Repositories: create, find, list, delete, and their settings.

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{Meta, MetaError};

/// A repository as stored. Settings are kept as ECR spells them; the core interprets them.
#[derive(Clone, Debug)]
pub struct RepositoryRow {
    pub id: i64,
    pub account_id: String,
    pub name: String,
    pub created_at: i64,
    pub tag_mutability: String,
    /// Exclusion filters, one per line.
    pub mutability_filters: String,
    pub scan_on_push: bool,
    pub encryption_type: String,
    pub kms_key: Option<String>,
}

const COLUMNS: &str = "id, account_id, name, created_at, tag_mutability, mutability_filters, \
                       scan_on_push, encryption_type, kms_key";

fn from_row(r: &AnyRow) -> Result<RepositoryRow, MetaError> {
    Ok(RepositoryRow {
        id: r.try_get(0)?,
        account_id: r.try_get(1)?,
        name: r.try_get(2)?,
        created_at: r.try_get(3)?,
        tag_mutability: r.try_get(4)?,
        mutability_filters: r.try_get(5)?,
        scan_on_push: r.try_get::<i64, _>(6)? != 0,
        encryption_type: r.try_get(7)?,
        kms_key: r.try_get(8)?,
    })
}

impl Meta {
    /// Creates a repository with its resource tags, in one transaction; `row.id` is ignored
    /// and the stored row is returned.
    pub async fn create_repository(
        &self,
        row: &RepositoryRow,
        tags: &[(String, String)],
    ) -> Result<RepositoryRow, MetaError> {
        let mut tx = self.write().await?;
        let inserted = sqlx::query(&format!(
            "INSERT INTO repositories (account_id, name, created_at, tag_mutability, \
             mutability_filters, scan_on_push, encryption_type, kms_key) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (account_id, name) DO NOTHING RETURNING {COLUMNS}"
        ))
        .bind(&row.account_id)
        .bind(&row.name)
        .bind(row.created_at)
        .bind(&row.tag_mutability)
        .bind(&row.mutability_filters)
        .bind(i64::from(row.scan_on_push))
        .bind(&row.encryption_type)
        .bind(&row.kms_key)
        .fetch_optional(&mut *tx.tx)
        .await?;
        let stored = inserted.ok_or(MetaError::RepositoryExists)?;
        let stored = from_row(&stored)?;
        crate::tags::insert_tags(&mut tx, stored.id, tags).await?;
        tx.commit().await?;
        Ok(stored)
    }

    pub async fn repository(
        &self,
        account: &str,
        name: &str,
    ) -> Result<Option<RepositoryRow>, MetaError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM repositories WHERE account_id = $1 AND name = $2"
        ))
        .bind(account)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Repositories of `account` in name order, after `after`, at most `limit`.
    pub async fn list_repositories(
        &self,
        account: &str,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<RepositoryRow>, MetaError> {
        // `COLLATE "C"` on PostgreSQL gives the byte order SQLite uses by default.
        let collate = match self.backend() {
            crate::Backend::Postgres => " COLLATE \"C\"",
            crate::Backend::Sqlite => "",
        };
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM repositories WHERE account_id = $1 AND name{collate} > $2 \
             ORDER BY name{collate} LIMIT $3"
        ))
        .bind(account)
        .bind(after.unwrap_or(""))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Deletes a repository. Without `force`, one that holds images is refused.
    pub async fn delete_repository(
        &self,
        account: &str,
        name: &str,
        force: bool,
    ) -> Result<RepositoryRow, MetaError> {
        // On PostgreSQL the row lock makes the emptiness check below hold until commit.
        let lock = match self.backend() {
            crate::Backend::Postgres => " FOR UPDATE",
            crate::Backend::Sqlite => "",
        };
        let mut tx = self.write().await?;
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM repositories WHERE account_id = $1 AND name = $2{lock}"
        ))
        .bind(account)
        .bind(name)
        .fetch_optional(&mut *tx.tx)
        .await?
        .ok_or(MetaError::RepositoryNotFound)?;
        let repo = from_row(&row)?;
        let images: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM manifests WHERE repository_id = $1")
                .bind(repo.id)
                .fetch_one(&mut *tx.tx)
                .await?;
        if images > 0 && !force {
            return Err(MetaError::RepositoryNotEmpty);
        }
        for table in [
            "tags",
            "manifest_references",
            "manifests",
            "repository_blobs",
        ] {
            sqlx::query(&format!("DELETE FROM {table} WHERE repository_id = $1"))
                .bind(repo.id)
                .execute(&mut *tx.tx)
                .await?;
        }
        for sql in [
            "DELETE FROM resource_tags WHERE resource_id = $1",
            "DELETE FROM repositories WHERE id = $1",
        ] {
            sqlx::query(sql).bind(repo.id).execute(&mut *tx.tx).await?;
        }
        tx.commit().await?;
        Ok(repo)
    }

    pub async fn set_tag_mutability(
        &self,
        repository_id: i64,
        mutability: &str,
        filters: &str,
    ) -> Result<(), MetaError> {
        let mut tx = self.write().await?;
        sqlx::query(
            "UPDATE repositories SET tag_mutability = $1, mutability_filters = $2 WHERE id = $3",
        )
        .bind(mutability)
        .bind(filters)
        .bind(repository_id)
        .execute(&mut *tx.tx)
        .await?;
        tx.commit().await
    }

    pub async fn set_scan_on_push(
        &self,
        repository_id: i64,
        scan_on_push: bool,
    ) -> Result<(), MetaError> {
        let mut tx = self.write().await?;
        sqlx::query("UPDATE repositories SET scan_on_push = $1 WHERE id = $2")
            .bind(i64::from(scan_on_push))
            .bind(repository_id)
            .execute(&mut *tx.tx)
            .await?;
        tx.commit().await
    }
}
