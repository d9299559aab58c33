use super::*;

impl App {
    /// Records `RestoreStarted` and runs the restore in the background.
    pub async fn start_restore(
        self: &Arc<Self>,
        actor: &str,
        backup_id: &str,
        target: Option<&str>,
        keep_previous: bool,
        no_owner: bool,
    ) -> Result<Started, AppError> {
        let backup = self
            .ledger
            .load::<Backup>(backup_id)
            .await
            .map_err(AppError::internal)?
            .ok_or_else(|| AppError::NotFound(format!("no backup with id {backup_id}")))?;
        let target_id = match target {
            Some(t) => {
                self.resolve_database(t)
                    .await
                    .map_err(|_| AppError::Invalid {
                        field: "target_database_id",
                        message: format!("no registered database with id or name {t:?}"),
                    })?
                    .id
            }
            None => backup
                .database_id
                .clone()
                .ok_or_else(|| AppError::Internal("backup has no database".into()))?,
        };
        let (target_db, conn) = self.database_state(&target_id).await?;
        let target_facts = Self::facts(&target_id, &target_db)?;
        let backup_facts = BackupFacts {
            id: backup_id.to_string(),
            status: backup.status,
            engine: backup.engine,
            database_id: backup.database_id.clone(),
        };
        let plausible = backup.status == BackupStatus::Completed
            && backup.engine == Some(target_facts.engine)
            && !target_facts.removed;
        let probe = match (&conn, plausible) {
            (Some(c), true) => Some(drivers::probe(c, &self.tools).await),
            _ => None,
        };
        let tools = match &probe {
            Some(Ok(p)) => ToolInfo {
                tool: p
                    .restore_tool
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned()),
                tool_version: Some(p.restore_tool_version.clone()),
                server_version: Some(p.server_version.clone()),
            },
            _ => ToolInfo::default(),
        };
        let id = uuid::Uuid::now_v7().to_string();
        self.restores
            .execute_with_metadata(
                &id,
                RestoreCommand::Start {
                    backup: backup_facts,
                    target: target_facts,
                    actor: actor.to_string(),
                    tools,
                    node: self.node.clone(),
                },
                self.meta(actor, &id),
            )
            .await
            .map_err(|e| from_aggregate(e, restore_error))?;
        self.refresh().await;
        let app = self.clone();
        let actor = actor.to_string();
        let restore_id = id.clone();
        let artifact = backup.artifact.clone();
        let done = tokio::spawn(async move {
            let started = Instant::now();
            let result = match (probe, conn, artifact) {
                (Some(Ok(_)), Some(_), Some(a)) if a.encrypted && app.age_identity().is_none() => {
                    Err(StageError::new(
                        "decrypt",
                        format!(
                            "backup is age-encrypted but this server has no age identity at {}: set BACKLINE_AGE_IDENTITY_FILE to the key it was encrypted with",
                            app.settings.age_identity_file().display()
                        ),
                    ))
                }
                (Some(Ok(p)), Some(c), Some(a)) => {
                    let progress = app.track(&restore_id);
                    let feed = ArtifactFeed {
                        store: app.store.clone(),
                        key: a.key.clone(),
                        sha256: a.sha256.clone(),
                        progress,
                        identity: if a.encrypted {
                            app.age_identity()
                        } else {
                            None
                        },
                    };
                    let opts = RestoreOptions {
                        keep_previous,
                        no_owner,
                        tag: restore_id.replace('-', "")[20..].to_string(),
                    };
                    drivers::restore(&c, &p, &opts, &feed).await
                }
                (Some(Err(e)), _, _) => Err(e),
                _ => Err(StageError::new("prepare", "backup or target is not usable")),
            };
            let duration_ms = started.elapsed().as_millis() as u64;
            let command = match result {
                Ok(outcome) => RestoreCommand::Complete {
                    duration_ms,
                    previous_kept_as: outcome.previous_kept_as,
                },
                Err(e) => {
                    tracing::warn!(restore_id, stage = e.stage, message = %e.message, "restore failed");
                    RestoreCommand::Fail {
                        failure: e.into_failure(),
                        duration_ms,
                    }
                }
            };
            if let Err(e) = app
                .restores
                .execute_with_metadata(&restore_id, command, app.meta(&actor, &restore_id))
                .await
            {
                tracing::error!(restore_id, error = %e, "could not record the end of a restore");
            }
            app.untrack(&restore_id);
            app.refresh().await;
        });
        Ok(Started { id, done })
    }
}
