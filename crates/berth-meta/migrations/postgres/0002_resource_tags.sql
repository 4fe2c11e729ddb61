CREATE TABLE IF NOT EXISTS resource_tags (
    resource_id BIGINT NOT NULL REFERENCES repositories(id),
    tag_key TEXT NOT NULL,
    tag_value TEXT NOT NULL,
    PRIMARY KEY (resource_id, tag_key)
);
