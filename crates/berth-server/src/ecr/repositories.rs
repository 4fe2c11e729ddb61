//! Repository operations, the authorization token, the registry, and resource tags.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use berth_core::ops::repositories::{NewRepository, Repository};
use berth_core::{Action, TagMutabilityRule};
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::EcrError;
use super::wire::{decode_token, encode_token, page_size, parse, timestamp, Ctx, EcrResult};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Filter {
    filter_type: String,
    filter: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Scanning {
    #[serde(default)]
    scan_on_push: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Encryption {
    encryption_type: String,
    kms_key: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ResourceTag {
    key: String,
    value: String,
}

fn mutability_rule(
    mutability: Option<&str>,
    filters: Vec<Filter>,
) -> Result<TagMutabilityRule, EcrError> {
    let mut patterns = Vec::with_capacity(filters.len());
    for f in filters {
        if f.filter_type != "WILDCARD" {
            return Err(EcrError::invalid(format!(
                "Invalid parameter at 'filterType' failed to satisfy constraint: 'Member must satisfy enum value set: [WILDCARD]' ({})",
                f.filter_type
            )));
        }
        patterns.push(f.filter);
    }
    TagMutabilityRule::from_request(mutability, patterns).map_err(EcrError::invalid)
}

fn tags_of(tags: Vec<ResourceTag>) -> Vec<(String, String)> {
    tags.into_iter().map(|t| (t.key, t.value)).collect()
}

fn render_filters(rule: &TagMutabilityRule) -> Value {
    rule.filters()
        .iter()
        .map(|f| json!({ "filterType": "WILDCARD", "filter": f }))
        .collect()
}

fn render(ctx: &Ctx<'_>, r: &Repository) -> Value {
    let mut encryption = json!({ "encryptionType": r.encryption_type });
    if let Some(k) = &r.kms_key {
        encryption["kmsKey"] = k.clone().into();
    }
    let mut v = json!({
        "repositoryArn": r.arn,
        "registryId": r.account,
        "repositoryName": r.name,
        "repositoryUri": ctx.repository_uri(&r.name),
        "createdAt": timestamp(r.created_at_millis),
        "imageTagMutability": r.mutability.mutability().as_str(),
        "imageScanningConfiguration": { "scanOnPush": r.scan_on_push },
        "encryptionConfiguration": encryption,
    });
    if !r.mutability.filters().is_empty() {
        v["imageTagMutabilityExclusionFilters"] = render_filters(&r.mutability);
    }
    v
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateRepository {
    registry_id: Option<String>,
    repository_name: String,
    #[serde(default)]
    tags: Vec<ResourceTag>,
    image_tag_mutability: Option<String>,
    #[serde(default)]
    image_tag_mutability_exclusion_filters: Vec<Filter>,
    image_scanning_configuration: Option<Scanning>,
    encryption_configuration: Option<Encryption>,
}

pub async fn create(ctx: &Ctx<'_>, request: Value) -> EcrResult {
    let req: CreateRepository = parse(request)?;
    let repo = ctx.repo(req.registry_id.as_deref(), &req.repository_name)?;
    let (encryption_type, kms_key) = match req.encryption_configuration {
        None => ("AES256".to_owned(), None),
        Some(e) => (e.encryption_type, e.kms_key),
    };
    let new = NewRepository {
        mutability: mutability_rule(
            req.image_tag_mutability.as_deref(),
            req.image_tag_mutability_exclusion_filters,
        )?,
        scan_on_push: req
            .image_scanning_configuration
            .is_some_and(|s| s.scan_on_push),
        encryption_type,
        kms_key,
        tags: tags_of(req.tags),
    };
    let created = ctx
        .state
        .registry
        .create_repository(ctx.principal, &repo, &new)
        .await?;
    Ok(json!({ "repository": render(ctx, &created) }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescribeRepositories {
    registry_id: Option<String>,
    repository_names: Option<Vec<String>>,
    next_token: Option<String>,
    max_results: Option<i64>,
}

pub async fn describe(ctx: &Ctx<'_>, request: Value) -> EcrResult {
    let req: DescribeRepositories = parse(request)?;
    let registry = &ctx.state.registry;
    if let Some(names) = req.repository_names {
        if req.next_token.is_some() || req.max_results.is_some() {
            return Err(EcrError::invalid(
                "maxResults and nextToken cannot be used with repositoryNames",
            ));
        }
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let repo = ctx.repo(req.registry_id.as_deref(), &name)?;
            out.push(render(
                ctx,
                &registry.describe_repository(ctx.principal, &repo).await?,
            ));
        }
        return Ok(json!({ "repositories": out }));
    }
    let limit = page_size(req.max_results, 100);
    let account = match req.registry_id.as_deref() {
        Some(id) => ctx.repo(Some(id), "xx")?.account,
        None => ctx.principal.account().clone(),
    };
    let after = decode_token(req.next_token.as_deref())?;
    let page = registry
        .list_repositories(ctx.principal, &account, after.as_deref(), limit + 1)
        .await?;
    let more = page.len() > limit;
    let page = &page[..page.len().min(limit)];
    let mut response =
        json!({ "repositories": page.iter().map(|r| render(ctx, r)).collect::<Vec<_>>() });
    if more {
        if let Some(last) = page.last() {
            response["nextToken"] = encode_token(&last.name).into();
        }
    }
    Ok(response)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeleteRepository {
    registry_id: Option<String>,
    repository_name: String,
    #[serde(default)]
    force: bool,
}

pub async fn delete(ctx: &Ctx<'_>, request: Value) -> EcrResult {
    let req: DeleteRepository = parse(request)?;
    let repo = ctx.repo(req.registry_id.as_deref(), &req.repository_name)?;
    let deleted = ctx
        .state
        .registry
        .delete_repository(ctx.principal, &repo, req.force)
        .await?;
    Ok(json!({ "repository": render(ctx, &deleted) }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PutImageTagMutability {
    registry_id: Option<String>,
    repository_name: String,
    image_tag_mutability: String,
    #[serde(default)]
    image_tag_mutability_exclusion_filters: Vec<Filter>,
}

pub async fn put_tag_mutability(ctx: &Ctx<'_>, request: Value) -> EcrResult {
    let req: PutImageTagMutability = parse(request)?;
    let repo = ctx.repo(req.registry_id.as_deref(), &req.repository_name)?;
    let rule = mutability_rule(
        Some(&req.image_tag_mutability),
        req.image_tag_mutability_exclusion_filters,
    )?;
    let r = ctx
        .state
        .registry
        .set_tag_mutability(ctx.principal, &repo, &rule)
        .await?;
    let mut v = json!({
        "registryId": r.account,
        "repositoryName": r.name,
        "imageTagMutability": r.mutability.mutability().as_str(),
    });
    if !r.mutability.filters().is_empty() {
        v["imageTagMutabilityExclusionFilters"] = render_filters(&r.mutability);
    }
    Ok(v)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PutImageScanningConfiguration {
    registry_id: Option<String>,
    repository_name: String,
    image_scanning_configuration: Scanning,
}

pub async fn put_scanning(ctx: &Ctx<'_>, request: Value) -> EcrResult {
    let req: PutImageScanningConfiguration = parse(request)?;
    let repo = ctx.repo(req.registry_id.as_deref(), &req.repository_name)?;
    let r = ctx
        .state
        .registry
        .set_scan_on_push(
            ctx.principal,
            &repo,
            req.image_scanning_configuration.scan_on_push,
        )
        .await?;
    Ok(json!({
        "registryId": r.account,
        "repositoryName": r.name,
        "imageScanningConfiguration": { "scanOnPush": r.scan_on_push },
    }))
}

pub async fn authorization_token(ctx: &Ctx<'_>, _request: Value) -> EcrResult {
    let registry = &ctx.state.registry;
    registry.authorize(
        ctx.principal,
        Action::GetAuthorizationToken,
        ctx.principal.account(),
        || "*".into(),
    )?;
    let (token, expires_at) = registry.issue_token(ctx.principal);
    Ok(json!({
        "authorizationData": [{
            "authorizationToken": STANDARD.encode(format!("AWS:{token}")),
            "expiresAt": expires_at,
            "proxyEndpoint": ctx.state.url_for_host(&ctx.host),
        }]
    }))
}

pub async fn describe_registry(ctx: &Ctx<'_>, _request: Value) -> EcrResult {
    let registry = &ctx.state.registry;
    let account = ctx.principal.account();
    registry.authorize(ctx.principal, Action::DescribeRegistry, account, || {
        "*".into()
    })?;
    Ok(json!({ "registryId": account.as_str(), "replicationConfiguration": { "rules": [] } }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TagResource {
    resource_arn: String,
    tags: Vec<ResourceTag>,
}

pub async fn tag_resource(ctx: &Ctx<'_>, request: Value) -> EcrResult {
    let req: TagResource = parse(request)?;
    let tags = tags_of(req.tags);
    ctx.state
        .registry
        .tag_resource(ctx.principal, &req.resource_arn, &tags)
        .await?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UntagResource {
    resource_arn: String,
    tag_keys: Vec<String>,
}

pub async fn untag_resource(ctx: &Ctx<'_>, request: Value) -> EcrResult {
    let req: UntagResource = parse(request)?;
    ctx.state
        .registry
        .untag_resource(ctx.principal, &req.resource_arn, &req.tag_keys)
        .await?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListTagsForResource {
    resource_arn: String,
}

pub async fn list_tags(ctx: &Ctx<'_>, request: Value) -> EcrResult {
    let req: ListTagsForResource = parse(request)?;
    let tags = ctx
        .state
        .registry
        .list_tags_for_resource(ctx.principal, &req.resource_arn)
        .await?;
    Ok(
        json!({ "tags": tags.into_iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect::<Vec<_>>() }),
    )
}
