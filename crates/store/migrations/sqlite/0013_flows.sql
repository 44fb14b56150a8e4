-- SQLite twin of postgres/0013_flows.sql.
-- Connection flows (issue #18): flows with published versions, runs (one per trigger), the step journal,
-- and members' inboxes. `tenon-flows` decides; these tables keep what it decided.

-- A flow: its definition as written and its last published version, compiled (what the watch hook reads).
-- `key` is unique per organization; `table_id` is the record trigger's table (NULL for other triggers).
CREATE TABLE flows (
    organization_id   BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id                BLOB NOT NULL,
    key               TEXT NOT NULL,
    name              TEXT NOT NULL,
    app_id            BLOB,
    table_id          BLOB,
    enabled           INTEGER NOT NULL,
    definition        TEXT NOT NULL,
    published_version INTEGER NOT NULL,
    compiled          TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    PRIMARY KEY (organization_id, id),
    CONSTRAINT flows_key_key UNIQUE (organization_id, key)
) STRICT;
CREATE INDEX flows_table ON flows (organization_id, table_id) WHERE enabled = 1;

-- Published versions: a run keeps the version it started with.
CREATE TABLE flow_versions (
    organization_id BLOB NOT NULL,
    flow_id         BLOB NOT NULL,
    version         INTEGER NOT NULL,
    definition      TEXT NOT NULL,
    compiled        TEXT NOT NULL,
    published_at    TEXT NOT NULL,
    PRIMARY KEY (organization_id, flow_id, version),
    FOREIGN KEY (organization_id, flow_id) REFERENCES flows (organization_id, id) ON DELETE CASCADE
) STRICT;

-- A run. One trigger, one run: (flow, trigger_key) is unique and inserted in the trigger's transaction.
-- A worker holds a run by its lease (`lease_until`); every claim bumps `lease_epoch`, and every step
-- commits only while the epoch is still the one it claimed with (the fence).
CREATE TABLE flow_runs (
    organization_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id              BLOB NOT NULL,
    flow_id         BLOB NOT NULL,
    version         INTEGER NOT NULL,
    trigger_key     TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('queued', 'running', 'waiting', 'succeeded', 'failed', 'canceled')),
    trigger         TEXT NOT NULL,
    depth           INTEGER NOT NULL,
    error           TEXT,
    next_at         TEXT NOT NULL,
    lease_epoch     INTEGER NOT NULL,
    lease_owner     TEXT,
    lease_until     TEXT,
    created_at      TEXT NOT NULL,
    started_at      TEXT,
    finished_at     TEXT,
    PRIMARY KEY (organization_id, id),
    CONSTRAINT flow_runs_trigger_key UNIQUE (organization_id, flow_id, trigger_key),
    FOREIGN KEY (organization_id, flow_id, version)
        REFERENCES flow_versions (organization_id, flow_id, version) ON DELETE CASCADE
) STRICT;
-- What the workers scan across organizations: runs due, and running runs whose lease may have expired.
CREATE INDEX flow_runs_due ON flow_runs (next_at) WHERE status IN ('queued', 'running', 'waiting');
CREATE INDEX flow_runs_flow ON flow_runs (organization_id, flow_id, id);

-- The step journal: one row per step of a run (its key), with its attempts, input, output and error.
CREATE TABLE flow_steps (
    organization_id BLOB NOT NULL,
    run_id          BLOB NOT NULL,
    key             TEXT NOT NULL,
    position        INTEGER NOT NULL,
    type            TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'running', 'succeeded', 'retry_wait', 'failed', 'skipped', 'unknown_outcome')),
    attempts        INTEGER NOT NULL,
    branch          INTEGER,
    input           TEXT,
    output          TEXT,
    error           TEXT,
    started_at      TEXT,
    finished_at     TEXT,
    PRIMARY KEY (organization_id, run_id, key),
    FOREIGN KEY (organization_id, run_id) REFERENCES flow_runs (organization_id, id) ON DELETE CASCADE
) STRICT;

-- A member's inbox (`notify` with channel inbox).
CREATE TABLE notifications (
    organization_id BLOB NOT NULL,
    id              BLOB NOT NULL,
    member_id       BLOB NOT NULL,
    title           TEXT,
    text            TEXT NOT NULL,
    source          TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    read_at         TEXT,
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, member_id) REFERENCES members (organization_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX notifications_member ON notifications (organization_id, member_id, id);
