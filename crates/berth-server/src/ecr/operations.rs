//! The operations of the ECR model: which berth serves, and the dispatch table.

use serde_json::Value;

use super::error::EcrError;
use super::wire::{Ctx, EcrResult};
use super::{images, layers, repositories};

/// Every operation in botocore's ECR model (2015-09-21), so that one berth does not serve
/// yet is refused by name instead of being mistaken for an unknown target.
const MODEL_OPERATIONS: [&str; 58] = [
    "BatchCheckLayerAvailability",
    "BatchDeleteImage",
    "BatchGetImage",
    "BatchGetRepositoryScanningConfiguration",
    "CompleteLayerUpload",
    "CreatePullThroughCacheRule",
    "CreateRepository",
    "CreateRepositoryCreationTemplate",
    "DeleteLifecyclePolicy",
    "DeletePullThroughCacheRule",
    "DeleteRegistryPolicy",
    "DeleteRepository",
    "DeleteRepositoryCreationTemplate",
    "DeleteRepositoryPolicy",
    "DeleteSigningConfiguration",
    "DeregisterPullTimeUpdateExclusion",
    "DescribeImageReplicationStatus",
    "DescribeImageScanFindings",
    "DescribeImageSigningStatus",
    "DescribeImages",
    "DescribePullThroughCacheRules",
    "DescribeRegistry",
    "DescribeRepositories",
    "DescribeRepositoryCreationTemplates",
    "GetAccountSetting",
    "GetAuthorizationToken",
    "GetDownloadUrlForLayer",
    "GetLifecyclePolicy",
    "GetLifecyclePolicyPreview",
    "GetRegistryPolicy",
    "GetRegistryScanningConfiguration",
    "GetRepositoryPolicy",
    "GetSigningConfiguration",
    "InitiateLayerUpload",
    "ListImageReferrers",
    "ListImages",
    "ListPullTimeUpdateExclusions",
    "ListTagsForResource",
    "PutAccountSetting",
    "PutImage",
    "PutImageScanningConfiguration",
    "PutImageTagMutability",
    "PutLifecyclePolicy",
    "PutRegistryPolicy",
    "PutRegistryScanningConfiguration",
    "PutReplicationConfiguration",
    "PutSigningConfiguration",
    "RegisterPullTimeUpdateExclusion",
    "SetRepositoryPolicy",
    "StartImageScan",
    "StartLifecyclePolicyPreview",
    "TagResource",
    "UntagResource",
    "UpdateImageStorageClass",
    "UpdatePullThroughCacheRule",
    "UpdateRepositoryCreationTemplate",
    "UploadLayerPart",
    "ValidatePullThroughCacheRule",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EcrOperation {
    CreateRepository,
    DescribeRepositories,
    DeleteRepository,
    PutImageTagMutability,
    PutImageScanningConfiguration,
    GetAuthorizationToken,
    DescribeRegistry,
    TagResource,
    UntagResource,
    ListTagsForResource,
    ListImages,
    DescribeImages,
    BatchGetImage,
    PutImage,
    BatchDeleteImage,
    BatchCheckLayerAvailability,
    InitiateLayerUpload,
    UploadLayerPart,
    CompleteLayerUpload,
    GetDownloadUrlForLayer,
    /// In the model, not served yet.
    NotImplemented(&'static str),
}

impl EcrOperation {
    pub fn parse(name: &str) -> Option<EcrOperation> {
        use EcrOperation as O;
        Some(match name {
            "CreateRepository" => O::CreateRepository,
            "DescribeRepositories" => O::DescribeRepositories,
            "DeleteRepository" => O::DeleteRepository,
            "PutImageTagMutability" => O::PutImageTagMutability,
            "PutImageScanningConfiguration" => O::PutImageScanningConfiguration,
            "GetAuthorizationToken" => O::GetAuthorizationToken,
            "DescribeRegistry" => O::DescribeRegistry,
            "TagResource" => O::TagResource,
            "UntagResource" => O::UntagResource,
            "ListTagsForResource" => O::ListTagsForResource,
            "ListImages" => O::ListImages,
            "DescribeImages" => O::DescribeImages,
            "BatchGetImage" => O::BatchGetImage,
            "PutImage" => O::PutImage,
            "BatchDeleteImage" => O::BatchDeleteImage,
            "BatchCheckLayerAvailability" => O::BatchCheckLayerAvailability,
            "InitiateLayerUpload" => O::InitiateLayerUpload,
            "UploadLayerPart" => O::UploadLayerPart,
            "CompleteLayerUpload" => O::CompleteLayerUpload,
            "GetDownloadUrlForLayer" => O::GetDownloadUrlForLayer,
            other => O::NotImplemented(MODEL_OPERATIONS.into_iter().find(|op| *op == other)?),
        })
    }
}

pub async fn dispatch(op: EcrOperation, ctx: &Ctx<'_>, request: Value) -> EcrResult {
    use EcrOperation as O;
    match op {
        O::CreateRepository => repositories::create(ctx, request).await,
        O::DescribeRepositories => repositories::describe(ctx, request).await,
        O::DeleteRepository => repositories::delete(ctx, request).await,
        O::PutImageTagMutability => repositories::put_tag_mutability(ctx, request).await,
        O::PutImageScanningConfiguration => repositories::put_scanning(ctx, request).await,
        O::GetAuthorizationToken => repositories::authorization_token(ctx, request).await,
        O::DescribeRegistry => repositories::describe_registry(ctx, request).await,
        O::TagResource => repositories::tag_resource(ctx, request).await,
        O::UntagResource => repositories::untag_resource(ctx, request).await,
        O::ListTagsForResource => repositories::list_tags(ctx, request).await,
        O::ListImages => images::list(ctx, request).await,
        O::DescribeImages => images::describe(ctx, request).await,
        O::BatchGetImage => images::batch_get(ctx, request).await,
        O::PutImage => images::put(ctx, request).await,
        O::BatchDeleteImage => images::batch_delete(ctx, request).await,
        O::BatchCheckLayerAvailability => images::check_layers(ctx, request).await,
        O::InitiateLayerUpload => layers::initiate(ctx, request).await,
        O::UploadLayerPart => layers::upload_part(ctx, request).await,
        O::CompleteLayerUpload => layers::complete(ctx, request).await,
        O::GetDownloadUrlForLayer => layers::download_url(ctx, request).await,
        O::NotImplemented(name) => Err(EcrError::new(
            "UnsupportedCommandException",
            format!("berth does not implement the ECR operation {name} yet"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_served_operation_is_in_the_model() {
        for name in MODEL_OPERATIONS {
            assert!(EcrOperation::parse(name).is_some(), "{name}");
        }
        assert_eq!(
            EcrOperation::parse("CreateRepository"),
            Some(EcrOperation::CreateRepository)
        );
        assert_eq!(
            EcrOperation::parse("StartImageScan"),
            Some(EcrOperation::NotImplemented("StartImageScan"))
        );
        assert_eq!(EcrOperation::parse("DropAllTables"), None);
    }
}
