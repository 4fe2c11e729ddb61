//! Authenticates `/v2` requests: HTTP Basic with user `AWS` and a registry token, as ECR.

use axum::http::HeaderMap;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use berth_core::{AuthFailure, CoreError, Principal, Registry};

/// Splits `Authorization: Basic base64(user:password)`.
pub fn basic_credentials(headers: &HeaderMap) -> Result<(String, String), AuthFailure> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or(AuthFailure::Missing)?;
    let value = value.to_str().map_err(|_| AuthFailure::Invalid)?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))
        .ok_or(AuthFailure::Invalid)?;
    let decoded = STANDARD
        .decode(encoded.trim())
        .map_err(|_| AuthFailure::Invalid)?;
    let decoded = String::from_utf8(decoded).map_err(|_| AuthFailure::Invalid)?;
    let (user, password) = decoded.split_once(':').ok_or(AuthFailure::Invalid)?;
    Ok((user.to_owned(), password.to_owned()))
}

pub async fn authenticate(
    registry: &Registry,
    headers: &HeaderMap,
) -> Result<Principal, CoreError> {
    let (user, token) = basic_credentials(headers).map_err(CoreError::Unauthenticated)?;
    if user != "AWS" {
        return Err(CoreError::Unauthenticated(AuthFailure::Invalid));
    }
    registry.authenticate_token(&token).await
}
