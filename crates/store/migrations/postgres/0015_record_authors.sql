-- Record authors (#16): a record's `created_by` / `modified_by` name the member when a member's personal
-- token writes (they named the token). Rows written before are rewritten where the token's member is
-- known; that walks every user table, so this migration only queues the work and `Store::migrate`
-- (`store::authors`) does it once, in one transaction, deleting the queue row (the node that deletes it
-- does the work).

CREATE TABLE pending_data_migrations (
    name TEXT PRIMARY KEY
);

INSERT INTO pending_data_migrations (name) VALUES ('record_authors');
