-- Event retention: `tenon serve --event-retention-days` deletes old events whose deliveries are finished,
-- with their deliveries and attempt logs (see `store::retention`).
--
-- `events_pruned` keeps, per organization, the largest event id deleted so far and the retention it was
-- deleted under: a client whose cursor (`GET /api/v1/events?after=`, `Last-Event-ID`) names an event at
-- or below it is told the event expired (410), not that it never existed.

CREATE TABLE events_pruned (
    organization_id UUID PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    max_id          UUID NOT NULL,
    retention_days  INTEGER NOT NULL,
    pruned_at       TIMESTAMPTZ NOT NULL
);

-- Deleting an event deletes its deliveries and queued stream rows (ON DELETE CASCADE), and pruning checks
-- both for unfinished work per event: without these the cascade and the checks scan the tables per event.
CREATE INDEX deliveries_event ON deliveries (organization_id, event_seq);
CREATE INDEX stream_queue_event ON stream_queue (organization_id, event_seq);
