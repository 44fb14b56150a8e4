-- Opening balances (期初余额) and period end (#20).
-- A book's opening balances: per leaf account and dimension values, as of `ledger_books.opening_period`
-- (the first period the book keeps). `dimension_key` is '' for an account without dimensions, else
-- "customer=C001|project=P1" (the values in dimension order), so one entry per account and values.
ALTER TABLE ledger_books ADD COLUMN opening_period BIGINT;

CREATE TABLE ledger_openings (
    organization_id UUID NOT NULL,
    book_id         UUID NOT NULL,
    account_code    TEXT NOT NULL,
    dimension_key   TEXT NOT NULL,
    customer        TEXT,
    supplier        TEXT,
    department      TEXT,
    employee        TEXT,
    project         TEXT,
    item            TEXT,
    debit           NUMERIC(28, 2) NOT NULL,
    credit          NUMERIC(28, 2) NOT NULL,
    currency        TEXT,
    original_amount NUMERIC(28, 2),
    quantity        NUMERIC(28, 6),
    PRIMARY KEY (organization_id, book_id, account_code, dimension_key),
    FOREIGN KEY (organization_id, book_id) REFERENCES ledger_books (organization_id, id) ON DELETE CASCADE,
    FOREIGN KEY (organization_id, book_id, account_code) REFERENCES ledger_accounts (organization_id, book_id, code)
);
