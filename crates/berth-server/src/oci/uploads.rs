//! `/v2/<name>/blobs/uploads/`: start (with mount or monolithic digest), PATCH, status, PUT,
//! cancel.

use axum::body::Body;
use axum::http::{header, StatusCode};
use axum::response::Response;
use berth_core::ops::uploads::MountOutcome;
use berth_core::RepositoryRef;
use berth_core::UploadId;
use berth_oci::{Digest, ErrorCode};

use super::{parse_digest, respond, Handled, OciError, OciRequest};

fn parse_id(id: &str) -> Result<UploadId, OciError> {
    UploadId::parse(id).ok_or_else(|| OciError::new(ErrorCode::BlobUploadUnknown, "upload unknown"))
}

/// 202 with the headers a client needs to continue the upload.
fn in_progress(status: StatusCode, repo: &RepositoryRef, id: UploadId, size: u64) -> Response {
    respond(
        status,
        &[
            ("location", format!("/v2/{}/blobs/uploads/{id}", repo.name)),
            ("range", format!("0-{}", size.saturating_sub(1))),
            ("docker-upload-uuid", id.to_string()),
            ("content-length", "0".into()),
        ],
        Body::empty(),
    )
}

fn created(repo: &RepositoryRef, digest: &Digest) -> Response {
    respond(
        StatusCode::CREATED,
        &[
            ("location", format!("/v2/{}/blobs/{digest}", repo.name)),
            ("docker-content-digest", digest.to_string()),
            ("content-length", "0".into()),
        ],
        Body::empty(),
    )
}

/// The start offset of `Content-Range: <start>-<end>`, checked against Content-Length.
fn content_range_start(req: &OciRequest) -> Result<Option<u64>, OciError> {
    let Some(value) = req.headers.get(header::CONTENT_RANGE) else {
        return Ok(None);
    };
    let invalid = || {
        OciError::new(
            ErrorCode::BlobUploadInvalid,
            "the Content-Range header is malformed",
        )
        .with_status(StatusCode::RANGE_NOT_SATISFIABLE)
    };
    let text = value.to_str().map_err(|_| invalid())?;
    let (start, end) = berth_oci::range::parse_content_range(text).ok_or_else(invalid)?;
    let length = req
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if length.is_some_and(|n| Some(n) != (end - start).checked_add(1)) {
        return Err(invalid());
    }
    Ok(Some(start))
}

pub async fn start(req: OciRequest, repo: RepositoryRef) -> Handled {
    let registry = &req.state.registry;
    if let (Some(mount), Some(from)) = (req.query.get("mount"), req.query.get("from")) {
        let digest = parse_digest(mount)?;
        let from = from.parse().map_err(|e: berth_oci::NameError| {
            OciError::new(ErrorCode::NameInvalid, e.to_string())
        })?;
        return Ok(
            match registry
                .mount_blob(&req.principal, &repo, &from, &digest)
                .await?
            {
                MountOutcome::Mounted => created(&repo, &digest),
                MountOutcome::Started(id) => in_progress(StatusCode::ACCEPTED, &repo, id, 0),
            },
        );
    }
    if let Some(digest) = req.query.get("digest") {
        let digest = parse_digest(digest)?;
        registry
            .put_blob(&req.principal, &repo, &digest, req.body.into_data_stream())
            .await?;
        return Ok(created(&repo, &digest));
    }
    let id = registry.start_upload(&req.principal, &repo).await?;
    Ok(in_progress(StatusCode::ACCEPTED, &repo, id, 0))
}

pub async fn status(req: OciRequest, repo: RepositoryRef, id: &str) -> Handled {
    let id = parse_id(id)?;
    let size = req
        .state
        .registry
        .upload_status(&req.principal, &repo, id)
        .await?;
    Ok(in_progress(StatusCode::NO_CONTENT, &repo, id, size))
}

pub async fn patch(req: OciRequest, repo: RepositoryRef, id: &str) -> Handled {
    let id = parse_id(id)?;
    let offset = content_range_start(&req)?;
    let size = req
        .state
        .registry
        .upload_chunk(
            &req.principal,
            &repo,
            id,
            offset,
            req.body.into_data_stream(),
        )
        .await?;
    Ok(in_progress(StatusCode::ACCEPTED, &repo, id, size))
}

pub async fn complete(req: OciRequest, repo: RepositoryRef, id: &str) -> Handled {
    let id = parse_id(id)?;
    let digest = req.query.get("digest").ok_or_else(|| {
        OciError::new(
            ErrorCode::DigestInvalid,
            "the digest query parameter is required",
        )
    })?;
    let digest = parse_digest(digest)?;
    // A final chunk with a range must start where the upload ends; the store checks it under
    // the upload's lock, before writing.
    let offset = content_range_start(&req)?;
    req.state
        .registry
        .complete_upload(
            &req.principal,
            &repo,
            id,
            offset,
            &digest,
            req.body.into_data_stream(),
        )
        .await?;
    Ok(created(&repo, &digest))
}

pub async fn cancel(req: OciRequest, repo: RepositoryRef, id: &str) -> Handled {
    let id = parse_id(id)?;
    req.state
        .registry
        .cancel_upload(&req.principal, &repo, id)
        .await?;
    Ok(respond(StatusCode::NO_CONTENT, &[], Body::empty()))
}
