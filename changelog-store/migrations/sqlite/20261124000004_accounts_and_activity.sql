-- Refresh tokens, repositories, annotations, usage per day, the audit log and cached answers
-- of language models. Times are INTEGER microseconds, days TEXT 'YYYY-MM-DD'.

CREATE TABLE refresh_tokens (
    id BLOB PRIMARY KEY NOT NULL,
    user_id BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The sign-in the token descends from; reuse of a used token revokes the family.
    family_id BLOB NOT NULL,
    -- SHA-256 of the token, in hex; the token itself is never stored.
    token_hash TEXT NOT NULL UNIQUE,
    expires_at INTEGER NOT NULL,
    used_at INTEGER,
    revoked_at INTEGER,
    created_at INTEGER NOT NULL
);

CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

CREATE TABLE repositories (
    id BLOB PRIMARY KEY NOT NULL,
    owner_id BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider TEXT NOT NULL CHECK (provider IN ('github', 'gitlab', 'azure-devops', 'local')),
    external_id TEXT,
    name TEXT NOT NULL,
    full_name TEXT NOT NULL,
    url TEXT NOT NULL,
    default_branch TEXT,
    last_synced_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    CONSTRAINT repositories_owner_provider_full_name_key UNIQUE (owner_id, provider, full_name)
);

CREATE TABLE annotations (
    id BLOB PRIMARY KEY NOT NULL,
    changelog_id BLOB NOT NULL REFERENCES changelogs (id) ON DELETE CASCADE,
    user_id BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    body TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE INDEX annotations_changelog ON annotations (changelog_id, created_at, id);

CREATE TABLE usage_daily (
    user_id BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    day TEXT NOT NULL,
    requests INTEGER NOT NULL DEFAULT 0,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, day)
) WITHOUT ROWID;

-- Kept when the actor is deleted: the log outlives accounts.
CREATE TABLE audit_events (
    id BLOB PRIMARY KEY NOT NULL,
    actor_id BLOB,
    action TEXT NOT NULL,
    target TEXT,
    outcome TEXT NOT NULL CHECK (outcome IN ('success', 'denied', 'failure')),
    ip TEXT,
    user_agent TEXT,
    at INTEGER NOT NULL
);

CREATE INDEX audit_events_at ON audit_events (at, id);
CREATE INDEX audit_events_actor ON audit_events (actor_id, at, id);

CREATE TABLE llm_cache_entries (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL,
    expires_at INTEGER,
    created_at INTEGER NOT NULL
);

CREATE INDEX llm_cache_entries_expiry ON llm_cache_entries (expires_at) WHERE expires_at IS NOT NULL;
