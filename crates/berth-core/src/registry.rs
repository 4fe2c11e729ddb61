//! The [`Registry`] service object and the lookups every operation shares.

use std::path::PathBuf;
use std::sync::Arc;

use berth_iam::{AccountId, TokenSigner};
use berth_meta::repositories::RepositoryRow;
use berth_meta::Meta;
use berth_oci::RepositoryName;
use berth_store::BlobStore;

use crate::mutability::{TagMutability, TagMutabilityRule};
use crate::{Action, Clock, CoreError, Principal};

/// What the core needs to know of the configuration.
#[derive(Clone)]
pub struct RegistryConfig {
    /// Where blobs and uploads live.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`.
    pub metadata_url: String,
    /// The region this deployment serves, as ECR ARNs and SigV4 scopes name it.
    pub region: String,
    /// Create a repository on first push instead of refusing with NAME_UNKNOWN.
    pub auto_create_repositories: bool,
    /// Seals secret access keys at rest; must be the same on every node.
    pub master_key: [u8; 32],
    /// Upload sessions one repository may have in progress at once.
    pub max_uploads_per_repository: usize,
    /// How long an upload session may go unwritten before the sweep removes it.
    pub upload_expiry: std::time::Duration,
}

/// A repository addressed within a registry (an account).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepositoryRef {
    pub account: AccountId,
    pub name: RepositoryName,
}

impl RepositoryRef {
    pub fn arn(&self, region: &str) -> String {
        format!(
            "arn:aws:ecr:{region}:{}:repository/{}",
            self.account, self.name
        )
    }
}

pub struct Registry {
    pub(crate) meta: Meta,
    pub(crate) store: BlobStore,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) signer: TokenSigner,
    pub(crate) sealer: berth_iam::SecretSealer,
    pub(crate) live_keys: crate::identity::LiveKeys,
    pub(crate) pull_log: crate::pull_log::PullLog,
    /// Names this process in leases it holds in the database (schedules, jobs).
    pub(crate) node_id: String,
    pub(crate) config: RegistryConfig,
    pub(crate) default_account: AccountId,
}

impl Registry {
    pub fn config(&self) -> &RegistryConfig {
        &self.config
    }

    /// The account the bare host serves.
    pub fn default_account(&self) -> &AccountId {
        &self.default_account
    }

    /// Whether the metadata database answers, for `/readyz`.
    pub async fn ready(&self) -> bool {
        self.meta.setting("default_account").await.is_ok()
    }

    pub async fn close(&self) {
        self.meta.close().await;
    }

    /// The one authorization decision. Today a principal may act within its own account;
    /// identity, repository and registry policies plug in here.
    pub fn authorize(
        &self,
        principal: &Principal,
        action: Action,
        account: &AccountId,
        resource: impl FnOnce() -> String,
    ) -> Result<(), CoreError> {
        if principal.account() == account {
            Ok(())
        } else {
            Err(CoreError::AccessDenied {
                action: action.as_str(),
                resource: resource(),
            })
        }
    }

    /// Authorizes `action` on `repo` and returns the repository, or RepositoryNotFound.
    pub(crate) async fn repository(
        &self,
        principal: &Principal,
        action: Action,
        repo: &RepositoryRef,
    ) -> Result<RepositoryRow, CoreError> {
        self.authorize(principal, action, &repo.account, || {
            repo.arn(&self.config.region)
        })?;
        self.meta
            .repository(repo.account.as_str(), repo.name.as_str())
            .await?
            .ok_or_else(|| not_found(repo))
    }

    /// Like [`Registry::repository`], but for pushes: with `auto_create_repositories` a
    /// missing repository is created with default settings.
    pub(crate) async fn repository_for_push(
        &self,
        principal: &Principal,
        action: Action,
        repo: &RepositoryRef,
    ) -> Result<RepositoryRow, CoreError> {
        match self.repository(principal, action, repo).await {
            Err(CoreError::RepositoryNotFound { .. }) if self.config.auto_create_repositories => {
                match self
                    .insert_repository(repo, &crate::ops::repositories::NewRepository::default())
                    .await
                {
                    Ok(row) => Ok(row),
                    // Another push created it first.
                    Err(CoreError::RepositoryExists { .. }) => {
                        self.repository(principal, action, repo).await
                    }
                    Err(e) => Err(e),
                }
            }
            other => other,
        }
    }

    pub(crate) fn now_millis(&self) -> i64 {
        self.clock.now_millis()
    }
}

pub(crate) fn not_found(repo: &RepositoryRef) -> CoreError {
    CoreError::RepositoryNotFound {
        name: repo.name.to_string(),
        registry_id: repo.account.to_string(),
    }
}

/// Maps a metadata error from a write to a repository the caller had found: one deleted
/// meanwhile is `RepositoryNotFound`, as if it had not been found; the rest are internal.
pub(crate) fn on_repository(
    row: &RepositoryRow,
) -> impl Fn(berth_meta::MetaError) -> CoreError + '_ {
    move |e| match e {
        berth_meta::MetaError::RepositoryNotFound => CoreError::RepositoryNotFound {
            name: row.name.clone(),
            registry_id: row.account_id.clone(),
        },
        other => other.into(),
    }
}

/// Reads a stored mutability setting back into its rule.
pub(crate) fn mutability_rule(row: &RepositoryRow) -> Result<TagMutabilityRule, CoreError> {
    let mutability: TagMutability = row.tag_mutability.parse().map_err(CoreError::Internal)?;
    let filters = row
        .mutability_filters
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    TagMutabilityRule::new(mutability, filters).map_err(CoreError::Internal)
}
