-- DingTalk-format events and login-free sign-in (issue #21 items 6 and 7a).
--
-- An installation's `event_format`: `native`, or `dingtalk` for stream frames with DingTalk's event names
-- and camelCase data.
ALTER TABLE installations ADD COLUMN event_format TEXT NOT NULL DEFAULT 'native';

-- A subscription's `format`: `native` (Standard Webhooks) or `dingtalk` (DingTalk's encrypted callbacks).
-- A DingTalk subscription keeps the DingTalk event names it asked for (`event_types` holds the native types
-- that render them, which the fan-out reads), its token and its EncodingAESKey (in plain text: encrypting
-- needs it, as signing needs `secret`).
ALTER TABLE subscriptions ADD COLUMN format TEXT NOT NULL DEFAULT 'native';
ALTER TABLE subscriptions ADD COLUMN dingtalk_event_types JSONB;
ALTER TABLE subscriptions ADD COLUMN dingtalk_token TEXT;
ALTER TABLE subscriptions ADD COLUMN dingtalk_aes_key TEXT;

-- Single-use grants of login-free sign-in, kept as digests: `code` (the `authCode` of `/oauth2/authorize`,
-- 5 minutes) and `refresh` (a user token's `refreshToken`), bound to one installation and one member.
CREATE TABLE dingtalk_grants (
    digest          BYTEA PRIMARY KEY,
    organization_id UUID NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('code', 'refresh')),
    installation_id UUID NOT NULL,
    member_id       UUID NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    FOREIGN KEY (organization_id, installation_id) REFERENCES installations (organization_id, id) ON DELETE CASCADE,
    FOREIGN KEY (organization_id, member_id) REFERENCES members (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX dingtalk_grants_expiry ON dingtalk_grants (expires_at);

-- The userids of deleted members (their `dingtalk_users` rows go with them): events are rendered after
-- commit, and a user deleted since is still named as DingTalk knew it.
CREATE TABLE dingtalk_former_users (
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    member_id       UUID NOT NULL,
    userid          TEXT NOT NULL,
    PRIMARY KEY (organization_id, member_id)
);
