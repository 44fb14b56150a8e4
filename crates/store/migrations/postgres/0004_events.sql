-- Events: the transactional outbox, webhook subscriptions, and their delivery queue and log.
--
-- An event row is inserted in the transaction of the write it describes. `seq` orders an organization's
-- events in commit order: it is taken from `event_counters`, whose row the writing transaction holds
-- locked until it commits, so a reader never sees seq n+1 before seq n.

CREATE TABLE event_counters (
    organization_id UUID PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    last_seq        BIGINT NOT NULL
);

CREATE TABLE events (
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    seq             BIGINT NOT NULL,
    id              UUID NOT NULL,
    type            TEXT NOT NULL,
    occurred_at     TIMESTAMPTZ NOT NULL,
    actor           JSONB NOT NULL,
    subject         JSONB NOT NULL,
    -- What per-subject ordering groups by, e.g. `record:<id>`, `member:<id>`, `app:<id>`.
    subject_key     TEXT NOT NULL,
    app_id          UUID,
    table_id        UUID,
    data            JSONB NOT NULL,
    PRIMARY KEY (organization_id, seq),
    CONSTRAINT events_id_key UNIQUE (organization_id, id)
);
CREATE INDEX events_type ON events (organization_id, type, seq);

-- A webhook subscription, owned by the organization (installation_id NULL) or by an installed app.
-- `cursor_seq`: events up to it have been turned into deliveries (the fan-out runs after commit).
CREATE TABLE subscriptions (
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id              UUID NOT NULL,
    installation_id UUID,
    url             TEXT NOT NULL,
    description     TEXT,
    event_types     JSONB NOT NULL,
    app_id          UUID,
    table_id        UUID,
    -- The signing secret (`whsec_…`) in plain text: signing needs it, and a digest cannot sign.
    secret          TEXT NOT NULL,
    enabled         BOOLEAN NOT NULL,
    disabled_reason TEXT,
    -- Start of the current run of failed attempts (NULL after a success).
    failing_since   TIMESTAMPTZ,
    cursor_seq      BIGINT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, installation_id) REFERENCES installations (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX subscriptions_enabled ON subscriptions (enabled, organization_id);

-- One event to deliver to one subscription. `status`: pending, delivered or dead (dead-lettered).
-- A pending row is due at `next_attempt_at`; a worker that claims it moves `next_attempt_at` to the end of
-- its lease, so a crashed worker's claim becomes due again by itself.
CREATE TABLE deliveries (
    organization_id UUID NOT NULL,
    id              UUID NOT NULL,
    subscription_id UUID NOT NULL,
    event_seq       BIGINT NOT NULL,
    subject_key     TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    finished_at     TIMESTAMPTZ,
    last_status     INTEGER,
    last_error      TEXT,
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, subscription_id) REFERENCES subscriptions (organization_id, id) ON DELETE CASCADE,
    FOREIGN KEY (organization_id, event_seq) REFERENCES events (organization_id, seq) ON DELETE CASCADE
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_subject ON deliveries (organization_id, subscription_id, subject_key, event_seq)
    WHERE status = 'pending';
CREATE INDEX deliveries_list ON deliveries (organization_id, subscription_id, id);

-- Every HTTP attempt of a delivery.
CREATE TABLE delivery_attempts (
    organization_id  UUID NOT NULL,
    id               UUID NOT NULL,
    delivery_id      UUID NOT NULL,
    at               TIMESTAMPTZ NOT NULL,
    status_code      INTEGER,
    latency_ms       BIGINT NOT NULL,
    error            TEXT,
    response_excerpt TEXT,
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, delivery_id) REFERENCES deliveries (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX delivery_attempts_delivery ON delivery_attempts (organization_id, delivery_id, id);
