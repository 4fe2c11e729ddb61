CREATE TABLE IF NOT EXISTS users (
    account_id TEXT NOT NULL REFERENCES accounts(id),
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, name)
);
CREATE INDEX IF NOT EXISTS access_keys_by_user ON access_keys (account_id, user_name);
