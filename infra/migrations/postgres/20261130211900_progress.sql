-- How far running work (a backup, a restore) got, written about once a second by the process
-- running it and removed when it ends: any process sharing the ledger can show it. Not a read
-- model of the ledger (progress is not recorded as events: it would grow the ledger).
CREATE TABLE progress
(
    work_id          text   PRIMARY KEY,
    phase            text   NOT NULL,
    done_bytes       bigint NOT NULL,
    expected_bytes   bigint,
    phase_started_at bigint NOT NULL,
    updated_at       bigint NOT NULL
);
