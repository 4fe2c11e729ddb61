//! Principals and the one authorization decision.

use berth_iam::{AccessKeyId, AccountId};

/// An authenticated caller. Only the authentication functions of [`crate::Registry`] create
/// one, so holding a `Principal` proves the credentials were checked.
#[derive(Clone, Debug)]
pub struct Principal {
    account: AccountId,
    access_key_id: AccessKeyId,
    /// Which creation of the key authenticated the caller, so that tokens issued from it die
    /// with it ([`berth_iam::SecretSealer::creation_stamp`]).
    key_creation: u64,
    user_name: String,
}

impl Principal {
    pub(crate) fn new(
        account: AccountId,
        access_key_id: AccessKeyId,
        key_creation: u64,
        user_name: String,
    ) -> Principal {
        Principal {
            account,
            access_key_id,
            key_creation,
            user_name,
        }
    }

    /// The IAM user the key belongs to; `root` for the account's root key.
    pub fn user_name(&self) -> &str {
        &self.user_name
    }

    /// The caller's ARN, as STS GetCallerIdentity reports it.
    pub fn arn(&self) -> String {
        if self.user_name == "root" {
            format!("arn:aws:iam::{}:root", self.account)
        } else {
            format!("arn:aws:iam::{}:user/{}", self.account, self.user_name)
        }
    }

    pub fn account(&self) -> &AccountId {
        &self.account
    }

    pub fn access_key_id(&self) -> &AccessKeyId {
        &self.access_key_id
    }

    pub(crate) fn key_creation(&self) -> u64 {
        self.key_creation
    }
}

/// The ECR IAM actions; both front doors map their routes onto these.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    BatchGetImage,
    GetDownloadUrlForLayer,
    BatchCheckLayerAvailability,
    InitiateLayerUpload,
    UploadLayerPart,
    CompleteLayerUpload,
    PutImage,
    BatchDeleteImage,
    ListImages,
    DescribeRepositories,
    CreateRepository,
    DeleteRepository,
    PutImageTagMutability,
    GetAuthorizationToken,
    PutImageScanningConfiguration,
    TagResource,
    UntagResource,
    ListTagsForResource,
    DescribeImages,
    DescribeRegistry,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::BatchGetImage => "ecr:BatchGetImage",
            Action::GetDownloadUrlForLayer => "ecr:GetDownloadUrlForLayer",
            Action::BatchCheckLayerAvailability => "ecr:BatchCheckLayerAvailability",
            Action::InitiateLayerUpload => "ecr:InitiateLayerUpload",
            Action::UploadLayerPart => "ecr:UploadLayerPart",
            Action::CompleteLayerUpload => "ecr:CompleteLayerUpload",
            Action::PutImage => "ecr:PutImage",
            Action::BatchDeleteImage => "ecr:BatchDeleteImage",
            Action::ListImages => "ecr:ListImages",
            Action::DescribeRepositories => "ecr:DescribeRepositories",
            Action::CreateRepository => "ecr:CreateRepository",
            Action::DeleteRepository => "ecr:DeleteRepository",
            Action::PutImageTagMutability => "ecr:PutImageTagMutability",
            Action::GetAuthorizationToken => "ecr:GetAuthorizationToken",
            Action::PutImageScanningConfiguration => "ecr:PutImageScanningConfiguration",
            Action::TagResource => "ecr:TagResource",
            Action::UntagResource => "ecr:UntagResource",
            Action::ListTagsForResource => "ecr:ListTagsForResource",
            Action::DescribeImages => "ecr:DescribeImages",
            Action::DescribeRegistry => "ecr:DescribeRegistry",
        }
    }
}
