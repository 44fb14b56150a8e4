-- An epoch of the directory as approver rules read it (crates/store/src/approvals/directory.rs): members
-- (added, their status or organization role changed, removed), their places in departments, the department
-- tree and the custom roles. Like `directory` (migration 0044) it is not only polled: an approval command
-- reads it in the same statement as the instance it loads anyway, and uses the directory this node kept
-- only when it was read at that epoch, so a change committed on any node is seen by the next command.
INSERT INTO cache_epochs (name, epoch) VALUES ('approvers', 0);

CREATE TRIGGER members_approvers_epoch AFTER INSERT OR UPDATE OF status, role OR DELETE ON members
    FOR EACH STATEMENT EXECUTE FUNCTION cache_epochs_bump('approvers');
CREATE TRIGGER member_departments_approvers_epoch AFTER INSERT OR UPDATE OR DELETE ON member_departments
    FOR EACH STATEMENT EXECUTE FUNCTION cache_epochs_bump('approvers');
CREATE TRIGGER departments_approvers_epoch AFTER INSERT OR UPDATE OF parent_id OR DELETE ON departments
    FOR EACH STATEMENT EXECUTE FUNCTION cache_epochs_bump('approvers');
CREATE TRIGGER org_roles_approvers_epoch AFTER INSERT OR UPDATE OR DELETE ON org_roles
    FOR EACH STATEMENT EXECUTE FUNCTION cache_epochs_bump('approvers');
