-- Dashboards of apps (issue #23): a key unique in the app, a name, and the widgets as their author wrote
-- them (JSON; checked against the app's tables when written).

CREATE TABLE dashboards (
    organization_id UUID NOT NULL,
    id              UUID NOT NULL,
    app_id          UUID NOT NULL,
    key             TEXT NOT NULL,
    name            TEXT NOT NULL,
    widgets         JSONB NOT NULL,
    position        BIGINT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (organization_id, id),
    CONSTRAINT dashboards_key_key UNIQUE (organization_id, app_id, key),
    FOREIGN KEY (organization_id, app_id) REFERENCES apps (organization_id, id) ON DELETE CASCADE
);
