-- A running backup belongs to the node that runs it while its lease is fresh.
CREATE TABLE leases
(
    backup_id  text PRIMARY KEY,
    node       text   NOT NULL,
    expires_at bigint NOT NULL
);
