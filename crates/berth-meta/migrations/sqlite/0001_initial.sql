CREATE TABLE IF NOT EXISTS settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS accounts (
    id TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS access_keys (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    user_name TEXT NOT NULL,
    secret TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS repositories (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    tag_mutability TEXT NOT NULL,
    mutability_filters TEXT NOT NULL,
    scan_on_push BIGINT NOT NULL,
    encryption_type TEXT NOT NULL,
    kms_key TEXT,
    UNIQUE (account_id, name)
);
CREATE TABLE IF NOT EXISTS blobs (
    digest TEXT PRIMARY KEY,
    size BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS repository_blobs (
    repository_id BIGINT NOT NULL REFERENCES repositories(id),
    digest TEXT NOT NULL REFERENCES blobs(digest),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (repository_id, digest)
);
CREATE TABLE IF NOT EXISTS manifests (
    repository_id BIGINT NOT NULL REFERENCES repositories(id),
    digest TEXT NOT NULL,
    media_type TEXT NOT NULL,
    artifact_type TEXT,
    subject TEXT,
    annotations TEXT,
    size BIGINT NOT NULL,
    image_size BIGINT NOT NULL,
    body BLOB NOT NULL,
    pushed_at BIGINT NOT NULL,
    PRIMARY KEY (repository_id, digest)
);
CREATE INDEX IF NOT EXISTS manifests_by_subject ON manifests (repository_id, subject);
CREATE TABLE IF NOT EXISTS manifest_references (
    repository_id BIGINT NOT NULL,
    parent TEXT NOT NULL,
    child TEXT NOT NULL,
    PRIMARY KEY (repository_id, parent, child)
);
CREATE INDEX IF NOT EXISTS manifest_references_by_child ON manifest_references (repository_id, child);
CREATE TABLE IF NOT EXISTS tags (
    repository_id BIGINT NOT NULL REFERENCES repositories(id),
    name TEXT NOT NULL,
    digest TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (repository_id, name)
);
CREATE INDEX IF NOT EXISTS tags_by_digest ON tags (repository_id, digest);
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    payload TEXT NOT NULL,
    run_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL,
    locked_until BIGINT
);
