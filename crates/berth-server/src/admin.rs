//! The admin API that the `berth` CLI uses until the ECR API covers the same ground.
//!
//! Requests are `POST` with JSON bodies, authenticated with HTTP Basic of an access key id and
//! its secret. Errors use ECR's shape, `{"__type": …, "message": …}`, with ECR's exception
//! names, so the CLI prints what `aws ecr` would.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use berth_core::ops::repositories::{NewRepository, Repository};
use berth_core::{
    AuthFailure, CoreError, Principal, RepositoryRef, TagMutability, TagMutabilityRule,
};
use serde::Deserialize;
use serde_json::json;

use crate::oci::auth::basic_credentials;
use crate::AppState;

/// Admin request bodies are small; anything larger is refused before parsing.
const MAX_BODY: usize = 64 * 1024;

pub struct AdminError {
    status: StatusCode,
    kind: &'static str,
    message: String,
}

impl AdminError {
    fn invalid(message: impl Into<String>) -> AdminError {
        AdminError {
            status: StatusCode::BAD_REQUEST,
            kind: "InvalidParameterException",
            message: message.into(),
        }
    }
}

/// The mapping from core errors to ECR exception names. Exhaustive on purpose.
impl From<CoreError> for AdminError {
    fn from(e: CoreError) -> AdminError {
        let message = e.to_string();
        let (status, kind) = match e {
            CoreError::Unauthenticated(AuthFailure::Missing) => {
                (StatusCode::FORBIDDEN, "MissingAuthenticationTokenException")
            }
            CoreError::Unauthenticated(_) => (StatusCode::FORBIDDEN, "UnrecognizedClientException"),
            CoreError::AccessDenied { .. } => (StatusCode::BAD_REQUEST, "AccessDeniedException"),
            CoreError::RepositoryNotFound { .. } => {
                (StatusCode::BAD_REQUEST, "RepositoryNotFoundException")
            }
            CoreError::RepositoryExists { .. } => {
                (StatusCode::BAD_REQUEST, "RepositoryAlreadyExistsException")
            }
            CoreError::RepositoryNotEmpty { .. } => {
                (StatusCode::BAD_REQUEST, "RepositoryNotEmptyException")
            }
            CoreError::NameInvalid(_) | CoreError::InvalidParameter(_) => {
                (StatusCode::BAD_REQUEST, "InvalidParameterException")
            }
            CoreError::ManifestUnknown | CoreError::ManifestNotAcceptable(_) => {
                (StatusCode::BAD_REQUEST, "ImageNotFoundException")
            }
            CoreError::ManifestInvalid(_) | CoreError::ManifestUnsupported(_) => {
                (StatusCode::BAD_REQUEST, "InvalidParameterException")
            }
            CoreError::ManifestBlobUnknown(_) | CoreError::ManifestChildUnknown(_) => {
                (StatusCode::BAD_REQUEST, "LayersNotFoundException")
            }
            CoreError::TagImmutable { .. } => {
                (StatusCode::BAD_REQUEST, "ImageTagAlreadyExistsException")
            }
            CoreError::BlobUnknown => (StatusCode::BAD_REQUEST, "LayersNotFoundException"),
            CoreError::UploadUnknown => (StatusCode::BAD_REQUEST, "UploadNotFoundException"),
            CoreError::DigestMismatch { .. } | CoreError::DigestInvalid(_) => {
                (StatusCode::BAD_REQUEST, "InvalidLayerException")
            }
            CoreError::ChunkOutOfOrder { .. }
            | CoreError::RangeNotSatisfiable { .. }
            | CoreError::BodyInterrupted(_) => {
                (StatusCode::BAD_REQUEST, "InvalidLayerPartException")
            }
            CoreError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                return AdminError {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    kind: "ServerException",
                    message: "internal server error".into(),
                };
            }
        };
        AdminError {
            status,
            kind,
            message,
        }
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        (
            self.status,
            [("content-type", "application/x-amz-json-1.1")],
            json!({ "__type": self.kind, "message": self.message }).to_string(),
        )
            .into_response()
    }
}

type AdminResult = Result<Response, AdminError>;

async fn principal(state: &AppState, headers: &HeaderMap) -> Result<Principal, AdminError> {
    let (key, secret) = basic_credentials(headers).map_err(CoreError::Unauthenticated)?;
    Ok(state.registry.authenticate_key(&key, &secret).await?)
}

