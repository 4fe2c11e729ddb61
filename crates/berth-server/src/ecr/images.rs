//! Image operations: ListImages, DescribeImages, BatchGetImage, PutImage, BatchDeleteImage and
//! BatchCheckLayerAvailability. Each is the same core call as its `/v2` counterpart.

use berth_core::ops::images::Image;
use berth_core::{Action, CoreError, RepositoryRef};
use berth_oci::{Digest, MediaType, Reference, Tag};
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::EcrError;
use super::wire::{decode_token, encode_token, page_size, parse, timestamp, Ctx, EcrResult};

#[derive(Deserialize, Clone, Default)]
#[serde(rename_all = "camelCase")]
struct ImageId {
    image_digest: Option<String>,
    image_tag: Option<String>,
}

impl ImageId {
    fn render(&self) -> Value {
        let mut v = json!({});
        if let Some(d) = &self.image_digest {
            v["imageDigest"] = d.clone().into();
        }
        if let Some(t) = &self.image_tag {
            v["imageTag"] = t.clone().into();
        }
        v
    }

    fn failure(&self, code: &str, reason: &str) -> Value {
        json!({ "imageId": self.render(), "failureCode": code, "failureReason": reason })
    }

    /// The digest and tag as validated types, or the failure ECR reports for them.
    fn validate(&self) -> Result<Target, Value> {
        let digest: Option<Digest> = match &self.image_digest {
            None => None,
            Some(d) => Some(d.parse().map_err(|_| self.failure("InvalidImageDigest", "Invalid request parameters: image digest should satisfy the regex '[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'"))?),
        };
        let tag: Option<Tag> = match &self.image_tag {
            None => None,
            Some(t) => Some(t.parse().map_err(|_| {
                self.failure(
                    "InvalidImageTag",
                    "Invalid request parameters: image tag is invalid",
                )
            })?),
        };
        // A tag, when given, is what the request is about; a digest beside it must agree.
        let reference = match (&tag, &digest) {
            (Some(t), _) => Reference::Tag(t.clone()),
            (None, Some(d)) => Reference::Digest(d.clone()),
            (None, None) => {
                return Err(self.failure(
                    "MissingDigestAndTag",
                    "Invalid request parameters: both tag and digest cannot be null",
                ))
            }
        };
        Ok(Target {
            reference,
            digest,
            tag,
        })
    }

    /// The failure for a tag that names another digest than the one given.
    fn mismatch(&self) -> Value {
        self.failure(
            "ImageTagDoesNotMatchDigest",
            "Invalid request parameters: given tag does not map to given digest",
        )
    }
}

/// A validated image id.
struct Target {
    reference: Reference,
    digest: Option<Digest>,
    tag: Option<Tag>,
}

