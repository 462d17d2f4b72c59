CREATE TABLE jobs (
    id BLOB PRIMARY KEY NOT NULL,
    owner_id BLOB REFERENCES users (id) ON DELETE SET NULL,
    status TEXT NOT NULL
        CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    progress INTEGER NOT NULL DEFAULT 0,
    message TEXT,
    request TEXT NOT NULL,
    result TEXT,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_expires_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- What a claim scans: unfinished jobs, oldest first.
CREATE INDEX jobs_claimable ON jobs (created_at, id) WHERE status IN ('queued', 'running');
