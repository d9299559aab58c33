-- Read models of alerts and alert channels (rebuilt from the ledger by `backline replay`),
-- and the alert reactor's checkpoint: the last ledger position it has turned into alerts.
CREATE TABLE rm_alerts
(
  id              text PRIMARY KEY,
  database_id     text    NOT NULL,
  kind            text    NOT NULL,
  state           text    NOT NULL,
  raised_position integer NOT NULL,
  body            text    NOT NULL
) STRICT;
CREATE INDEX rm_alerts_by_db_kind ON rm_alerts (database_id, kind, state);
CREATE INDEX rm_alerts_by_state ON rm_alerts (state, raised_position);
CREATE TABLE rm_channels
(
  id     text PRIMARY KEY,
  name   text NOT NULL,
  status text NOT NULL,
  body   text NOT NULL
) STRICT;
CREATE TABLE reactor_checkpoints (name text PRIMARY KEY, position integer NOT NULL) STRICT;