fn parse_body<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, AdminError> {
    if body.len() > MAX_BODY {
        return Err(AdminError::invalid("the request body is too large"));
    }
    serde_json::from_slice(body).map_err(|e| AdminError::invalid(format!("malformed request: {e}")))
}

fn repo_ref(principal: &Principal, name: &str) -> Result<RepositoryRef, AdminError> {
    Ok(RepositoryRef {
        account: principal.account().clone(),
        name: name
            .parse()
            .map_err(|e: berth_oci::NameError| AdminError::invalid(e.to_string()))?,
    })
}

fn mutability_rule(
    mutability: Option<&str>,
    filters: Vec<String>,
) -> Result<TagMutabilityRule, AdminError> {
    let mutability: TagMutability = mutability
        .unwrap_or("MUTABLE")
        .parse()
        .map_err(AdminError::invalid)?;
    TagMutabilityRule::new(mutability, filters).map_err(AdminError::invalid)
}

fn render(r: &Repository) -> serde_json::Value {
    json!({
        "registryId": r.account,
        "repositoryName": r.name,
        "repositoryArn": r.arn,
        "createdAt": r.created_at_millis as f64 / 1000.0,
        "imageTagMutability": r.mutability.mutability().as_str(),
        "imageTagMutabilityExclusionFilters": r.mutability.filters(),
        "imageScanningConfiguration": { "scanOnPush": r.scan_on_push },
        "encryptionConfiguration": { "encryptionType": r.encryption_type },
    })
}

fn ok(body: serde_json::Value) -> AdminResult {
    Ok((
        StatusCode::OK,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response())
}

/// Issues a registry token for `docker login`, as GetAuthorizationToken will.
pub async fn token(State(state): State<AppState>, headers: HeaderMap) -> AdminResult {
    let p = principal(&state, &headers).await?;
    let (token, expires_at) = state.registry.issue_token(&p);
    ok(json!({ "token": token, "expiresAt": expires_at }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateRequest {
    name: String,
    tag_mutability: Option<String>,
    #[serde(default)]
    filters: Vec<String>,
    #[serde(default)]
    scan_on_push: bool,
}

pub async fn create_repository(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> AdminResult {
    let p = principal(&state, &headers).await?;
    let req: CreateRequest = parse_body(&body)?;
    let repo = repo_ref(&p, &req.name)?;
    let new = NewRepository {
        mutability: mutability_rule(req.tag_mutability.as_deref(), req.filters)?,
        scan_on_push: req.scan_on_push,
        ..NewRepository::default()
    };
    let created = state.registry.create_repository(&p, &repo, &new).await?;
    ok(json!({ "repository": render(&created) }))
}

pub async fn list_repositories(State(state): State<AppState>, headers: HeaderMap) -> AdminResult {
    let p = principal(&state, &headers).await?;
    let mut all = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = state
            .registry
            .list_repositories(&p, p.account(), after.as_deref(), 1000)
            .await?;
        let done = page.len() < 1000;
        after = page.last().map(|r| r.name.clone());
        all.extend(page.iter().map(render));
        if done {
            break;
        }
    }
    ok(json!({ "repositories": all }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeleteRequest {
    name: String,
    #[serde(default)]
    force: bool,
}

pub async fn delete_repository(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> AdminResult {
    let p = principal(&state, &headers).await?;
    let req: DeleteRequest = parse_body(&body)?;
    let repo = repo_ref(&p, &req.name)?;
    let deleted = state
        .registry
        .delete_repository(&p, &repo, req.force)
        .await?;
    ok(json!({ "repository": render(&deleted) }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MutabilityRequest {
    name: String,
    tag_mutability: String,
    #[serde(default)]
    filters: Vec<String>,
}

pub async fn set_mutability(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> AdminResult {
    let p = principal(&state, &headers).await?;
    let req: MutabilityRequest = parse_body(&body)?;
    let repo = repo_ref(&p, &req.name)?;
    let rule = mutability_rule(Some(&req.tag_mutability), req.filters)?;
    let updated = state.registry.set_tag_mutability(&p, &repo, &rule).await?;
    ok(json!({ "repository": render(&updated) }))
}
