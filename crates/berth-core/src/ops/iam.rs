//! IAM users and their access keys. Only an account's root user manages them; users have full
//! access to their account's repositories until identity policies land.

use berth_iam::{AccessKeyId, SecretAccessKey};
use berth_meta::accounts::AccessKeyRow;
use berth_meta::MetaError;

use crate::{CoreError, Principal, Registry};

/// IAM allows two access keys per user; so does berth.
const MAX_KEYS_PER_USER: usize = 2;

/// An access key as listed: never its secret.
#[derive(Clone, Debug)]
pub struct AccessKeyInfo {
    pub id: String,
    pub user_name: String,
    pub created_at_millis: i64,
}

fn valid_user_name(name: &str) -> Result<(), CoreError> {
    // IAM's pattern: 1 to 64 of [\w+=,.@-].
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b));
    if ok && name != "root" {
        Ok(())
    } else {
        Err(CoreError::InvalidParameter(format!(
            "user name {name:?} must be 1 to 64 of letters, digits and _+=,.@- (and not 'root')"
        )))
    }
}

impl Registry {
    fn require_root(&self, principal: &Principal, action: &'static str) -> Result<(), CoreError> {
        if principal.user_name() == "root" {
            Ok(())
        } else {
            Err(CoreError::AccessDenied {
                action,
                resource: format!("arn:aws:iam::{}:user/*", principal.account()),
            })
        }
    }

    pub async fn create_user(&self, principal: &Principal, name: &str) -> Result<(), CoreError> {
        self.require_root(principal, "iam:CreateUser")?;
        valid_user_name(name)?;
        self.meta
            .create_user(principal.account().as_str(), name, self.now_millis())
            .await
            .map_err(|e| match e {
                MetaError::UserExists => CoreError::UserExists(name.to_owned()),
                other => other.into(),
            })
    }

    pub async fn list_users(&self, principal: &Principal) -> Result<Vec<(String, i64)>, CoreError> {
        self.require_root(principal, "iam:ListUsers")?;
        Ok(self.meta.list_users(principal.account().as_str()).await?)
    }

    pub async fn delete_user(&self, principal: &Principal, name: &str) -> Result<(), CoreError> {
        self.require_root(principal, "iam:DeleteUser")?;
        self.meta
            .delete_user(principal.account().as_str(), name)
            .await
            .map_err(|e| match e {
                MetaError::UserNotFound => CoreError::UserNotFound(name.to_owned()),
                MetaError::UserHasKeys => CoreError::UserHasKeys(name.to_owned()),
                other => other.into(),
            })
    }

    async fn require_user(&self, principal: &Principal, name: &str) -> Result<(), CoreError> {
        if name == "root"
            || self
                .meta
                .user_exists(principal.account().as_str(), name)
                .await?
        {
            Ok(())
        } else {
            Err(CoreError::UserNotFound(name.to_owned()))
        }
    }

    /// Creates a key pair for `user`. The secret is returned here once and stored sealed.
    pub async fn create_access_key(
        &self,
        principal: &Principal,
        user: &str,
    ) -> Result<(AccessKeyId, SecretAccessKey), CoreError> {
        self.require_root(principal, "iam:CreateAccessKey")?;
        self.require_user(principal, user).await?;
        let account = principal.account().as_str();
        if user != "root"
            && self.meta.list_access_keys(account, user).await?.len() >= MAX_KEYS_PER_USER
        {
            return Err(CoreError::KeyLimitExceeded(user.to_owned()));
        }
        let (id, secret) = (AccessKeyId::generate(), SecretAccessKey::generate());
        self.meta
            .insert_access_key(&AccessKeyRow {
                id: id.to_string(),
                account_id: account.to_owned(),
                user_name: user.to_owned(),
                secret: self.sealer.seal(&secret),
                created_at: self.now_millis(),
            })
            .await?;
        Ok((id, secret))
    }

    pub async fn list_access_keys(
        &self,
        principal: &Principal,
        user: &str,
    ) -> Result<Vec<AccessKeyInfo>, CoreError> {
        self.require_root(principal, "iam:ListAccessKeys")?;
        self.require_user(principal, user).await?;
        Ok(self
            .meta
            .list_access_keys(principal.account().as_str(), user)
            .await?
            .into_iter()
            .map(|k| AccessKeyInfo {
                id: k.id,
                user_name: k.user_name,
                created_at_millis: k.created_at,
            })
            .collect())
    }

    /// Deletes a key; requests signed with it, and registry tokens issued for it, are refused
    /// from now on.
    pub async fn delete_access_key(
        &self,
        principal: &Principal,
        key_id: &str,
    ) -> Result<(), CoreError> {
        self.require_root(principal, "iam:DeleteAccessKey")?;
        if key_id == principal.access_key_id().as_str() {
            return Err(CoreError::InvalidParameter(
                "an access key cannot delete itself; sign with another key".into(),
            ));
        }
        if !self
            .meta
            .delete_access_key(principal.account().as_str(), key_id)
            .await?
        {
            return Err(CoreError::KeyNotFound(key_id.to_owned()));
        }
        self.live_keys.forget(key_id);
        Ok(())
    }
}
