//! Accounts, access keys and server settings.

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{Meta, MetaError};

/// An access key as stored.
#[derive(Clone, Debug)]
pub struct AccessKeyRow {
    pub id: String,
    pub account_id: String,
    pub user_name: String,
    /// The secret, sealed by the caller (see `berth_iam::SecretSealer`); never plain.
    pub secret: String,
    pub created_at: i64,
}

const KEY_COLUMNS: &str = "id, account_id, user_name, secret, created_at";

fn key_row(r: &AnyRow) -> Result<AccessKeyRow, MetaError> {
    Ok(AccessKeyRow {
        id: r.try_get(0)?,
        account_id: r.try_get(1)?,
        user_name: r.try_get(2)?,
        secret: r.try_get(3)?,
        created_at: r.try_get(4)?,
    })
}

/// Inserts a key row unless its id exists.
async fn insert_key(
    tx: &mut crate::pool::WriteTx<'_>,
    key: &AccessKeyRow,
) -> Result<(), MetaError> {
    sqlx::query(
        "INSERT INTO access_keys (id, account_id, user_name, secret, created_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
    )
    .bind(&key.id)
    .bind(&key.account_id)
    .bind(&key.user_name)
    .bind(&key.secret)
    .bind(key.created_at)
    .execute(&mut *tx.tx)
    .await?;
    Ok(())
}

impl Meta {
    /// Returns the setting `name`, storing `proposed` first if it has none. Safe when several
    /// nodes race: exactly one proposal wins and every node reads the winner.
    pub async fn setting_or_insert(&self, name: &str, proposed: &str) -> Result<String, MetaError> {
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(proposed)
        .execute(&mut *tx.tx)
        .await?;
        let value: String = sqlx::query_scalar("SELECT value FROM settings WHERE name = $1")
            .bind(name)
            .fetch_one(&mut *tx.tx)
            .await?;
        tx.commit().await?;
        Ok(value)
    }

