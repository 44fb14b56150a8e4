-- SQLite twin of postgres/0048_access_epoch.sql: an epoch of what app permissions read (an app's
-- permissions document, a member's departments, the department tree, the custom roles).
INSERT INTO cache_epochs (name, epoch) VALUES ('access', 0);

CREATE TRIGGER app_permissions_access_epoch_insert AFTER INSERT ON app_permissions
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'access'; END;
CREATE TRIGGER app_permissions_access_epoch_update AFTER UPDATE ON app_permissions
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'access'; END;
CREATE TRIGGER app_permissions_access_epoch_delete AFTER DELETE ON app_permissions
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'access'; END;
CREATE TRIGGER member_departments_access_epoch_insert AFTER INSERT ON member_departments
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'access'; END;
CREATE TRIGGER member_departments_access_epoch_update AFTER UPDATE ON member_departments
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'access'; END;
CREATE TRIGGER member_departments_access_epoch_delete AFTER DELETE ON member_departments
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'access'; END;
CREATE TRIGGER departments_access_epoch_insert AFTER INSERT ON departments
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'access'; END;
CREATE TRIGGER departments_access_epoch_update AFTER UPDATE OF parent_id ON departments
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'access'; END;
CREATE TRIGGER departments_access_epoch_delete AFTER DELETE ON departments
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'access'; END;
CREATE TRIGGER org_roles_access_epoch_insert AFTER INSERT ON org_roles
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'access'; END;
CREATE TRIGGER org_roles_access_epoch_update AFTER UPDATE ON org_roles
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'access'; END;
CREATE TRIGGER org_roles_access_epoch_delete AFTER DELETE ON org_roles
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'access'; END;
-- Organizations (their time zone dates every record filter) are cached with them.
CREATE TRIGGER organizations_access_epoch_update AFTER UPDATE ON organizations
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'access'; END;
CREATE TRIGGER organizations_access_epoch_delete AFTER DELETE ON organizations
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'access'; END;
