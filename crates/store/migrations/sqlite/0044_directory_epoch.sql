-- SQLite twin of postgres/0044_directory_epoch.sql: an epoch of the directory as DingTalk's answers name
-- people (a member's name, its userid, its first department's number and name), read in the same
-- statement as what a read that may use cached people reads anyway.
INSERT INTO cache_epochs (name, epoch) VALUES ('directory', 0);

CREATE TRIGGER members_directory_epoch_update AFTER UPDATE OF name ON members
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'directory'; END;
CREATE TRIGGER members_directory_epoch_delete AFTER DELETE ON members
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'directory'; END;
CREATE TRIGGER dingtalk_users_directory_epoch_insert AFTER INSERT ON dingtalk_users
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'directory'; END;
CREATE TRIGGER dingtalk_users_directory_epoch_update AFTER UPDATE ON dingtalk_users
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'directory'; END;
CREATE TRIGGER dingtalk_users_directory_epoch_delete AFTER DELETE ON dingtalk_users
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'directory'; END;
CREATE TRIGGER dingtalk_former_users_directory_epoch_insert AFTER INSERT ON dingtalk_former_users
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'directory'; END;
CREATE TRIGGER dingtalk_former_users_directory_epoch_update AFTER UPDATE ON dingtalk_former_users
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'directory'; END;
CREATE TRIGGER dingtalk_former_users_directory_epoch_delete AFTER DELETE ON dingtalk_former_users
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'directory'; END;
CREATE TRIGGER member_departments_directory_epoch_insert AFTER INSERT ON member_departments
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'directory'; END;
CREATE TRIGGER member_departments_directory_epoch_update AFTER UPDATE ON member_departments
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'directory'; END;
CREATE TRIGGER member_departments_directory_epoch_delete AFTER DELETE ON member_departments
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'directory'; END;
CREATE TRIGGER departments_directory_epoch_update AFTER UPDATE OF name, number ON departments
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'directory'; END;
CREATE TRIGGER departments_directory_epoch_delete AFTER DELETE ON departments
BEGIN UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'directory'; END;
