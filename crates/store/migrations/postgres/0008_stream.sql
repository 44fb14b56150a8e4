-- Stream mode: installed apps that hold a WebSocket open (DingTalk Stream protocol) instead of receiving
-- webhooks. Numbered 0008 so it never collides with the webhook migrations beside it.
--
-- Per installation, `stream_cursors.cursor_seq` is the event seq up to which events were handed to the
-- installation's queue; it starts at the installation's own `app.installed` event, so events committed while
-- the app has no connection wait for it. `stream_queue` holds what was handed over and not yet acknowledged:
-- a row is waiting (`sent_at` NULL) or in flight (sent on `connection_id` as `message_id`). Only the oldest
-- row of a subject (record) is ever sent, so one record's events arrive in commit order, one at a time.

CREATE TABLE stream_cursors (
    organization_id UUID NOT NULL,
    installation_id UUID NOT NULL,
    cursor_seq      BIGINT NOT NULL,
    PRIMARY KEY (organization_id, installation_id),
    FOREIGN KEY (organization_id, installation_id) REFERENCES installations (organization_id, id) ON DELETE CASCADE
);

CREATE TABLE stream_queue (
    organization_id UUID NOT NULL,
    installation_id UUID NOT NULL,
    event_seq       BIGINT NOT NULL,
    subject_key     TEXT NOT NULL,
    message_id      TEXT,
    connection_id   UUID,
    sent_at         TIMESTAMPTZ,
    attempts        BIGINT NOT NULL,
    PRIMARY KEY (organization_id, installation_id, event_seq),
    FOREIGN KEY (organization_id, installation_id) REFERENCES installations (organization_id, id) ON DELETE CASCADE,
    FOREIGN KEY (organization_id, event_seq) REFERENCES events (organization_id, seq) ON DELETE CASCADE
);
CREATE INDEX stream_queue_subject ON stream_queue (organization_id, installation_id, subject_key, event_seq);
CREATE INDEX stream_queue_message ON stream_queue (organization_id, installation_id, message_id);

-- Open stream connections of any node. A node refreshes `seen_at` while it serves the connection and deletes
-- the row when the connection ends; a row whose `seen_at` is old belongs to a node that died.
CREATE TABLE stream_connections (
    id            UUID PRIMARY KEY,
    client_app_id UUID NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    opened_at     TIMESTAMPTZ NOT NULL,
    seen_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX stream_connections_client ON stream_connections (client_app_id);

-- Single-use tickets of `POST /v1.0/gateway/connections/open`, kept as SHA-256 digests so that any node
-- sharing the database can accept the WebSocket that presents one.
CREATE TABLE stream_tickets (
    digest        BYTEA PRIMARY KEY,
    client_app_id UUID NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    -- The event type patterns the client subscribed to (JSON array of strings).
    topics        JSONB NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL
);
