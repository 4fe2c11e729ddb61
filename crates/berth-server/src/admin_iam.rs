//! The IAM part of the admin API: users and access keys, for `berth iam …`. Shapes follow
//! IAM's (`User`, `AccessKey`, `AccessKeyMetadata`); secrets appear only in the answer to
//! create-access-key.

use axum::extract::State;
use serde::Deserialize;
use serde_json::json;

use berth_core::ops::iam::UserInfo;

use crate::admin::{ok, AdminCall, AdminResult, Empty};
use crate::AppState;

fn iso8601(millis: i64) -> String {
    let secs = std::time::UNIX_EPOCH + std::time::Duration::from_millis(millis.max(0) as u64);
    let stamp = berth_iam::sigv4::format_amz_date(secs);
    format!(
        "{}-{}-{}T{}:{}:{}Z",
        &stamp[0..4],
        &stamp[4..6],
        &stamp[6..8],
        &stamp[9..11],
        &stamp[11..13],
        &stamp[13..15]
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct UserRequest {
    user_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct KeyRequest {
    access_key_id: String,
}

pub(crate) async fn create_user(
    State(state): State<AppState>,
    AdminCall {
        principal: p,
        request: req,
    }: AdminCall<UserRequest>,
) -> AdminResult {
    let user = state.registry.create_user(&p, &req.user_name).await?;
    ok(json!({ "User": render_user(&user) }))
}

fn render_user(u: &UserInfo) -> serde_json::Value {
    json!({
        "UserName": u.name,
        "UserId": u.user_id,
        "Arn": u.arn,
        "Path": "/",
        "CreateDate": iso8601(u.created_at_millis),
    })
}

pub(crate) async fn list_users(
    State(state): State<AppState>,
    AdminCall { principal: p, .. }: AdminCall<Empty>,
) -> AdminResult {
    let users = state.registry.list_users(&p).await?;
    ok(json!({ "Users": users.iter().map(render_user).collect::<Vec<_>>() }))
}

pub(crate) async fn delete_user(
    State(state): State<AppState>,
    AdminCall {
        principal: p,
        request: req,
    }: AdminCall<UserRequest>,
) -> AdminResult {
    state.registry.delete_user(&p, &req.user_name).await?;
    ok(json!({}))
}

pub(crate) async fn create_access_key(
    State(state): State<AppState>,
    AdminCall {
        principal: p,
        request: req,
    }: AdminCall<UserRequest>,
) -> AdminResult {
    let (id, secret) = state.registry.create_access_key(&p, &req.user_name).await?;
    ok(json!({ "AccessKey": {
        "UserName": req.user_name,
        "AccessKeyId": id.as_str(),
        "SecretAccessKey": secret.expose(),
        "Status": "Active",
    }}))
}

pub(crate) async fn list_access_keys(
    State(state): State<AppState>,
    AdminCall {
        principal: p,
        request: req,
    }: AdminCall<UserRequest>,
) -> AdminResult {
    let keys = state.registry.list_access_keys(&p, &req.user_name).await?;
    ok(
        json!({ "AccessKeyMetadata": keys.into_iter().map(|k| json!({
        "UserName": k.user_name,
        "AccessKeyId": k.id,
        "Status": "Active",
        "CreateDate": iso8601(k.created_at_millis),
    })).collect::<Vec<_>>() }),
    )
}

pub(crate) async fn delete_access_key(
    State(state): State<AppState>,
    AdminCall {
        principal: p,
        request: req,
    }: AdminCall<KeyRequest>,
) -> AdminResult {
    state
        .registry
        .delete_access_key(&p, &req.access_key_id)
        .await?;
    ok(json!({}))
}

/// Creates another account (registry) with its root key pair; default account's root only.
pub(crate) async fn create_account(
    State(state): State<AppState>,
    AdminCall { principal: p, .. }: AdminCall<Empty>,
) -> AdminResult {
    let created = state.registry.create_account(&p).await?;
    ok(json!({
        "Account": { "Id": created.account.as_str() },
        "AccessKey": {
            "UserName": "root",
            "AccessKeyId": created.root_key.as_str(),
            "SecretAccessKey": created.root_secret.expose(),
            "Status": "Active",
        },
    }))
}
