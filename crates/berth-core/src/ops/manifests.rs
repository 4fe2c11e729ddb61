//! Manifests: pull, push and delete.

use berth_meta::images::{NewManifest, PutOutcome, TagUpdate};
use berth_meta::repositories::RepositoryRow;
use berth_meta::MetaError;
use berth_oci::{Digest, Hasher, Manifest, ManifestError, Reference, Tag};

use crate::registry::{mutability_rule, not_found, on_repository};
use crate::{Action, CoreError, Principal, Registry, RepositoryRef};

/// A manifest as stored: the exact bytes pushed, with their digest and media type.
#[derive(Clone, Debug)]
pub struct StoredManifest {
    repository_id: i64,
    pub digest: Digest,
    pub media_type: String,
    pub body: Vec<u8>,
}

/// What a successful push reports back.
#[derive(Clone, Debug)]
pub struct PushedManifest {
    pub digest: Digest,
    /// The subject named by the manifest, echoed in the `OCI-Subject` header.
    pub subject: Option<Digest>,
}

fn manifest_error(e: ManifestError) -> CoreError {
    match e {
        ManifestError::UnsupportedMediaType(t) => CoreError::ManifestUnsupported(t),
        other => CoreError::ManifestInvalid(other.to_string()),
    }
}

impl Registry {
    /// Fetches a manifest by tag or digest. `accepted` is the client's list of acceptable media
    /// types; when it names manifest types and the stored one is not among them, the manifest is
    /// refused rather than served in a form the client cannot read.
    pub async fn get_manifest(
        &self,
        principal: &Principal,
        repo: &RepositoryRef,
        reference: &Reference,
        accepted: &[String],
    ) -> Result<StoredManifest, CoreError> {
        self.authorize(principal, Action::BatchGetImage, &repo.account, || {
            repo.arn(&self.config.region)
        })?;
        let (account, name) = (repo.account.as_str(), repo.name.as_str());
        let row = match reference {
            Reference::Tag(tag) => {
                self.meta
                    .manifest_by_tag(account, name, tag.as_str())
                    .await?
            }
            Reference::Digest(d) => {
                self.meta
                    .manifest_by_digest(account, name, &d.to_string())
                    .await?
            }
        };
        let Some(row) = row else {
            // Only a miss pays for the second lookup that tells the two errors apart.
            return Err(match self.meta.repository(account, name).await? {
                None => not_found(repo),
                Some(_) => CoreError::ManifestUnknown,
            });
        };
        let negotiates = accepted
            .iter()
            .any(|a| berth_oci::MediaType::parse(a).is_some());
        let acceptable = !negotiates || accepted.iter().any(|a| a == &row.media_type || a == "*/*");
        if !acceptable {
            return Err(CoreError::ManifestNotAcceptable(row.media_type));
        }
        Ok(StoredManifest {
            repository_id: row.repository_id,
            digest: row
                .digest
                .parse()
                .map_err(|e| CoreError::Internal(format!("stored digest: {e}")))?,
            media_type: row.media_type,
            body: row.body,
        })
    }

    /// A pull: fetches like [`Registry::get_manifest`] and notes the time for
    /// `lastRecordedPullTime`. HEAD requests and lookups made on the way to other operations
    /// use `get_manifest` and are not pulls.
    pub async fn pull_manifest(
        &self,
        principal: &Principal,
        repo: &RepositoryRef,
        reference: &Reference,
        accepted: &[String],
    ) -> Result<StoredManifest, CoreError> {
        let m = self
            .get_manifest(principal, repo, reference, accepted)
            .await?;
        self.pull_log
            .note(m.repository_id, &m.digest.to_string(), self.now_millis());
        Ok(m)
    }

