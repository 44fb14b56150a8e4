-- SQLite twin of postgres/0001_platform.sql: BLOB ids, fixed-width RFC 3339 TEXT instants, STRICT tables.
-- Platform tables: organizations, directory, credentials, audit.
-- Every tenant table starts with organization_id and has it in its primary key, and every reference
-- between tenant rows is a composite foreign key that includes organization_id: a row of one
-- organization cannot point at a row of another, whatever the application code does.

CREATE TABLE organizations (
    id                 BLOB PRIMARY KEY,
    name               TEXT NOT NULL,
    time_zone          TEXT NOT NULL,
    locale             TEXT NOT NULL,
    root_department_id BLOB NOT NULL,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL
) STRICT;

CREATE TABLE departments (
    organization_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id              BLOB NOT NULL,
    name            TEXT NOT NULL,
    parent_id       BLOB,
    sort_order      INTEGER NOT NULL DEFAULT 0,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, parent_id) REFERENCES departments (organization_id, id)
) STRICT;
CREATE INDEX departments_parent ON departments (organization_id, parent_id);

CREATE TABLE members (
    organization_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id              BLOB NOT NULL,
    name            TEXT NOT NULL,
    email           TEXT,
    mobile          TEXT,
    job_title       TEXT,
    employee_no     TEXT,
    status          TEXT NOT NULL CHECK (status IN ('active', 'left')),
    role            TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    password_hash   TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (organization_id, id),
    CONSTRAINT members_email_key UNIQUE (organization_id, email),
    CONSTRAINT members_mobile_key UNIQUE (organization_id, mobile),
    CONSTRAINT members_employee_no_key UNIQUE (organization_id, employee_no)
) STRICT;
-- Login looks a person up by e-mail across organizations.
CREATE INDEX members_email ON members (email);

CREATE TABLE member_departments (
    organization_id BLOB NOT NULL,
    member_id       BLOB NOT NULL,
    department_id   BLOB NOT NULL,
    position        INTEGER NOT NULL,
    is_head         INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (organization_id, member_id, department_id),
    FOREIGN KEY (organization_id, member_id) REFERENCES members (organization_id, id) ON DELETE CASCADE,
    FOREIGN KEY (organization_id, department_id) REFERENCES departments (organization_id, id)
) STRICT;
CREATE INDEX member_departments_department ON member_departments (organization_id, department_id, member_id);

-- Failed logins per e-mail address, whether or not the address exists, so that the lock reveals nothing.
CREATE TABLE login_throttle (
    email_key    TEXT PRIMARY KEY,
    failures     INTEGER NOT NULL,
    locked_until TEXT,
    updated_at   TEXT NOT NULL
) STRICT;

CREATE TABLE sessions (
    digest          BLOB PRIMARY KEY,
    organization_id BLOB NOT NULL,
    id              BLOB NOT NULL,
    member_id       BLOB NOT NULL,
    created_at      TEXT NOT NULL,
    expires_at      TEXT NOT NULL,
    last_seen_at    TEXT NOT NULL,
    UNIQUE (organization_id, id),
    FOREIGN KEY (organization_id, member_id) REFERENCES members (organization_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX sessions_member ON sessions (organization_id, member_id);

CREATE TABLE oauth_clients (
    id                    BLOB PRIMARY KEY,
    client_id             TEXT NOT NULL UNIQUE,
    secret_digest         BLOB NOT NULL,
    name                  TEXT NOT NULL,
    owner_organization_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    created_at            TEXT NOT NULL,
    updated_at            TEXT NOT NULL
) STRICT;

CREATE TABLE installations (
    organization_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id              BLOB NOT NULL,
    client_app_id   BLOB NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    scopes          TEXT NOT NULL,
    rate_limit      TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (organization_id, id),
    CONSTRAINT installations_client_key UNIQUE (organization_id, client_app_id)
) STRICT;
CREATE INDEX installations_client ON installations (client_app_id);

CREATE TABLE api_tokens (
    organization_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id              BLOB NOT NULL,
    digest          BLOB NOT NULL UNIQUE,
    kind            TEXT NOT NULL CHECK (kind IN ('personal', 'app_access')),
    name            TEXT NOT NULL,
    member_id       BLOB,
    installation_id BLOB,
    scopes          TEXT NOT NULL,
    rate_limit      TEXT,
    expires_at      TEXT,
    last_used_at    TEXT,
    revoked_at      TEXT,
    created_at      TEXT NOT NULL,
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, member_id) REFERENCES members (organization_id, id) ON DELETE CASCADE,
    FOREIGN KEY (organization_id, installation_id) REFERENCES installations (organization_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX api_tokens_installation ON api_tokens (organization_id, installation_id);

CREATE TABLE audit_log (
    organization_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id              BLOB NOT NULL,
    at              TEXT NOT NULL,
    actor_kind      TEXT NOT NULL,
    actor_id        TEXT,
    actor_name      TEXT NOT NULL,
    action          TEXT NOT NULL,
    target_kind     TEXT NOT NULL,
    target_id       TEXT NOT NULL,
    before          TEXT,
    after           TEXT,
    request_id      TEXT,
    PRIMARY KEY (organization_id, id)
) STRICT;
CREATE INDEX audit_log_target ON audit_log (organization_id, target_kind, target_id, id);
