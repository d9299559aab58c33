-- Every list is a keyset page read from one index range, newest first, whatever its depth.
CREATE INDEX rm_backups_by_position ON rm_backups (started_position);
CREATE INDEX rm_backups_by_status ON rm_backups (status, started_position);
CREATE INDEX rm_restores_by_position ON rm_restores (started_position);
CREATE INDEX rm_restores_by_source ON rm_restores (source_database_id, started_position);
CREATE INDEX rm_restores_by_target ON rm_restores (target_database_id, started_position);
CREATE INDEX rm_alerts_by_position ON rm_alerts (raised_position);
CREATE INDEX rm_alerts_by_db ON rm_alerts (database_id, raised_position);
CREATE INDEX rm_timeline_by_type ON rm_timeline (event_type, position);
