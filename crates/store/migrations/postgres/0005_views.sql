-- Saved views of tables (grid, kanban, calendar, gallery, form). A public form has a slug: the
-- unguessable part of its link, unique across all organizations.

CREATE TABLE views (
    organization_id UUID NOT NULL,
    id              UUID NOT NULL,
    table_id        UUID NOT NULL,
    key             TEXT NOT NULL,
    name            TEXT NOT NULL,
    type            TEXT NOT NULL,
    config          JSONB NOT NULL,
    public_slug     TEXT UNIQUE,
    position        BIGINT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (organization_id, id),
    CONSTRAINT views_key_key UNIQUE (organization_id, table_id, key),
    FOREIGN KEY (organization_id, table_id) REFERENCES app_tables (organization_id, id) ON DELETE CASCADE
);
