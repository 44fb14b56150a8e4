-- Signed per-record links (issue #19): a link opens one record's chosen fields to someone without an
-- account, read-only or in an edit form, until it expires or is revoked. Only the SHA-256 digest of the
-- link's token is kept (like API tokens); the token itself is shown once, when the link is made.
CREATE TABLE record_shares (
    organization_id UUID NOT NULL,
    id              UUID NOT NULL,
    table_id        UUID NOT NULL,
    record_id       UUID NOT NULL,
    digest          BYTEA NOT NULL UNIQUE,
    mode            TEXT NOT NULL CHECK (mode IN ('read', 'edit')),
    -- Field ids, as a JSON array of strings.
    fields          TEXT NOT NULL,
    -- The member who made the link (their access bounds the link's), or NULL for an organization token.
    created_by      UUID,
    created_at      TIMESTAMPTZ NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL,
    revoked_at      TIMESTAMPTZ,
    last_used_at    TIMESTAMPTZ,
    uses            BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, table_id) REFERENCES app_tables (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX record_shares_record ON record_shares (organization_id, record_id, id);
