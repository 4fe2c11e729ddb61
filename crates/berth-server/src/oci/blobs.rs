//! `/v2/<name>/blobs/<digest>`: GET (with Range), HEAD, DELETE.

use axum::body::Body;
use axum::http::{header, Method, StatusCode};
use berth_core::RepositoryRef;
use berth_oci::ErrorCode;

use super::manifests::accepted_response;
use super::{parse_digest, respond, Handled, OciError, OciRequest};

/// A parsed `Range: bytes=…` header.
#[derive(Debug, PartialEq, Eq)]
enum ByteRange {
    From { start: u64, end: Option<u64> },
    Suffix(u64),
}

fn parse_range(value: &str) -> Option<ByteRange> {
    let spec = value.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (start, end) = spec.split_once('-')?;
    let (start, end) = (start.trim(), end.trim());
    if start.is_empty() {
        return end.parse().ok().filter(|&n| n > 0).map(ByteRange::Suffix);
    }
    let start = start.parse().ok()?;
    let end = if end.is_empty() {
        None
    } else {
        Some(end.parse().ok().filter(|&e| e >= start)?)
    };
    Some(ByteRange::From { start, end })
}

pub async fn get(req: OciRequest, repo: RepositoryRef, digest: &str) -> Handled {
    let digest = parse_digest(digest)?;
    let registry = &req.state.registry;
    let range = match req.headers.get(header::RANGE) {
        None => None,
        Some(v) => {
            let size = registry.stat_blob(&req.principal, &repo, &digest).await?;
            let parsed = v.to_str().ok().and_then(parse_range).ok_or_else(|| {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse() {
        assert_eq!(
            parse_range("bytes=0-9"),
            Some(ByteRange::From {
                start: 0,
                end: Some(9)
            })
        );
        assert_eq!(
            parse_range("bytes=5-"),
            Some(ByteRange::From {
                start: 5,
                end: None
            })
        );
        assert_eq!(parse_range("bytes=-3"), Some(ByteRange::Suffix(3)));
        assert_eq!(parse_range("bytes=9-1"), None);
        assert_eq!(parse_range("bytes=0-1,4-5"), None);
        assert_eq!(parse_range("items=0-1"), None);
        assert_eq!(parse_range("bytes=-0"), None);
        assert_eq!(parse_range("bytes=x-1"), None);
    }
}
