-- SQLite twin of postgres/0051_approval_tasks_by_instance.sql: an instance's tasks in number order from one
-- index. Without statistics SQLite's planner read "the tasks of one instance, by number" through the
-- organization's unique (organization_id, number) index, which gives that order without a sort — every
-- task of the organization, for every approval command and every read of an instance.
DROP INDEX approval_tasks_instance;
CREATE INDEX approval_tasks_instance ON approval_tasks (organization_id, instance_id, number);
