-- Servers: database servers whose databases are listed, registered in bulk and discovered.
CREATE TABLE rm_servers
(
    id     text PRIMARY KEY,
    name   text NOT NULL,
    status text NOT NULL,
    body   text NOT NULL
) STRICT;
