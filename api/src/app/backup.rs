use super::*;

impl App {
    /// Records `BackupStarted` and runs the backup in the background.
    pub async fn start_backup(
        self: &Arc<Self>,
        actor: &str,
        reference: &str,
        trigger: Trigger,
    ) -> Result<Started, AppError> {
        let view = self.resolve_database(reference).await?;
        let (db, conn) = self.database_state(&view.id).await?;
        let facts = Self::facts(&view.id, &db)?;
        let probe = match &conn {
            Some(c) => drivers::probe(c, &self.tools).await,
            None => Err(StageError::new("connect", "database removed")),
        };
        let tools = match &probe {
            Ok(p) => ToolInfo {
                tool: p
                    .dump_tool
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned()),
                tool_version: Some(p.dump_tool_version.clone()),
                server_version: Some(p.server_version.clone()),
            },
            Err(_) => ToolInfo::default(),
        };
        let id = uuid::Uuid::now_v7().to_string();
        let meta = self.meta(actor, &id);
        self.backups
            .execute_with_metadata(
                &id,
                BackupCommand::Start {
                    database: facts.clone(),
                    trigger,
                    tools,
                    node: self.node.clone(),
                },
                meta,
            )
            .await
            .map_err(|e| from_aggregate(e, backup_error))?;
        self.refresh().await;
        let app = self.clone();
        let actor = actor.to_string();
        let backup_id = id.clone();
        let done = tokio::spawn(async move {
            let started = Instant::now();
            let result = match (probe, conn) {
                (Ok(p), Some(c)) => app.run_backup(&backup_id, &facts, &c, &p).await,
                (Err(e), _) => Err(e),
                (Ok(_), None) => Err(StageError::new("connect", "database removed")),
            };
            let duration_ms = started.elapsed().as_millis() as u64;
            let command = match result {
                Ok(artifact) => BackupCommand::Complete {
                    artifact,
                    duration_ms,
                },
                Err(e) => {
                    tracing::warn!(backup_id, stage = e.stage, message = %e.message, "backup failed");
                    BackupCommand::Fail {
                        failure: e.into_failure(),
                        duration_ms,
                    }
                }
            };
            if let Err(e) = app
                .backups
                .execute_with_metadata(&backup_id, command, app.meta(&actor, &backup_id))
                .await
            {
                tracing::error!(backup_id, error = %e, "could not record the end of a backup");
            }
            app.untrack(&backup_id);
            app.refresh().await;
        });
        Ok(Started { id, done })
    }

    async fn run_backup(
        &self,
        backup_id: &str,
        db: &DatabaseFacts,
        conn: &ConnectionString,
        probe: &Probe,
    ) -> Result<StoredArtifact, StageError> {
        let counter = self.track(backup_id);
        let now = chrono::Utc::now();
        let ext = format!("{}.zst", db.engine.artifact_ext());
        let key = artifact_key(db.name.as_str(), &db.id, backup_id, now, &ext);
        let mut tool = drivers::spawn_dump(conn, probe).await?;
        tracing::info!(backup_id, pid = tool.pid(), tool = %probe.dump_tool.display(), "dump started");
        let stdout = tool
            .stdout
            .take()
            .ok_or_else(|| StageError::new("dump", "dump tool has no stdout"))?;
        let uploaded = pipeline::upload(
            stdout,
            &self.store,
            &key,
            self.settings.zstd_level,
            counter,
            async move { tool.finish("dump").await.map(|_| ()) },
        )
        .await
        .map_err(|e| match e {
            pipeline::PipelineError::Tool(t) => t,
            pipeline::PipelineError::Source(e) => {
                StageError::new("dump", format!("reading the dump failed: {e}"))
            }
            other => StageError::new(
                "upload",
                format!("{other} (storage {})", self.store.label()),
            ),
        })?;
        let manifest = serde_json::json!({
            "format": "backline-manifest/1",
            "backup_id": backup_id,
            "database_id": db.id,
            "database_name": db.name,
            "engine": db.engine,
            "tool": probe.dump_tool.file_name().map(|f| f.to_string_lossy().into_owned()),
            "tool_version": probe.dump_tool_version,
            "server_version": probe.server_version,
            "key": key,
            "bytes": uploaded.bytes,
            "raw_bytes": uploaded.raw_bytes,
            "sha256": uploaded.sha256,
            "compression": "zstd",
            "encrypted": false,
            "created_at": now.to_rfc3339(),
        });
        let manifest_bytes = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
        if let Err(e) = self.store.put(&manifest_key(&key), manifest_bytes).await {
            let _ = self.store.operator().delete(&key).await;
            return Err(StageError::new(
                "manifest",
                format!("writing the manifest failed: {e}"),
            ));
        }
        Ok(StoredArtifact {
            storage: self.store.label().to_string(),
            key,
            bytes: uploaded.bytes,
            raw_bytes: uploaded.raw_bytes,
            sha256: uploaded.sha256,
            compression: "zstd".into(),
            encrypted: false,
        })
    }
}
