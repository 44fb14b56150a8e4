-- SQLite twin of postgres/0015_record_authors.sql.
-- Record authors (#16): a record's `created_by` / `modified_by` name the member when a member's personal
-- token writes (they named the token). Rows written before are rewritten where the token's member is
-- known; that walks every user table, which SQL cannot name here, so this migration only queues the work
-- and `Store::migrate` (`store::authors`) does it once, in one transaction, deleting the queue row.

CREATE TABLE pending_data_migrations (
    name TEXT PRIMARY KEY
) STRICT;

INSERT INTO pending_data_migrations (name) VALUES ('record_authors');
