-- Titles and version keys use the "C" collation so that they sort by bytes, as on SQLite and
-- in the in-memory store, whatever the server's locale.

CREATE TABLE users (
    id UUID PRIMARY KEY,
    username TEXT NOT NULL,
    email TEXT NOT NULL,
    password_hash TEXT,
    github_id BIGINT,
    github_username TEXT,
    -- AES-256-GCM: 12-byte nonce followed by the ciphertext and tag.
    github_token_ciphertext BYTEA,
    -- Which configured key encrypted it, so keys can rotate.
    github_token_key_id TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT users_username_key UNIQUE (username),
    CONSTRAINT users_email_key UNIQUE (email),
    CONSTRAINT users_github_id_key UNIQUE (github_id)
);

CREATE TABLE changelogs (
    id UUID PRIMARY KEY,
    owner_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    repository TEXT,
    title TEXT COLLATE "C" NOT NULL,
    version TEXT,
    -- Byte order = version order (semver where it parses); see changelog_core::store.
    version_key TEXT COLLATE "C" NOT NULL,
    content TEXT NOT NULL,
    document JSONB,
    source TEXT NOT NULL CHECK (source IN ('git', 'manual')),
    commit_range TEXT,
    model TEXT,
    input_tokens BIGINT NOT NULL DEFAULT 0,
    output_tokens BIGINT NOT NULL DEFAULT 0,
    cost_usd DOUBLE PRECISION NOT NULL DEFAULT 0,
    is_public BOOLEAN NOT NULL DEFAULT FALSE,
    revision BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    -- The 'simple' configuration (no stemming, no stop words) matches SQLite's FTS5 tokenizer.
    search TSVECTOR GENERATED ALWAYS AS (to_tsvector('simple', title || ' ' || content)) STORED
);

CREATE INDEX changelogs_created ON changelogs (created_at, id);
CREATE INDEX changelogs_updated ON changelogs (updated_at, id);
CREATE INDEX changelogs_title ON changelogs (title, id);
CREATE INDEX changelogs_version ON changelogs (version_key, id);
CREATE INDEX changelogs_owner_created ON changelogs (owner_id, created_at, id);
CREATE INDEX changelogs_search ON changelogs USING GIN (search);

CREATE TABLE changelog_versions (
    changelog_id UUID NOT NULL REFERENCES changelogs (id) ON DELETE CASCADE,
    revision BIGINT NOT NULL,
    title TEXT NOT NULL,
    version TEXT,
    content TEXT NOT NULL,
    document JSONB,
    tags JSONB NOT NULL,
    edited_by UUID REFERENCES users (id) ON DELETE SET NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (changelog_id, revision)
);

CREATE TABLE tags (
    id BIGSERIAL PRIMARY KEY,
    name TEXT COLLATE "C" NOT NULL UNIQUE
        CHECK (char_length(name) BETWEEN 1 AND 64 AND name = lower(btrim(name)))
);

CREATE TABLE changelog_tags (
    changelog_id UUID NOT NULL REFERENCES changelogs (id) ON DELETE CASCADE,
    tag_id BIGINT NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    PRIMARY KEY (changelog_id, tag_id)
);

CREATE INDEX changelog_tags_tag ON changelog_tags (tag_id, changelog_id);
