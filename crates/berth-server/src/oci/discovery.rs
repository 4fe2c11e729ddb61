//! Content discovery: `tags/list`, `_catalog` and `referrers`.

use axum::body::Body;
use axum::http::StatusCode;
use berth_core::RepositoryRef;
use berth_iam::AccountId;
use berth_oci::{ErrorCode, MediaType};

use super::{parse_digest, respond, Handled, OciError, OciRequest};

/// Without `n`, a page holds this many entries. distribution returns everything, but an
/// unbounded answer is a memory hazard, so past this a Link header leads to the rest. It is
/// the largest page, so that clients which list without `n` (docker, skopeo, crane) get all
/// of a repository's tags in one round trip in all but the largest repositories.
const DEFAULT_PAGE: usize = MAX_PAGE;
/// The largest page the core returns; a larger `n` is lowered to it, so that a full page
/// still carries the Link header to the rest.
const MAX_PAGE: usize = 10_000;

/// Reads `n` and `last`.
fn page(req: &OciRequest) -> Result<(usize, bool, Option<String>), OciError> {
    let n = match req.query.get("n") {
        None => None,
        Some(v) => Some(v.parse::<usize>().map_err(|_| {
            OciError::new(
                ErrorCode::PaginationNumberInvalid,
                "n must be a non-negative integer",
            )
        })?),
    };
    Ok((
        n.unwrap_or(DEFAULT_PAGE).min(MAX_PAGE),
        n.is_some(),
        req.query.get("last").cloned(),
    ))
}

/// The `Link` header to the next page, when this page is full.
fn next_link(
    path: &str,
    items: &[String],
    n: usize,
    explicit_n: bool,
) -> Vec<(&'static str, String)> {
    match items.last() {
        Some(last) if n > 0 && items.len() == n => {
            let n_param = if explicit_n {
                format!("n={n}&")
            } else {
                String::new()
            };
            vec![(
                "link",
                format!("<{path}?{n_param}last={last}>; rel=\"next\""),
            )]
        }
        _ => Vec::new(),
    }
}

/// Serializes straight to bytes: `Value::to_string` goes through `fmt::Write` a piece at a
/// time, which was the largest cost of listing 1,000 tags after the database.
fn json_response(headers: Vec<(&'static str, String)>, body: &impl serde::Serialize) -> Handled {
    let mut headers = headers;
    headers.push(("content-type", "application/json".into()));
    let bytes = serde_json::to_vec(body)
        .map_err(|e| OciError::from(berth_core::CoreError::Internal(e.to_string())))?;
    Ok(respond(StatusCode::OK, &headers, Body::from(bytes)))
}

#[derive(serde::Serialize)]
struct TagList<'a> {
    name: &'a str,
    tags: &'a [String],
}

#[derive(serde::Serialize)]
struct Catalog<'a> {
    repositories: &'a [String],
}

pub async fn tags(req: OciRequest, repo: RepositoryRef) -> Handled {
    let (n, explicit, last) = page(&req)?;
    let tags = req
        .state
        .registry
        .list_tags(&req.principal, &repo, last.as_deref(), n)
        .await?;
    let link = next_link(&format!("/v2/{}/tags/list", repo.name), &tags, n, explicit);
    json_response(
        link,
        &TagList {
            name: repo.name.as_str(),
            tags: &tags,
        },
    )
}

pub async fn catalog(req: OciRequest, account: &AccountId) -> Handled {
    let (n, explicit, last) = page(&req)?;
    let names: Vec<String> = if n == 0 {
        Vec::new()
    } else {
        req.state
            .registry
            .list_repositories(&req.principal, account, last.as_deref(), n)
            .await?
            .into_iter()
            .map(|r| r.name)
            .collect()
    };
    let link = next_link("/v2/_catalog", &names, n, explicit);
    json_response(
        link,
        &Catalog {
            repositories: &names,
        },
    )
}

pub async fn referrers(req: OciRequest, repo: RepositoryRef, digest: &str) -> Handled {
    let digest = parse_digest(digest)?;
    let filter = req.query.get("artifactType").cloned();
    let rows = req
        .state
        .registry
        .referrers(&req.principal, &repo, &digest, filter.as_deref())
        .await?;
    let manifests: Vec<serde_json::Value> = rows
        .into_iter()
        .map(|r| {
            let mut d = serde_json::json!({
                "mediaType": r.media_type,
                "digest": r.digest,
                "size": r.size,
            });
            if let Some(t) = r.artifact_type {
                d["artifactType"] = t.into();
            }
            if let Some(a) = r
                .annotations
                .and_then(|a| serde_json::from_str::<serde_json::Value>(&a).ok())
            {
                d["annotations"] = a;
            }
            d
        })
        .collect();
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": MediaType::OciIndex.as_str(),
        "manifests": manifests,
    });
    let mut headers = vec![("content-type", MediaType::OciIndex.as_str().to_owned())];
    if filter.is_some() {
        headers.push(("oci-filters-applied", "artifactType".into()));
    }
    Ok(respond(
        StatusCode::OK,
        &headers,
        Body::from(index.to_string()),
    ))
}
