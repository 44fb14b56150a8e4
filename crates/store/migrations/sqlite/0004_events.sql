-- SQLite twin of postgres/0004_events.sql.
-- Events: the transactional outbox, webhook subscriptions, and their delivery queue and log.
--
-- An event row is inserted in the transaction of the write it describes. `seq` orders an organization's
-- events in commit order: it is taken from `event_counters`, whose row the writing transaction holds
-- locked until it commits, so a reader never sees seq n+1 before seq n.

CREATE TABLE event_counters (
    organization_id BLOB PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    last_seq        INTEGER NOT NULL
) STRICT;

CREATE TABLE events (
    organization_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    seq             INTEGER NOT NULL,
    id              BLOB NOT NULL,
    type            TEXT NOT NULL,
    occurred_at     TEXT NOT NULL,
    actor           TEXT NOT NULL,
    subject         TEXT NOT NULL,
    -- What per-subject ordering groups by, e.g. `record:<id>`, `member:<id>`, `app:<id>`.
    subject_key     TEXT NOT NULL,
    app_id          BLOB,
    table_id        BLOB,
    data            TEXT NOT NULL,
    PRIMARY KEY (organization_id, seq),
    CONSTRAINT events_id_key UNIQUE (organization_id, id)
) STRICT;
CREATE INDEX events_type ON events (organization_id, type, seq);

-- A webhook subscription, owned by the organization (installation_id NULL) or by an installed app.
-- `cursor_seq`: events up to it have been turned into deliveries (the fan-out runs after commit).
CREATE TABLE subscriptions (
    organization_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id              BLOB NOT NULL,
    installation_id BLOB,
    url             TEXT NOT NULL,
    description     TEXT,
    event_types     TEXT NOT NULL,
    app_id          BLOB,
    table_id        BLOB,
    -- The signing secret (`whsec_…`) in plain text: signing needs it, and a digest cannot sign.
    secret          TEXT NOT NULL,
    enabled         INTEGER NOT NULL,
    disabled_reason TEXT,
    -- Start of the current run of failed attempts (NULL after a success).
    failing_since   TEXT,
    cursor_seq      INTEGER NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, installation_id) REFERENCES installations (organization_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX subscriptions_enabled ON subscriptions (enabled, organization_id);

-- One event to deliver to one subscription. `status`: pending, delivered or dead (dead-lettered).
-- A pending row is due at `next_attempt_at`; a worker that claims it moves `next_attempt_at` to the end of
-- its lease, so a crashed worker's claim becomes due again by itself.
CREATE TABLE deliveries (
    organization_id BLOB NOT NULL,
    id              BLOB NOT NULL,
    subscription_id BLOB NOT NULL,
    event_seq       INTEGER NOT NULL,
    subject_key     TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    finished_at     TEXT,
    last_status     INTEGER,
    last_error      TEXT,
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, subscription_id) REFERENCES subscriptions (organization_id, id) ON DELETE CASCADE,
    FOREIGN KEY (organization_id, event_seq) REFERENCES events (organization_id, seq) ON DELETE CASCADE
) STRICT;
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_subject ON deliveries (organization_id, subscription_id, subject_key, event_seq)
    WHERE status = 'pending';
CREATE INDEX deliveries_list ON deliveries (organization_id, subscription_id, id);

-- Every HTTP attempt of a delivery.
CREATE TABLE delivery_attempts (
    organization_id  BLOB NOT NULL,
    id               BLOB NOT NULL,
    delivery_id      BLOB NOT NULL,
    at               TEXT NOT NULL,
    status_code      INTEGER,
    latency_ms       INTEGER NOT NULL,
    error            TEXT,
    response_excerpt TEXT,
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, delivery_id) REFERENCES deliveries (organization_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX delivery_attempts_delivery ON delivery_attempts (organization_id, delivery_id, id);
