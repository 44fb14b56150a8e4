-- Approvals (审批, issue #17): custom roles, processes with frozen versions, instances with their tasks and
-- operation records, timers, and the answers of idempotent commands. The engine (`tenon-approvals`) decides;
-- these tables keep what it decided, one transaction per command.

-- Custom roles (德育主任, 分管副校长): who holds them, in order. Not the access role (owner/admin/member).
CREATE TABLE org_roles (
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    key             TEXT NOT NULL,
    name            TEXT NOT NULL,
    member_ids      JSONB NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (organization_id, key)
);

-- A process: its draft as written and its last published version; `code` is unique per organization.
CREATE TABLE processes (
    organization_id   UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id                UUID NOT NULL,
    code              TEXT NOT NULL,
    name              TEXT NOT NULL,
    app_id            UUID NOT NULL,
    table_id          UUID NOT NULL,
    draft             JSONB NOT NULL,
    published_version INTEGER NOT NULL DEFAULT 0,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (organization_id, id),
    CONSTRAINT processes_code_key UNIQUE (organization_id, code)
);

-- Published versions, frozen (definition, field ids, stored conditions): instances keep theirs.
CREATE TABLE process_versions (
    organization_id UUID NOT NULL,
    process_id      UUID NOT NULL,
    version         INTEGER NOT NULL,
    frozen          JSONB NOT NULL,
    published_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (organization_id, process_id, version),
    FOREIGN KEY (organization_id, process_id) REFERENCES processes (organization_id, id) ON DELETE CASCADE
);

-- Per organization: the last task number (DingTalk's taskId) and the business numbers (审批编号) of a day.
CREATE TABLE approval_counters (
    organization_id UUID PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    last_task       BIGINT NOT NULL,
    business_day    TEXT NOT NULL,
    last_business   BIGINT NOT NULL
);

-- An instance. `state` holds what only the engine reads: activations with their groups, the record's values
-- at submit, the initiator's selections, the start department.
CREATE TABLE approval_instances (
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id              UUID NOT NULL,
    process_id      UUID NOT NULL,
    version         INTEGER NOT NULL,
    app_id          UUID NOT NULL,
    table_id        UUID NOT NULL,
    record_id       UUID NOT NULL,
    -- The record-status field of the instance's version: records-API writes of it are refused while it runs.
    status_field    UUID,
    status          TEXT NOT NULL CHECK (status IN ('running', 'completed', 'terminated')),
    result          TEXT CHECK (result IN ('agree', 'refuse')),
    initiator       UUID NOT NULL,
    business_id     TEXT NOT NULL,
    state           JSONB NOT NULL,
    row_version     BIGINT NOT NULL,
    last_record_seq BIGINT NOT NULL,
    last_event_seq  BIGINT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    finished_at     TIMESTAMPTZ,
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, process_id, version)
        REFERENCES process_versions (organization_id, process_id, version)
);
-- One running instance per (process, record).
CREATE UNIQUE INDEX approval_instances_running ON approval_instances (organization_id, process_id, record_id)
    WHERE status = 'running';
CREATE INDEX approval_instances_record ON approval_instances (organization_id, table_id, record_id);

CREATE TABLE approval_tasks (
    organization_id UUID NOT NULL,
    id              UUID NOT NULL,
    instance_id     UUID NOT NULL,
    number          BIGINT NOT NULL,
    activation_id   UUID NOT NULL,
    node            TEXT NOT NULL,
    task_group      INTEGER NOT NULL,
    assignee        UUID NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('new', 'running', 'paused', 'completed', 'canceled')),
    result          TEXT CHECK (result IN ('agree', 'refuse', 'done', 'redirected', 'returned')),
    created_at      TIMESTAMPTZ NOT NULL,
    finished_at     TIMESTAMPTZ,
    PRIMARY KEY (organization_id, id),
    CONSTRAINT approval_tasks_number_key UNIQUE (organization_id, number),
    FOREIGN KEY (organization_id, instance_id) REFERENCES approval_instances (organization_id, id) ON DELETE CASCADE
);
-- A member's to-do list: their tasks by status, newest number first.
CREATE INDEX approval_tasks_assignee ON approval_tasks (organization_id, assignee, status, number);
CREATE INDEX approval_tasks_instance ON approval_tasks (organization_id, instance_id);

-- Operation records: append-only, `seq` gap-free per instance.
CREATE TABLE approval_records (
    organization_id UUID NOT NULL,
    instance_id     UUID NOT NULL,
    seq             BIGINT NOT NULL,
    type            TEXT NOT NULL,
    actor           UUID,
    via             JSONB NOT NULL,
    task_id         UUID,
    node            TEXT,
    result          TEXT,
    comment         TEXT,
    members         JSONB NOT NULL,
    automatic       BOOLEAN NOT NULL,
    at              TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (organization_id, instance_id, seq),
    FOREIGN KEY (organization_id, instance_id) REFERENCES approval_instances (organization_id, id) ON DELETE CASCADE
);

-- Reminders and timeouts of running tasks, leased like deliveries by each `tenon serve`.
CREATE TABLE approval_timers (
    organization_id UUID NOT NULL,
    task_id         UUID NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('remind', 'timeout')),
    instance_id     UUID NOT NULL,
    due_at          TIMESTAMPTZ NOT NULL,
    leased_until    TIMESTAMPTZ,
    PRIMARY KEY (organization_id, task_id, kind),
    FOREIGN KEY (organization_id, instance_id) REFERENCES approval_instances (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX approval_timers_due ON approval_timers (due_at);

-- A command's first answer, per credential and Idempotency-Key: a replay gets the same status and body.
CREATE TABLE idempotency_answers (
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    credential      UUID NOT NULL,
    key             TEXT NOT NULL,
    fingerprint     BYTEA NOT NULL,
    status          INTEGER NOT NULL,
    body            JSONB NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (organization_id, credential, key)
);
