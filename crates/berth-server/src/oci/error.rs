//! OCI error responses: the spec's JSON envelope, the code, the status, and extra headers.

use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use berth_core::{AuthFailure, CoreError};
use berth_oci::ErrorCode;

use super::API_VERSION;
use crate::unread_body::DrainLimit;

/// An error as a `/v2` client sees it.
#[derive(Debug)]
pub struct OciError {
    code: ErrorCode,
    status: StatusCode,
    message: String,
    detail: Option<serde_json::Value>,
    headers: Vec<(HeaderName, String)>,
    drain_limit: Option<DrainLimit>,
}

impl OciError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> OciError {
        OciError {
            code,
            status: StatusCode::from_u16(code.status()).unwrap_or(StatusCode::BAD_REQUEST),
            message: message.into(),
            detail: None,
            headers: Vec::new(),
            drain_limit: None,
        }
    }

    pub fn with_status(mut self, status: StatusCode) -> OciError {
        self.status = status;
        self
    }

    pub fn with_header(mut self, name: HeaderName, value: String) -> OciError {
        self.headers.push((name, value));
        self
    }

    /// Lets the connection layer discard up to `limit` unread body bytes after this refusal,
    /// so a client in the middle of sending them reads it (see [`crate::unread_body`]).
    pub fn with_drain_limit(mut self, limit: u64) -> OciError {
        self.drain_limit = Some(DrainLimit(limit));
        self
    }

    fn with_detail(mut self, detail: serde_json::Value) -> OciError {
        self.detail = Some(detail);
        self
    }

    /// 401 with the challenge docker needs to know it should log in.
    pub fn unauthorized(message: &str) -> OciError {
        OciError::new(ErrorCode::Unauthorized, message).with_header(
            axum::http::header::WWW_AUTHENTICATE,
            r#"Basic realm="berth",service="ecr.amazonaws.com""#.into(),
        )
    }
}

/// The one mapping from core errors to OCI codes. Exhaustive on purpose: a new core error must
/// be given its wire form here.
impl From<CoreError> for OciError {
    fn from(e: CoreError) -> OciError {
        use ErrorCode as C;
        let msg = e.to_string();
        match e {
            CoreError::Unauthenticated(AuthFailure::Missing) => {
                OciError::unauthorized("authentication required")
            }
            CoreError::Unauthenticated(AuthFailure::Invalid) => {
                OciError::unauthorized("the authorization token is invalid")
            }
            CoreError::Unauthenticated(AuthFailure::Expired) => OciError::new(
                C::Denied,
                "Your authorization token has expired. Reauthenticate and try again.",
            ),
            CoreError::SignatureRejected(_) => {
                OciError::unauthorized("the request signature is invalid")
            }
            CoreError::AccessDenied { .. } => OciError::new(C::Denied, msg),
            CoreError::RepositoryNotFound { .. } => OciError::new(C::NameUnknown, msg),
            CoreError::RepositoryExists { .. } | CoreError::NameInvalid(_) => {
                OciError::new(C::NameInvalid, msg)
            }
            CoreError::RepositoryNotEmpty { .. } => OciError::new(C::Denied, msg),
            CoreError::InvalidParameter(_)
            | CoreError::InvalidTag(_)
            | CoreError::TooManyTags { .. }
            | CoreError::UserExists(_)
            | CoreError::UserNotFound(_)
            | CoreError::UserHasKeys(_)
            | CoreError::KeyLimitExceeded(_)
            | CoreError::KeyNotFound(_) => OciError::new(C::Unsupported, msg),
            CoreError::ManifestUnknown | CoreError::ManifestNotAcceptable(_) => {
                OciError::new(C::ManifestUnknown, msg)
            }
            CoreError::ManifestInvalid(_) | CoreError::ManifestUnsupported(_) => {
                OciError::new(C::ManifestInvalid, msg)
            }
            CoreError::ManifestBlobUnknown(ref d) | CoreError::ManifestChildUnknown(ref d) => {
                let digest = d.to_string();
                OciError::new(C::ManifestBlobUnknown, msg)
                    .with_detail(serde_json::json!({ "digest": digest }))
            }
            CoreError::TagImmutable { .. } => OciError::new(C::TagInvalid, msg),
            CoreError::ImageAlreadyExists { .. } => OciError::new(C::TagInvalid, msg),
            CoreError::ImageDigestMismatch { .. } => OciError::new(C::DigestInvalid, msg),
            CoreError::BlobUnknown => OciError::new(C::BlobUnknown, msg),
            CoreError::BlobReferenced(_) => OciError::new(C::Denied, msg),
            CoreError::TooManyUploads { .. } => OciError::new(C::TooManyRequests, msg),
            CoreError::TagDigestMismatch => OciError::new(C::ManifestInvalid, msg),
            CoreError::ImageReferencedByIndex(_) => OciError::new(C::Denied, msg),
            CoreError::LayerAlreadyExists { .. } => OciError::new(C::BlobUploadInvalid, msg),
            CoreError::UploadUnknown => OciError::new(C::BlobUploadUnknown, msg),
            CoreError::EmptyUpload(_) => OciError::new(C::BlobUploadInvalid, msg),
            CoreError::LayerInaccessible(_) => OciError::new(C::BlobUnknown, msg),
            CoreError::DigestMismatch { .. } | CoreError::DigestInvalid(_) => {
                OciError::new(C::DigestInvalid, msg)
            }
            CoreError::ChunkOutOfOrder { size } => OciError::new(C::BlobUploadInvalid, msg)
                .with_status(StatusCode::RANGE_NOT_SATISFIABLE)
                .with_header(
                    axum::http::header::RANGE,
                    format!("0-{}", size.saturating_sub(1)),
                ),
            CoreError::RangeNotSatisfiable { size } => OciError::new(C::RangeInvalid, msg)
                .with_header(axum::http::header::CONTENT_RANGE, format!("bytes */{size}")),
            CoreError::BodyInterrupted(_) => OciError::new(C::BlobUploadInvalid, msg),
            CoreError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                OciError::new(C::InternalError, "internal server error")
            }
        }
    }
}

impl IntoResponse for OciError {
    fn into_response(self) -> Response {
        let mut error = serde_json::json!({
            "code": self.code.as_str(),
            "message": self.message,
        });
        if let Some(detail) = self.detail {
            error["detail"] = detail;
        }
        let body = serde_json::json!({ "errors": [error] }).to_string();
        let mut response = (self.status, body).into_response();
        response
            .extensions_mut()
            .insert(crate::access_log::ErrorCode(self.code.as_str()));
        if let Some(limit) = self.drain_limit {
            response.extensions_mut().insert(limit);
        }
        let headers = response.headers_mut();
        headers.insert(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(API_VERSION.0, HeaderValue::from_static(API_VERSION.1));
        for (name, value) in self.headers {
            if let Ok(v) = HeaderValue::from_str(&value) {
                headers.insert(name, v);
            }
        }
        response
    }
}
