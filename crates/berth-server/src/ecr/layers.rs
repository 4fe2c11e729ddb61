//! Layer uploads through the ECR API (InitiateLayerUpload, UploadLayerPart,
//! CompleteLayerUpload) and GetDownloadUrlForLayer. The uploads are the same core sessions as
//! `/v2/<name>/blobs/uploads/`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use berth_core::UploadId;
use berth_oci::Digest;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::EcrError;
use super::wire::{parse, Ctx, EcrResult};

/// The part size berth suggests: a part travels base64-encoded inside a JSON body of at most
/// 10 MiB, so parts must stay well under 7.5 MiB.
const PART_SIZE: u64 = 5 * 1024 * 1024;

fn upload_id(id: &str) -> Result<UploadId, EcrError> {
    UploadId::parse(id).ok_or_else(|| {
        EcrError::new(
            "UploadNotFoundException",
            format!("The upload with id '{id}' does not exist"),
        )
    })
}

fn digest(d: &str) -> Result<Digest, EcrError> {
    d.parse()
        .map_err(|e: berth_oci::DigestError| EcrError::new("InvalidLayerException", e.to_string()))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InitiateLayerUpload {
    registry_id: Option<String>,
    repository_name: String,
}

pub async fn initiate(ctx: &Ctx<'_>, request: Value) -> EcrResult {
    let req: InitiateLayerUpload = parse(request)?;
    let repo = ctx.repo(req.registry_id.as_deref(), &req.repository_name)?;
    let id = ctx
        .state
        .registry
        .start_upload(ctx.principal, &repo)
        .await?;
    Ok(json!({ "uploadId": id.to_string(), "partSize": PART_SIZE }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UploadLayerPart {
    registry_id: Option<String>,
    repository_name: String,
    upload_id: String,
    part_first_byte: u64,
    part_last_byte: u64,
    layer_part_blob: String,
}

pub async fn upload_part(ctx: &Ctx<'_>, request: Value) -> EcrResult {
    let req: UploadLayerPart = parse(request)?;
    let repo = ctx.repo(req.registry_id.as_deref(), &req.repository_name)?;
    let id = upload_id(&req.upload_id)?;
    let part = STANDARD
        .decode(&req.layer_part_blob)
        .map_err(|_| EcrError::invalid("Invalid parameter at 'layerPartBlob': not base64"))?;
    let expected_last = (part.len() as u64)
        .checked_sub(1)
        .and_then(|n| req.part_first_byte.checked_add(n));
    if expected_last != Some(req.part_last_byte) {
        return Err(EcrError::new(
            "InvalidLayerPartException",
            format!(
                "partFirstByte {} and partLastByte {} do not match a part of {} bytes",
                req.part_first_byte,
                req.part_last_byte,
                part.len()
            ),
        ));
    }
    let body = futures_util::stream::iter([Ok::<_, std::convert::Infallible>(Bytes::from(part))]);
    let size = ctx
        .state
        .registry
        .upload_chunk(ctx.principal, &repo, id, Some(req.part_first_byte), body)
        .await?;
    Ok(json!({
        "registryId": repo.account.as_str(),
        "repositoryName": repo.name.as_str(),
        "uploadId": req.upload_id,
        "lastByteReceived": size - 1,
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CompleteLayerUpload {
    registry_id: Option<String>,
    repository_name: String,
    upload_id: String,
    layer_digests: Vec<String>,
}

pub async fn complete(ctx: &Ctx<'_>, request: Value) -> EcrResult {
    let req: CompleteLayerUpload = parse(request)?;
    let repo = ctx.repo(req.registry_id.as_deref(), &req.repository_name)?;
    let id = upload_id(&req.upload_id)?;
    let [layer] = req.layer_digests.as_slice() else {
        return Err(EcrError::invalid(
            "Invalid parameter at 'layerDigests': exactly one digest is required",
        ));
    };
    let layer = digest(layer)?;
    ctx.state
        .registry
        .complete_layer_upload(ctx.principal, &repo, id, &layer)
        .await?;
    Ok(json!({
        "registryId": repo.account.as_str(),
        "repositoryName": repo.name.as_str(),
        "uploadId": req.upload_id,
        "layerDigest": layer.to_string(),
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetDownloadUrlForLayer {
    registry_id: Option<String>,
    repository_name: String,
    layer_digest: String,
}

pub async fn download_url(ctx: &Ctx<'_>, request: Value) -> EcrResult {
    let req: GetDownloadUrlForLayer = parse(request)?;
    let repo = ctx.repo(req.registry_id.as_deref(), &req.repository_name)?;
    let layer = digest(&req.layer_digest)?;
    let grant = ctx
        .state
        .registry
        .grant_layer_download(ctx.principal, &repo, &layer)
        .await?;
    Ok(json!({
        "downloadUrl": format!("{}/berth/layers/{grant}", ctx.state.url_for_host(&ctx.host)),
        "layerDigest": layer.to_string(),
    }))
}
