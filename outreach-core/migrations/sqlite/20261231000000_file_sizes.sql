-- The size of each stored file, for the per-user storage quota; old rows count as 0.
ALTER TABLE files ADD COLUMN size_bytes INTEGER NOT NULL DEFAULT 0 CHECK (size_bytes >= 0);

CREATE INDEX files_user_id ON files (user_id, created_at);
