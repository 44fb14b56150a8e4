-- Low-code apps: metadata of apps, tables and fields. Each user table also gets a physical table
-- "t_<table id>" (created at run time), with a column "f_<field id>" per column-stored field, and each link
-- field pair a junction table "l_<owning field id>". Physical names are built from ids, never from user text.

CREATE TABLE apps (
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id              UUID NOT NULL,
    key             TEXT NOT NULL,
    name            TEXT NOT NULL,
    description     TEXT,
    schema_version  BIGINT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (organization_id, id),
    CONSTRAINT apps_key_key UNIQUE (organization_id, key)
);

CREATE TABLE app_tables (
    organization_id  UUID NOT NULL,
    id               UUID NOT NULL,
    app_id           UUID NOT NULL,
    key              TEXT NOT NULL,
    name             TEXT NOT NULL,
    primary_field_id UUID,
    unique_together  JSONB NOT NULL,
    position         BIGINT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (organization_id, id),
    CONSTRAINT app_tables_key_key UNIQUE (organization_id, app_id, key),
    FOREIGN KEY (organization_id, app_id) REFERENCES apps (organization_id, id) ON DELETE CASCADE
);

CREATE TABLE fields (
    organization_id UUID NOT NULL,
    id              UUID NOT NULL,
    table_id        UUID NOT NULL,
    key             TEXT NOT NULL,
    name            TEXT NOT NULL,
    type            TEXT NOT NULL,
    options         JSONB NOT NULL,
    required        BOOLEAN NOT NULL,
    is_unique       BOOLEAN NOT NULL,
    indexed         BOOLEAN NOT NULL,
    default_value   JSONB,
    position        BIGINT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (organization_id, id),
    CONSTRAINT fields_key_key UNIQUE (organization_id, table_id, key),
    CONSTRAINT fields_name_key UNIQUE (organization_id, table_id, name),
    FOREIGN KEY (organization_id, table_id) REFERENCES app_tables (organization_id, id) ON DELETE CASCADE
);

-- Every schema change of an app, numbered by the app's schema_version.
CREATE TABLE schema_changes (
    organization_id UUID NOT NULL,
    app_id          UUID NOT NULL,
    version         BIGINT NOT NULL,
    change          JSONB NOT NULL,
    at              TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (organization_id, app_id, version),
    FOREIGN KEY (organization_id, app_id) REFERENCES apps (organization_id, id) ON DELETE CASCADE
);

-- Autonumber counters, one per field and date period ('' when the field has no date pattern).
CREATE TABLE field_sequences (
    organization_id UUID NOT NULL,
    field_id        UUID NOT NULL,
    period          TEXT NOT NULL,
    next_value      BIGINT NOT NULL,
    PRIMARY KEY (organization_id, field_id, period),
    FOREIGN KEY (organization_id, field_id) REFERENCES fields (organization_id, id) ON DELETE CASCADE
);

-- Uploaded files; the bytes live on disk under the data folder, addressed by their SHA-256.
CREATE TABLE attachments (
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id              UUID NOT NULL,
    sha256          TEXT NOT NULL,
    size            BIGINT NOT NULL,
    content_type    TEXT NOT NULL,
    filename        TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (organization_id, id)
);

-- Idempotency-Key: a retried request with the same key (per credential) gets the first one's outcome.
CREATE TABLE idempotency_keys (
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    credential      UUID NOT NULL,
    key             TEXT NOT NULL,
    fingerprint     BYTEA NOT NULL,
    record_ids      JSONB NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (organization_id, credential, key)
);
