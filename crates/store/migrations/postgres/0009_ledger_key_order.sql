-- Foreign-key checks on PostgreSQL (`SELECT 1 FROM ledger_vouchers WHERE organization_id = $1 AND id = $2
-- FOR KEY SHARE`, one per inserted line) are planned by the server and the plan is kept by the connection.
-- On a table without statistics (a new database, the first load into it) the planner rated the unique
-- number key, whose index started with organization_id, as cheap as the primary key and picked it: each
-- check then read every voucher of the organization, and a load slowed down as it grew (330 million index
-- entries read for 42,000 checks in one benchmark run). The other unique keys now start with a column the
-- checks do not name — the book for voucher numbers, the role for accounts (checked once per line) — so a
-- check by (organization_id, id) or (organization_id, book_id, code) can only use the primary key.
-- SQLite checks foreign keys through the parent key's own index and keeps its schema.
ALTER TABLE ledger_vouchers
    DROP CONSTRAINT ledger_vouchers_number_key,
    ADD CONSTRAINT ledger_vouchers_number_key UNIQUE (book_id, period, word, number, organization_id);
ALTER TABLE ledger_accounts
    DROP CONSTRAINT ledger_accounts_role_key,
    ADD CONSTRAINT ledger_accounts_role_key UNIQUE (role, book_id, organization_id);
