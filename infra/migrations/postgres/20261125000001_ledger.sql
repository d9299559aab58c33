-- The ledger: postgres-es's event table plus a global position. Appends are serialised by an
-- advisory lock taken in the insert trigger and held to commit, so positions become visible in
-- commit order and a reader polling `position > n` never skips a late commit.
CREATE TABLE events
(
    aggregate_type text                         NOT NULL,
    aggregate_id   text                         NOT NULL,
    sequence       bigint CHECK (sequence >= 0) NOT NULL,
    event_type     text                         NOT NULL,
    event_version  text                         NOT NULL,
    payload        json                         NOT NULL,
    metadata       json                         NOT NULL,
    position       bigint,
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
);

CREATE SEQUENCE events_position_seq;

CREATE FUNCTION backline_events_position() RETURNS trigger AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7308413151);
    NEW.position := nextval('events_position_seq');
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER events_position BEFORE INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION backline_events_position();

CREATE FUNCTION backline_events_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION backline_events_append_only();

CREATE UNIQUE INDEX events_by_position ON events (position);

CREATE TABLE data_keys
(
    database_id text PRIMARY KEY,
    nonce       text NOT NULL,
    wrapped     text NOT NULL
);

CREATE TABLE rm_checkpoints (name text PRIMARY KEY, position bigint NOT NULL);
CREATE TABLE rm_databases
(
    id     text PRIMARY KEY,
    name   text NOT NULL,
    status text NOT NULL,
    body   text NOT NULL
);
CREATE TABLE rm_backups
(
    id               text PRIMARY KEY,
    database_id      text   NOT NULL,
    status           text   NOT NULL,
    started_position bigint NOT NULL,
    body             text   NOT NULL
);
CREATE INDEX rm_backups_by_db ON rm_backups (database_id, started_position);
CREATE TABLE rm_restores
(
    id                 text PRIMARY KEY,
    source_database_id text   NOT NULL,
    target_database_id text   NOT NULL,
    started_position   bigint NOT NULL,
    body               text   NOT NULL
);
CREATE TABLE rm_timeline
(
    position       bigint PRIMARY KEY,
    event_type     text NOT NULL,
    aggregate_type text NOT NULL,
    aggregate_id   text NOT NULL,
    database_id    text,
    at             text NOT NULL,
    body           text NOT NULL
);
CREATE INDEX rm_timeline_by_db ON rm_timeline (database_id, position);
