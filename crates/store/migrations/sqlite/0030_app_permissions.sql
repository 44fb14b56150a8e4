-- SQLite twin of postgres/0030_app_permissions.sql.
-- App permissions (issue #19): one document per app — app roles, their grants, row rules and field rules
-- (`GET/PUT /api/v1/apps/{app}/permissions`). An app without a row keeps every member reading and writing.
CREATE TABLE app_permissions (
    organization_id BLOB NOT NULL,
    app_id          BLOB NOT NULL,
    document        TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (organization_id, app_id),
    FOREIGN KEY (organization_id, app_id) REFERENCES apps (organization_id, id) ON DELETE CASCADE
) STRICT;
