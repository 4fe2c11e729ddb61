//! The schema, per engine: the migrations in `migrations/sqlite` and `migrations/postgres`,
//! embedded at build time and applied at connect by sqlx's migrator.
//!
//! The two folders differ only in types: SQLite's `INTEGER PRIMARY KEY` and `BLOB` are
//! PostgreSQL's `BIGSERIAL` and `BYTEA`. Integers are `BIGINT` everywhere so that rows decode as
//! `i64` through the `Any` driver on both. The migrator records each applied migration with a
//! checksum in `_sqlx_migrations`, refuses a database whose applied migrations were edited, and
//! refuses one migrated by a newer binary, so a rolling upgrade cannot run old code on a new
//! schema. On PostgreSQL it holds an advisory lock while it runs, so nodes that start together
//! migrate one at a time.

use sqlx::migrate::{Migrate, MigrateError, Migrator};

use crate::{Backend, Meta, MetaError};

static SQLITE: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("migrations/postgres");

pub(crate) async fn migrate(meta: &Meta) -> Result<(), MetaError> {
    let migrator = match meta.backend() {
        Backend::Sqlite => &SQLITE,
        Backend::Postgres => &POSTGRES,
    };
    adopt_legacy_record(meta, migrator).await?;
    let known = migrator.iter().map(|m| m.version).max().unwrap_or(0);
    migrator.run(&meta.pool).await.map_err(|e| match e {
        MigrateError::VersionMissing(applied) => MetaError::SchemaTooNew { applied, known },
        MigrateError::VersionMismatch(version) => MetaError::SchemaModified(version),
        other => MetaError::Migration(other.to_string()),
    })
}

/// Releases up to 0.1.x recorded applied migrations in a table of their own,
/// `berth_migrations`, by version alone. Their migrations are the first four here, statement
/// for statement, so a database they built is recorded as having applied those (with this
/// binary's checksums) and their table dropped, in one transaction.
async fn adopt_legacy_record(meta: &Meta, migrator: &Migrator) -> Result<(), MetaError> {
    let mut tx = meta.write().await?;
    let lookup = match meta.backend() {
        Backend::Sqlite => {
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'berth_migrations'"
        }
        Backend::Postgres => {
            // Nodes that start together adopt the record one at a time.
            sqlx::query("SELECT pg_advisory_xact_lock(7355608)")
                .execute(&mut *tx.tx)
                .await?;
            "SELECT COUNT(*) FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name = 'berth_migrations'"
        }
    };
    let legacy: i64 = sqlx::query_scalar(lookup).fetch_one(&mut *tx.tx).await?;
    if legacy == 0 {
        return Ok(());
    }
    let versions: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM berth_migrations ORDER BY version")
            .fetch_all(&mut *tx.tx)
            .await?;
    (*tx.tx)
        .ensure_migrations_table()
        .await
        .map_err(|e| MetaError::Migration(e.to_string()))?;
    for version in &versions {
        let Some(migration) = migrator.iter().find(|m| m.version == *version) else {
            let known = migrator.iter().map(|m| m.version).max().unwrap_or(0);
            return Err(MetaError::SchemaTooNew {
                applied: *version,
                known,
            });
        };
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES ($1, $2, TRUE, $3, 0)",
        )
        .bind(migration.version)
        .bind(migration.description.as_ref())
        .bind(migration.checksum.as_ref())
        .execute(&mut *tx.tx)
        .await?;
    }
    sqlx::query("DROP TABLE berth_migrations")
        .execute(&mut *tx.tx)
        .await?;
    tx.commit().await?;
    tracing::info!(
        ?versions,
        "adopted the schema record of an earlier release into sqlx's migration table"
    );
    Ok(())
}
