//! The schema, per engine, and the migrations that build it.
//!
//! The two engines differ only in types: SQLite's `INTEGER PRIMARY KEY` and `BLOB` are
//! PostgreSQL's `BIGSERIAL` and `BYTEA`. Integers are `BIGINT` everywhere so that rows decode as
//! `i64` through the `Any` driver on both.

use crate::{Backend, Meta, MetaError};

/// Each migration is a list of statements applied in one transaction, in order.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, INITIAL),
    (2, RESOURCE_TAGS),
    (3, USERS),
    (4, PULL_TIMES),
];

/// When each image was last pulled, for DescribeImages' `lastRecordedPullTime`.
const PULL_TIMES: &str = "ALTER TABLE manifests ADD COLUMN last_pulled_at BIGINT";

/// IAM users; the root user of each account is implicit.
const USERS: &str = r#"
CREATE TABLE IF NOT EXISTS users (
    account_id TEXT NOT NULL REFERENCES accounts(id),
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, name)
);
CREATE INDEX IF NOT EXISTS access_keys_by_user ON access_keys (account_id, user_name);
"#;

/// AWS resource tags (TagResource), keyed by the repository they belong to.
const RESOURCE_TAGS: &str = r#"
CREATE TABLE IF NOT EXISTS resource_tags (
    resource_id BIGINT NOT NULL REFERENCES repositories(id),
    tag_key TEXT NOT NULL,
    tag_value TEXT NOT NULL,
    PRIMARY KEY (resource_id, tag_key)
);
"#;

const INITIAL: &str = r#"
CREATE TABLE IF NOT EXISTS settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS accounts (
    id TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS access_keys (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    user_name TEXT NOT NULL,
    secret TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS repositories (
    id @ID@,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    tag_mutability TEXT NOT NULL,
    mutability_filters TEXT NOT NULL,
    scan_on_push BIGINT NOT NULL,
    encryption_type TEXT NOT NULL,
    kms_key TEXT,
    UNIQUE (account_id, name)
);
CREATE TABLE IF NOT EXISTS blobs (
    digest TEXT PRIMARY KEY,
    size BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS repository_blobs (
    repository_id BIGINT NOT NULL REFERENCES repositories(id),
    digest TEXT NOT NULL REFERENCES blobs(digest),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (repository_id, digest)
);
CREATE TABLE IF NOT EXISTS manifests (
    repository_id BIGINT NOT NULL REFERENCES repositories(id),
    digest TEXT NOT NULL,
    media_type TEXT NOT NULL,
    artifact_type TEXT,
    subject TEXT,
    annotations TEXT,
    size BIGINT NOT NULL,
    image_size BIGINT NOT NULL,
    body @BYTES@ NOT NULL,
    pushed_at BIGINT NOT NULL,
    PRIMARY KEY (repository_id, digest)
);
CREATE INDEX IF NOT EXISTS manifests_by_subject ON manifests (repository_id, subject);
CREATE TABLE IF NOT EXISTS manifest_references (
    repository_id BIGINT NOT NULL,
    parent TEXT NOT NULL,
    child TEXT NOT NULL,
    PRIMARY KEY (repository_id, parent, child)
);
CREATE INDEX IF NOT EXISTS manifest_references_by_child ON manifest_references (repository_id, child);
CREATE TABLE IF NOT EXISTS tags (
    repository_id BIGINT NOT NULL REFERENCES repositories(id),
    name TEXT NOT NULL,
    digest TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (repository_id, name)
);
CREATE INDEX IF NOT EXISTS tags_by_digest ON tags (repository_id, digest);
CREATE TABLE IF NOT EXISTS jobs (
    id @ID@,
    name TEXT NOT NULL,
    payload TEXT NOT NULL,
    run_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL,
    locked_until BIGINT
);
"#;

fn for_backend(sql: &str, backend: Backend) -> String {
    let (id, bytes) = match backend {
        Backend::Sqlite => ("INTEGER PRIMARY KEY AUTOINCREMENT", "BLOB"),
        Backend::Postgres => ("BIGSERIAL PRIMARY KEY", "BYTEA"),
    };
    sql.replace("@ID@", id).replace("@BYTES@", bytes)
}

pub(crate) async fn migrate(meta: &Meta) -> Result<(), MetaError> {
    let mut tx = meta.write().await?;
    if meta.backend() == Backend::Postgres {
        // Nodes that start together apply migrations one at a time.
        sqlx::query("SELECT pg_advisory_xact_lock(7355608)")
            .execute(&mut *tx.tx)
            .await?;
    }
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS berth_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
    )
    .execute(&mut *tx.tx)
    .await?;
    for (version, sql) in MIGRATIONS {
        let done: Option<i64> =
            sqlx::query_scalar("SELECT version FROM berth_migrations WHERE version = $1")
                .bind(version)
                .fetch_optional(&mut *tx.tx)
                .await?;
        if done.is_some() {
            continue;
        }
        for statement in for_backend(sql, meta.backend()).split(';') {
            if !statement.trim().is_empty() {
                sqlx::query(statement).execute(&mut *tx.tx).await?;
            }
        }
        sqlx::query("INSERT INTO berth_migrations (version, applied_at) VALUES ($1, 0)")
            .bind(version)
            .execute(&mut *tx.tx)
            .await?;
    }
    tx.commit().await
}
