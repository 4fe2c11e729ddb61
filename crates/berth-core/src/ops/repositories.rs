//! Repositories: create, describe, delete, and their tag mutability.

use berth_meta::repositories::RepositoryRow;
use berth_meta::MetaError;

use crate::mutability::TagMutabilityRule;
use crate::registry::{mutability_rule, not_found};
use crate::{Action, CoreError, Principal, Registry, RepositoryRef};

/// Settings for a new repository. Encryption and tags are checked by
/// [`Registry::create_repository`].
#[derive(Clone, Debug)]
pub struct NewRepository {
    pub mutability: TagMutabilityRule,
    pub scan_on_push: bool,
    pub encryption_type: String,
    pub kms_key: Option<String>,
    /// AWS resource tags, stored with the repository in one transaction.
    pub tags: Vec<(String, String)>,
}

impl Default for NewRepository {
    fn default() -> Self {
        NewRepository {
            mutability: TagMutabilityRule::mutable(),
            scan_on_push: false,
            encryption_type: "AES256".into(),
            kms_key: None,
            tags: Vec::new(),
        }
    }
}

/// ECR's encryption settings: AES256 takes no key; KMS and KMS_DSSE may name one. Keys are
/// stored now and enforced when envelope encryption lands.
fn check_encryption(encryption_type: &str, kms_key: Option<&str>) -> Result<(), CoreError> {
    match (encryption_type, kms_key) {
        ("AES256", None) | ("KMS" | "KMS_DSSE", _) => Ok(()),
        ("AES256", Some(_)) => Err(CoreError::InvalidParameter(
            "A KMS key can only be given with encryptionType KMS or KMS_DSSE".into(),
        )),
        (other, _) => Err(CoreError::InvalidParameter(format!(
            "Invalid parameter at 'encryptionType' failed to satisfy constraint: 'Member must satisfy enum value set: [AES256, KMS, KMS_DSSE]' ({other})"
        ))),
    }
}

/// AWS's limit on tags per resource.
const MAX_RESOURCE_TAGS: usize = 50;

/// AWS's tag limits: keys 1 to 128 characters, values at most 256, at most 50 tags.
fn check_tags(tags: &[(String, String)]) -> Result<(), CoreError> {
    if tags
        .iter()
        .any(|(k, v)| k.is_empty() || k.chars().count() > 128 || v.chars().count() > 256)
    {
        return Err(CoreError::InvalidTag(
            "tag keys are 1 to 128 characters and values at most 256".into(),
        ));
    }
    let distinct = tags
        .iter()
        .map(|(k, _)| k)
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    if distinct > MAX_RESOURCE_TAGS {
        return Err(CoreError::TooManyTags {
            limit: MAX_RESOURCE_TAGS,
            count: distinct,
        });
    }
    Ok(())
}

/// A repository as the front doors describe it.
#[derive(Clone, Debug)]
pub struct Repository {
    pub account: String,
    pub name: String,
    pub arn: String,
    pub created_at_millis: i64,
    pub mutability: TagMutabilityRule,
    pub scan_on_push: bool,
    pub encryption_type: String,
    pub kms_key: Option<String>,
}

impl Registry {
    fn describe(&self, row: &RepositoryRow) -> Result<Repository, CoreError> {
        Ok(Repository {
            account: row.account_id.clone(),
            name: row.name.clone(),
            arn: format!(
                "arn:aws:ecr:{}:{}:repository/{}",
                self.config.region, row.account_id, row.name
            ),
            created_at_millis: row.created_at,
            mutability: mutability_rule(row)?,
            scan_on_push: row.scan_on_push,
            encryption_type: row.encryption_type.clone(),
            kms_key: row.kms_key.clone(),
        })
    }

    pub(crate) async fn insert_repository(
        &self,
        repo: &RepositoryRef,
        new: &NewRepository,
    ) -> Result<RepositoryRow, CoreError> {
        let row = RepositoryRow {
            id: 0,
            account_id: repo.account.to_string(),
            name: repo.name.to_string(),
            created_at: self.now_millis(),
            tag_mutability: new.mutability.mutability().as_str().into(),
            mutability_filters: new.mutability.filters().join("\n"),
            scan_on_push: new.scan_on_push,
            encryption_type: new.encryption_type.clone(),
            kms_key: new.kms_key.clone(),
        };
        self.meta
            .create_repository(&row, &new.tags)
            .await
            .map_err(|e| match e {
                MetaError::RepositoryExists => CoreError::RepositoryExists {
                    name: repo.name.to_string(),
                    registry_id: repo.account.to_string(),
                },
                other => other.into(),
            })
    }

    pub async fn create_repository(
        &self,
        principal: &Principal,
        repo: &RepositoryRef,
        new: &NewRepository,
    ) -> Result<Repository, CoreError> {
        self.authorize(principal, Action::CreateRepository, &repo.account, || {
            repo.arn(&self.config.region)
        })?;
        check_encryption(&new.encryption_type, new.kms_key.as_deref())?;
        check_tags(&new.tags)?;
        let row = self.insert_repository(repo, new).await?;
        self.describe(&row)
    }

