-- Standing approval delegations (代理审批, issue #17): a member's approval tasks start for their delegate
-- while a delegation covers the task's process, from `starts_at` until `ends_at` (open-ended when NULL).
-- `processes` lists process codes (JSON array), or is NULL for every process. Delegations of one member
-- never overlap (the store refuses one that would), so at most one applies to a task.
CREATE TABLE approval_delegations (
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id              UUID NOT NULL,
    from_member     UUID NOT NULL,
    to_member       UUID NOT NULL,
    processes       JSONB,
    starts_at       TIMESTAMPTZ NOT NULL,
    ends_at         TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, from_member) REFERENCES members (organization_id, id) ON DELETE CASCADE,
    FOREIGN KEY (organization_id, to_member) REFERENCES members (organization_id, id) ON DELETE CASCADE,
    CHECK (from_member <> to_member),
    CHECK (ends_at IS NULL OR ends_at > starts_at)
);

CREATE INDEX approval_delegations_from ON approval_delegations (organization_id, from_member, starts_at);
