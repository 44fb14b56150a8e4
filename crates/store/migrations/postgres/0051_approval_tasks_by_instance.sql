-- An instance's tasks in number order from one index (the SQLite twin says why it matters there most).
DROP INDEX approval_tasks_instance;
CREATE INDEX approval_tasks_instance ON approval_tasks (organization_id, instance_id, number);