    pub async fn describe_repository(
        &self,
        principal: &Principal,
        repo: &RepositoryRef,
    ) -> Result<Repository, CoreError> {
        let row = self
            .repository(principal, Action::DescribeRepositories, repo)
            .await?;
        self.describe(&row)
    }

    /// Repositories of the principal's `account` in name order, after `after`.
    pub async fn list_repositories(
        &self,
        principal: &Principal,
        account: &berth_iam::AccountId,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Repository>, CoreError> {
        self.authorize(principal, Action::DescribeRepositories, account, || {
            format!("arn:aws:ecr:{}:{account}:repository/*", self.config.region)
        })?;
        let rows = self
            .meta
            .list_repositories(account.as_str(), after, clamp(limit))
            .await?;
        rows.iter().map(|r| self.describe(r)).collect()
    }

    /// Deletes a repository; one holding images needs `force`.
    pub async fn delete_repository(
        &self,
        principal: &Principal,
        repo: &RepositoryRef,
        force: bool,
    ) -> Result<Repository, CoreError> {
        self.authorize(principal, Action::DeleteRepository, &repo.account, || {
            repo.arn(&self.config.region)
        })?;
        let row = self
            .meta
            .delete_repository(repo.account.as_str(), repo.name.as_str(), force)
            .await
            .map_err(|e| match e {
                MetaError::RepositoryNotFound => not_found(repo),
                MetaError::RepositoryNotEmpty => CoreError::RepositoryNotEmpty {
                    name: repo.name.to_string(),
                    registry_id: repo.account.to_string(),
                },
                other => other.into(),
            })?;
        self.describe(&row)
    }

    pub async fn set_tag_mutability(
        &self,
        principal: &Principal,
        repo: &RepositoryRef,
        rule: &TagMutabilityRule,
    ) -> Result<Repository, CoreError> {
        let row = self
            .repository(principal, Action::PutImageTagMutability, repo)
            .await?;
        self.meta
            .set_tag_mutability(
                row.id,
                rule.mutability().as_str(),
                &rule.filters().join("\n"),
            )
            .await?;
        let row = self
            .repository(principal, Action::PutImageTagMutability, repo)
            .await?;
        self.describe(&row)
    }

    pub async fn set_scan_on_push(
        &self,
        principal: &Principal,
        repo: &RepositoryRef,
        scan_on_push: bool,
    ) -> Result<Repository, CoreError> {
        let row = self
            .repository(principal, Action::PutImageScanningConfiguration, repo)
            .await?;
        self.meta.set_scan_on_push(row.id, scan_on_push).await?;
        self.describe_repository(principal, repo).await
    }

    /// Finds the repository an ECR ARN names, in this region.
    fn repository_of_arn(&self, arn: &str) -> Result<RepositoryRef, CoreError> {
        let invalid = || {
            CoreError::InvalidParameter(format!("Invalid parameter at 'resourceArn' failed to satisfy constraint: 'Invalid ARN' ({arn})"))
        };
        let rest = arn
            .strip_prefix(&format!("arn:aws:ecr:{}:", self.config.region))
            .ok_or_else(invalid)?;
        let (account, name) = rest.split_once(":repository/").ok_or_else(invalid)?;
        Ok(RepositoryRef {
            account: account.parse().map_err(|_| invalid())?,
            name: name.parse().map_err(|_| invalid())?,
        })
    }

    pub async fn tag_resource(
        &self,
        principal: &Principal,
        arn: &str,
        tags: &[(String, String)],
    ) -> Result<(), CoreError> {
        check_tags(tags)?;
        let repo = self.repository_of_arn(arn)?;
        let row = self
            .repository(principal, Action::TagResource, &repo)
            .await?;
        self.meta
            .tag_resource(row.id, tags, MAX_RESOURCE_TAGS)
            .await
            .map_err(|e| match e {
                MetaError::TooManyTags { count } => CoreError::TooManyTags {
                    limit: MAX_RESOURCE_TAGS,
                    count,
                },
                other => crate::registry::on_repository(&row)(other),
            })
    }

    pub async fn untag_resource(
        &self,
        principal: &Principal,
        arn: &str,
        keys: &[String],
    ) -> Result<(), CoreError> {
        let repo = self.repository_of_arn(arn)?;
        let row = self
            .repository(principal, Action::UntagResource, &repo)
            .await?;
        self.meta
            .untag_resource(row.id, keys)
            .await
            .map_err(crate::registry::on_repository(&row))
    }

    pub async fn list_tags_for_resource(
        &self,
        principal: &Principal,
        arn: &str,
    ) -> Result<Vec<(String, String)>, CoreError> {
        let repo = self.repository_of_arn(arn)?;
        let row = self
            .repository(principal, Action::ListTagsForResource, &repo)
            .await?;
        Ok(self.meta.resource_tags(row.id).await?)
    }
}

/// Page sizes are capped so that one request cannot ask for an unbounded result.
pub(crate) fn clamp(limit: usize) -> i64 {
    const MAX_PAGE: usize = 10_000;
    limit.min(MAX_PAGE) as i64
}
