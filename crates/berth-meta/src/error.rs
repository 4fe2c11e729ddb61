//! The one error type of the metadata layer.

#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    #[error("metadata database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("the repository already exists")]
    RepositoryExists,
    #[error("the repository does not exist")]
    RepositoryNotFound,
    #[error("the repository still holds images")]
    RepositoryNotEmpty,
    #[error("the tag already points at {existing} and is immutable")]
    TagImmutable { existing: String },
    #[error("unsupported metadata URL {0:?}: use sqlite://… or postgres://…")]
    UnsupportedUrl(String),
    #[error("the manifest references {digest}, which is not in the repository")]
    MissingReference { digest: String, is_manifest: bool },
    #[error("the tag points at {actual}, not at the digest given")]
    TagMismatch { actual: String },
    #[error("a manifest in the repository still lists the blob")]
    BlobReferenced,
    #[error("an index in the repository still lists the manifest")]
    ReferencedByIndex,
    #[error("the user already exists")]
    UserExists,
    #[error("the user does not exist")]
    UserNotFound,
    #[error("the user still has access keys")]
    UserHasKeys,
    #[error("the user already has as many access keys as it may")]
    KeyLimitExceeded,
    #[error("the resource would have {count} tags")]
    TooManyTags { count: usize },
    #[error(
        "the metadata database was migrated by a newer berth (it has schema migration {applied}, \
         this binary knows up to {known}): run that release or a later one, or restore the \
         database from a backup taken before the upgrade"
    )]
    SchemaTooNew { applied: i64, known: i64 },
    #[error(
        "schema migration {0} applied to the metadata database differs from this binary's \
         (checksum mismatch): the database was changed by hand or by a different build"
    )]
    SchemaModified(i64),
    #[error("migrating the metadata database failed: {0}")]
    Migration(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}
