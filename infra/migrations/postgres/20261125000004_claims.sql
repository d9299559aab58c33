-- Things only one holder may have at a time, enforced by the ledger's own database across
-- processes: a database's name (kind 'name', key = the name, holder = the database id) and a
-- database's running backup (kind 'backup', key = the database id, holder = the backup id).
-- A claim is taken before the event it guards is appended.
CREATE TABLE claims
(
    kind       text   NOT NULL,
    key        text   NOT NULL,
    holder     text   NOT NULL,
    claimed_at bigint NOT NULL,
    PRIMARY KEY (kind, key)
);
INSERT INTO claims (kind, key, holder, claimed_at)
SELECT 'name', name, id, 0 FROM rm_databases WHERE status = 'active'
ON CONFLICT (kind, key) DO NOTHING;
