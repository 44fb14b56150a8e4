-- SQLite twin of postgres/0014_dingtalk.sql.
-- The DingTalk-compatible API (issue #21).
-- Departments get an integer `number`, DingTalk's `dept_id`: the root is 1, existing departments are
-- numbered in id order, new ones take the organization's counter in the creating transaction.
ALTER TABLE departments ADD COLUMN number INTEGER NOT NULL DEFAULT 0;
UPDATE departments SET number = (
    SELECT r.n FROM (
        SELECT organization_id, id,
               ROW_NUMBER() OVER (PARTITION BY organization_id ORDER BY (parent_id IS NOT NULL), id) AS n
        FROM departments
    ) r
    WHERE r.organization_id = departments.organization_id AND r.id = departments.id
);
CREATE UNIQUE INDEX departments_number ON departments (organization_id, number);

-- The next department number of each organization.
ALTER TABLE organizations ADD COLUMN department_number_next INTEGER NOT NULL DEFAULT 2;
UPDATE organizations SET department_number_next =
    1 + (SELECT COUNT(*) FROM departments WHERE departments.organization_id = organizations.id);

-- A member's DingTalk identity: `userid` (chosen by the caller or the member id) and `unionid`
-- (generated, stable), each unique in the organization.
CREATE TABLE dingtalk_users (
    organization_id BLOB NOT NULL,
    member_id       BLOB NOT NULL,
    userid          TEXT NOT NULL,
    unionid         TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    PRIMARY KEY (organization_id, member_id),
    CONSTRAINT dingtalk_users_userid UNIQUE (organization_id, userid),
    CONSTRAINT dingtalk_users_unionid UNIQUE (organization_id, unionid),
    FOREIGN KEY (organization_id, member_id) REFERENCES members (organization_id, id) ON DELETE CASCADE
) STRICT;
