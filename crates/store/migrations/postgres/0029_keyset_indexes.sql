-- Plain field indexes serve keyset pages (#16): PostgreSQL's indexes keep NULLs last unless told, and pages
-- sort empty values first when ascending, last when descending, so a sorted page could not use the index
-- `(column, id)` and sorted the whole table. New indexes are `(column NULLS FIRST, id)` (text columns keep
-- theirs: pages sort text COLLATE "C"). The old ones live in user tables that only Rust can name, so this
-- queues the rebuild and `Store::migrate` (`store::keyset_indexes`) does it once.

INSERT INTO pending_data_migrations (name) VALUES ('keyset_indexes');
