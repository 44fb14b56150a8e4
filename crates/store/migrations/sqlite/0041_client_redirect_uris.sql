-- Where an app's DingTalk-style sign-in (`GET /oauth2/authorize`, issue #21 item 7a) may send a member
-- back: the registered redirect URIs, space-separated (a URI holds no whitespace). Empty: nowhere, so
-- existing apps must register theirs before sign-in works (the page refuses any other `redirect_uri`).
ALTER TABLE oauth_clients ADD COLUMN redirect_uris TEXT NOT NULL DEFAULT '';