    pub async fn setting(&self, name: &str) -> Result<Option<String>, MetaError> {
        Ok(
            sqlx::query_scalar("SELECT value FROM settings WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Creates an account unless it exists.
    pub async fn ensure_account(&self, id: &str, now: i64) -> Result<(), MetaError> {
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO accounts (id, created_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(now)
        .execute(&mut *tx.tx)
        .await?;
        tx.commit().await
    }

    /// Stores an access key; an existing key with the same id is left as it is.
    pub async fn insert_access_key(&self, key: &AccessKeyRow) -> Result<(), MetaError> {
        let mut tx = self.write().await?;
        insert_key(&mut tx, key).await?;
        tx.commit().await
    }

    /// Stores a new access key for its user unless the user has `limit` keys already. The
    /// count and the insert are one transaction, under the account's row lock on PostgreSQL
    /// (SQLite serializes writers), so concurrent creations cannot pass the limit. A user
    /// other than `root` must exist.
    pub async fn create_access_key(
        &self,
        key: &AccessKeyRow,
        limit: usize,
    ) -> Result<(), MetaError> {
        let mut tx = self.write().await?;
        if self.backend() == crate::Backend::Postgres {
            sqlx::query("SELECT id FROM accounts WHERE id = $1 FOR NO KEY UPDATE")
                .bind(&key.account_id)
                .execute(&mut *tx.tx)
                .await?;
        }
        if key.user_name != "root" {
            let user: Option<i64> = sqlx::query_scalar(
                "SELECT created_at FROM users WHERE account_id = $1 AND name = $2",
            )
            .bind(&key.account_id)
            .bind(&key.user_name)
            .fetch_optional(&mut *tx.tx)
            .await?;
            if user.is_none() {
                return Err(MetaError::UserNotFound);
            }
        }
        let keys: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM access_keys WHERE account_id = $1 AND user_name = $2",
        )
        .bind(&key.account_id)
        .bind(&key.user_name)
        .fetch_one(&mut *tx.tx)
        .await?;
        if keys >= limit as i64 {
            return Err(MetaError::KeyLimitExceeded);
        }
        // An id that exists already (the same environment root key, installed by a node that
        // started a moment earlier) is left as it is: the key is there, which is what was asked.
        insert_key(&mut tx, key).await?;
        tx.commit().await
    }

    /// Deletes every access key of the account's `root` user except `keep`, returning the ids
    /// removed. For the one-time repair of keys that earlier versions created at each start.
    pub async fn delete_root_keys_except(
        &self,
        account: &str,
        keep: &[&str],
    ) -> Result<Vec<String>, MetaError> {
        let mut tx = self.write().await?;
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM access_keys WHERE account_id = $1 AND user_name = 'root' ORDER BY id",
        )
        .bind(account)
        .fetch_all(&mut *tx.tx)
        .await?;
        let mut removed = Vec::new();
        for id in ids.into_iter().filter(|id| !keep.contains(&id.as_str())) {
            sqlx::query("DELETE FROM access_keys WHERE id = $1")
                .bind(&id)
                .execute(&mut *tx.tx)
                .await?;
            removed.push(id);
        }
        tx.commit().await?;
        Ok(removed)
    }

    /// Stores a setting, replacing any value it had.
    pub async fn set_setting(&self, name: &str, value: &str) -> Result<(), MetaError> {
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO settings (name, value) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        )
        .bind(name)
        .bind(value)
        .execute(&mut *tx.tx)
        .await?;
        tx.commit().await
    }

    pub async fn access_key(&self, id: &str) -> Result<Option<AccessKeyRow>, MetaError> {
        let row = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM access_keys WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(key_row).transpose()
    }

    /// Creates an IAM user.
    pub async fn create_user(&self, account: &str, name: &str, now: i64) -> Result<(), MetaError> {
        let mut tx = self.write().await?;
        let done = sqlx::query(
            "INSERT INTO users (account_id, name, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (account_id, name) DO NOTHING",
        )
        .bind(account)
        .bind(name)
        .bind(now)
        .execute(&mut *tx.tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(MetaError::UserExists);
        }
        tx.commit().await
    }

    /// Users of an account with their creation times, by name.
    pub async fn list_users(&self, account: &str) -> Result<Vec<(String, i64)>, MetaError> {
        let rows =
            sqlx::query("SELECT name, created_at FROM users WHERE account_id = $1 ORDER BY name")
                .bind(account)
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    /// When a user was created, or `None` when there is no such user.
    pub async fn user_created_at(
        &self,
        account: &str,
        name: &str,
    ) -> Result<Option<i64>, MetaError> {
        Ok(
            sqlx::query_scalar("SELECT created_at FROM users WHERE account_id = $1 AND name = $2")
                .bind(account)
                .bind(name)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Deletes a user that has no access keys left, as IAM requires. The check and the delete
    /// are one transaction, under the account's row lock on PostgreSQL, so a key created
    /// concurrently either lands first (and the delete is refused) or finds no user.
    pub async fn delete_user(&self, account: &str, name: &str) -> Result<(), MetaError> {
        let mut tx = self.write().await?;
        if self.backend() == crate::Backend::Postgres {
            sqlx::query("SELECT id FROM accounts WHERE id = $1 FOR NO KEY UPDATE")
                .bind(account)
                .execute(&mut *tx.tx)
                .await?;
        }
        let keys: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM access_keys WHERE account_id = $1 AND user_name = $2",
        )
        .bind(account)
        .bind(name)
        .fetch_one(&mut *tx.tx)
        .await?;
        if keys > 0 {
            return Err(MetaError::UserHasKeys);
        }
        let done = sqlx::query("DELETE FROM users WHERE account_id = $1 AND name = $2")
            .bind(account)
            .bind(name)
            .execute(&mut *tx.tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(MetaError::UserNotFound);
        }
        tx.commit().await
    }

    /// Access keys of one user, oldest first (secrets stay sealed).
    pub async fn list_access_keys(
        &self,
        account: &str,
        user: &str,
    ) -> Result<Vec<AccessKeyRow>, MetaError> {
        let rows = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM access_keys \
             WHERE account_id = $1 AND user_name = $2 ORDER BY created_at, id"
        ))
        .bind(account)
        .bind(user)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(key_row).collect()
    }

    /// Deletes an access key of the account. Returns whether it existed.
    pub async fn delete_access_key(&self, account: &str, id: &str) -> Result<bool, MetaError> {
        let mut tx = self.write().await?;
        let done = sqlx::query("DELETE FROM access_keys WHERE account_id = $1 AND id = $2")
            .bind(account)
            .bind(id)
            .execute(&mut *tx.tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }
}
