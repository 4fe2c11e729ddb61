ALTER TABLE manifests ADD COLUMN last_pulled_at BIGINT;
