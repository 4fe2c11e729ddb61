//! SigV4 on the signed doors (ECR, STS, the admin API), in two halves so that nothing of a
//! stranger's body is read: [`begin`] checks everything the headers carry (the key exists, the
//! scope, the date, which headers are signed) before the body, and [`Signed::finish`] checks
//! the signature over the body's hash once the body has been read.

use axum::http::{HeaderMap, Method, Uri};
use berth_core::{AuthFailure, CoreError, Principal, SignedCaller};
use berth_iam::{SigV4Authorization, SigV4Error, SignedRequest};

use super::error::EcrError;
use crate::AppState;

/// A request whose signature envelope was accepted; its body may now be read.
pub struct Signed {
    caller: SignedCaller,
    headers: Vec<(String, String)>,
}

pub async fn begin(
    state: &AppState,
    service: &str,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Signed, EcrError> {
    let header = headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or(CoreError::Unauthenticated(AuthFailure::Missing))?;
    let header = header
        .to_str()
        .map_err(|_| CoreError::SignatureRejected(SigV4Error::Malformed))?;
    let auth = SigV4Authorization::parse(header).map_err(CoreError::SignatureRejected)?;
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
    let caller = state.registry.signed_caller(auth, &pairs, service).await?;
    Ok(Signed {
        caller,
        headers: pairs,
    })
}

impl Signed {
    /// The access key the request claims, for logs.
    pub fn access_key_id(&self) -> String {
        self.caller.access_key_id().to_string()
    }

    /// Checks the signature over the request with the body that arrived.
    pub fn finish(self, method: &Method, uri: &Uri, body: &[u8]) -> Result<Principal, EcrError> {
        let payload = berth_iam::sigv4::payload_hash(body);
        // A client may send the payload hash it signed; it must be the hash of what arrived.
        // UNSIGNED-PAYLOAD is refused too: every parameter of these APIs is in the body.
        let claimed = self
            .headers
            .iter()
            .find(|(n, _)| n == "x-amz-content-sha256");
        if claimed.is_some_and(|(_, c)| *c != payload) {
            return Err(CoreError::SignatureRejected(SigV4Error::Mismatch).into());
        }
        let request = SignedRequest {
            method: method.as_str(),
            path: uri.path(),
            query: uri.query().unwrap_or(""),
            headers: &self.headers,
            payload_sha256_hex: &payload,
        };
        Ok(self.caller.verify(&request)?)
    }
}
