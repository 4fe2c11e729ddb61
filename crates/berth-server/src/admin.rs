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
use berth_core::{CoreError, Principal, RepositoryRef, TagMutabilityRule};
use serde::Deserialize;
use serde_json::json;

use crate::ecr::error::EcrError;
use crate::oci::auth::basic_credentials;
use crate::AppState;

/// Admin request bodies are small; anything larger is refused before parsing.
const MAX_BODY: usize = 64 * 1024;

type AdminError = EcrError;
pub(crate) type AdminResult = Result<Response, AdminError>;

pub(crate) async fn principal(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Principal, AdminError> {
    let (key, secret) = basic_credentials(headers).map_err(CoreError::Unauthenticated)?;
    Ok(state.registry.authenticate_key(&key, &secret).await?)
}

pub(crate) fn parse_body<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, AdminError> {
    if body.len() > MAX_BODY {
        return Err(EcrError::invalid("the request body is too large"));
    }
    serde_json::from_slice(body).map_err(|e| EcrError::invalid(format!("malformed request: {e}")))
}

fn repo_ref(principal: &Principal, name: &str) -> Result<RepositoryRef, AdminError> {
    Ok(RepositoryRef {
        account: principal.account().clone(),
        name: name
            .parse()
            .map_err(|e: berth_oci::NameError| EcrError::invalid(e.to_string()))?,
    })
}

fn mutability_rule(
    mutability: Option<&str>,
    filters: Vec<String>,
) -> Result<TagMutabilityRule, AdminError> {
    TagMutabilityRule::from_request(mutability, filters).map_err(EcrError::invalid)
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

pub(crate) fn ok(body: serde_json::Value) -> AdminResult {
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
