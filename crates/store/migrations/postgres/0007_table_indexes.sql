-- Composite (non-unique) indexes a table asks for: [[field id, …], …], each created as
-- `ix_<table>_<n>` on the user table (e.g. a group-by field and the field summed, so a grouped
-- aggregate reads the index alone).
ALTER TABLE app_tables ADD COLUMN indexes JSONB NOT NULL DEFAULT '[]';
