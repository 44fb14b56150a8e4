-- SQLite twin of postgres/0050_approvers_epoch.sql: an epoch of the directory as approver rules read it
-- (members added, their status or role changed, removed; their places in departments; the department tree;
-- the custom roles), read in the same statement as the instance an approval command loads anyway.
INSERT INTO cache_epochs (name, epoch) VALUES ('approvers', 0);

CREATE TRIGGER members_approvers_epoch_insert AFTER INSERT ON members
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'approvers'; END;
CREATE TRIGGER members_approvers_epoch_update AFTER UPDATE OF status, role ON members
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'approvers'; END;
CREATE TRIGGER members_approvers_epoch_delete AFTER DELETE ON members
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'approvers'; END;
CREATE TRIGGER member_departments_approvers_epoch_insert AFTER INSERT ON member_departments
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'approvers'; END;
CREATE TRIGGER member_departments_approvers_epoch_update AFTER UPDATE ON member_departments
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'approvers'; END;
CREATE TRIGGER member_departments_approvers_epoch_delete AFTER DELETE ON member_departments
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'approvers'; END;
CREATE TRIGGER departments_approvers_epoch_insert AFTER INSERT ON departments
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'approvers'; END;
CREATE TRIGGER departments_approvers_epoch_update AFTER UPDATE OF parent_id ON departments
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'approvers'; END;
CREATE TRIGGER departments_approvers_epoch_delete AFTER DELETE ON departments
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'approvers'; END;
CREATE TRIGGER org_roles_approvers_epoch_insert AFTER INSERT ON org_roles
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'approvers'; END;
CREATE TRIGGER org_roles_approvers_epoch_update AFTER UPDATE ON org_roles
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'approvers'; END;
CREATE TRIGGER org_roles_approvers_epoch_delete AFTER DELETE ON org_roles
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'approvers'; END;
