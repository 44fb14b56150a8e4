-- A book's own statement line definitions (#20): versions of the lines of its balance sheet or income
-- statement, each the TSV the shipped templates use (code, name, level, formula per line), checked against
-- the book's chart when stored. Version 0 is the shipped definition of the book's standard and has no row;
-- a statement uses the highest version unless asked for another. Versions are never changed or removed.
CREATE TABLE ledger_statement_definitions (
    organization_id UUID NOT NULL,
    book_id         UUID NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('balance-sheet', 'income-statement')),
    version         BIGINT NOT NULL CHECK (version >= 1),
    definition      TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    created_by      TEXT NOT NULL,
    PRIMARY KEY (organization_id, book_id, kind, version),
    FOREIGN KEY (organization_id, book_id) REFERENCES ledger_books (organization_id, id) ON DELETE CASCADE
);
