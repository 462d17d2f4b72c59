-- What a generation job reported while it ran (progress, streamed text), in order, so that a
-- client on any instance can follow it and resume after the last event it saw.
CREATE TABLE job_events (
    job_id UUID NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    kind TEXT NOT NULL,
    data JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (job_id, seq)
);

-- A changelog is a draft until its owner publishes it.
ALTER TABLE changelogs ADD COLUMN status TEXT NOT NULL DEFAULT 'draft'
    CHECK (status IN ('draft', 'published'));
