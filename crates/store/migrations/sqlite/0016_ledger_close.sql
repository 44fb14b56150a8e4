-- SQLite twin of postgres/0016_ledger_close.sql: opening balances (期初余额) and period end (#20).
ALTER TABLE ledger_books ADD COLUMN opening_period INTEGER;

CREATE TABLE ledger_openings (
    organization_id BLOB NOT NULL,
    book_id         BLOB NOT NULL,
    account_code    TEXT NOT NULL,
    dimension_key   TEXT NOT NULL,
    customer        TEXT,
    supplier        TEXT,
    department      TEXT,
    employee        TEXT,
    project         TEXT,
    item            TEXT,
    debit           INTEGER NOT NULL,
    credit          INTEGER NOT NULL,
    currency        TEXT,
    original_amount INTEGER,
    quantity        INTEGER,
    PRIMARY KEY (organization_id, book_id, account_code, dimension_key),
    FOREIGN KEY (organization_id, book_id) REFERENCES ledger_books (organization_id, id) ON DELETE CASCADE,
    FOREIGN KEY (organization_id, book_id, account_code) REFERENCES ledger_accounts (organization_id, book_id, code)
) STRICT, WITHOUT ROWID;
