-- SQLite twin of postgres/0012_approvals.sql.
-- Approvals (审批, issue #17): custom roles, processes with frozen versions, instances with their tasks and
-- operation records, timers, and the answers of idempotent commands. The engine (`tenon-approvals`) decides;
-- these tables keep what it decided, one transaction per command.

-- Custom roles (德育主任, 分管副校长): who holds them, in order. Not the access role (owner/admin/member).
CREATE TABLE org_roles (
    organization_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    key             TEXT NOT NULL,
    name            TEXT NOT NULL,
    member_ids      TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (organization_id, key)
) STRICT;

-- A process: its draft as written and its last published version; `code` is unique per organization.
CREATE TABLE processes (
    organization_id   BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id                BLOB NOT NULL,
    code              TEXT NOT NULL,
    name              TEXT NOT NULL,
    app_id            BLOB NOT NULL,
    table_id          BLOB NOT NULL,
    draft             TEXT NOT NULL,
    published_version INTEGER NOT NULL DEFAULT 0,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    PRIMARY KEY (organization_id, id),
    CONSTRAINT processes_code_key UNIQUE (organization_id, code)
) STRICT;

-- Published versions, frozen (definition, field ids, stored conditions): instances keep theirs.
CREATE TABLE process_versions (
    organization_id BLOB NOT NULL,
    process_id      BLOB NOT NULL,
    version         INTEGER NOT NULL,
    frozen          TEXT NOT NULL,
    published_at    TEXT NOT NULL,
    PRIMARY KEY (organization_id, process_id, version),
    FOREIGN KEY (organization_id, process_id) REFERENCES processes (organization_id, id) ON DELETE CASCADE
) STRICT;

-- Per organization: the last task number (DingTalk's taskId) and the business numbers (审批编号) of a day.
CREATE TABLE approval_counters (
    organization_id BLOB PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    last_task       INTEGER NOT NULL,
    business_day    TEXT NOT NULL,
    last_business   INTEGER NOT NULL
) STRICT;

-- An instance. `state` holds what only the engine reads: activations with their groups, the record's values
-- at submit, the initiator's selections, the start department.
CREATE TABLE approval_instances (
    organization_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id              BLOB NOT NULL,
    process_id      BLOB NOT NULL,
    version         INTEGER NOT NULL,
    app_id          BLOB NOT NULL,
    table_id        BLOB NOT NULL,
    record_id       BLOB NOT NULL,
    -- The record-status field of the instance's version: records-API writes of it are refused while it runs.
    status_field    BLOB,
    status          TEXT NOT NULL CHECK (status IN ('running', 'completed', 'terminated')),
    result          TEXT CHECK (result IN ('agree', 'refuse')),
    initiator       BLOB NOT NULL,
    business_id     TEXT NOT NULL,
    state           TEXT NOT NULL,
    row_version     INTEGER NOT NULL,
    last_record_seq INTEGER NOT NULL,
    last_event_seq  INTEGER NOT NULL,
    created_at      TEXT NOT NULL,
    finished_at     TEXT,
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, process_id, version)
        REFERENCES process_versions (organization_id, process_id, version)
) STRICT;
-- One running instance per (process, record).
CREATE UNIQUE INDEX approval_instances_running ON approval_instances (organization_id, process_id, record_id)
    WHERE status = 'running';
CREATE INDEX approval_instances_record ON approval_instances (organization_id, table_id, record_id);

CREATE TABLE approval_tasks (
    organization_id BLOB NOT NULL,
    id              BLOB NOT NULL,
    instance_id     BLOB NOT NULL,
    number          INTEGER NOT NULL,
    activation_id   BLOB NOT NULL,
    node            TEXT NOT NULL,
    task_group      INTEGER NOT NULL,
    assignee        BLOB NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('new', 'running', 'paused', 'completed', 'canceled')),
    result          TEXT CHECK (result IN ('agree', 'refuse', 'done', 'redirected', 'returned')),
    created_at      TEXT NOT NULL,
    finished_at     TEXT,
    PRIMARY KEY (organization_id, id),
    CONSTRAINT approval_tasks_number_key UNIQUE (organization_id, number),
    FOREIGN KEY (organization_id, instance_id) REFERENCES approval_instances (organization_id, id) ON DELETE CASCADE
) STRICT;
-- A member's to-do list: their tasks by status, newest number first.
CREATE INDEX approval_tasks_assignee ON approval_tasks (organization_id, assignee, status, number);
CREATE INDEX approval_tasks_instance ON approval_tasks (organization_id, instance_id);

-- Operation records: append-only, `seq` gap-free per instance.
CREATE TABLE approval_records (
    organization_id BLOB NOT NULL,
    instance_id     BLOB NOT NULL,
    seq             INTEGER NOT NULL,
    type            TEXT NOT NULL,
    actor           BLOB,
    via             TEXT NOT NULL,
    task_id         BLOB,
    node            TEXT,
    result          TEXT,
    comment         TEXT,
    members         TEXT NOT NULL,
    automatic       INTEGER NOT NULL,
    at              TEXT NOT NULL,
    PRIMARY KEY (organization_id, instance_id, seq),
    FOREIGN KEY (organization_id, instance_id) REFERENCES approval_instances (organization_id, id) ON DELETE CASCADE
) STRICT;

-- Reminders and timeouts of running tasks, leased like deliveries by each `tenon serve`.
CREATE TABLE approval_timers (
    organization_id BLOB NOT NULL,
    task_id         BLOB NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('remind', 'timeout')),
    instance_id     BLOB NOT NULL,
    due_at          TEXT NOT NULL,
    leased_until    TEXT,
    PRIMARY KEY (organization_id, task_id, kind),
    FOREIGN KEY (organization_id, instance_id) REFERENCES approval_instances (organization_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX approval_timers_due ON approval_timers (due_at);

-- A command's first answer, per credential and Idempotency-Key: a replay gets the same status and body.
CREATE TABLE idempotency_answers (
    organization_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    credential      BLOB NOT NULL,
    key             TEXT NOT NULL,
    fingerprint     BLOB NOT NULL,
    status          INTEGER NOT NULL,
    body            TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    PRIMARY KEY (organization_id, credential, key)
) STRICT;
