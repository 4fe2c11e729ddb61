//! Manifests and tags: what `docker push` writes and `docker pull` reads.

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::pool::WriteTx;
use crate::{Meta, MetaError};

/// A manifest as served: its digest, media type and the exact bytes pushed.
#[derive(Clone, Debug)]
pub struct ManifestRow {
    pub repository_id: i64,
    pub digest: String,
    pub media_type: String,
    pub body: Vec<u8>,
}

/// A manifest that names another as its subject, for the referrers API.
#[derive(Clone, Debug)]
pub struct ReferrerRow {
    pub digest: String,
    pub media_type: String,
    pub artifact_type: Option<String>,
    pub size: i64,
    pub annotations: Option<String>,
}

/// A manifest to store, with everything it references.
pub struct NewManifest<'a> {
    pub repository_id: i64,
    pub digest: &'a str,
    pub media_type: &'a str,
    pub artifact_type: Option<&'a str>,
    pub subject: Option<&'a str>,
    pub annotations: Option<String>,
    pub body: &'a [u8],
    /// The sum of the layer sizes, as ECR reports `imageSizeInBytes`.
    pub image_size: i64,
    /// Blobs (config and layers) that must be linked into the repository.
    pub blobs: Vec<String>,
    /// Child manifests that must already be in the repository.
    pub children: Vec<String>,
    pub now: i64,
}

/// What a manifest push changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PutOutcome {
    /// The manifest was not in the repository before.
    pub manifest_created: bool,
    /// The tag was created or moved.
    pub tag_changed: bool,
}

/// An image as ECR's DescribeImages and ListImages report it.
#[derive(Clone, Debug)]
pub struct ImageRow {
    pub digest: String,
    pub media_type: String,
    pub artifact_type: Option<String>,
    pub image_size: i64,
    pub pushed_at: i64,
    pub last_pulled_at: Option<i64>,
    /// In lexical order.
    pub tags: Vec<String>,
}

/// A tag to point at the manifest in the same transaction.
pub struct TagUpdate<'a> {
    pub name: &'a str,
    /// Computed by the caller from the repository's mutability rules for this tag.
    pub immutable: bool,
}

fn manifest_row(r: &AnyRow) -> Result<ManifestRow, MetaError> {
    Ok(ManifestRow {
        digest: r.try_get(0)?,
        media_type: r.try_get(1)?,
        body: r.try_get(2)?,
        repository_id: r.try_get(3)?,
    })
}

