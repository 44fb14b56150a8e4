-- Events of committed transactions waiting for their `seq` (PostgreSQL only; SQLite's single writer numbers
-- events in the writing transaction). A write inserts its events here just before its commit, without taking
-- the organization's `event_counters` row; after the commit a short transaction takes the row, numbers the
-- organization's queued events in `n` order after `last_seq`, and moves them into `events`. So `seq` stays
-- gap-free and in the order in which events became visible, and no writer holds the counter row through its
-- own commit.
CREATE TABLE event_queue (
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    n               BIGSERIAL,
    id              UUID NOT NULL,
    type            TEXT NOT NULL,
    occurred_at     TIMESTAMPTZ NOT NULL,
    actor           JSONB NOT NULL,
    subject         JSONB NOT NULL,
    subject_key     TEXT NOT NULL,
    app_id          UUID,
    table_id        UUID,
    data            JSONB NOT NULL,
    PRIMARY KEY (organization_id, n)
);
