-- SQLite twin of postgres/0043_form_upload_purge.sql.
-- The purge of public form uploads never submitted (issue #23) finds them by expiry, and before removing a
-- file's bytes asks whether any organization's attachment still names its SHA-256.
CREATE INDEX form_uploads_untaken_expiry ON form_uploads (expires_at) WHERE record_id IS NULL;
CREATE INDEX attachments_sha256 ON attachments (sha256);
