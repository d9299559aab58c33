use super::*;

impl App {
    /// Records `BackupStarted` and runs the backup in the background.
    pub async fn start_backup(
        self: &Arc<Self>,
        actor: &str,
        reference: &str,
        trigger: Trigger,
    ) -> Result<Started, AppError> {
        self.start_backup_as(actor, reference, trigger, uuid::Uuid::now_v7().to_string())
            .await
    }

    /// The same with a backup id chosen by the caller (the scheduler claims a slot with it).
    pub async fn start_backup_as(
        self: &Arc<Self>,
        actor: &str,
        reference: &str,
        trigger: Trigger,
        id: String,
    ) -> Result<Started, AppError> {
        let view = self.resolve_database(reference).await?;
        if let Some(running) = self.running_backup(&view).await? {
            return Err(AppError::Conflict(format!(
                "a backup of {} is already running: {running}",
                view.name
            )));
        }
        let (db, conn) = self.database_state(&view.id).await?;
        let facts = Self::facts(&view.id, &db)?;
        // The read model answered for what it has seen; the claim decides for concurrent
        // requests, in this process or another on the same ledger.
        self.claim_run(&view, &id).await?;
        match self
            .start_claimed(actor, trigger, id.clone(), facts, conn)
            .await
        {
            Ok(started) => Ok(started),
            Err(e) => {
                self.release(Kind::Backup, &view.id, &id).await;
                Err(e)
            }
        }
    }

    /// Claims "the running backup of `view`" for backup `id`, or answers 409 naming the
    /// running one. A claim whose backup has ended (or never started, a minute on) is stale.
    async fn claim_run(&self, view: &DatabaseView, id: &str) -> Result<(), AppError> {
        self.claim(Kind::Backup, &view.id, id, |other| {
            AppError::Conflict(format!(
                "a backup of {} is already running: {other}",
                view.name
            ))
        })
        .await
    }

