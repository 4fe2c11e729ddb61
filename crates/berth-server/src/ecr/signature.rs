//! SigV4 on the ECR and STS doors: collect what the signature covers and let the core check it.

use axum::http::{HeaderMap, Method, Uri};
use berth_core::{AuthFailure, CoreError, Principal};
use berth_iam::{SigV4Authorization, SignedRequest};

use super::error::EcrError;
use crate::AppState;

pub async fn authenticate(
    state: &AppState,
    service: &str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Principal, EcrError> {
    let header = headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or(CoreError::Unauthenticated(AuthFailure::Missing))?;
    let header = header
        .to_str()
        .map_err(|_| CoreError::SignatureRejected(berth_iam::SigV4Error::Malformed))?;
    let auth = SigV4Authorization::parse(header).map_err(CoreError::SignatureRejected)?;
    let payload = berth_iam::sigv4::payload_hash(body);
    // A client may send the payload hash it signed; it must be the hash of what arrived.
    // UNSIGNED-PAYLOAD is refused too: every parameter of these APIs is in the body.
    let claimed = headers
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok());
    if claimed.is_some_and(|c| c != payload) {
        return Err(CoreError::SignatureRejected(berth_iam::SigV4Error::Mismatch).into());
    }
    let mut pairs: Vec<(String, String)> = Vec::with_capacity(headers.len() + 1);
    for (name, value) in headers {
        if let Ok(v) = value.to_str() {
            pairs.push((name.as_str().to_owned(), v.to_owned()));
        }
    }
    // HTTP/2 carries the host in the URI's authority, not in a header; clients sign it as `host`.
    if !headers.contains_key(axum::http::header::HOST) {
        if let Some(authority) = uri.authority() {
            pairs.push(("host".to_owned(), authority.to_string()));
        }
    }
    let request = SignedRequest {
        method: method.as_str(),
        path: uri.path(),
        query: uri.query().unwrap_or(""),
        headers: &pairs,
        payload_sha256_hex: &payload,
    };
    Ok(state
        .registry
        .authenticate_signed(&auth, &request, service)
        .await?)
}
