-- SQLite twin of postgres/0037_voucher_pushes.sql.
-- Voucher pushes (issue #18): what Tenon remembers of pushing one voucher over one connection
-- (`kingdee_voucher`, `yonyou_voucher`), so a replay, a re-trigger or a second run for the same voucher
-- never posts it twice. The row is claimed in the step's journaling transaction before anything is sent
-- (`state` 'pushing', the claiming run, step and attempt); the answer's transaction makes it 'pushed'
-- with the step's output (the vendor's number); an unclear U8 answer makes it 'unknown' until a person
-- resolves the claiming step (`done` → 'pushed', `retry` → the row is dropped and claimed again).
CREATE TABLE flow_voucher_pushes (
    organization_id BLOB NOT NULL,
    connection      TEXT NOT NULL,
    voucher_id      BLOB NOT NULL,
    vendor          TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pushing', 'pushed', 'unknown')),
    run_id          BLOB NOT NULL,
    step            TEXT NOT NULL,
    attempt         INTEGER NOT NULL,
    number          TEXT,
    output          TEXT,
    claimed_at      TEXT NOT NULL,
    pushed_at       TEXT,
    PRIMARY KEY (organization_id, connection, voucher_id),
    FOREIGN KEY (organization_id) REFERENCES organizations (id) ON DELETE CASCADE
) STRICT;
CREATE INDEX flow_voucher_pushes_claimant ON flow_voucher_pushes (organization_id, run_id, step);
