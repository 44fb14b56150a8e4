-- Public forms' daily caps (issue #23): how many submissions each form took on each day (the
-- organization's calendar day, 'YYYY-MM-DD'). A submission takes a slot only while the count is below the
-- form's `daily_limit`; one over the cap writes nothing.
CREATE TABLE form_submissions (
    organization_id UUID NOT NULL,
    view_id         UUID NOT NULL,
    day             TEXT NOT NULL,
    count           BIGINT NOT NULL,
    PRIMARY KEY (organization_id, view_id, day),
    FOREIGN KEY (organization_id, view_id) REFERENCES views (organization_id, id) ON DELETE CASCADE
);
