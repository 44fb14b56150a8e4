-- Files visitors upload on a public form (issue #23): each is bound to the form, the field and the
-- submission it was uploaded for (the SHA-256 of the page's one-time submission key), usable only there
-- and only once (`record_id` set when a submission takes it), and only until `expires_at`.
CREATE TABLE form_uploads (
    organization_id UUID NOT NULL,
    attachment_id   UUID NOT NULL,
    view_id         UUID NOT NULL,
    field_id        UUID NOT NULL,
    submission      TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL,
    record_id       UUID,
    PRIMARY KEY (organization_id, attachment_id),
    FOREIGN KEY (organization_id, attachment_id) REFERENCES attachments (organization_id, id) ON DELETE CASCADE,
    FOREIGN KEY (organization_id, view_id) REFERENCES views (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX form_uploads_submission ON form_uploads (organization_id, view_id, submission);
