-- SQLite twin of postgres/0020_ledger_value_balances.sql (money as INTEGER cents). Posted sums per (leaf
-- account, period, dimension values) (#20): what the statements' `:side@dimension` terms (应收账款 = 1122
-- debit-side by customer…) read instead of aggregating every posted line of every earlier period. Updated in the posting transaction beside `ledger_balances`, from the same vouchers.
-- Only lines that name at least one dimension value have a row here; an absent dimension is '' (a
-- dimension value is never empty), so the primary key covers every combination. The part of an account
-- without a value for a dimension is its `ledger_balances` sum minus the rows that have one. Always equal
-- to the sums of the posted lines (a test rebuilds them from ledger_lines and compares).
CREATE TABLE ledger_value_balances (
    organization_id BLOB NOT NULL,
    book_id         BLOB NOT NULL,
    account_code    TEXT NOT NULL,
    period          INTEGER NOT NULL,
    customer        TEXT NOT NULL,
    supplier        TEXT NOT NULL,
    department      TEXT NOT NULL,
    employee        TEXT NOT NULL,
    project         TEXT NOT NULL,
    item            TEXT NOT NULL,
    debit           INTEGER NOT NULL,
    credit          INTEGER NOT NULL,
    PRIMARY KEY (organization_id, book_id, account_code, period, customer, supplier, department, employee, project, item),
    FOREIGN KEY (organization_id, book_id, account_code) REFERENCES ledger_accounts (organization_id, book_id, code)
) STRICT, WITHOUT ROWID;

-- The posted lines of the books that exist.
INSERT INTO ledger_value_balances (organization_id, book_id, account_code, period, customer, supplier, department,
                                   employee, project, item, debit, credit)
SELECT l.organization_id, l.book_id, l.account_code, l.period, COALESCE(l.customer, ''), COALESCE(l.supplier, ''),
       COALESCE(l.department, ''), COALESCE(l.employee, ''), COALESCE(l.project, ''), COALESCE(l.item, ''),
       SUM(l.debit), SUM(l.credit)
FROM ledger_lines l
JOIN ledger_vouchers v ON v.organization_id = l.organization_id AND v.id = l.voucher_id
WHERE v.state = 'posted'
  AND (COALESCE(l.customer, '') <> '' OR COALESCE(l.supplier, '') <> '' OR COALESCE(l.department, '') <> ''
       OR COALESCE(l.employee, '') <> '' OR COALESCE(l.project, '') <> '' OR COALESCE(l.item, '') <> '')
GROUP BY l.organization_id, l.book_id, l.account_code, l.period, COALESCE(l.customer, ''), COALESCE(l.supplier, ''),
         COALESCE(l.department, ''), COALESCE(l.employee, ''), COALESCE(l.project, ''), COALESCE(l.item, '');
