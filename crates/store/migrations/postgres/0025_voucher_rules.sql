-- Voucher rules (issue #18): `voucher_rules:` of a `tenon.app/v1` file, published with the import. A rule
-- books the records of one table of the app into one book (made from the rule's template when absent);
-- `compiled` is the checked form (formulas stored by field id) the `ledger_sync` step runs. The vouchers a
-- rule made are found through `ledger_record_links` (source_key `rule:<key>/<record id>`).
CREATE TABLE voucher_rules (
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id              UUID NOT NULL,
    key             TEXT NOT NULL,
    app_id          UUID NOT NULL,
    table_id        UUID NOT NULL,
    book_id         UUID NOT NULL,
    definition      JSONB NOT NULL,
    compiled        JSONB NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (organization_id, id),
    CONSTRAINT voucher_rules_key_key UNIQUE (organization_id, key)
);
CREATE INDEX voucher_rules_app ON voucher_rules (organization_id, app_id);

-- An app's `params:` (`{params.vat_rate}` in voucher rules' and flow steps' formulas), as last imported;
-- published flows and rules keep the values they were published with.
CREATE TABLE app_params (
    organization_id UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    app_id          UUID NOT NULL,
    params          JSONB NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (organization_id, app_id)
);
