//! `/v2/<name>/manifests/<reference>`: GET, HEAD, PUT, DELETE.

use axum::body::Body;
use axum::http::{header, Method, StatusCode};
use axum::response::Response;
use berth_core::RepositoryRef;
use berth_oci::{ErrorCode, Reference, MAX_MANIFEST_BYTES};

use super::{respond, Handled, OciError, OciRequest};
use crate::buffered_body::BodyError;

/// A reference that names something to store must be valid: PUT answers 400 with the reason.
fn parse_reference(s: &str) -> Result<Reference, OciError> {
    Reference::parse(s).ok_or_else(|| {
        if s.contains(':') {
            OciError::new(
                ErrorCode::DigestInvalid,
                "the digest is malformed or unsupported",
            )
        } else {
            OciError::new(
                ErrorCode::TagInvalid,
                "a tag is 1 to 128 of [A-Za-z0-9_.-] and cannot start with '.' or '-'",
            )
        }
    })
}

/// The media types listed in Accept headers, without parameters or weights.
fn accepted(headers: &axum::http::HeaderMap) -> Vec<String> {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.split(';').next().unwrap_or("").trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect()
}

/// A reference that only looks something up names nothing when it cannot be parsed, so GET,
/// HEAD and DELETE answer 404 MANIFEST_UNKNOWN, as distribution does and as the OCI
/// conformance suite expects (it probes with `.INVALID_MANIFEST_NAME`).
fn lookup_reference(s: &str) -> Result<Reference, OciError> {
    Reference::parse(s).ok_or_else(|| {
        OciError::new(
            ErrorCode::ManifestUnknown,
            format!("manifest unknown: '{s}' is not a valid tag or digest"),
        )
        .with_status(StatusCode::NOT_FOUND)
    })
}

pub async fn get(req: OciRequest, repo: RepositoryRef, reference: &str) -> Handled {
    let reference = lookup_reference(reference)?;
    let registry = &req.state.registry;
    let accepted = accepted(&req.headers);
    let m = if req.method == Method::HEAD {
        registry
            .get_manifest(&req.principal, &repo, &reference, &accepted)
            .await?
    } else {
        registry
            .pull_manifest(&req.principal, &repo, &reference, &accepted)
            .await?
    };
    let headers = [
        ("content-type", m.media_type),
        ("docker-content-digest", m.digest.to_string()),
        ("content-length", m.body.len().to_string()),
        ("etag", format!("\"{}\"", m.digest)),
    ];
    let body = if req.method == Method::HEAD {
        Body::empty()
    } else {
        Body::from(m.body)
    };
    Ok(respond(StatusCode::OK, &headers, body))
}

/// How much of an oversized manifest is read and discarded so that its sender, who is
/// authenticated by then, reads the 413 instead of a reset; past this the connection closes.
const OVERSIZED_MANIFEST_DRAIN: u64 = 4 * MAX_MANIFEST_BYTES as u64;

pub async fn put(req: OciRequest, repo: RepositoryRef, reference: &str) -> Handled {
    let reference = parse_reference(reference)?;
    // Held, and counted in the budget, until the manifest is stored.
    let buffered = req
        .state
        .bodies
        .read(&req.headers, req.body, MAX_MANIFEST_BYTES)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge(_) => OciError::new(
                ErrorCode::SizeInvalid,
                format!("the manifest is larger than {MAX_MANIFEST_BYTES} bytes"),
            )
            .with_status(StatusCode::PAYLOAD_TOO_LARGE)
            .with_drain_limit(OVERSIZED_MANIFEST_DRAIN),
            BodyError::Busy => OciError::new(ErrorCode::TooManyRequests, e.to_string()),
            BodyError::Interrupted(_) => OciError::new(ErrorCode::ManifestInvalid, e.to_string()),
        })?;
    let content_type = req
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let pushed = req
        .state
        .registry
        .put_manifest(
            &req.principal,
            &repo,
            &reference,
            content_type,
            &buffered.bytes,
        )
        .await?;
    let mut headers = vec![
        (
            "location",
            format!("/v2/{}/manifests/{}", repo.name, pushed.digest),
        ),
        ("docker-content-digest", pushed.digest.to_string()),
        ("content-length", "0".to_owned()),
    ];
    if let Some(subject) = pushed.subject {
        headers.push(("oci-subject", subject.to_string()));
    }
    Ok(respond(StatusCode::CREATED, &headers, Body::empty()))
}

pub async fn delete(req: OciRequest, repo: RepositoryRef, reference: &str) -> Handled {
    let reference = lookup_reference(reference)?;
    req.state
        .registry
        .delete_manifest(&req.principal, &repo, &reference)
        .await?;
    Ok(accepted_response())
}

pub(crate) fn accepted_response() -> Response {
    respond(
        StatusCode::ACCEPTED,
        &[("content-length", "0".into())],
        Body::empty(),
    )
}
