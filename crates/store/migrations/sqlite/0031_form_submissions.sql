-- SQLite twin of postgres/0031_form_submissions.sql.
-- Public forms' daily caps (issue #23): how many submissions each form took on each day (the
-- organization's calendar day, 'YYYY-MM-DD'). A submission takes a slot only while the count is below the
-- form's `daily_limit`; one over the cap writes nothing.
CREATE TABLE form_submissions (
    organization_id BLOB NOT NULL,
    view_id         BLOB NOT NULL,
    day             TEXT NOT NULL,
    count           INTEGER NOT NULL,
    PRIMARY KEY (organization_id, view_id, day),
    FOREIGN KEY (organization_id, view_id) REFERENCES views (organization_id, id) ON DELETE CASCADE
) STRICT;
