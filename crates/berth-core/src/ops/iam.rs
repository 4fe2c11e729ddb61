//! IAM users and their access keys. Only an account's root user manages them; users have full
//! access to their account's repositories until identity policies land.

use berth_iam::{AccessKeyId, SecretAccessKey};
use berth_meta::accounts::AccessKeyRow;
use berth_meta::MetaError;

use crate::{CoreError, Principal, Registry};

/// IAM allows two access keys per user, the root user included.
const MAX_KEYS_PER_USER: usize = 2;

/// An IAM user, or an account's root user, as IAM and STS describe it.
#[derive(Clone, Debug)]
pub struct UserInfo {
    pub name: String,
    pub arn: String,
    /// `AIDA…` for a user; the account id for the root user, as STS reports it.
    pub user_id: String,
    pub created_at_millis: i64,
}

fn user_info(account: &str, name: &str, created_at_millis: i64) -> UserInfo {
    UserInfo {
        name: name.to_owned(),
        arn: format!("arn:aws:iam::{account}:user/{name}"),
        user_id: berth_iam::user_id(account, name, created_at_millis),
        created_at_millis,
    }
}

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

    pub async fn create_user(
        &self,
        principal: &Principal,
        name: &str,
    ) -> Result<UserInfo, CoreError> {
        self.require_root(principal, "iam:CreateUser")?;
        valid_user_name(name)?;
        let account = principal.account().as_str();
        let now = self.now_millis();
        self.meta
            .create_user(account, name, now)
            .await
            .map_err(|e| match e {
                MetaError::UserExists => CoreError::UserExists(name.to_owned()),
                other => other.into(),
            })?;
        Ok(user_info(account, name, now))
    }

    pub async fn list_users(&self, principal: &Principal) -> Result<Vec<UserInfo>, CoreError> {
        self.require_root(principal, "iam:ListUsers")?;
        let account = principal.account().as_str();
        let users = self.meta.list_users(account).await?;
        Ok(users
            .iter()
            .map(|(name, created)| user_info(account, name, *created))
            .collect())
    }

    /// Who signed a request, as STS GetCallerIdentity answers: the account's root user, whose
    /// id is the account id, or an IAM user.
    pub async fn caller_identity(&self, principal: &Principal) -> Result<UserInfo, CoreError> {
        let account = principal.account().as_str();
        if principal.user_name() == "root" {
            return Ok(UserInfo {
                name: "root".into(),
                arn: principal.arn(),
                user_id: account.to_owned(),
                created_at_millis: 0,
            });
        }
        let name = principal.user_name();
        let created = self
            .meta
            .user_created_at(account, name)
            .await?
            .ok_or_else(|| CoreError::UserNotFound(name.to_owned()))?;
        Ok(user_info(account, name, created))
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
                .user_created_at(principal.account().as_str(), name)
                .await?
                .is_some()
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
        let account = principal.account().as_str();
        let (id, secret) = (AccessKeyId::generate(), SecretAccessKey::generate());
        self.meta
            .create_access_key(
                &AccessKeyRow {
                    id: id.to_string(),
                    account_id: account.to_owned(),
                    user_name: user.to_owned(),
                    secret: self.sealer.seal(&secret),
                    created_at: self.now_millis(),
                },
                MAX_KEYS_PER_USER,
            )
            .await
            .map_err(|e| match e {
                MetaError::UserNotFound => CoreError::UserNotFound(user.to_owned()),
                MetaError::KeyLimitExceeded => CoreError::KeyLimitExceeded(user.to_owned()),
                other => other.into(),
            })?;
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