    /// Stores a manifest under a tag or a digest. The manifest is parsed, its digest computed
    /// (and checked when the reference is a digest), every referenced blob and child manifest
    /// must be in the repository, and an immutable tag cannot move.
    pub async fn put_manifest(
        &self,
        principal: &Principal,
        repo: &RepositoryRef,
        reference: &Reference,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<PushedManifest, CoreError> {
        let row = self
            .repository_for_push(principal, Action::PutImage, repo)
            .await?;
        let (tag, expected) = match reference {
            Reference::Tag(t) => (Some(t), None),
            Reference::Digest(d) => (None, Some(d)),
        };
        let (pushed, _) = self
            .store_manifest(&row, repo, tag, expected, content_type, body)
            .await?;
        Ok(pushed)
    }

    /// ECR's PutImage: stores a manifest, optionally tagged, optionally checking its digest,
    /// and refuses a push that would change nothing.
    pub async fn put_image(
        &self,
        principal: &Principal,
        repo: &RepositoryRef,
        manifest: &[u8],
        media_type: Option<&str>,
        tag: Option<&Tag>,
        digest: Option<&Digest>,
    ) -> Result<PushedManifest, CoreError> {
        let row = self
            .repository_for_push(principal, Action::PutImage, repo)
            .await?;
        if let Some(given) = digest {
            let mut h = Hasher::new(given.algorithm());
            h.update(manifest);
            let actual = h.finish();
            if &actual != given {
                return Err(CoreError::ImageDigestMismatch {
                    given: given.to_string(),
                    actual: actual.to_string(),
                });
            }
        }
        let (pushed, outcome) = self
            .store_manifest(&row, repo, tag, digest, media_type, manifest)
            .await?;
        if !outcome.manifest_created && !outcome.tag_changed {
            return Err(CoreError::ImageAlreadyExists {
                digest: pushed.digest.to_string(),
                tag: tag.map(Tag::to_string).unwrap_or_default(),
                repository: repo.name.to_string(),
                registry_id: repo.account.to_string(),
            });
        }
        Ok(pushed)
    }

    async fn store_manifest(
        &self,
        row: &RepositoryRow,
        repo: &RepositoryRef,
        tag: Option<&Tag>,
        expected: Option<&Digest>,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<(PushedManifest, PutOutcome), CoreError> {
        let manifest = Manifest::parse(content_type, body).map_err(manifest_error)?;
        let digest = match expected {
            Some(expected) => {
                let mut h = Hasher::new(expected.algorithm());
                h.update(body);
                let actual = h.finish();
                if &actual != expected {
                    return Err(CoreError::DigestMismatch {
                        expected: expected.clone(),
                        actual,
                    });
                }
                actual
            }
            None => Digest::sha256_of(body),
        };
        let tag_update = match tag {
            Some(t) => Some(TagUpdate {
                name: t.as_str(),
                immutable: mutability_rule(row)?.is_immutable(t.as_str()),
            }),
            None => None,
        };
        let digest_str = digest.to_string();
        let subject = manifest.subject.as_ref().map(|s| s.digest.clone());
        let subject_str = subject.as_ref().map(Digest::to_string);
        let annotations = manifest
            .annotations
            .as_ref()
            .map(|a| serde_json::Value::Object(a.clone()).to_string());
        // Checked: sizes come from the client, and a sum that overflows must be refused, not
        // wrapped into a negative size.
        let image_size = manifest
            .references
            .iter()
            .try_fold(0i64, |total, d| total.checked_add(d.size))
            .ok_or_else(|| {
                CoreError::ManifestInvalid(
                    "the sizes of the manifest's references add up past 2^63 bytes".into(),
                )
            })?;
        let new = NewManifest {
            repository_id: row.id,
            digest: &digest_str,
            media_type: manifest.media_type.as_str(),
            artifact_type: manifest.artifact_type.as_deref(),
            subject: subject_str.as_deref(),
            annotations,
            body,
            // ECR's imageSizeInBytes: the compressed layers; an index gets its largest child's.
            image_size,
            blobs: manifest.blob_digests().map(Digest::to_string).collect(),
            children: manifest.child_manifests().map(Digest::to_string).collect(),
            now: self.now_millis(),
        };
        let outcome = self
            .meta
            .put_manifest(&new, tag_update)
            .await
            .map_err(|e| match e {
                MetaError::MissingReference {
                    digest,
                    is_manifest,
                } => match (digest.parse::<Digest>(), is_manifest) {
                    (Ok(d), false) => CoreError::ManifestBlobUnknown(d),
                    (Ok(d), true) => CoreError::ManifestChildUnknown(d),
                    (Err(e), _) => CoreError::Internal(e.to_string()),
                },
                MetaError::TagImmutable { .. } => CoreError::TagImmutable {
                    tag: tag.map(Tag::to_string).unwrap_or_default(),
                    repository: repo.name.to_string(),
                },
                other => on_repository(row)(other),
            })?;
        Ok((PushedManifest { digest, subject }, outcome))
    }

    /// ECR's BatchDeleteImage by tag: removes the tag (which must point at `expected`, when
    /// given) and, when it was the image's last tag, the image, as ECR documents. Returns the
    /// digest the tag named. (`DELETE /v2/<name>/manifests/<tag>` only untags.)
    pub async fn untag_image(
        &self,
        principal: &Principal,
        repo: &RepositoryRef,
        tag: &Tag,
        expected: Option<&Digest>,
    ) -> Result<Digest, CoreError> {
        let row = self
            .repository(principal, Action::BatchDeleteImage, repo)
            .await?;
        let expected = expected.map(Digest::to_string);
        let digest = self
            .meta
            .untag_image(row.id, tag.as_str(), expected.as_deref())
            .await
            .map_err(|e| match e {
                MetaError::TagMismatch { .. } => CoreError::TagDigestMismatch,
                other => on_repository(&row)(other),
            })?
            .ok_or(CoreError::ManifestUnknown)?;
        digest
            .parse()
            .map_err(|e| CoreError::Internal(format!("stored digest: {e}")))
    }

    /// Deletes by digest (the manifest and every tag on it) or by tag (only that tag).
    pub async fn delete_manifest(
        &self,
        principal: &Principal,
        repo: &RepositoryRef,
        reference: &Reference,
    ) -> Result<(), CoreError> {
        let row = self
            .repository(principal, Action::BatchDeleteImage, repo)
            .await?;
        let existed = match reference {
            Reference::Digest(d) => self
                .meta
                .delete_manifest(row.id, &d.to_string())
                .await
                .map_err(|e| match e {
                    MetaError::ReferencedByIndex => CoreError::ImageReferencedByIndex(d.clone()),
                    other => on_repository(&row)(other),
                })?,
            Reference::Tag(t) => self
                .meta
                .delete_tag(row.id, t.as_str())
                .await
                .map_err(on_repository(&row))?,
        };
        if existed {
            Ok(())
        } else {
            Err(CoreError::ManifestUnknown)
        }
    }
}
