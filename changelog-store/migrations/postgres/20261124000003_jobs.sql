CREATE TABLE jobs (
    id UUID PRIMARY KEY,
    owner_id UUID REFERENCES users (id) ON DELETE SET NULL,
    status TEXT NOT NULL
        CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    progress INTEGER NOT NULL DEFAULT 0,
    message TEXT,
    request JSONB NOT NULL,
    result JSONB,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_expires_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

-- What a claim scans: unfinished jobs, oldest first.
CREATE INDEX jobs_claimable ON jobs (created_at, id) WHERE status IN ('queued', 'running');
