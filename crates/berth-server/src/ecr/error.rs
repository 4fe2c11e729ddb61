//! ECR's error shape: HTTP 400 (mostly) with `{"__type": "<ExceptionName>", "message": …}`.
//! Terraform and the SDK waiters branch on the exception names, so they are exact.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use berth_core::{AuthFailure, CoreError};
use berth_iam::SigV4Error;
use serde_json::json;

#[derive(Debug)]
pub struct EcrError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub message: String,
}

impl EcrError {
    pub fn new(kind: &'static str, message: impl Into<String>) -> EcrError {
        EcrError {
            status: StatusCode::BAD_REQUEST,
            kind,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> EcrError {
        EcrError::new("InvalidParameterException", message)
    }
}

/// The one mapping from core errors to ECR exception names. Exhaustive on purpose.
impl From<CoreError> for EcrError {
    fn from(e: CoreError) -> EcrError {
        let message = e.to_string();
        let kind = match e {
            // ECR answers 400 here (the AWS SDKs report "Status Code: 400"), unlike API
            // Gateway's 403 for the same name.
            CoreError::Unauthenticated(AuthFailure::Missing) => {
                return EcrError::new(
                    "MissingAuthenticationTokenException",
                    "Missing Authentication Token",
                )
            }
            CoreError::Unauthenticated(AuthFailure::Invalid | AuthFailure::Expired) => {
                return EcrError::new(
                    "UnrecognizedClientException",
                    "The security token included in the request is invalid.",
                )
            }
            CoreError::SignatureRejected(SigV4Error::Malformed | SigV4Error::UnsignedHeader(_)) => {
                "IncompleteSignatureException"
            }
            CoreError::SignatureRejected(_) => "InvalidSignatureException",
            CoreError::AccessDenied { .. } => "AccessDeniedException",
            CoreError::RepositoryNotFound { .. } => "RepositoryNotFoundException",
            CoreError::RepositoryExists { .. } => "RepositoryAlreadyExistsException",
            CoreError::RepositoryNotEmpty { .. } => "RepositoryNotEmptyException",
            CoreError::NameInvalid(_) | CoreError::InvalidParameter(_) => {
                "InvalidParameterException"
            }
            CoreError::ManifestUnknown | CoreError::ManifestNotAcceptable(_) => {
                "ImageNotFoundException"
            }
            CoreError::ManifestInvalid(_) | CoreError::ManifestUnsupported(_) => {
                "InvalidParameterException"
            }
            CoreError::ManifestBlobUnknown(_) => "LayersNotFoundException",
            CoreError::ManifestChildUnknown(_) => "ReferencedImagesNotFoundException",
            CoreError::TagImmutable { .. } => "ImageTagAlreadyExistsException",
            CoreError::ImageAlreadyExists { .. } => "ImageAlreadyExistsException",
            CoreError::ImageDigestMismatch { .. } => "ImageDigestDoesNotMatchException",
            CoreError::BlobUnknown => "LayersNotFoundException",
            CoreError::BlobReferenced(_) => "InvalidParameterException",
            CoreError::TooManyUploads { .. } => "LimitExceededException",
            CoreError::TagDigestMismatch => "InvalidParameterException",
            CoreError::InvalidTag(_) => "InvalidTagParameterException",
            CoreError::TooManyTags { .. } => "TooManyTagsException",
            CoreError::EmptyUpload(_) => "EmptyUploadException",
            CoreError::LayerInaccessible(_) => "LayerInaccessibleException",
            CoreError::ImageReferencedByIndex(_) => "InvalidParameterException",
            CoreError::LayerAlreadyExists { .. } => "LayerAlreadyExistsException",
            CoreError::UploadUnknown => "UploadNotFoundException",
            CoreError::DigestMismatch { .. } | CoreError::DigestInvalid(_) => {
                "InvalidLayerException"
            }
            CoreError::ChunkOutOfOrder { .. }
            | CoreError::RangeNotSatisfiable { .. }
            | CoreError::BodyInterrupted(_) => "InvalidLayerPartException",
            // IAM's own error codes, for the IAM calls of the admin API.
            CoreError::UserExists(_) => "EntityAlreadyExists",
            CoreError::UserNotFound(_) | CoreError::KeyNotFound(_) => "NoSuchEntity",
            CoreError::UserHasKeys(_) => "DeleteConflict",
            CoreError::KeyLimitExceeded(_) => "LimitExceeded",
            CoreError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                return EcrError {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    kind: "ServerException",
                    message: "internal server error".into(),
                };
            }
        };
        EcrError::new(kind, message)
    }
}

impl IntoResponse for EcrError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            [("content-type", "application/x-amz-json-1.1")],
            json!({ "__type": self.kind, "message": self.message }).to_string(),
        )
            .into_response();
        response
            .extensions_mut()
            .insert(crate::access_log::ErrorCode(self.kind));
        response
    }
}

impl From<crate::buffered_body::BodyError> for EcrError {
    fn from(e: crate::buffered_body::BodyError) -> EcrError {
        use crate::buffered_body::BodyError as B;
        let kind = match e {
            B::TooLarge(_) | B::Interrupted(_) => "SerializationException",
            B::Busy => "ThrottlingException",
        };
        EcrError::new(kind, e.to_string())
    }
}
