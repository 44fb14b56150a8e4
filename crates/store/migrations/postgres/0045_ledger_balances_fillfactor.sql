-- The kept balances (`ledger_balances`, `ledger_value_balances`) are updated in place by every posting
-- batch (`INSERT … ON CONFLICT … DO UPDATE SET debit = debit + …`): the same few thousand rows of a book
-- get hundreds of thousands of new versions. With pages filled to 100 % by the inserts, most of those
-- updates found no room on the row's own page, so they were not HOT: each wrote its version to another
-- page and a new entry into the primary key. Until a VACUUM, the statements' index scans then read one
-- page per row version they passed (`bench-ledger`, 1,000,000 lines, autovacuum off: 5,136 heap pages for
-- 8,236 rows of ledger_balances, 33 % of the updates HOT). Pages kept half empty let most updates
-- stay on their page (HOT, no index entry) and let later reads prune the dead versions there (74–95 % HOT
-- and a third to four fifths of the pages in three runs). Only new pages follow the setting; SQLite has
-- no such setting and keeps its schema.
ALTER TABLE ledger_balances SET (fillfactor = 50);
ALTER TABLE ledger_value_balances SET (fillfactor = 50);
