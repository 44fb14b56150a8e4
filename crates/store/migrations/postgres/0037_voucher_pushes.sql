-- Voucher pushes (issue #18): what Tenon remembers of pushing one voucher over one connection
-- (`kingdee_voucher`, `yonyou_voucher`), so a replay, a re-trigger or a second run for the same voucher
-- never posts it twice. The row is claimed in the step's journaling transaction before anything is sent
-- (`state` 'pushing', the claiming run, step and attempt); the answer's transaction makes it 'pushed'
-- with the step's output (the vendor's number); an unclear U8 answer makes it 'unknown' until a person
-- resolves the claiming step (`done` → 'pushed', `retry` → the row is dropped and claimed again).
CREATE TABLE flow_voucher_pushes (
    organization_id UUID NOT NULL,
    connection      TEXT NOT NULL,
    voucher_id      UUID NOT NULL,
    vendor          TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pushing', 'pushed', 'unknown')),
    run_id          UUID NOT NULL,
    step            TEXT NOT NULL,
    attempt         INTEGER NOT NULL,
    number          TEXT,
    output          JSONB,
    claimed_at      TIMESTAMPTZ NOT NULL,
    pushed_at       TIMESTAMPTZ,
    PRIMARY KEY (organization_id, connection, voucher_id),
    FOREIGN KEY (organization_id) REFERENCES organizations (id) ON DELETE CASCADE
);
CREATE INDEX flow_voucher_pushes_claimant ON flow_voucher_pushes (organization_id, run_id, step);
