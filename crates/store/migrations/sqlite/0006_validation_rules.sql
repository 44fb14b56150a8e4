-- SQLite twin of postgres/0006_validation_rules.sql.
-- Validation rules of a table: conditions (formulas, stored with field ids) every record must satisfy,
-- each with the message shown when a write breaks it: [{"formula": "...", "message": "..."}].
ALTER TABLE app_tables ADD COLUMN validation_rules TEXT NOT NULL DEFAULT '[]';
