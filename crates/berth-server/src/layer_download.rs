//! `GET /berth/layers/<grant>`: the URL GetDownloadUrlForLayer hands out. The signed grant in
//! the path is the only credential; it names one layer of one repository and expires.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use berth_core::{AuthFailure, CoreError};

use crate::oci::blob_body;
use crate::AppState;

pub async fn download(State(state): State<AppState>, Path(grant): Path<String>) -> Response {
    match state.registry.read_granted_layer(&grant).await {
        Ok((digest, blob)) => {
            let len = blob.len;
            (
                StatusCode::OK,
                [
                    ("content-type", "application/octet-stream".to_owned()),
                    ("content-length", len.to_string()),
                    ("docker-content-digest", digest.to_string()),
                ],
                blob_body(blob),
            )
                .into_response()
        }
        Err(CoreError::Unauthenticated(AuthFailure::Expired)) => {
            (StatusCode::FORBIDDEN, "the download URL has expired\n").into_response()
        }
        Err(CoreError::Unauthenticated(_)) => {
            (StatusCode::FORBIDDEN, "the download URL is not valid\n").into_response()
        }
        Err(CoreError::BlobUnknown) => {
            (StatusCode::NOT_FOUND, "the layer no longer exists\n").into_response()
        }
        Err(e) => {
            tracing::error!(detail = %e, "layer download failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal server error\n").into_response()
        }
    }
}
