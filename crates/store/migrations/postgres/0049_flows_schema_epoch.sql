-- The flows that watch a table are cached with its schema on every node (crates/store/src/cache.rs,
-- `Caches::watching`: every record write reads them), so a flow's change, whoever writes it, bumps the
-- `schema` epoch in the writing transaction like a change of the table itself.
CREATE TRIGGER flows_schema_epoch AFTER INSERT OR UPDATE OR DELETE ON flows
    FOR EACH STATEMENT EXECUTE FUNCTION cache_epochs_bump('schema');
