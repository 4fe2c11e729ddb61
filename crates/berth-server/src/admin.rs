//! The admin API that the `berth` CLI uses until the ECR API covers the same ground.
//!
//! Requests are `POST` with JSON bodies, signed with SigV4 for service `berth` in this
//! registry's region, as the `berth` CLI signs them: no secret crosses the wire. The signature
//! envelope is checked before the body is read ([`AdminCall`]). Errors use ECR's shape,
//! `{"__type": …, "message": …}`, with ECR's exception names, so the CLI prints what `aws ecr`
//! would.

use axum::extract::{FromRequest, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use berth_core::ops::repositories::{NewRepository, Repository};
use berth_core::{Principal, RepositoryRef, TagMutabilityRule};
use serde::Deserialize;
use serde_json::json;

use crate::ecr::error::EcrError;
use crate::ecr::signature;
use crate::AppState;

/// Admin request bodies are small; anything larger is refused before parsing.
const MAX_BODY: usize = 64 * 1024;

type AdminError = EcrError;
pub(crate) type AdminResult = Result<Response, AdminError>;

/// The SigV4 service name the admin API's requests are signed for.
pub const SERVICE: &str = "berth";

/// An admin call: its signature envelope checked from the headers, then its body read within
/// the budget, then the signature over it verified, then the JSON parsed. An empty body is
/// `{}`.
pub(crate) struct AdminCall<T> {
    pub principal: Principal,
    pub request: T,
}

impl<T: serde::de::DeserializeOwned> FromRequest<AppState> for AdminCall<T> {
    type Rejection = AdminError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, AdminError> {
        let (parts, body) = req.into_parts();
        let signed = signature::begin(state, SERVICE, &parts.uri, &parts.headers).await?;
        let body = state.bodies.read(&parts.headers, body, MAX_BODY).await?;
        let principal = signed.finish(&parts.method, &parts.uri, &body.bytes)?;
        let json: &[u8] = if body.bytes.is_empty() {
            b"{}"
        } else {
            &body.bytes
        };
        let request = serde_json::from_slice(json)
            .map_err(|e| EcrError::invalid(format!("malformed request: {e}")))?;
        Ok(AdminCall { principal, request })
    }
}

/// A request with no parameters.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Empty {}

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
pub(crate) async fn token(
    State(state): State<AppState>,
    AdminCall { principal: p, .. }: AdminCall<Empty>,
) -> AdminResult {
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

pub(crate) async fn create_repository(
    State(state): State<AppState>,
    AdminCall {
        principal: p,
        request: req,
    }: AdminCall<CreateRequest>,
) -> AdminResult {
    let repo = repo_ref(&p, &req.name)?;
    let new = NewRepository {
        mutability: mutability_rule(req.tag_mutability.as_deref(), req.filters)?,
        scan_on_push: req.scan_on_push,
        ..NewRepository::default()
    };
    let created = state.registry.create_repository(&p, &repo, &new).await?;
    ok(json!({ "repository": render(&created) }))
}

pub(crate) async fn list_repositories(
    State(state): State<AppState>,
    AdminCall { principal: p, .. }: AdminCall<Empty>,
) -> AdminResult {
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

pub(crate) async fn delete_repository(
    State(state): State<AppState>,
    AdminCall {
        principal: p,
        request: req,
    }: AdminCall<DeleteRequest>,
) -> AdminResult {
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

pub(crate) async fn set_mutability(
    State(state): State<AppState>,
    AdminCall {
        principal: p,
        request: req,
    }: AdminCall<MutabilityRequest>,
) -> AdminResult {
    let repo = repo_ref(&p, &req.name)?;
    let rule = mutability_rule(Some(&req.tag_mutability), req.filters)?;
    let updated = state.registry.set_tag_mutability(&p, &repo, &rule).await?;
    ok(json!({ "repository": render(&updated) }))
}
