-- SQLite twin of postgres/0042_pow_spent.sql.
-- Public forms' proofs of work already used (issue #23): a solved challenge is good once on every node
-- sharing this database, until it expires (rows past `expires_at` are purged by any node).
CREATE TABLE pow_spent (
    challenge  TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX pow_spent_expires ON pow_spent (expires_at);
