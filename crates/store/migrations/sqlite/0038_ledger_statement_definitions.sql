-- SQLite twin of postgres/0038_ledger_statement_definitions.sql: a book's own statement line definitions
-- (#20), in versions; version 0 is the shipped definition and has no row.
CREATE TABLE ledger_statement_definitions (
    organization_id BLOB NOT NULL,
    book_id         BLOB NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('balance-sheet', 'income-statement')),
    version         INTEGER NOT NULL CHECK (version >= 1),
    definition      TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    created_by      TEXT NOT NULL,
    PRIMARY KEY (organization_id, book_id, kind, version),
    FOREIGN KEY (organization_id, book_id) REFERENCES ledger_books (organization_id, id) ON DELETE CASCADE
) STRICT;