impl Meta {
    /// Stores a manifest and optionally tags it, atomically. Every referenced blob and child
    /// manifest must be in the repository; an immutable tag may only be re-pushed with the
    /// digest it already has.
    pub async fn put_manifest(
        &self,
        m: &NewManifest<'_>,
        tag: Option<TagUpdate<'_>>,
    ) -> Result<PutOutcome, MetaError> {
        let mut tx = self.write_repository(m.repository_id).await?;
        for digest in &m.blobs {
            let linked: Option<i64> = sqlx::query_scalar(
                "SELECT 1 FROM repository_blobs WHERE repository_id = $1 AND digest = $2",
            )
            .bind(m.repository_id)
            .bind(digest)
            .fetch_optional(&mut *tx.tx)
            .await?;
            if linked.is_none() {
                return Err(MetaError::MissingReference {
                    digest: digest.clone(),
                    is_manifest: false,
                });
            }
        }
        // ECR sizes an index as its largest child image, so the children's sizes are read here.
        let mut largest_child = None;
        for digest in &m.children {
            let size: Option<i64> = sqlx::query_scalar(
                "SELECT image_size FROM manifests WHERE repository_id = $1 AND digest = $2",
            )
            .bind(m.repository_id)
            .bind(digest)
            .fetch_optional(&mut *tx.tx)
            .await?;
            let Some(size) = size else {
                return Err(MetaError::MissingReference {
                    digest: digest.clone(),
                    is_manifest: true,
                });
            };
            largest_child = largest_child.max(Some(size));
        }
        let image_size = largest_child.unwrap_or(m.image_size);
        let inserted = sqlx::query(
            "INSERT INTO manifests (repository_id, digest, media_type, artifact_type, subject, \
             annotations, size, image_size, body, pushed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (repository_id, digest) DO NOTHING",
        )
        .bind(m.repository_id)
        .bind(m.digest)
        .bind(m.media_type)
        .bind(m.artifact_type)
        .bind(m.subject)
        .bind(&m.annotations)
        .bind(m.body.len() as i64)
        .bind(image_size)
        .bind(m.body)
        .bind(m.now)
        .execute(&mut *tx.tx)
        .await?;
        if inserted.rows_affected() > 0 {
            for child in m.blobs.iter().chain(&m.children) {
                sqlx::query(
                    "INSERT INTO manifest_references (repository_id, parent, child) \
                     VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                )
                .bind(m.repository_id)
                .bind(m.digest)
                .bind(child)
                .execute(&mut *tx.tx)
                .await?;
            }
        }
        let tag_changed = match tag {
            Some(tag) => write_tag(&mut tx, m.repository_id, &tag, m.digest, m.now).await?,
            None => false,
        };
        tx.commit().await?;
        Ok(PutOutcome {
            manifest_created: inserted.rows_affected() > 0,
            tag_changed,
        })
    }

    /// Every image of a repository with its tags, in push order.
    pub async fn list_images(&self, repository_id: i64) -> Result<Vec<ImageRow>, MetaError> {
        let rows = sqlx::query(
            "SELECT digest, media_type, artifact_type, image_size, pushed_at, last_pulled_at \
             FROM manifests WHERE repository_id = $1 ORDER BY pushed_at, digest",
        )
        .bind(repository_id)
        .fetch_all(&self.pool)
        .await?;
        let mut images = rows
            .iter()
            .map(|r| {
                Ok(ImageRow {
                    digest: r.try_get(0)?,
                    media_type: r.try_get(1)?,
                    artifact_type: r.try_get(2)?,
                    image_size: r.try_get(3)?,
                    pushed_at: r.try_get(4)?,
                    last_pulled_at: r.try_get(5)?,
                    tags: Vec::new(),
                })
            })
            .collect::<Result<Vec<_>, MetaError>>()?;
        let tags =
            sqlx::query("SELECT digest, name FROM tags WHERE repository_id = $1 ORDER BY name")
                .bind(repository_id)
                .fetch_all(&self.pool)
                .await?;
        let mut by_digest: std::collections::HashMap<String, Vec<String>> =
            std::collections::HashMap::new();
        for t in &tags {
            by_digest
                .entry(t.try_get(0)?)
                .or_default()
                .push(t.try_get(1)?);
        }
        for image in &mut images {
            image.tags = by_digest.remove(&image.digest).unwrap_or_default();
        }
        Ok(images)
    }

    /// The manifest tagged `tag` in `account`/`name`, in one indexed lookup: the pull hot path.
    pub async fn manifest_by_tag(
        &self,
        account: &str,
        name: &str,
        tag: &str,
    ) -> Result<Option<ManifestRow>, MetaError> {
        let row = sqlx::query(
            "SELECT m.digest, m.media_type, m.body, r.id FROM repositories r \
             JOIN tags t ON t.repository_id = r.id \
             JOIN manifests m ON m.repository_id = r.id AND m.digest = t.digest \
             WHERE r.account_id = $1 AND r.name = $2 AND t.name = $3",
        )
        .bind(account)
        .bind(name)
        .bind(tag)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(manifest_row).transpose()
    }

    pub async fn manifest_by_digest(
        &self,
        account: &str,
        name: &str,
        digest: &str,
    ) -> Result<Option<ManifestRow>, MetaError> {
        let row = sqlx::query(
            "SELECT m.digest, m.media_type, m.body, r.id FROM repositories r \
             JOIN manifests m ON m.repository_id = r.id \
             WHERE r.account_id = $1 AND r.name = $2 AND m.digest = $3",
        )
        .bind(account)
        .bind(name)
        .bind(digest)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(manifest_row).transpose()
    }

    /// Records pull times `(repository id, digest, millis)`; a time only ever moves forward.
    pub async fn record_pulls(&self, pulls: &[(i64, String, i64)]) -> Result<(), MetaError> {
        let mut tx = self.write().await?;
        for (repository_id, digest, at) in pulls {
            sqlx::query(
                "UPDATE manifests SET last_pulled_at = $1 WHERE repository_id = $2 AND digest = $3 \
                 AND (last_pulled_at IS NULL OR last_pulled_at < $1)",
            )
            .bind(at)
            .bind(repository_id)
            .bind(digest)
            .execute(&mut *tx.tx)
            .await?;
        }
        tx.commit().await
    }

    /// Deletes a manifest and every tag that points at it. Returns whether it existed.
    pub async fn delete_manifest(
        &self,
        repository_id: i64,
        digest: &str,
    ) -> Result<bool, MetaError> {
        let mut tx = self.write_repository(repository_id).await?;
        if is_referenced_in(&mut tx, repository_id, digest).await? {
            return Err(MetaError::ReferencedByIndex);
        }
        for sql in [
            "DELETE FROM tags WHERE repository_id = $1 AND digest = $2",
            "DELETE FROM manifest_references WHERE repository_id = $1 AND parent = $2",
        ] {
            sqlx::query(sql)
                .bind(repository_id)
                .bind(digest)
                .execute(&mut *tx.tx)
                .await?;
        }
        let done = sqlx::query("DELETE FROM manifests WHERE repository_id = $1 AND digest = $2")
            .bind(repository_id)
            .bind(digest)
            .execute(&mut *tx.tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    /// ECR's untag, atomically: removes `tag` (which must point at `expected`, when given) and,
    /// when that was the image's last tag, the image too. Returns the digest the tag named,
    /// or `None` when there was no such tag.
    pub async fn untag_image(
        &self,
        repository_id: i64,
        tag: &str,
        expected: Option<&str>,
    ) -> Result<Option<String>, MetaError> {
        let mut tx = self.write_repository(repository_id).await?;
        let digest: Option<String> =
            sqlx::query_scalar("SELECT digest FROM tags WHERE repository_id = $1 AND name = $2")
                .bind(repository_id)
                .bind(tag)
                .fetch_optional(&mut *tx.tx)
                .await?;
        let Some(digest) = digest else {
            return Ok(None);
        };
        if expected.is_some_and(|e| e != digest) {
            return Err(MetaError::TagMismatch { actual: digest });
        }
        sqlx::query("DELETE FROM tags WHERE repository_id = $1 AND name = $2")
            .bind(repository_id)
            .bind(tag)
            .execute(&mut *tx.tx)
            .await?;
        let remaining: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM tags WHERE repository_id = $1 AND digest = $2",
        )
        .bind(repository_id)
        .bind(&digest)
        .fetch_one(&mut *tx.tx)
        .await?;
        // The image goes with its last tag, unless an index still needs it.
        if remaining == 0 && !is_referenced_in(&mut tx, repository_id, &digest).await? {
            for sql in [
                "DELETE FROM manifest_references WHERE repository_id = $1 AND parent = $2",
                "DELETE FROM manifests WHERE repository_id = $1 AND digest = $2",
            ] {
                sqlx::query(sql)
                    .bind(repository_id)
                    .bind(&digest)
                    .execute(&mut *tx.tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(Some(digest))
    }

    /// Removes one tag and leaves the manifest and its other tags alone.
    pub async fn delete_tag(&self, repository_id: i64, tag: &str) -> Result<bool, MetaError> {
        let mut tx = self.write_repository(repository_id).await?;
        let done = sqlx::query("DELETE FROM tags WHERE repository_id = $1 AND name = $2")
            .bind(repository_id)
            .bind(tag)
            .execute(&mut *tx.tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    /// Tags in lexical (byte) order after `after`, at most `limit`.
    pub async fn list_tags(
        &self,
        repository_id: i64,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<String>, MetaError> {
        // `COLLATE "C"` on PostgreSQL gives the byte order SQLite uses by default.
        let collate = match self.backend() {
            crate::Backend::Postgres => " COLLATE \"C\"",
            crate::Backend::Sqlite => "",
        };
        // One row, not one per tag: the database joins the page into a single string, which
        // is several times faster for long lists than fetching row by row (each row is a
        // separate message from the SQLite worker thread). Tags cannot contain ',' (the tag
        // grammar is [A-Za-z0-9_.-]), so it separates them unambiguously.
        let joined: Option<String> = sqlx::query_scalar(&format!(
            "SELECT string_agg(name, ',' ORDER BY name{collate}) FROM \
             (SELECT name FROM tags WHERE repository_id = $1 AND name{collate} > $2 \
              ORDER BY name{collate} LIMIT $3) AS page"
        ))
        .bind(repository_id)
        .bind(after.unwrap_or(""))
        .bind(limit)
        .fetch_one(&self.pool)
        .await?;
        Ok(joined
            .map(|j| j.split(',').map(str::to_owned).collect())
            .unwrap_or_default())
    }

    /// Manifests whose subject is `digest`, in digest order.
    pub async fn referrers(
        &self,
        repository_id: i64,
        digest: &str,
    ) -> Result<Vec<ReferrerRow>, MetaError> {
        let rows = sqlx::query(
            "SELECT digest, media_type, artifact_type, size, annotations FROM manifests \
             WHERE repository_id = $1 AND subject = $2 ORDER BY digest",
        )
        .bind(repository_id)
        .bind(digest)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ReferrerRow {
                    digest: r.try_get(0)?,
                    media_type: r.try_get(1)?,
                    artifact_type: r.try_get(2)?,
                    size: r.try_get(3)?,
                    annotations: r.try_get(4)?,
                })
            })
            .collect()
    }
}

/// Points `tag` at `digest` and says whether that changed anything. The insert is tried first
/// so that two pushes racing on a new immutable tag cannot both win: exactly one insert
/// succeeds and the other sees its digest.
async fn write_tag(
    tx: &mut WriteTx<'_>,
    repository_id: i64,
    tag: &TagUpdate<'_>,
    digest: &str,
    now: i64,
) -> Result<bool, MetaError> {
    let inserted = sqlx::query(
        "INSERT INTO tags (repository_id, name, digest, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (repository_id, name) DO NOTHING",
    )
    .bind(repository_id)
    .bind(tag.name)
    .bind(digest)
    .bind(now)
    .execute(&mut *tx.tx)
    .await?;
    if inserted.rows_affected() > 0 {
        return Ok(true);
    }
    let existing: String =
        sqlx::query_scalar("SELECT digest FROM tags WHERE repository_id = $1 AND name = $2")
            .bind(repository_id)
            .bind(tag.name)
            .fetch_one(&mut *tx.tx)
            .await?;
    if existing == digest {
        return Ok(false);
    }
    if tag.immutable {
        return Err(MetaError::TagImmutable { existing });
    }
    sqlx::query(
        "UPDATE tags SET digest = $1, updated_at = $2 WHERE repository_id = $3 AND name = $4",
    )
    .bind(digest)
    .bind(now)
    .bind(repository_id)
    .bind(tag.name)
    .execute(&mut *tx.tx)
    .await?;
    Ok(true)
}

impl Meta {
    /// Whether a manifest in the repository lists `digest` (as a layer, config or child).
    pub async fn is_referenced(&self, repository_id: i64, digest: &str) -> Result<bool, MetaError> {
        references(&self.pool, repository_id, digest).await
    }
}

/// Whether a manifest in the repository lists `digest`, seen from inside a write transaction.
pub(crate) async fn is_referenced_in(
    tx: &mut WriteTx<'_>,
    repository_id: i64,
    digest: &str,
) -> Result<bool, MetaError> {
    references(&mut *tx.tx, repository_id, digest).await
}

/// Whether any manifest in the repository lists `digest`; one query for the pool and for
/// transactions alike.
async fn references<'c, E>(executor: E, repository_id: i64, digest: &str) -> Result<bool, MetaError>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM manifest_references WHERE repository_id = $1 AND child = $2 LIMIT 1",
    )
    .bind(repository_id)
    .bind(digest)
    .fetch_optional(executor)
    .await?;
    Ok(found.is_some())
}
