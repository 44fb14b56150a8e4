-- Platform tables: organizations, directory, credentials, audit.
-- Every tenant table starts with organization_id and has it in its primary key, and every reference
-- between tenant rows is a composite foreign key that includes organization_id: a row of one
-- organization cannot point at a row of another, whatever the application code does.

CREATE TABLE organizations (
    id                 UUID PRIMARY KEY,
    name               TEXT NOT NULL,
    time_zone          TEXT NOT NULL,
    locale             TEXT NOT NULL,
    root_department_id UUID NOT NULL,
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL
);

CREATE TABLE departments (
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id              UUID NOT NULL,
    name            TEXT NOT NULL,
    parent_id       UUID,
    sort_order      BIGINT NOT NULL DEFAULT 0,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, parent_id) REFERENCES departments (organization_id, id)
);
CREATE INDEX departments_parent ON departments (organization_id, parent_id);

CREATE TABLE members (
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id              UUID NOT NULL,
    name            TEXT NOT NULL,
    email           TEXT,
    mobile          TEXT,
    job_title       TEXT,
    employee_no     TEXT,
    status          TEXT NOT NULL CHECK (status IN ('active', 'left')),
    role            TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    password_hash   TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (organization_id, id),
    CONSTRAINT members_email_key UNIQUE (organization_id, email),
    CONSTRAINT members_mobile_key UNIQUE (organization_id, mobile),
    CONSTRAINT members_employee_no_key UNIQUE (organization_id, employee_no)
);
-- Login looks a person up by e-mail across organizations.
CREATE INDEX members_email ON members (email);

CREATE TABLE member_departments (
    organization_id UUID NOT NULL,
    member_id       UUID NOT NULL,
    department_id   UUID NOT NULL,
    position        BIGINT NOT NULL,
    is_head         BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (organization_id, member_id, department_id),
    FOREIGN KEY (organization_id, member_id) REFERENCES members (organization_id, id) ON DELETE CASCADE,
    FOREIGN KEY (organization_id, department_id) REFERENCES departments (organization_id, id)
);
CREATE INDEX member_departments_department ON member_departments (organization_id, department_id, member_id);

-- Failed logins per e-mail address, whether or not the address exists, so that the lock reveals nothing.
CREATE TABLE login_throttle (
    email_key    TEXT PRIMARY KEY,
    failures     BIGINT NOT NULL,
    locked_until TIMESTAMPTZ,
    updated_at   TIMESTAMPTZ NOT NULL
);

CREATE TABLE sessions (
    digest          BYTEA PRIMARY KEY,
    organization_id UUID NOT NULL,
    id              UUID NOT NULL,
    member_id       UUID NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL,
    last_seen_at    TIMESTAMPTZ NOT NULL,
    UNIQUE (organization_id, id),
    FOREIGN KEY (organization_id, member_id) REFERENCES members (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX sessions_member ON sessions (organization_id, member_id);

CREATE TABLE oauth_clients (
    id                    UUID PRIMARY KEY,
    client_id             TEXT NOT NULL UNIQUE,
    secret_digest         BYTEA NOT NULL,
    name                  TEXT NOT NULL,
    owner_organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    created_at            TIMESTAMPTZ NOT NULL,
    updated_at            TIMESTAMPTZ NOT NULL
);

CREATE TABLE installations (
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id              UUID NOT NULL,
    client_app_id   UUID NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    scopes          TEXT NOT NULL,
    rate_limit      TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (organization_id, id),
    CONSTRAINT installations_client_key UNIQUE (organization_id, client_app_id)
);
CREATE INDEX installations_client ON installations (client_app_id);

CREATE TABLE api_tokens (
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id              UUID NOT NULL,
    digest          BYTEA NOT NULL UNIQUE,
    kind            TEXT NOT NULL CHECK (kind IN ('personal', 'app_access')),
    name            TEXT NOT NULL,
    member_id       UUID,
    installation_id UUID,
    scopes          TEXT NOT NULL,
    rate_limit      TEXT,
    expires_at      TIMESTAMPTZ,
    last_used_at    TIMESTAMPTZ,
    revoked_at      TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, member_id) REFERENCES members (organization_id, id) ON DELETE CASCADE,
    FOREIGN KEY (organization_id, installation_id) REFERENCES installations (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX api_tokens_installation ON api_tokens (organization_id, installation_id);

CREATE TABLE audit_log (
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id              UUID NOT NULL,
    at              TIMESTAMPTZ NOT NULL,
    actor_kind      TEXT NOT NULL,
    actor_id        TEXT,
    actor_name      TEXT NOT NULL,
    action          TEXT NOT NULL,
    target_kind     TEXT NOT NULL,
    target_id       TEXT NOT NULL,
    before          JSONB,
    after           JSONB,
    request_id      TEXT,
    PRIMARY KEY (organization_id, id)
);
CREATE INDEX audit_log_target ON audit_log (organization_id, target_kind, target_id, id);
