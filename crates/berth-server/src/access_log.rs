//! One log event per request: method, path, status, duration and a request id, which the
//! response also carries (`x-amzn-RequestId` on the AWS doors, as Terraform's errors quote it;
//! `x-request-id` elsewhere). Successful requests log at DEBUG, so the pull hot path costs
//! nothing by default; refusals at INFO, naming the operation, the error code and the access
//! key when the handler knows them; server errors at WARN. docker's credential-less first
//! request, answered 401, is the normal start of a login, so it logs at DEBUG.

use std::time::Instant;

use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// What a handler tells the log about the request it answered: the operation (ECR target or
/// OCI endpoint), the error code it refused with, and the access key it was signed with.
#[derive(Clone, Debug, Default)]
pub struct Operation {
    /// The OCI method, printed before the name (`PATCH:upload`); none for AWS operations.
    pub method: Option<axum::http::Method>,
    /// The ECR target or OCI endpoint; borrowed where it is a constant, so the hot path does
    /// not allocate for a log line it rarely writes.
    pub name: std::borrow::Cow<'static, str>,
    pub access_key: Option<String>,
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.method {
            Some(method) => write!(f, "{method}:{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// The id of the request being served, for handlers that also put it in their bodies (STS).
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// The wire error code of a refusal (`__type` or the OCI code), for the log.
#[derive(Clone, Copy, Debug)]
pub struct ErrorCode(pub &'static str);

pub async fn access_log(mut request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let mut path = request.uri().path().to_owned();
    // A layer download URL is a bearer credential: log that one was used, not which.
    if path.starts_with("/berth/layers/") {
        path.truncate("/berth/layers/".len());
        path.push_str("...");
    }
    let aws_door = path == "/";
    let had_credentials = request.headers().contains_key(header::AUTHORIZATION);
    // A v4 UUID from the thread's userspace generator: `Uuid::new_v4` asks the kernel for
    // every id, a system call on the manifest GET hot path.
    let request_id = uuid::Builder::from_random_bytes(rand::random())
        .into_uuid()
        .to_string();
    request
        .extensions_mut()
        .insert(RequestId(request_id.clone()));
    let started = Instant::now();
    let mut response = next.run(request).await;
    let status = response.status();
    let micros = started.elapsed().as_micros() as u64;
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        let name = if aws_door {
            "x-amzn-requestid"
        } else {
            "x-request-id"
        };
        response.headers_mut().insert(name, v);
    }
    let operation = response
        .extensions_mut()
        .remove::<Operation>()
        .unwrap_or_default();
    let code = response
        .extensions()
        .get::<ErrorCode>()
        .map_or("-", |c| c.0);
    let key = operation.access_key.as_deref().unwrap_or("-");
    let op = &operation;
    let status = status.as_u16();
    if response.status().is_server_error() {
        tracing::warn!(%request_id, %method, %path, %op, status, %code, %key, micros, "request failed");
    } else if status == 401 && !had_credentials {
        tracing::debug!(%request_id, %method, %path, %op, status, %code, micros, "credentials requested");
    } else if response.status().is_client_error() {
        tracing::info!(%request_id, %method, %path, %op, status, %code, %key, micros, "request refused");
    } else {
        tracing::debug!(%request_id, %method, %path, %op, status, micros, "request");
    }
    response
}
