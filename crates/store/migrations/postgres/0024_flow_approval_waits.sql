-- Connection flows waiting on approvals (issue #18): a `wait_approval` step that found its instance still
-- running leaves a row here in the step's transaction; the approval command that finishes the instance
-- (completed or terminated) makes the waiting runs due in its own transaction and deletes the rows.
CREATE TABLE flow_approval_waits (
    organization_id UUID NOT NULL,
    approval_id     UUID NOT NULL,
    run_id          UUID NOT NULL,
    PRIMARY KEY (organization_id, approval_id, run_id),
    FOREIGN KEY (organization_id, run_id) REFERENCES flow_runs (organization_id, id) ON DELETE CASCADE
);
