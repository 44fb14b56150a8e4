-- SQLite twin of postgres/0033_record_shares.sql.
-- Signed per-record links (issue #19): a link opens one record's chosen fields to someone without an
-- account, read-only or in an edit form, until it expires or is revoked. Only the SHA-256 digest of the
-- link's token is kept (like API tokens); the token itself is shown once, when the link is made.
CREATE TABLE record_shares (
    organization_id BLOB NOT NULL,
    id              BLOB NOT NULL,
    table_id        BLOB NOT NULL,
    record_id       BLOB NOT NULL,
    digest          BLOB NOT NULL UNIQUE,
    mode            TEXT NOT NULL CHECK (mode IN ('read', 'edit')),
    -- Field ids, as a JSON array of strings.
    fields          TEXT NOT NULL,
    -- The member who made the link (their access bounds the link's), or NULL for an organization token.
    created_by      BLOB,
    created_at      TEXT NOT NULL,
    expires_at      TEXT NOT NULL,
    revoked_at      TEXT,
    last_used_at    TEXT,
    uses            INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, table_id) REFERENCES app_tables (organization_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX record_shares_record ON record_shares (organization_id, record_id, id);
