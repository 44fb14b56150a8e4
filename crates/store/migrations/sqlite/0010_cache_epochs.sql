-- Epochs of the per-node caches (crates/store/src/cache.rs). Triggers bump an epoch in the transaction
-- of every change that makes a cached credential or schema stale, whoever writes (another node, the CLI,
-- hand-written SQL); each node reads the epochs every 250 ms and drops what changed.
CREATE TABLE cache_epochs (
    name  TEXT PRIMARY KEY,
    epoch INTEGER NOT NULL
);
INSERT INTO cache_epochs (name, epoch) VALUES ('auth', 0), ('schema', 0);

-- Credentials: what authenticate_token reads, and an app's secret (stream connections opened with it
-- close when it changes). A token's last use (last_used_at) is not among them.
CREATE TRIGGER api_tokens_cache_update AFTER UPDATE OF kind, name, member_id, installation_id, scopes,
    rate_limit, expires_at, revoked_at, organization_id, digest ON api_tokens
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'auth'; END;
CREATE TRIGGER api_tokens_cache_delete AFTER DELETE ON api_tokens
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'auth'; END;
CREATE TRIGGER members_cache_update AFTER UPDATE OF name, role, status ON members
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'auth'; END;
CREATE TRIGGER members_cache_delete AFTER DELETE ON members
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'auth'; END;
CREATE TRIGGER installations_cache_update AFTER UPDATE ON installations
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'auth'; END;
CREATE TRIGGER installations_cache_delete AFTER DELETE ON installations
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'auth'; END;
CREATE TRIGGER oauth_clients_cache_update AFTER UPDATE OF name, client_id, secret_digest ON oauth_clients
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'auth'; END;
CREATE TRIGGER oauth_clients_cache_delete AFTER DELETE ON oauth_clients
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'auth'; END;

-- Schemas: apps, tables and fields (table_schema reads all three).
CREATE TRIGGER apps_cache_insert AFTER INSERT ON apps
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'schema'; END;
CREATE TRIGGER apps_cache_update AFTER UPDATE ON apps
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'schema'; END;
CREATE TRIGGER apps_cache_delete AFTER DELETE ON apps
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'schema'; END;
CREATE TRIGGER app_tables_cache_insert AFTER INSERT ON app_tables
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'schema'; END;
CREATE TRIGGER app_tables_cache_update AFTER UPDATE ON app_tables
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'schema'; END;
CREATE TRIGGER app_tables_cache_delete AFTER DELETE ON app_tables
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'schema'; END;
CREATE TRIGGER fields_cache_insert AFTER INSERT ON fields
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'schema'; END;
CREATE TRIGGER fields_cache_update AFTER UPDATE ON fields
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'schema'; END;
CREATE TRIGGER fields_cache_delete AFTER DELETE ON fields
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'schema'; END;
