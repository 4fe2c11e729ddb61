//! Principals and the one authorization decision.

use berth_iam::{AccessKeyId, AccountId};

/// An authenticated caller. Only the authentication functions of [`crate::Registry`] create
/// one, so holding a `Principal` proves the credentials were checked.
#[derive(Clone, Debug)]
pub struct Principal {
    account: AccountId,
    access_key_id: AccessKeyId,
}

impl Principal {
    pub(crate) fn new(account: AccountId, access_key_id: AccessKeyId) -> Principal {
        Principal {
            account,
            access_key_id,
        }
    }

    pub fn account(&self) -> &AccountId {
        &self.account
    }

    pub fn access_key_id(&self) -> &AccessKeyId {
        &self.access_key_id
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
        }
    }
}
