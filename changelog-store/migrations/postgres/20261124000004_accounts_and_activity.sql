-- Refresh tokens, repositories, annotations, usage per day, the audit log and cached answers
-- of language models.

CREATE TABLE refresh_tokens (
    id UUID PRIMARY KEY,
    user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The sign-in the token descends from; reuse of a used token revokes the family.
    family_id UUID NOT NULL,
    -- SHA-256 of the token, in hex; the token itself is never stored.
    token_hash TEXT NOT NULL UNIQUE,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

CREATE TABLE repositories (
    id UUID PRIMARY KEY,
    owner_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider TEXT NOT NULL CHECK (provider IN ('github', 'gitlab', 'azure-devops', 'local')),
    external_id TEXT,
    name TEXT NOT NULL,
    full_name TEXT NOT NULL,
    url TEXT NOT NULL,
    default_branch TEXT,
    last_synced_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT repositories_owner_provider_full_name_key UNIQUE (owner_id, provider, full_name)
);

CREATE TABLE annotations (
    id UUID PRIMARY KEY,
    changelog_id UUID NOT NULL REFERENCES changelogs (id) ON DELETE CASCADE,
    user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    body TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX annotations_changelog ON annotations (changelog_id, created_at, id);

CREATE TABLE usage_daily (
    user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    day DATE NOT NULL,
    requests BIGINT NOT NULL DEFAULT 0,
    input_tokens BIGINT NOT NULL DEFAULT 0,
    output_tokens BIGINT NOT NULL DEFAULT 0,
    cost_usd DOUBLE PRECISION NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, day)
);

-- Kept when the actor is deleted: the log outlives accounts.
CREATE TABLE audit_events (
    id UUID PRIMARY KEY,
    actor_id UUID,
    action TEXT NOT NULL,
    target TEXT,
    outcome TEXT NOT NULL CHECK (outcome IN ('success', 'denied', 'failure')),
    ip TEXT,
    user_agent TEXT,
    at TIMESTAMPTZ NOT NULL
);

CREATE INDEX audit_events_at ON audit_events (at, id);
CREATE INDEX audit_events_actor ON audit_events (actor_id, at, id);

CREATE TABLE llm_cache_entries (
    key TEXT PRIMARY KEY,
    value JSONB NOT NULL,
    expires_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX llm_cache_entries_expiry ON llm_cache_entries (expires_at) WHERE expires_at IS NOT NULL;
