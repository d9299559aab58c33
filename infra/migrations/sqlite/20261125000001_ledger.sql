-- The ledger: sqlite-es's event table plus a global, gap-free, monotonic position.
CREATE TABLE events
(
  aggregate_type text                          NOT NULL,
  aggregate_id   text                          NOT NULL,
  sequence       integer CHECK (sequence >= 0) NOT NULL,
  event_type     text                          NOT NULL,
  event_version  text                          NOT NULL,
  payload        text                          NOT NULL,
  metadata       text                          NOT NULL,
  position       integer,
  PRIMARY KEY (aggregate_type, aggregate_id, sequence)
) STRICT;

-- SQLite serialises writers, so max+1 inside the inserting transaction is commit-ordered.
CREATE TRIGGER events_position AFTER INSERT ON events
BEGIN
  UPDATE events SET position = (SELECT COALESCE(MAX(position), 0) + 1 FROM events)
  WHERE rowid = NEW.rowid;
END;

CREATE UNIQUE INDEX events_by_position ON events (position);

-- The ledger is append-only.
CREATE TRIGGER events_no_update BEFORE UPDATE OF aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata ON events
BEGIN
  SELECT RAISE(ABORT, 'the ledger is append-only');
END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN
  SELECT RAISE(ABORT, 'the ledger is append-only');
END;

-- Wrapped per-database data keys. Deleting a row crypto-shreds that database's secrets.
CREATE TABLE data_keys
(
  database_id text PRIMARY KEY,
  nonce       text NOT NULL,
  wrapped     text NOT NULL
) STRICT;

-- Read models (projections). Rebuilt from the ledger by `backline replay`.
CREATE TABLE rm_checkpoints (name text PRIMARY KEY, position integer NOT NULL) STRICT;
CREATE TABLE rm_databases
(
  id       text PRIMARY KEY,
  name     text NOT NULL,
  status   text NOT NULL,
  body     text NOT NULL
) STRICT;
CREATE TABLE rm_backups
(
  id               text PRIMARY KEY,
  database_id      text NOT NULL,
  status           text NOT NULL,
  started_position integer NOT NULL,
  body             text NOT NULL
) STRICT;
CREATE INDEX rm_backups_by_db ON rm_backups (database_id, started_position);
CREATE TABLE rm_restores
(
  id                 text PRIMARY KEY,
  source_database_id text NOT NULL,
  target_database_id text NOT NULL,
  started_position   integer NOT NULL,
  body               text NOT NULL
) STRICT;
CREATE TABLE rm_timeline
(
  position       integer PRIMARY KEY,
  event_type     text NOT NULL,
  aggregate_type text NOT NULL,
  aggregate_id   text NOT NULL,
  database_id    text,
  at             text NOT NULL,
  body           text NOT NULL
) STRICT;
CREATE INDEX rm_timeline_by_db ON rm_timeline (database_id, position);
