-- SQLite twin of postgres/0025_voucher_rules.sql.
-- Voucher rules (issue #18): `voucher_rules:` of a `tenon.app/v1` file, published with the import. A rule
-- books the records of one table of the app into one book (made from the rule's template when absent);
-- `compiled` is the checked form (formulas stored by field id) the `ledger_sync` step runs. The vouchers a
-- rule made are found through `ledger_record_links` (source_key `rule:<key>/<record id>`).
CREATE TABLE voucher_rules (
    organization_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id              BLOB NOT NULL,
    key             TEXT NOT NULL,
    app_id          BLOB NOT NULL,
    table_id        BLOB NOT NULL,
    book_id         BLOB NOT NULL,
    definition      TEXT NOT NULL,
    compiled        TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (organization_id, id),
    CONSTRAINT voucher_rules_key_key UNIQUE (organization_id, key)
) STRICT;
CREATE INDEX voucher_rules_app ON voucher_rules (organization_id, app_id);

-- An app's `params:` (`{params.vat_rate}` in voucher rules' and flow steps' formulas), as last imported;
-- published flows and rules keep the values they were published with.
CREATE TABLE app_params (
    organization_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    app_id          BLOB NOT NULL,
    params          TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (organization_id, app_id)
) STRICT;
