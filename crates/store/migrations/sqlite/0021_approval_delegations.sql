-- SQLite twin of postgres/0021_approval_delegations.sql.
-- Standing approval delegations (代理审批, issue #17): a member's approval tasks start for their delegate
-- while a delegation covers the task's process, from `starts_at` until `ends_at` (open-ended when NULL).
-- `processes` lists process codes (JSON array), or is NULL for every process. Delegations of one member
-- never overlap (the store refuses one that would), so at most one applies to a task.
CREATE TABLE approval_delegations (
    organization_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id              BLOB NOT NULL,
    from_member     BLOB NOT NULL,
    to_member       BLOB NOT NULL,
    processes       TEXT,
    starts_at       TEXT NOT NULL,
    ends_at         TEXT,
    created_at      TEXT NOT NULL,
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, from_member) REFERENCES members (organization_id, id) ON DELETE CASCADE,
    FOREIGN KEY (organization_id, to_member) REFERENCES members (organization_id, id) ON DELETE CASCADE,
    CHECK (from_member <> to_member),
    CHECK (ends_at IS NULL OR ends_at > starts_at)
) STRICT;

CREATE INDEX approval_delegations_from ON approval_delegations (organization_id, from_member, starts_at);
