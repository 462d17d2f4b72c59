CREATE TABLE api_keys (
    id BLOB PRIMARY KEY NOT NULL,
    user_id BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL UNIQUE,
    -- SHA-256 of the whole key, in hex; the key itself is never stored.
    secret_hash TEXT NOT NULL,
    scopes TEXT NOT NULL,
    expires_at INTEGER,
    last_used_at INTEGER,
    use_count INTEGER NOT NULL DEFAULT 0,
    revoked_at INTEGER,
    created_at INTEGER NOT NULL
);

CREATE INDEX api_keys_user ON api_keys (user_id, created_at);
