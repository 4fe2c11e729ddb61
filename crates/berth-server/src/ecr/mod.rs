//! The ECR API front door: JSON 1.1 over `POST /`, signed with SigV4.
//!
//! [`handle`] reads the body (at most 10 MiB), authenticates the signature
//! ([`signature::authenticate`]), then dispatches on `X-Amz-Target` to one small handler per
//! operation. Requests without `X-Amz-Target` are STS queries ([`crate::sts`]), because
//! Terraform sends both services to the same endpoint.

pub mod error;
mod images;
mod layers;
mod model;
mod operations;
mod repositories;
pub mod signature;
mod wire;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};

use crate::AppState;
use error::EcrError;
use operations::EcrOperation;

/// Validates an ECR request body against botocore's model, as the door does before dispatch:
/// the one entry point the fuzz target needs.
pub fn validate_request(operation: &str, input: &serde_json::Value) -> Result<(), EcrError> {
    model::validate(operation, input)
}

/// AWS JSON services refuse bodies over 10 MiB; so does berth, before parsing anything.
pub const MAX_BODY: usize = 10 * 1024 * 1024;

const TARGET_PREFIX: &str = "AmazonEC2ContainerRegistry_V20150921.";

pub async fn handle(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    request_id: Option<axum::Extension<crate::access_log::RequestId>>,
    body: Body,
) -> Response {
    let target = headers.get("x-amz-target").cloned();
    let service = if target.is_some() { "ecr" } else { "sts" };
    let mut access_key = None;
    let authenticated = async {
        let signed = signature::begin(&state, service, &uri, &headers).await?;
        access_key = Some(signed.access_key_id());
        let body = state
            .bodies
            .read(&headers, body, MAX_BODY)
            .await
            .map_err(EcrError::from)?;
        let principal = signed.finish(&method, &uri, &body.bytes)?;
        Ok::<_, EcrError>((principal, body))
    }
    .await;
    let Some(target) = target else {
        let request_id = request_id.map(|r| r.0 .0).unwrap_or_default();
        let mut response = crate::sts::handle(&state, &uri, authenticated, &request_id).await;
        response
            .extensions_mut()
            .insert(crate::access_log::Operation {
                name: "sts".into(),
                method: None,
                access_key,
            });
        return response;
    };
    let target = target.to_str().unwrap_or_default();
    let operation_name = target
        .strip_prefix(TARGET_PREFIX)
        .unwrap_or(target)
        .to_owned();
    let result = async {
        // The buffered body stays held (and counted in the budget) until the call is done.
        let (principal, buffered) = authenticated?;
        let body = &buffered.bytes;
        let operation = target
            .strip_prefix(TARGET_PREFIX)
            .and_then(EcrOperation::parse)
            .ok_or_else(|| {
                EcrError::new(
                    "UnknownOperationException",
                    format!("unknown operation {target:?}"),
                )
            })?;
        let content_type = headers
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !content_type.starts_with("application/x-amz-json-1.1") {
            return Err(EcrError::new(
                "SerializationException",
                format!("Content-Type must be application/x-amz-json-1.1, not {content_type:?}"),
            ));
        }
        let request: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
            EcrError::new(
                "SerializationException",
                format!("the request body is not valid JSON: {e}"),
            )
        })?;
        if !request.is_object() {
            return Err(EcrError::new(
                "SerializationException",
                "the request body must be a JSON object",
            ));
        }
        if !matches!(operation, EcrOperation::NotImplemented(_)) {
            model::validate(target.trim_start_matches(TARGET_PREFIX), &request)?;
        }
        let host = crate::request_host(&uri, &headers).unwrap_or_else(|| "127.0.0.1:5000".into());
        let ctx = wire::Ctx {
            state: &state,
            principal: &principal,
            host,
        };
        operations::dispatch(operation, &ctx, request).await
    }
    .await;
    let mut response = match result {
        Ok(v) => (
            [("content-type", "application/x-amz-json-1.1")],
            v.to_string(),
        )
            .into_response(),
        Err(e) => e.into_response(),
    };
    response
        .extensions_mut()
        .insert(crate::access_log::Operation {
            name: operation_name.into(),
            method: None,
            access_key,
        });
    response
}
