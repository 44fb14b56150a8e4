-- An epoch of what app permissions read (issue #19; crates/store/src/cache.rs): an app's permissions
-- document, a member's departments, the department tree and the custom roles. Bumped by triggers in the
-- writing transaction, whoever writes; every node reads it with the other epochs and drops its cached
-- permissions documents and people. A member's organization role and status bump `auth`, which drops
-- the cached people too.
INSERT INTO cache_epochs (name, epoch) VALUES ('access', 0);

CREATE TRIGGER app_permissions_access_epoch AFTER INSERT OR UPDATE OR DELETE ON app_permissions
    FOR EACH STATEMENT EXECUTE FUNCTION cache_epochs_bump('access');
CREATE TRIGGER member_departments_access_epoch AFTER INSERT OR UPDATE OR DELETE ON member_departments
    FOR EACH STATEMENT EXECUTE FUNCTION cache_epochs_bump('access');
CREATE TRIGGER departments_access_epoch AFTER INSERT OR UPDATE OF parent_id OR DELETE ON departments
    FOR EACH STATEMENT EXECUTE FUNCTION cache_epochs_bump('access');
CREATE TRIGGER org_roles_access_epoch AFTER INSERT OR UPDATE OR DELETE ON org_roles
    FOR EACH STATEMENT EXECUTE FUNCTION cache_epochs_bump('access');
-- Organizations (their time zone dates every record filter) are cached with them.
CREATE TRIGGER organizations_access_epoch AFTER UPDATE OR DELETE ON organizations
    FOR EACH STATEMENT EXECUTE FUNCTION cache_epochs_bump('access');
