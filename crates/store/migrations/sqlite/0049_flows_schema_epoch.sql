-- SQLite twin of postgres/0049_flows_schema_epoch.sql: the flows that watch a table are cached with its
-- schema (crates/store/src/cache.rs, `Caches::watching`), so a flow's change bumps the `schema` epoch.
CREATE TRIGGER flows_schema_epoch_insert AFTER INSERT ON flows
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'schema'; END;
CREATE TRIGGER flows_schema_epoch_update AFTER UPDATE ON flows
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'schema'; END;
CREATE TRIGGER flows_schema_epoch_delete AFTER DELETE ON flows
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'schema'; END;
