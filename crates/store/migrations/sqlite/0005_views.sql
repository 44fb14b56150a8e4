-- SQLite twin of postgres/0005_views.sql.
-- Saved views of tables (grid, kanban, calendar, gallery, form). A public form has a slug: the
-- unguessable part of its link, unique across all organizations.

CREATE TABLE views (
    organization_id BLOB NOT NULL,
    id              BLOB NOT NULL,
    table_id        BLOB NOT NULL,
    key             TEXT NOT NULL,
    name            TEXT NOT NULL,
    type            TEXT NOT NULL,
    config          TEXT NOT NULL,
    public_slug     TEXT UNIQUE,
    position        INTEGER NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (organization_id, id),
    CONSTRAINT views_key_key UNIQUE (organization_id, table_id, key),
    FOREIGN KEY (organization_id, table_id) REFERENCES app_tables (organization_id, id) ON DELETE CASCADE
) STRICT;
