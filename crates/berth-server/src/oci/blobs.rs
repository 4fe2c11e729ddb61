//! `/v2/<name>/blobs/<digest>`: GET (with Range), HEAD, DELETE.

use axum::body::Body;
use axum::http::{header, Method, StatusCode};
use berth_core::RepositoryRef;
use berth_oci::{ByteRange, ErrorCode};

use super::manifests::accepted_response;
use super::{parse_digest, respond, Handled, OciError, OciRequest};

pub async fn get(req: OciRequest, repo: RepositoryRef, digest: &str) -> Handled {
    let digest = parse_digest(digest)?;
    let registry = &req.state.registry;
    let range = match req.headers.get(header::RANGE) {
        None => None,
        Some(v) => {
            let size = registry.stat_blob(&req.principal, &repo, &digest).await?;
            let parsed = v.to_str().ok().and_then(ByteRange::parse).ok_or_else(|| {
                OciError::new(ErrorCode::RangeInvalid, "the Range header is malformed")
                    .with_header(header::CONTENT_RANGE, format!("bytes */{size}"))
            })?;
            Some(match parsed {
                ByteRange::From { start, end } => (start, end),
                ByteRange::Suffix(n) => (size.saturating_sub(n), None),
            })
        }
    };
    let blob = registry
        .read_blob(&req.principal, &repo, &digest, range)
        .await?;
    let mut headers = vec![
        ("content-type", "application/octet-stream".to_owned()),
        ("docker-content-digest", digest.to_string()),
        ("content-length", blob.len.to_string()),
        ("accept-ranges", "bytes".to_owned()),
        ("etag", format!("\"{digest}\"")),
    ];
    let status = match range {
        Some((start, _)) => {
            let end = start + blob.len - 1;
            headers.push((
                "content-range",
                format!("bytes {start}-{end}/{}", blob.size),
            ));
            StatusCode::PARTIAL_CONTENT
        }
        None => StatusCode::OK,
    };
    let body = if req.method == Method::HEAD {
        Body::empty()
    } else {
        blob_body(blob)
    };
    Ok(respond(status, &headers, body))
}

/// Streams an opened blob (from its current position, `len` bytes) as a response body.
pub(crate) fn blob_body(blob: berth_core::BlobRead) -> Body {
    Body::from_stream(blob.into_stream())
}

pub async fn delete(req: OciRequest, repo: RepositoryRef, digest: &str) -> Handled {
    let digest = parse_digest(digest)?;
    req.state
        .registry
        .delete_blob(&req.principal, &repo, &digest)
        .await?;
    Ok(accepted_response())
}
