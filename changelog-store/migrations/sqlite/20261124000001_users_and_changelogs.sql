-- Times are INTEGER microseconds since the Unix epoch (UTC), so they compare and sort as
-- numbers; ids are UUIDs stored as 16-byte blobs.

CREATE TABLE users (
    id BLOB PRIMARY KEY NOT NULL,
    username TEXT NOT NULL,
    email TEXT NOT NULL,
    password_hash TEXT,
    github_id INTEGER,
    github_username TEXT,
    -- AES-256-GCM: 12-byte nonce followed by the ciphertext and tag.
    github_token_ciphertext BLOB,
    -- Which configured key encrypted it, so keys can rotate.
    github_token_key_id TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    CONSTRAINT users_username_key UNIQUE (username),
    CONSTRAINT users_email_key UNIQUE (email),
    CONSTRAINT users_github_id_key UNIQUE (github_id)
);

CREATE TABLE changelogs (
    -- The rowid, stable across VACUUM, that the full-text index points at.
    seq INTEGER PRIMARY KEY,
    id BLOB NOT NULL UNIQUE,
    owner_id BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    repository TEXT,
    title TEXT NOT NULL,
    version TEXT,
    -- Byte order = version order (semver where it parses); see changelog_core::store.
    version_key TEXT NOT NULL,
    content TEXT NOT NULL,
    document TEXT,
    source TEXT NOT NULL CHECK (source IN ('git', 'manual')),
    commit_range TEXT,
    model TEXT,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL NOT NULL DEFAULT 0,
    is_public INTEGER NOT NULL DEFAULT 0,
    revision INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE INDEX changelogs_created ON changelogs (created_at, id);
CREATE INDEX changelogs_updated ON changelogs (updated_at, id);
CREATE INDEX changelogs_title ON changelogs (title, id);
CREATE INDEX changelogs_version ON changelogs (version_key, id);
CREATE INDEX changelogs_owner_created ON changelogs (owner_id, created_at, id);

CREATE TABLE changelog_versions (
    changelog_id BLOB NOT NULL REFERENCES changelogs (id) ON DELETE CASCADE,
    revision INTEGER NOT NULL,
    title TEXT NOT NULL,
    version TEXT,
    content TEXT NOT NULL,
    document TEXT,
    tags TEXT NOT NULL,
    edited_by BLOB REFERENCES users (id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (changelog_id, revision)
);

CREATE TABLE tags (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 64 AND name = lower(trim(name)))
);

CREATE TABLE changelog_tags (
    changelog_id BLOB NOT NULL REFERENCES changelogs (id) ON DELETE CASCADE,
    tag_id INTEGER NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    PRIMARY KEY (changelog_id, tag_id)
);

CREATE INDEX changelog_tags_tag ON changelog_tags (tag_id, changelog_id);

-- Full-text search over title and content, kept in step by triggers.
CREATE VIRTUAL TABLE changelogs_fts USING fts5 (
    title, content, content = 'changelogs', content_rowid = 'seq'
);

CREATE TRIGGER changelogs_fts_insert AFTER INSERT ON changelogs BEGIN
    INSERT INTO changelogs_fts (rowid, title, content) VALUES (new.seq, new.title, new.content);
END;

CREATE TRIGGER changelogs_fts_delete AFTER DELETE ON changelogs BEGIN
    INSERT INTO changelogs_fts (changelogs_fts, rowid, title, content)
    VALUES ('delete', old.seq, old.title, old.content);
END;

CREATE TRIGGER changelogs_fts_update AFTER UPDATE OF title, content ON changelogs BEGIN
    INSERT INTO changelogs_fts (changelogs_fts, rowid, title, content)
    VALUES ('delete', old.seq, old.title, old.content);
    INSERT INTO changelogs_fts (rowid, title, content) VALUES (new.seq, new.title, new.content);
END;
