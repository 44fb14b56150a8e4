-- An epoch of the directory as DingTalk's answers name people (crates/store/src/cache.rs, `people`): a
-- member's name, its userid (current or former), its first department and that department's number and
-- name. Unlike the other epochs it is not only polled: a read that may use cached people reads this epoch in
-- the same statement as what it reads anyway, so a change committed on any node is seen by the next read
-- on every node.
INSERT INTO cache_epochs (name, epoch) VALUES ('directory', 0);

CREATE TRIGGER members_directory_epoch AFTER UPDATE OF name OR DELETE ON members
    FOR EACH STATEMENT EXECUTE FUNCTION cache_epochs_bump('directory');
CREATE TRIGGER dingtalk_users_directory_epoch AFTER INSERT OR UPDATE OR DELETE ON dingtalk_users
    FOR EACH STATEMENT EXECUTE FUNCTION cache_epochs_bump('directory');
CREATE TRIGGER dingtalk_former_users_directory_epoch AFTER INSERT OR UPDATE OR DELETE ON dingtalk_former_users
    FOR EACH STATEMENT EXECUTE FUNCTION cache_epochs_bump('directory');
CREATE TRIGGER member_departments_directory_epoch AFTER INSERT OR UPDATE OR DELETE ON member_departments
    FOR EACH STATEMENT EXECUTE FUNCTION cache_epochs_bump('directory');
CREATE TRIGGER departments_directory_epoch AFTER UPDATE OF name, number OR DELETE ON departments
    FOR EACH STATEMENT EXECUTE FUNCTION cache_epochs_bump('directory');
