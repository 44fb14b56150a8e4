-- Codes other systems know a book and its dimension values by, and the company's tax registration (#20).
-- Kingdee's `FAccountBookID.FNumber` and every `FDetailID` `FNumber` (U8's `cust_id`…) look master data
-- up by code, never by name. A book's `code` is settable (default: the next free three-digit number of
-- the organization, 001, 002, …); a dimension value's `external_code` is settable (default: the next free
-- code of its dimension, C0001 for customers, S0001 suppliers, D0001 departments, E0001 employees, P0001
-- projects, I0001 items, given when the value is first used). `ledger_dimension_values.code` stays what
-- voucher lines name. `tax_registration_number` is the 统一社会信用代码 SAF-T exports write.
ALTER TABLE ledger_books ADD COLUMN code TEXT;
ALTER TABLE ledger_books ADD COLUMN tax_registration_number TEXT;
UPDATE ledger_books SET code = lpad((
    SELECT COUNT(*) FROM ledger_books b
    WHERE b.organization_id = ledger_books.organization_id
      AND (b.created_at < ledger_books.created_at OR (b.created_at = ledger_books.created_at AND b.id <= ledger_books.id))
)::text, 3, '0');
ALTER TABLE ledger_books ALTER COLUMN code SET NOT NULL;
CREATE UNIQUE INDEX ledger_books_code_key ON ledger_books (organization_id, code);

ALTER TABLE ledger_dimension_values ADD COLUMN external_code TEXT;
UPDATE ledger_dimension_values SET external_code = (
    CASE dimension WHEN 'customer' THEN 'C' WHEN 'supplier' THEN 'S' WHEN 'department' THEN 'D'
                   WHEN 'employee' THEN 'E' WHEN 'project' THEN 'P' ELSE 'I' END
) || lpad((
    SELECT COUNT(*) FROM ledger_dimension_values v
    WHERE v.organization_id = ledger_dimension_values.organization_id AND v.book_id = ledger_dimension_values.book_id
      AND v.dimension = ledger_dimension_values.dimension AND v.code <= ledger_dimension_values.code
)::text, 4, '0');
CREATE UNIQUE INDEX ledger_dimension_values_external_code_key
    ON ledger_dimension_values (organization_id, book_id, dimension, external_code);
