-- Events that expired unseen (#16): a webhook subscription disabled, or a stream-mode app away, for longer
-- than the event retention misses the events deleted meanwhile. The pruner tallies them per consumer, as
-- JSON `{"count", "first_id", "last_id", "first_occurred_at", "last_occurred_at", "retention_days"}`, in
-- `subscriptions.events_expired` and `stream_cursors.events_expired`; the consumer's next delivery (or
-- stream frame) carries the tally in `deliveries.events_expired` / `stream_queue.events_expired`, and its
-- body says `"events_expired": {…}` beside the event (see `store::retention`).

ALTER TABLE subscriptions ADD COLUMN events_expired TEXT;
ALTER TABLE stream_cursors ADD COLUMN events_expired TEXT;
ALTER TABLE deliveries ADD COLUMN events_expired TEXT;
ALTER TABLE stream_queue ADD COLUMN events_expired TEXT;
