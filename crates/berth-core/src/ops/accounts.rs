//! Accounts beyond the default one: each is a registry of its own, with its own root key pair.
//! Only the default account's root user creates them; it plays the part AWS Organizations
//! plays for ECR.

use berth_iam::{AccessKeyId, AccountId, SecretAccessKey};
use berth_meta::accounts::AccessKeyRow;

use crate::{CoreError, Principal, Registry};

/// A new account and the root key pair that manages it; the secret is shown only here.
pub struct NewAccount {
    pub account: AccountId,
    pub root_key: AccessKeyId,
    pub root_secret: SecretAccessKey,
}

impl Registry {
    pub async fn create_account(&self, principal: &Principal) -> Result<NewAccount, CoreError> {
        if principal.account() != &self.default_account || principal.user_name() != "root" {
            return Err(CoreError::AccessDenied {
                action: "organizations:CreateAccount",
                resource: "*".into(),
            });
        }
        let account = AccountId::generate();
        let now = self.now_millis();
        self.meta.ensure_account(account.as_str(), now).await?;
        let (root_key, root_secret) = (AccessKeyId::generate(), SecretAccessKey::generate());
        self.meta
            .insert_access_key(&AccessKeyRow {
                id: root_key.to_string(),
                account_id: account.to_string(),
                user_name: "root".into(),
                secret: self.sealer.seal(&root_secret),
                created_at: now,
            })
            .await?;
        Ok(NewAccount {
            account,
            root_key,
            root_secret,
        })
    }
}
