-- Connections (issue #18): an organization's stored credentials for outside systems, which flow steps
-- (`http`, …) name by key. `config` is what may be shown (base URL, auth kind, user name); `secret` is the
-- secrets' JSON encrypted with the node's secret key (XChaCha20-Poly1305: a 24-byte nonce, then the
-- ciphertext and its tag; the organization and key are the associated data), and `secret_names` lists
-- which secrets are set. No secret is ever stored or logged in clear.
CREATE TABLE connections (
    organization_id UUID NOT NULL,
    key             TEXT NOT NULL,
    name            TEXT NOT NULL,
    kind            TEXT NOT NULL,
    config          JSONB NOT NULL,
    secret          BYTEA,
    secret_names    JSONB NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (organization_id, key),
    FOREIGN KEY (organization_id) REFERENCES organizations (id) ON DELETE CASCADE
);
