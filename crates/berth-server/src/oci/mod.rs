//! The OCI Distribution v1.1 front door.
//!
//! [`dispatch`] receives every `/v2` request: it parses the path ([`route`]), authenticates
//! ([`auth`]), validates the repository name, and hands over to one small handler per endpoint
//! and method. Every response carries `Docker-Distribution-API-Version`.

pub mod auth;
mod blobs;
pub(crate) use blobs::blob_body;
mod discovery;
pub mod error;
mod manifests;
pub mod route;
mod uploads;

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use berth_core::{Principal, RepositoryRef};
use berth_oci::{ErrorCode, RepositoryName};

use crate::AppState;
use error::OciError;
use route::OciEndpoint;

pub(crate) const API_VERSION: (&str, &str) = ("docker-distribution-api-version", "registry/2.0");

/// What every handler receives.
pub(crate) struct OciRequest {
    pub state: AppState,
    pub principal: Principal,
    pub method: Method,
    pub headers: HeaderMap,
    pub query: HashMap<String, String>,
    pub body: Body,
}

type Handled = Result<Response, OciError>;

pub async fn dispatch(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut operation = crate::access_log::Operation::default();
    let mut response = match route(state, method, &uri, headers, body, &mut operation).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    response
        .headers_mut()
        .insert(API_VERSION.0, HeaderValue::from_static(API_VERSION.1));
    response.extensions_mut().insert(operation);
    response
}

async fn route(
    state: AppState,
    method: Method,
    uri: &Uri,
    headers: HeaderMap,
    body: Body,
    operation: &mut crate::access_log::Operation,
) -> Handled {
    let endpoint = route::parse(uri.path()).ok_or_else(|| {
        OciError::new(
            ErrorCode::NameInvalid,
            "no such endpoint; check the repository name",
        )
        .with_status(StatusCode::NOT_FOUND)
    })?;
    operation.method = Some(method.clone());
    operation.name = endpoint.kind().into();
    let principal = auth::authenticate(&state.registry, &headers).await?;
    operation.access_key = Some(principal.access_key_id().to_string());
    let query = Query::<HashMap<String, String>>::try_from_uri(uri)
        .map(|q| q.0)
        .map_err(|_| OciError::new(ErrorCode::Unsupported, "the query string is malformed"))?;
    let account = account_for_host(&state, uri, &headers);
    let repo = |name: &str| -> Result<RepositoryRef, OciError> {
        let name: RepositoryName = name.parse().map_err(|e: berth_oci::NameError| {
            OciError::new(ErrorCode::NameInvalid, e.to_string())
        })?;
        Ok(RepositoryRef {
            account: account.clone(),
            name,
        })
    };
    let req = OciRequest {
        state: state.clone(),
        principal,
        method: method.clone(),
        headers,
        query,
        body,
    };
    use Method as M;
    match (endpoint, &method) {
        (OciEndpoint::Base, &M::GET | &M::HEAD) => Ok((StatusCode::OK, "{}").into_response()),
        (OciEndpoint::Catalog, &M::GET) => discovery::catalog(req, &account).await,
        (OciEndpoint::Manifest { name, reference }, &M::GET | &M::HEAD) => {
            manifests::get(req, repo(name)?, reference).await
        }
        (OciEndpoint::Manifest { name, reference }, &M::PUT) => {
            manifests::put(req, repo(name)?, reference).await
        }
        (OciEndpoint::Manifest { name, reference }, &M::DELETE) => {
            manifests::delete(req, repo(name)?, reference).await
        }
        (OciEndpoint::Blob { name, digest }, &M::GET | &M::HEAD) => {
            blobs::get(req, repo(name)?, digest).await
        }
        (OciEndpoint::Blob { name, digest }, &M::DELETE) => {
            blobs::delete(req, repo(name)?, digest).await
        }
        (OciEndpoint::UploadStart { name }, &M::POST) => uploads::start(req, repo(name)?).await,
        (OciEndpoint::Upload { name, id }, &M::GET) => uploads::status(req, repo(name)?, id).await,
        (OciEndpoint::Upload { name, id }, &M::PATCH) => uploads::patch(req, repo(name)?, id).await,
        (OciEndpoint::Upload { name, id }, &M::PUT) => {
            uploads::complete(req, repo(name)?, id).await
        }
        (OciEndpoint::Upload { name, id }, &M::DELETE) => {
            uploads::cancel(req, repo(name)?, id).await
        }
        (OciEndpoint::Tags { name }, &M::GET) => discovery::tags(req, repo(name)?).await,
        (OciEndpoint::Referrers { name, digest }, &M::GET) => {
            discovery::referrers(req, repo(name)?, digest).await
        }
        _ => Err(OciError::new(
            ErrorCode::Unsupported,
            "the method is not allowed on this endpoint",
        )
        .with_status(StatusCode::METHOD_NOT_ALLOWED)),
    }
}

/// The registry a request addresses: `{account}.{host}` names an account, and the bare host
/// serves the default one.
fn account_for_host(state: &AppState, uri: &Uri, headers: &HeaderMap) -> berth_iam::AccountId {
    crate::request_host(uri, headers)
        .as_deref()
        .and_then(|h| h.split('.').next())
        .and_then(|label| label.parse().ok())
        .unwrap_or_else(|| state.registry.default_account().clone())
}

/// Parses a digest from the path or query, as DIGEST_INVALID when it is malformed.
pub(crate) fn parse_digest(s: &str) -> Result<berth_oci::Digest, OciError> {
    s.parse()
        .map_err(|e: berth_oci::DigestError| OciError::new(ErrorCode::DigestInvalid, e.to_string()))
}

/// Builds a response with headers; header values here are built from validated types.
pub(crate) fn respond(status: StatusCode, headers: &[(&str, String)], body: Body) -> Response {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    for (name, value) in headers {
        if let (Ok(n), Ok(v)) = (
            axum::http::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            r.headers_mut().insert(n, v);
        }
    }
    r
}
