-- DingTalk work notifications (issue #21 item 7b): one row per `asyncsend_v2` (its `task_id`, random,
-- unique in the organization) with the userids and department numbers that named nothing, and one row
-- per recipient naming the inbox message it got (`getsendresult` reads who has read it).
CREATE TABLE dingtalk_message_tasks (
    organization_id  UUID NOT NULL,
    task_id          BIGINT NOT NULL,
    agent_id         BIGINT NOT NULL,
    invalid_userids  JSONB NOT NULL,
    invalid_dept_ids JSONB NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (organization_id, task_id),
    FOREIGN KEY (organization_id) REFERENCES organizations (id) ON DELETE CASCADE
);

CREATE TABLE dingtalk_message_recipients (
    organization_id UUID NOT NULL,
    task_id         BIGINT NOT NULL,
    member_id       UUID NOT NULL,
    notification_id UUID NOT NULL,
    PRIMARY KEY (organization_id, task_id, member_id),
    FOREIGN KEY (organization_id, task_id) REFERENCES dingtalk_message_tasks (organization_id, task_id) ON DELETE CASCADE,
    FOREIGN KEY (organization_id, member_id) REFERENCES members (organization_id, id) ON DELETE CASCADE
);
