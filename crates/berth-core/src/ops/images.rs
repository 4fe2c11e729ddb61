//! Images as ECR describes them: listing, describing, and layer availability.

use berth_oci::Digest;

use crate::{Action, CoreError, Principal, Registry, RepositoryRef};

/// One image (manifest) with its tags, as ListImages and DescribeImages report it.
#[derive(Clone, Debug)]
pub struct Image {
    pub digest: String,
    pub tags: Vec<String>,
    pub media_type: String,
    /// The config's media type (or the manifest's artifactType).
    pub artifact_media_type: Option<String>,
    /// The sum of the compressed layer sizes, as ECR computes `imageSizeInBytes`.
    pub size: i64,
    pub pushed_at_millis: i64,
    pub last_pulled_at_millis: Option<i64>,
}

impl Registry {
    /// Every image of a repository, in push order.
    pub async fn list_images(
        &self,
        principal: &Principal,
        action: Action,
        repo: &RepositoryRef,
    ) -> Result<Vec<Image>, CoreError> {
        let row = self.repository(principal, action, repo).await?;
        Ok(self
            .meta
            .list_images(row.id)
            .await?
            .into_iter()
            .map(|r| Image {
                digest: r.digest,
                tags: r.tags,
                media_type: r.media_type,
                artifact_media_type: r.artifact_type,
                size: r.image_size,
                pushed_at_millis: r.pushed_at,
                last_pulled_at_millis: r.last_pulled_at,
            })
            .collect())
    }

    /// The size of each blob that is in the repository; `None` for the others.
    pub async fn check_layers(
        &self,
        principal: &Principal,
        repo: &RepositoryRef,
        digests: &[Digest],
    ) -> Result<Vec<Option<i64>>, CoreError> {
        let row = self
            .repository(principal, Action::BatchCheckLayerAvailability, repo)
            .await?;
        let mut sizes = Vec::with_capacity(digests.len());
        for d in digests {
            sizes.push(self.meta.repository_blob(row.id, &d.to_string()).await?);
        }
        Ok(sizes)
    }
}
