-- SQLite twin of postgres/0026_ledger_codes.sql: codes of books and dimension values, and the company's
-- tax registration number (#20). `code` is NOT NULL in practice (every insert gives one; SQLite cannot add
-- the constraint to an existing column).
ALTER TABLE ledger_books ADD COLUMN code TEXT;
ALTER TABLE ledger_books ADD COLUMN tax_registration_number TEXT;
UPDATE ledger_books SET code = printf('%03d', (
    SELECT COUNT(*) FROM ledger_books b
    WHERE b.organization_id = ledger_books.organization_id
      AND (b.created_at < ledger_books.created_at OR (b.created_at = ledger_books.created_at AND b.id <= ledger_books.id))
));
CREATE UNIQUE INDEX ledger_books_code_key ON ledger_books (organization_id, code);

ALTER TABLE ledger_dimension_values ADD COLUMN external_code TEXT;
UPDATE ledger_dimension_values SET external_code = (
    CASE dimension WHEN 'customer' THEN 'C' WHEN 'supplier' THEN 'S' WHEN 'department' THEN 'D'
                   WHEN 'employee' THEN 'E' WHEN 'project' THEN 'P' ELSE 'I' END
) || printf('%04d', (
    SELECT COUNT(*) FROM ledger_dimension_values v
    WHERE v.organization_id = ledger_dimension_values.organization_id AND v.book_id = ledger_dimension_values.book_id
      AND v.dimension = ledger_dimension_values.dimension AND v.code <= ledger_dimension_values.code
));
CREATE UNIQUE INDEX ledger_dimension_values_external_code_key
    ON ledger_dimension_values (organization_id, book_id, dimension, external_code);
