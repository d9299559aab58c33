-- Server globals: one row per globals version (roles/tablespaces, users/grants) of a server.
CREATE TABLE rm_server_globals
(
    id        text PRIMARY KEY,
    server_id text NOT NULL,
    body      text NOT NULL
) STRICT;
CREATE INDEX rm_server_globals_server ON rm_server_globals (server_id, id);
