-- Processes get an integer `number`, DingTalk's `processId` (issue #21): existing processes are numbered
-- from 1 in creation order per organization, new ones take the organization's counter in the creating
-- transaction (numbers are never reused).
ALTER TABLE processes ADD COLUMN number BIGINT;
UPDATE processes p SET number = r.n
FROM (
    SELECT organization_id, id,
           ROW_NUMBER() OVER (PARTITION BY organization_id ORDER BY created_at, id) AS n
    FROM processes
) r
WHERE p.organization_id = r.organization_id AND p.id = r.id;
ALTER TABLE processes ALTER COLUMN number SET NOT NULL;
CREATE UNIQUE INDEX processes_number ON processes (organization_id, number);

-- The next process number of each organization.
ALTER TABLE organizations ADD COLUMN process_number_next BIGINT NOT NULL DEFAULT 1;
UPDATE organizations SET process_number_next =
    1 + (SELECT COUNT(*) FROM processes WHERE processes.organization_id = organizations.id);