impl Target {
    /// Whether a digest given beside a tag disagrees with what the tag points at.
    fn contradicts(&self, actual: &Digest) -> bool {
        self.digest.as_ref().is_some_and(|d| d != actual)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TagFilter {
    tag_status: Option<String>,
}

/// The model's enum (TAGGED, UNTAGGED, ANY) was checked before the handler ran.
fn tag_status(filter: Option<TagFilter>) -> &'static str {
    match filter.and_then(|f| f.tag_status).as_deref() {
        Some("TAGGED") => "TAGGED",
        Some("UNTAGGED") => "UNTAGGED",
        _ => "ANY",
    }
}

fn keep(status: &str, image: &Image) -> bool {
    match status {
        "TAGGED" => !image.tags.is_empty(),
        "UNTAGGED" => image.tags.is_empty(),
        _ => true,
    }
}

/// Splits `items` into the page after `token` and the token of the next page.
fn paginate<T>(
    items: Vec<T>,
    token: Option<&str>,
    limit: usize,
) -> Result<(Vec<T>, Option<String>), EcrError> {
    let start: usize = match decode_token(token)? {
        None => 0,
        Some(s) => s
            .parse()
            .map_err(|_| EcrError::invalid("Invalid parameter at 'nextToken'"))?,
    };
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(start).take(limit).collect();
    let next =
        (start + page.len() < total).then(|| encode_token(&(start + page.len()).to_string()));
    Ok((page, next))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListImages {
    registry_id: Option<String>,
    repository_name: String,
    next_token: Option<String>,
    max_results: Option<i64>,
    filter: Option<TagFilter>,
}

pub async fn list(ctx: &Ctx<'_>, request: Value) -> EcrResult {
    let req: ListImages = parse(request)?;
    let repo = ctx.repo(req.registry_id.as_deref(), &req.repository_name)?;
    let status = tag_status(req.filter);
    let limit = page_size(req.max_results, 100);
    let images = ctx
        .state
        .registry
        .list_images(ctx.principal, Action::ListImages, &repo)
        .await?;
    let mut ids = Vec::new();
    for image in images.iter().filter(|i| keep(status, i)) {
        if image.tags.is_empty() {
            ids.push(json!({ "imageDigest": image.digest }));
        }
        for tag in &image.tags {
            ids.push(json!({ "imageDigest": image.digest, "imageTag": tag }));
        }
    }
    let (page, next) = paginate(ids, req.next_token.as_deref(), limit)?;
    let mut response = json!({ "imageIds": page });
    if let Some(t) = next {
        response["nextToken"] = t.into();
    }
    Ok(response)
}

fn detail(repo: &RepositoryRef, image: &Image) -> Value {
    let mut v = json!({
        "registryId": repo.account.as_str(),
        "repositoryName": repo.name.as_str(),
        "imageDigest": image.digest,
        "imageSizeInBytes": image.size,
        "imagePushedAt": timestamp(image.pushed_at_millis),
        "imageManifestMediaType": image.media_type,
    });
    if !image.tags.is_empty() {
        v["imageTags"] = image.tags.clone().into();
    }
    if let Some(t) = &image.artifact_media_type {
        v["artifactMediaType"] = t.clone().into();
    }
    if let Some(at) = image.last_pulled_at_millis {
        v["lastRecordedPullTime"] = timestamp(at);
    }
    v
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescribeImages {
    registry_id: Option<String>,
    repository_name: String,
    image_ids: Option<Vec<ImageId>>,
    next_token: Option<String>,
    max_results: Option<i64>,
    filter: Option<TagFilter>,
}

pub async fn describe(ctx: &Ctx<'_>, request: Value) -> EcrResult {
    let req: DescribeImages = parse(request)?;
    let repo = ctx.repo(req.registry_id.as_deref(), &req.repository_name)?;
    let status = tag_status(req.filter);
    let images = ctx
        .state
        .registry
        .list_images(ctx.principal, Action::DescribeImages, &repo)
        .await?;
    if let Some(ids) = req.image_ids {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let found = images.iter().find(|i| {
                id.image_digest.as_ref().is_none_or(|d| *d == i.digest)
                    && id.image_tag.as_ref().is_none_or(|t| i.tags.contains(t))
                    && (id.image_digest.is_some() || id.image_tag.is_some())
            });
            match found {
                Some(i) => out.push(detail(&repo, i)),
                None => {
                    return Err(EcrError::new(
                        "ImageNotFoundException",
                        format!(
                            "The image with imageId {} does not exist within the repository with name '{}' in the registry with id '{}'",
                            id.render(),
                            repo.name,
                            repo.account
                        ),
                    ))
                }
            }
        }
        return Ok(json!({ "imageDetails": out }));
    }
    let limit = page_size(req.max_results, 100);
    let details: Vec<Value> = images
        .iter()
        .filter(|i| keep(status, i))
        .map(|i| detail(&repo, i))
        .collect();
    let (page, next) = paginate(details, req.next_token.as_deref(), limit)?;
    let mut response = json!({ "imageDetails": page });
    if let Some(t) = next {
        response["nextToken"] = t.into();
    }
    Ok(response)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BatchGetImage {
    registry_id: Option<String>,
    repository_name: String,
    image_ids: Vec<ImageId>,
    accepted_media_types: Option<Vec<String>>,
}

pub async fn batch_get(ctx: &Ctx<'_>, request: Value) -> EcrResult {
    let req: BatchGetImage = parse(request)?;
    let repo = ctx.repo(req.registry_id.as_deref(), &req.repository_name)?;
    let accepted = req.accepted_media_types.unwrap_or_default();
    let registry = &ctx.state.registry;
    let (mut images, mut failures) = (Vec::new(), Vec::new());
    for id in &req.image_ids {
        let target = match id.validate() {
            Ok(t) => t,
            Err(f) => {
                failures.push(f);
                continue;
            }
        };
        match registry
            .pull_manifest(ctx.principal, &repo, &target.reference, &accepted)
            .await
        {
            Ok(m) if target.contradicts(&m.digest) => failures.push(id.mismatch()),
            Ok(m) => {
                let mut image_id = json!({ "imageDigest": m.digest.to_string() });
                if let Some(t) = &target.tag {
                    image_id["imageTag"] = t.as_str().into();
                }
                images.push(json!({
                    "registryId": repo.account.as_str(),
                    "repositoryName": repo.name.as_str(),
                    "imageId": image_id,
                    "imageManifest": String::from_utf8_lossy(&m.body),
                    "imageManifestMediaType": m.media_type,
                }));
            }
            Err(CoreError::ManifestUnknown) => {
                failures.push(id.failure("ImageNotFound", "Requested image not found"))
            }
            Err(CoreError::ManifestNotAcceptable(t)) => failures.push(id.failure(
                "ImageNotFound",
                &format!("Requested image's media type {t} is not among acceptedMediaTypes"),
            )),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(json!({ "images": images, "failures": failures }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PutImage {
    registry_id: Option<String>,
    repository_name: String,
    image_manifest: String,
    image_manifest_media_type: Option<String>,
    image_tag: Option<String>,
    image_digest: Option<String>,
}

pub async fn put(ctx: &Ctx<'_>, request: Value) -> EcrResult {
    let req: PutImage = parse(request)?;
    let repo = ctx.repo(req.registry_id.as_deref(), &req.repository_name)?;
    let tag: Option<Tag> = req
        .image_tag
        .as_deref()
        .map(|t| {
            t.parse().map_err(|e: berth_oci::TagError| {
                EcrError::invalid(format!("Invalid parameter at 'imageTag': {e}"))
            })
        })
        .transpose()?;
    let digest: Option<Digest> = req
        .image_digest
        .as_deref()
        .map(|d| {
            d.parse().map_err(|e: berth_oci::DigestError| {
                EcrError::invalid(format!("Invalid parameter at 'imageDigest': {e}"))
            })
        })
        .transpose()?;
    if let Some(t) = req.image_manifest_media_type.as_deref() {
        if MediaType::parse(t).is_none() {
            return Err(EcrError::new(
                "UnsupportedImageTypeException",
                format!("manifest media type {t} is not supported"),
            ));
        }
    }
    let body = req.image_manifest.as_bytes();
    let pushed = ctx
        .state
        .registry
        .put_image(
            ctx.principal,
            &repo,
            body,
            req.image_manifest_media_type.as_deref(),
            tag.as_ref(),
            digest.as_ref(),
        )
        .await?;
    let media_type = req
        .image_manifest_media_type
        .clone()
        .or_else(|| {
            serde_json::from_slice::<Value>(body)
                .ok()
                .and_then(|v| v["mediaType"].as_str().map(str::to_owned))
        })
        .unwrap_or_else(|| MediaType::OciManifest.as_str().to_owned());
    let mut image_id = json!({ "imageDigest": pushed.digest.to_string() });
    if let Some(t) = &tag {
        image_id["imageTag"] = t.as_str().into();
    }
    Ok(json!({ "image": {
        "registryId": repo.account.as_str(),
        "repositoryName": repo.name.as_str(),
        "imageId": image_id,
        "imageManifest": req.image_manifest,
        "imageManifestMediaType": media_type,
    }}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BatchDeleteImage {
    registry_id: Option<String>,
    repository_name: String,
    image_ids: Vec<ImageId>,
}

pub async fn batch_delete(ctx: &Ctx<'_>, request: Value) -> EcrResult {
    let req: BatchDeleteImage = parse(request)?;
    let repo = ctx.repo(req.registry_id.as_deref(), &req.repository_name)?;
    let registry = &ctx.state.registry;
    let (mut deleted, mut failures) = (Vec::new(), Vec::new());
    for id in &req.image_ids {
        let target = match id.validate() {
            Ok(t) => t,
            Err(f) => {
                failures.push(f);
                continue;
            }
        };
        // A tag untags (and removes the image with its last tag, as ECR does); a digest alone
        // deletes the image and every tag on it.
        let outcome = match (&target.tag, &target.digest) {
            (Some(tag), expected) => registry
                .untag_image(ctx.principal, &repo, tag, expected.as_ref())
                .await
                .map(|d| json!({ "imageDigest": d.to_string(), "imageTag": tag.as_str() })),
            (None, Some(digest)) => registry
                .delete_manifest(ctx.principal, &repo, &target.reference)
                .await
                .map(|()| json!({ "imageDigest": digest.to_string() })),
            (None, None) => continue,
        };
        match &outcome {
            Err(CoreError::TagDigestMismatch) => {
                failures.push(id.mismatch());
                continue;
            }
            Err(CoreError::ImageReferencedByIndex(_)) => {
                failures.push(id.failure(
                    "ImageReferencedByManifestList",
                    "Requested image is referenced by a manifest list",
                ));
                continue;
            }
            _ => {}
        }
        match outcome {
            Ok(v) => deleted.push(v),
            Err(CoreError::ManifestUnknown) => {
                failures.push(id.failure("ImageNotFound", "Requested image not found"))
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(json!({ "imageIds": deleted, "failures": failures }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BatchCheckLayerAvailability {
    registry_id: Option<String>,
    repository_name: String,
    layer_digests: Vec<String>,
}

pub async fn check_layers(ctx: &Ctx<'_>, request: Value) -> EcrResult {
    let req: BatchCheckLayerAvailability = parse(request)?;
    let repo = ctx.repo(req.registry_id.as_deref(), &req.repository_name)?;
    let mut valid = Vec::new();
    let mut failures = Vec::new();
    for d in &req.layer_digests {
        match d.parse::<Digest>() {
            Ok(digest) => valid.push(digest),
            Err(_) => failures.push(json!({ "layerDigest": d, "failureCode": "InvalidLayerDigest", "failureReason": "Invalid layer digest" })),
        }
    }
    let sizes = ctx
        .state
        .registry
        .check_layers(ctx.principal, &repo, &valid)
        .await?;
    let mut layers = Vec::new();
    for (digest, size) in valid.iter().zip(sizes) {
        match size {
            Some(n) => layers.push(json!({ "layerDigest": digest.to_string(), "layerAvailability": "AVAILABLE", "layerSize": n })),
            None => failures.push(json!({ "layerDigest": digest.to_string(), "failureCode": "MissingLayerDigest", "failureReason": "Could not find layer" })),
        }
    }
    Ok(json!({ "layers": layers, "failures": failures }))
}
