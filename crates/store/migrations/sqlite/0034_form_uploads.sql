-- SQLite twin of postgres/0034_form_uploads.sql.
-- Files visitors upload on a public form (issue #23): each is bound to the form, the field and the
-- submission it was uploaded for (the SHA-256 of the page's one-time submission key), usable only there
-- and only once (`record_id` set when a submission takes it), and only until `expires_at`.
CREATE TABLE form_uploads (
    organization_id BLOB NOT NULL,
    attachment_id   BLOB NOT NULL,
    view_id         BLOB NOT NULL,
    field_id        BLOB NOT NULL,
    submission      TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    expires_at      TEXT NOT NULL,
    record_id       BLOB,
    PRIMARY KEY (organization_id, attachment_id),
    FOREIGN KEY (organization_id, attachment_id) REFERENCES attachments (organization_id, id) ON DELETE CASCADE,
    FOREIGN KEY (organization_id, view_id) REFERENCES views (organization_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX form_uploads_submission ON form_uploads (organization_id, view_id, submission);
