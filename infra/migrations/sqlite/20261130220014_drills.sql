-- Restore drills: one row per drill (the database it rehearses, where it started in the ledger).
CREATE TABLE rm_drills
(
    id               text PRIMARY KEY,
    database_id      text NOT NULL,
    started_position integer NOT NULL,
    body             text NOT NULL
) STRICT;
CREATE INDEX rm_drills_database ON rm_drills (database_id, started_position);