    async fn start_claimed(
        self: &Arc<Self>,
        actor: &str,
        trigger: Trigger,
        id: String,
        facts: DatabaseFacts,
        conn: Option<ConnectionString>,
    ) -> Result<Started, AppError> {
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
        let lease = self.hold_lease(&backup_id);
        // Cancelled by the stall watchdog (see alerts.rs) when the dump writes nothing.
        let cancel = app.cancel_token(&backup_id);
        let done = tokio::spawn(async move {
            let started = Instant::now();
            let result = match (probe, conn) {
                (Ok(p), Some(c)) => {
                    // At most BACKLINE_MAX_CONCURRENT_BACKUPS dumps at once in this process.
                    let _permit = app.permits.clone().acquire_owned().await;
                    tokio::select! {
                        r = app.run_backup(&backup_id, &facts, &c, &p) => r,
                        _ = cancel.cancelled() => {
                            Err(StageError::new("stalled", app.stall_message(&backup_id)))
                        }
                    }
                }
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
            lease.abort();
            if let Err(e) = app.leases.release(&backup_id).await {
                tracing::warn!(backup_id, error = %e, "could not release the backup's lease");
            }
            app.release(Kind::Backup, &facts.id, &backup_id).await;
            app.untrack(&backup_id);
            app.refresh().await;
            app.apply_retention_quietly(&facts.id).await;
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
        let encryption = self.encryption_for(db.name.as_str());
        let encrypted = encryption.is_some();
        let ext = if encrypted {
            format!("{}.zst.age", db.engine.artifact_ext())
        } else {
            format!("{}.zst", db.engine.artifact_ext())
        };
        let key = artifact_key(db.name.as_str(), &db.id, backup_id, now, &ext);
        let (encryptor, recipients) = match encryption {
            Some((e, r)) => (Some(e), r),
            None => (None, Vec::new()),
        };
        let mut tool = drivers::spawn_dump(conn, probe).await?;
        let warnings = std::mem::take(&mut tool.warnings);
        let database_properties = tool.properties.take();
        for w in &warnings {
            tracing::warn!(backup_id, warning = %w, "the backup will not keep everything exactly");
        }
        tracing::info!(backup_id, pid = tool.pid(), tool = %probe.dump_tool.display(), "dump started");
        let stdout = tool
            .stdout
            .take()
            .ok_or_else(|| StageError::new("dump", "dump tool has no stdout"))?;
        let stdout = tokio::io::AsyncReadExt::chain(
            std::io::Cursor::new(std::mem::take(&mut tool.prelude)),
            stdout,
        );
        let chosen = match self.ledger.load::<Database>(&db.id).await {
            Ok(Some(d)) => self.destinations_of(&d),
            _ => self.destinations_of(&Database::default()),
        };
        // A chosen storage that is not configured here is a failed copy, not a silent skip.
        let (named, missing): (Vec<_>, Vec<_>) = chosen.into_iter().partition(|(_, s)| s.is_some());
        let named: Vec<(String, &ArtifactStore)> = named
            .into_iter()
            .filter_map(|(n, s)| s.map(|s| (n, s)))
            .collect();
        if named.is_empty() {
            return Err(StageError::new(
                "upload",
                "none of this database's destinations is configured in this process",
            ));
        }
        let destinations: Vec<&ArtifactStore> = named.iter().map(|(_, s)| *s).collect();
        let labels: Vec<&str> = destinations.iter().map(|s| s.label()).collect();
        let uploaded = pipeline::upload(
            stdout,
            pipeline::Targets {
                stores: destinations.clone(),
                encryptor,
            },
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
            other => StageError::new("upload", format!("{other} (storage {})", labels.join(", "))),
        })?;
        let manifest = serde_json::json!({
            "format": "backline-manifest/1",
            "backup_id": backup_id,
            "database_id": db.id,
            "database_name": db.name,
            "engine": db.engine,
            // Where it came from, without the password: `backline import` registers from this.
            "connection": conn.redacted(),
            "tool": probe.dump_tool.file_name().map(|f| f.to_string_lossy().into_owned()),
            "tool_version": probe.dump_tool_version,
            "server_version": probe.server_version,
            "key": key,
            "bytes": uploaded.bytes,
            "raw_bytes": uploaded.raw_bytes,
            "sha256": uploaded.sha256,
            "compression": "zstd",
            "encrypted": encrypted,
            "encryption": if encrypted { serde_json::json!({"scheme": "age", "recipients": recipients}) } else { serde_json::Value::Null },
            "created_at": now.to_rfc3339(),
            "warnings": warnings,
            "database_properties": database_properties,
        });
        let manifest_bytes = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
        // Every committed copy gets its manifest beside it; a copy whose manifest cannot be
        // written is removed and counts as failed.
        let mut copies = Vec::with_capacity(named.len() + missing.len());
        for ((name, store), outcome) in named.iter().zip(&uploaded.copies) {
            let mut error = outcome.error.clone();
            if error.is_none() {
                if let Err(e) = store.put(&manifest_key(&key), manifest_bytes.clone()).await {
                    let _ = store.operator().delete(&key).await;
                    error = Some(format!("writing the manifest failed: {e}"));
                }
            }
            if let Some(e) = &error {
                tracing::warn!(backup_id, storage = store.label(), error = %e, "a copy of the backup failed");
            }
            copies.push(ArtifactCopy {
                name: name.clone(),
                storage: store.label().to_string(),
                key: key.clone(),
                sha256: uploaded.sha256.clone(),
                ok: error.is_none(),
                error,
            });
        }
        for (name, _) in missing {
            copies.push(ArtifactCopy {
                name: name.clone(),
                storage: format!("(storage {name})"),
                key: key.clone(),
                sha256: uploaded.sha256.clone(),
                ok: false,
                error: Some(format!(
                    "storage {name:?} is not configured in this process"
                )),
            });
        }
        let Some(first) = copies.iter().find(|c| c.ok).cloned() else {
            let reasons: Vec<String> = copies
                .iter()
                .map(|c| format!("{}: {}", c.storage, c.error.as_deref().unwrap_or("?")))
                .collect();
            return Err(StageError::new(
                "manifest",
                format!("no copy could be completed: {}", reasons.join("; ")),
            ));
        };
        Ok(StoredArtifact {
            storage: first.storage,
            key,
            bytes: uploaded.bytes,
            raw_bytes: uploaded.raw_bytes,
            sha256: uploaded.sha256,
            compression: "zstd".into(),
            encrypted,
            // The default storage alone keeps the event as it always was.
            copies: if copies.len() == 1 && copies[0].name == "default" {
                Vec::new()
            } else {
                copies
            },
            warnings,
            database_properties,
        })
    }
}
