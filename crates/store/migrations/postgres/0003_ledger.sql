-- The double-entry ledger: books, chart of accounts, dimension values, vouchers and lines, posted balances,
-- gap-free numbering counters and links from business records to the vouchers they produced.
-- Money is NUMERIC(28, scale): amounts 2, exchange rates 8, quantities and unit prices 6 (see tenon-ledger's
-- money module). Periods are integers YYYYMM; dates are 'YYYY-MM-DD' text on both backends.

CREATE TABLE ledger_books (
    organization_id         UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id                      UUID NOT NULL,
    name                    TEXT NOT NULL,
    base_currency           TEXT NOT NULL,
    standard                TEXT NOT NULL CHECK (standard IN ('cas', 'cas-small')),
    fiscal_year_start_month BIGINT NOT NULL CHECK (fiscal_year_start_month BETWEEN 1 AND 12),
    segregation_of_duties   BOOLEAN NOT NULL DEFAULT FALSE,
    -- Every period up to and including this one (YYYYMM) is closed; NULL: none.
    closed_through          BIGINT,
    created_at              TIMESTAMPTZ NOT NULL,
    updated_at              TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (organization_id, id),
    CONSTRAINT ledger_books_name_key UNIQUE (organization_id, name)
);

CREATE TABLE ledger_accounts (
    organization_id   UUID NOT NULL,
    book_id           UUID NOT NULL,
    code              TEXT NOT NULL,
    name              TEXT NOT NULL,
    kind              TEXT NOT NULL,
    direction         TEXT NOT NULL CHECK (direction IN ('debit', 'credit')),
    role              TEXT,
    dimensions        TEXT NOT NULL,
    quantity_unit     TEXT,
    grouping_category TEXT NOT NULL,
    grouping_code     TEXT NOT NULL,
    PRIMARY KEY (organization_id, book_id, code),
    FOREIGN KEY (organization_id, book_id) REFERENCES ledger_books (organization_id, id) ON DELETE CASCADE,
    CONSTRAINT ledger_accounts_role_key UNIQUE (organization_id, book_id, role)
);

CREATE TABLE ledger_dimension_values (
    organization_id UUID NOT NULL,
    book_id         UUID NOT NULL,
    dimension       TEXT NOT NULL,
    code            TEXT NOT NULL,
    name            TEXT NOT NULL,
    PRIMARY KEY (organization_id, book_id, dimension, code),
    FOREIGN KEY (organization_id, book_id) REFERENCES ledger_books (organization_id, id) ON DELETE CASCADE
);

-- The last number given per (period, word); taking the next one locks the row until commit, so concurrent
-- writers get consecutive numbers and a rolled-back transaction gives its number back.
CREATE TABLE ledger_numbers (
    organization_id UUID NOT NULL,
    book_id         UUID NOT NULL,
    period          BIGINT NOT NULL,
    word            TEXT NOT NULL,
    last_number     BIGINT NOT NULL,
    PRIMARY KEY (organization_id, book_id, period, word),
    FOREIGN KEY (organization_id, book_id) REFERENCES ledger_books (organization_id, id) ON DELETE CASCADE
);

CREATE TABLE ledger_vouchers (
    organization_id UUID NOT NULL,
    id              UUID NOT NULL,
    book_id         UUID NOT NULL,
    period          BIGINT NOT NULL,
    word            TEXT NOT NULL,
    number          BIGINT NOT NULL,
    date            TEXT NOT NULL,
    attachments     BIGINT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('draft', 'reviewed', 'posted')),
    preparer        TEXT NOT NULL,
    reviewer        TEXT,
    poster          TEXT,
    reverses_id     UUID,
    reversed_by_id  UUID,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (organization_id, id),
    CONSTRAINT ledger_vouchers_number_key UNIQUE (organization_id, book_id, period, word, number),
    FOREIGN KEY (organization_id, book_id) REFERENCES ledger_books (organization_id, id) ON DELETE CASCADE
);
-- ledger_vouchers_number_key also serves listings by (book, period, word, number).

CREATE TABLE ledger_lines (
    organization_id UUID NOT NULL,
    voucher_id      UUID NOT NULL,
    line_no         BIGINT NOT NULL,
    book_id         UUID NOT NULL,
    -- The voucher's period, repeated so that reports range over an account's lines without a join.
    period          BIGINT NOT NULL,
    account_code    TEXT NOT NULL,
    summary         TEXT NOT NULL,
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
    exchange_rate   NUMERIC(28, 8),
    quantity        NUMERIC(28, 6),
    unit_price      NUMERIC(28, 6),
    PRIMARY KEY (organization_id, voucher_id, line_no),
    FOREIGN KEY (organization_id, voucher_id) REFERENCES ledger_vouchers (organization_id, id) ON DELETE CASCADE,
    FOREIGN KEY (organization_id, book_id, account_code) REFERENCES ledger_accounts (organization_id, book_id, code)
);
CREATE INDEX ledger_lines_account ON ledger_lines (organization_id, book_id, account_code, period);

-- Posted sums per (leaf account, period), updated in the posting transaction; always equal to the sums of
-- the posted lines (a test rebuilds them from ledger_lines and compares).
CREATE TABLE ledger_balances (
    organization_id UUID NOT NULL,
    book_id         UUID NOT NULL,
    account_code    TEXT NOT NULL,
    period          BIGINT NOT NULL,
    debit           NUMERIC(28, 2) NOT NULL,
    credit          NUMERIC(28, 2) NOT NULL,
    PRIMARY KEY (organization_id, book_id, account_code, period),
    FOREIGN KEY (organization_id, book_id, account_code) REFERENCES ledger_accounts (organization_id, book_id, code)
);

-- One row per business record that produced a voucher: the same record never produces two.
CREATE TABLE ledger_record_links (
    organization_id UUID NOT NULL,
    book_id         UUID NOT NULL,
    source_key      TEXT NOT NULL,
    rule            TEXT NOT NULL,
    version         BIGINT NOT NULL,
    fields          JSONB NOT NULL,
    voucher_id      UUID NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (organization_id, book_id, source_key),
    FOREIGN KEY (organization_id, voucher_id) REFERENCES ledger_vouchers (organization_id, id)
);
