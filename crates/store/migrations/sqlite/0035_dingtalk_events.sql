-- SQLite twin of postgres/0035_dingtalk_events.sql.
-- DingTalk-format events and login-free sign-in (issue #21 items 6 and 7a).
ALTER TABLE installations ADD COLUMN event_format TEXT NOT NULL DEFAULT 'native';

ALTER TABLE subscriptions ADD COLUMN format TEXT NOT NULL DEFAULT 'native';
ALTER TABLE subscriptions ADD COLUMN dingtalk_event_types TEXT;
ALTER TABLE subscriptions ADD COLUMN dingtalk_token TEXT;
ALTER TABLE subscriptions ADD COLUMN dingtalk_aes_key TEXT;

CREATE TABLE dingtalk_grants (
    digest          BLOB PRIMARY KEY,
    organization_id BLOB NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('code', 'refresh')),
    installation_id BLOB NOT NULL,
    member_id       BLOB NOT NULL,
    expires_at      TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    FOREIGN KEY (organization_id, installation_id) REFERENCES installations (organization_id, id) ON DELETE CASCADE,
    FOREIGN KEY (organization_id, member_id) REFERENCES members (organization_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX dingtalk_grants_expiry ON dingtalk_grants (expires_at);

-- The userids of deleted members (their `dingtalk_users` rows go with them): events are rendered after
-- commit, and a user deleted since is still named as DingTalk knew it.
CREATE TABLE dingtalk_former_users (
    organization_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    member_id       BLOB NOT NULL,
    userid          TEXT NOT NULL,
    PRIMARY KEY (organization_id, member_id)
) STRICT;
