-- Webhook triggers of connection flows (issue #18): each flow with `trigger: {webhook: {}}` gets a secret
-- slug, the path of `POST /api/v1/hooks/{slug}` (found across organizations, so the slug is the key), and,
-- for a signed hook, its Standard Webhooks secret. The slug stays the same across the flow's versions.
CREATE TABLE flow_hooks (
    slug            TEXT PRIMARY KEY,
    organization_id UUID NOT NULL,
    flow_id         UUID NOT NULL,
    secret          TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    CONSTRAINT flow_hooks_flow UNIQUE (organization_id, flow_id),
    FOREIGN KEY (organization_id, flow_id) REFERENCES flows (organization_id, id) ON DELETE CASCADE
);

-- Schedule triggers: each slot a scheduler handled, once across nodes (the primary key): `run` with the
-- run it started (trigger key `schedule:<instant>`), or `missed` (after downtime, a slot more than an
-- hour old). `skipped` counts the earlier slots of the same downtime that were passed over.
CREATE TABLE flow_schedule_slots (
    organization_id UUID NOT NULL,
    flow_id         UUID NOT NULL,
    slot            TIMESTAMPTZ NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('run', 'missed')),
    run_id          UUID,
    skipped         INTEGER NOT NULL,
    recorded_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (organization_id, flow_id, slot),
    FOREIGN KEY (organization_id, flow_id) REFERENCES flows (organization_id, id) ON DELETE CASCADE
);
