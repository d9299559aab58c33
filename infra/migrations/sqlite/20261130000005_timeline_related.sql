-- The timeline of a database shows the restores of its versions into other databases too.
ALTER TABLE rm_timeline ADD COLUMN related_database_id text;
CREATE INDEX rm_timeline_by_related ON rm_timeline (related_database_id, position);
-- Read models gained fields (restore sources, restores of a database's versions): rebuild them
-- from the ledger at the next catch-up, with exactly the code that maintains them live.
DELETE FROM rm_timeline;
DELETE FROM rm_databases;
DELETE FROM rm_backups;
DELETE FROM rm_restores;
DELETE FROM rm_alerts;
DELETE FROM rm_channels;
UPDATE rm_checkpoints SET position = 0;
