//! The connection pool, the engine it talks to, and SQLite's writer lock.

use std::str::FromStr;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool, Transaction};
use tokio::sync::{Mutex, MutexGuard};

use crate::{schema, MetaError};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct Meta {
    pub(crate) pool: AnyPool,
    backend: Backend,
    /// Serializes write transactions on SQLite; unused on PostgreSQL, which has row locks.
    writer: Mutex<()>,
}

/// A write transaction, holding SQLite's writer lock for its lifetime.
pub(crate) struct WriteTx<'a> {
    pub(crate) tx: Transaction<'static, Any>,
    _guard: Option<MutexGuard<'a, ()>>,
}

impl Meta {
    /// Connects to `url` (`sqlite://path?mode=rwc` or `postgres://…`) and brings the schema up
    /// to date.
    pub async fn connect(url: &str) -> Result<Meta, MetaError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(MetaError::UnsupportedUrl(url.to_owned()));
        };
        let options = AnyConnectOptions::from_str(url)?;
        // sqlx's URL form of SQLite options cannot ask for WAL, so every connection sets its
        // pragmas here. WAL lets readers run beside the one writer and makes each commit a
        // single fsync; synchronous=FULL keeps an acknowledged commit across a power loss.
        let pool = AnyPoolOptions::new()
            .max_connections(16)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // The busy timeout first: without it any lock conflict, even a
                        // momentary one with a checkpoint, fails at once with "locked".
                        for pragma in [
                            "PRAGMA busy_timeout = 5000",
                            "PRAGMA synchronous = FULL",
                            "PRAGMA foreign_keys = ON",
                        ] {
                            sqlx::query(pragma).execute(&mut *conn).await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        if backend == Backend::Sqlite {
            // WAL is a property of the database file: set once, kept by every later connection.
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await?;
        }
        let meta = Meta {
            pool,
            backend,
            writer: Mutex::new(()),
        };
        schema::migrate(&meta).await?;
        Ok(meta)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub(crate) async fn write(&self) -> Result<WriteTx<'_>, MetaError> {
        match self.backend {
            Backend::Sqlite => {
                let guard = self.writer.lock().await;
                // IMMEDIATE takes SQLite's write lock at BEGIN, waiting under the busy timeout.
                // A deferred BEGIN would read first and then fail at once with "database is
                // locked" when upgrading, if a transaction dropped on an error path has not
                // finished rolling back on its own connection yet.
                Ok(WriteTx {
                    tx: self.pool.begin_with("BEGIN IMMEDIATE").await?,
                    _guard: Some(guard),
                })
            }
            Backend::Postgres => Ok(WriteTx {
                tx: self.pool.begin().await?,
                _guard: None,
            }),
        }
    }

    /// A write transaction on one repository, which must still exist (else
    /// `RepositoryNotFound`: a push that finishes after its repository was deleted is told so,
    /// and links nothing). On PostgreSQL it also holds the repository's row lock, so that
    /// writes to one repository serialize there as they do on SQLite: a manifest push cannot
    /// commit beside a concurrent unlink of a blob it checked, a repository emptiness check
    /// cannot miss a push that commits meanwhile, and a deletion waits for a link in progress.
    pub(crate) async fn write_repository(
        &self,
        repository_id: i64,
    ) -> Result<WriteTx<'_>, MetaError> {
        let mut tx = self.write().await?;
        let lookup = match self.backend {
            Backend::Postgres => "SELECT id FROM repositories WHERE id = $1 FOR NO KEY UPDATE",
            Backend::Sqlite => "SELECT id FROM repositories WHERE id = $1",
        };
        let found: Option<i64> = sqlx::query_scalar(lookup)
            .bind(repository_id)
            .fetch_optional(&mut *tx.tx)
            .await?;
        if found.is_none() {
            return Err(MetaError::RepositoryNotFound);
        }
        Ok(tx)
    }

    /// Closes every connection, so SQLite checkpoints its WAL on shutdown.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

impl WriteTx<'_> {
    pub(crate) async fn commit(self) -> Result<(), MetaError> {
        self.tx.commit().await?;
        Ok(())
    }
}
