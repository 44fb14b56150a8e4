-- Epochs of the per-node caches (crates/store/src/cache.rs). Triggers bump an epoch in the transaction
-- of every change that makes a cached credential or schema stale, whoever writes (another node, the CLI,
-- hand-written SQL), so the bump commits with the change; each node reads the epochs every 250 ms and
-- drops what changed.
CREATE TABLE cache_epochs (
    name  TEXT PRIMARY KEY,
    epoch BIGINT NOT NULL
);
INSERT INTO cache_epochs (name, epoch) VALUES ('auth', 0), ('schema', 0);

CREATE FUNCTION cache_epochs_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = TG_ARGV[0];
    RETURN NULL;
END
$$;

-- Credentials: what authenticate_token reads, and an app's secret (stream connections opened with it
-- close when it changes). A token's last use (last_used_at) is not among them.
CREATE TRIGGER api_tokens_cache AFTER UPDATE OF kind, name, member_id, installation_id, scopes,
    rate_limit, expires_at, revoked_at, organization_id, digest OR DELETE ON api_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION cache_epochs_bump('auth');
CREATE TRIGGER members_cache AFTER UPDATE OF name, role, status OR DELETE ON members
    FOR EACH STATEMENT EXECUTE FUNCTION cache_epochs_bump('auth');
CREATE TRIGGER installations_cache AFTER UPDATE OR DELETE ON installations
    FOR EACH STATEMENT EXECUTE FUNCTION cache_epochs_bump('auth');
CREATE TRIGGER oauth_clients_cache AFTER UPDATE OF name, client_id, secret_digest OR DELETE ON oauth_clients
    FOR EACH STATEMENT EXECUTE FUNCTION cache_epochs_bump('auth');

-- Schemas: apps, tables and fields (table_schema reads all three).
CREATE TRIGGER apps_cache AFTER INSERT OR UPDATE OR DELETE ON apps
    FOR EACH STATEMENT EXECUTE FUNCTION cache_epochs_bump('schema');
CREATE TRIGGER app_tables_cache AFTER INSERT OR UPDATE OR DELETE ON app_tables
    FOR EACH STATEMENT EXECUTE FUNCTION cache_epochs_bump('schema');
CREATE TRIGGER fields_cache AFTER INSERT OR UPDATE OR DELETE ON fields
    FOR EACH STATEMENT EXECUTE FUNCTION cache_epochs_bump('schema');
