-- SQLite twin of postgres/0002_apps.sql (BLOB ids, TEXT instants and JSON, STRICT tables).
-- Low-code apps: metadata of apps, tables and fields. Each user table also gets a physical table
-- "t_<table id>" (created at run time), with a column "f_<field id>" per column-stored field, and each link
-- field pair a junction table "l_<owning field id>". Physical names are built from ids, never from user text.

CREATE TABLE apps (
    organization_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id              BLOB NOT NULL,
    key             TEXT NOT NULL,
    name            TEXT NOT NULL,
    description     TEXT,
    schema_version  INTEGER NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (organization_id, id),
    CONSTRAINT apps_key_key UNIQUE (organization_id, key)
) STRICT;

CREATE TABLE app_tables (
    organization_id  BLOB NOT NULL,
    id               BLOB NOT NULL,
    app_id           BLOB NOT NULL,
    key              TEXT NOT NULL,
    name             TEXT NOT NULL,
    primary_field_id BLOB,
    unique_together  TEXT NOT NULL,
    position         INTEGER NOT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    PRIMARY KEY (organization_id, id),
    CONSTRAINT app_tables_key_key UNIQUE (organization_id, app_id, key),
    FOREIGN KEY (organization_id, app_id) REFERENCES apps (organization_id, id) ON DELETE CASCADE
) STRICT;

CREATE TABLE fields (
    organization_id BLOB NOT NULL,
    id              BLOB NOT NULL,
    table_id        BLOB NOT NULL,
    key             TEXT NOT NULL,
    name            TEXT NOT NULL,
    type            TEXT NOT NULL,
    options         TEXT NOT NULL,
    required        INTEGER NOT NULL,
    is_unique       INTEGER NOT NULL,
    indexed         INTEGER NOT NULL,
    default_value   TEXT,
    position        INTEGER NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (organization_id, id),
    CONSTRAINT fields_key_key UNIQUE (organization_id, table_id, key),
    CONSTRAINT fields_name_key UNIQUE (organization_id, table_id, name),
    FOREIGN KEY (organization_id, table_id) REFERENCES app_tables (organization_id, id) ON DELETE CASCADE
) STRICT;

-- Every schema change of an app, numbered by the app's schema_version.
CREATE TABLE schema_changes (
    organization_id BLOB NOT NULL,
    app_id          BLOB NOT NULL,
    version         INTEGER NOT NULL,
    change          TEXT NOT NULL,
    at              TEXT NOT NULL,
    PRIMARY KEY (organization_id, app_id, version),
    FOREIGN KEY (organization_id, app_id) REFERENCES apps (organization_id, id) ON DELETE CASCADE
) STRICT;

-- Autonumber counters, one per field and date period ('' when the field has no date pattern).
CREATE TABLE field_sequences (
    organization_id BLOB NOT NULL,
    field_id        BLOB NOT NULL,
    period          TEXT NOT NULL,
    next_value      INTEGER NOT NULL,
    PRIMARY KEY (organization_id, field_id, period),
    FOREIGN KEY (organization_id, field_id) REFERENCES fields (organization_id, id) ON DELETE CASCADE
) STRICT;

-- Uploaded files; the bytes live on disk under the data folder, addressed by their SHA-256.
CREATE TABLE attachments (
    organization_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id              BLOB NOT NULL,
    sha256          TEXT NOT NULL,
    size            INTEGER NOT NULL,
    content_type    TEXT NOT NULL,
    filename        TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    PRIMARY KEY (organization_id, id)
) STRICT;

-- Idempotency-Key: a retried request with the same key (per credential) gets the first one's outcome.
CREATE TABLE idempotency_keys (
    organization_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    credential      BLOB NOT NULL,
    key             TEXT NOT NULL,
    fingerprint     BLOB NOT NULL,
    record_ids      TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    PRIMARY KEY (organization_id, credential, key)
) STRICT;
