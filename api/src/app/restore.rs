use super::*;

/// The short unique tag of a restore's scratch database name.
pub(super) fn restore_tag(restore_id: &str) -> String {
    let compact = restore_id.replace('-', "");
    compact[compact.len().saturating_sub(12)..].to_string()
}

impl App {
    /// Records `RestoreStarted` and runs the restore in the background, from the first healthy
    /// copy of the backup.
    pub async fn start_restore(
        self: &Arc<Self>,
        actor: &str,
        backup_id: &str,
        target: Option<&str>,
        keep_previous: bool,
        no_owner: bool,
    ) -> Result<Started, AppError> {
        self.start_restore_from(actor, backup_id, target, keep_previous, no_owner, None)
            .await
    }

    /// The same, from the copy on the storage named `storage` when given.
    pub async fn start_restore_from(
        self: &Arc<Self>,
        actor: &str,
        backup_id: &str,
        target: Option<&str>,
        keep_previous: bool,
        no_owner: bool,
        storage: Option<&str>,
    ) -> Result<Started, AppError> {
        let backup = self
            .ledger
            .load::<Backup>(backup_id)
            .await
            .map_err(AppError::internal)?
            .ok_or_else(|| AppError::NotFound(format!("no backup with id {backup_id}")))?;
        if let (Some(name), Some(a)) = (storage, &backup.artifact) {
            let copies = a.healthy_copies();
            if !copies.iter().any(|c| c.name == name) {
                let names: Vec<&str> = copies.iter().map(|c| c.name.as_str()).collect();
                return Err(AppError::Invalid {
                    field: "storage",
                    message: format!(
                        "this backup has no healthy copy on a storage named {name:?}; its copies are on: {}",
                        names.join(", ")
                    ),
                });
            }
        }
        let storage = storage.map(str::to_string);
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
        if let Some(c) = &conn {
            self.refuse_protected_target(c).await?;
        }
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
            (Some(c), true) => Some(drivers::probe_target(c, &self.tools).await),
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
        // One restore into a database at a time: two would swap or drop it under each other.
        if plausible {
            self.claim_restore(&target_id, target_facts.name.as_str(), &id)
                .await?;
            // Running here from now on (see `claim_restore`).
            self.track(&id);
        }
        let recorded = self
            .restores
            .execute_with_metadata(
                &id,
                RestoreCommand::Start {
                    backup: backup_facts,
                    target: target_facts,
                    actor: actor.to_string(),
                    tools,
                    node: self.node.clone(),
                    local_copy_bytes: backup.artifact.as_ref().map(|a| a.bytes),
                },
                self.meta(actor, &id),
            )
            .await
            .map_err(|e| from_aggregate(e, restore_error));
        if let Err(e) = recorded {
            self.untrack(&id);
            self.release(Kind::Restore, &target_id, &id).await;
            return Err(e);
        }
        self.refresh().await;
        let app = self.clone();
        let actor = actor.to_string();
        let restore_id = id.clone();
        let artifact = backup.artifact.clone();
        // Like a backup's: if this process dies, another (or this one restarted) records the
        // restore as failed once the lease expires.
        let lease = self.hold_lease(&restore_id);
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
                (Some(Ok(p)), Some(c), Some(a)) => match app
                    .pick_copy(&a, storage.as_deref())
                    .await
                {
                    Err(e) => Err(e),
                    Ok((store, copy)) => {
                        tracing::info!(restore_id, storage = store.label(), key = copy.key, "restoring from this copy");
                        let progress = app.track(&restore_id);
                        let identity = if a.encrypted { app.age_identity() } else { None };
                        let opts = RestoreOptions {
                            keep_previous,
                            no_owner,
                            tag: restore_tag(&restore_id),
                            properties: a.database_properties.clone(),
                        };
                        app.restore_verified(&restore_id, &store, &copy, a.bytes, identity, progress, &c, &p, &opts)
                            .await
                    }
                },
                (Some(Err(e)), _, _) => Err(e),
                _ => Err(StageError::new("prepare", "backup or target is not usable")),
            };
            let duration_ms = started.elapsed().as_millis() as u64;
            let command = match result {
                Ok(outcome) => {
                    for w in &outcome.warnings {
                        tracing::warn!(restore_id, warning = %w, "the restore could not bring back everything exactly");
                    }
                    RestoreCommand::Complete {
                        duration_ms,
                        previous_kept_as: outcome.previous_kept_as,
                        warnings: outcome.warnings,
                    }
                }
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
            lease.abort();
            let _ = app.leases.release(&restore_id).await;
            app.untrack(&restore_id);
            app.release(Kind::Restore, &target_id, &restore_id).await;
            app.refresh().await;
        });
        Ok(Started { id, done })
    }

    /// First the verified local copy (a mismatch fails here, before any database is created
    /// or dropped), then the restore, whose every pass reads that copy.
    #[allow(clippy::too_many_arguments)]
    async fn restore_verified(
        &self,
        restore_id: &str,
        store: &ArtifactStore,
        copy: &backline_domain::ArtifactCopy,
        bytes: u64,
        identity: Option<backline_infra::encryption::age::x25519::Identity>,
        progress: Arc<AtomicU64>,
        conn: &ConnectionString,
        probe: &Probe,
        options: &RestoreOptions,
    ) -> Result<drivers::RestoreOutcome, StageError> {
        let object = StoredObject {
            store,
            key: &copy.key,
            sha256: &copy.sha256,
            bytes,
        };
        let local =
            LocalArtifact::fetch(object, &self.restore_dir(), restore_id, identity, progress)
                .await
                .map_err(|e| match e {
                    LocalCopyError::Mismatch { .. } => {
                        StageError::new("verify", format!("{e}; nothing was changed"))
                    }
                    LocalCopyError::Download { .. } => StageError::new("download", e.to_string()),
                    LocalCopyError::Local { .. } | LocalCopyError::NoSpace { .. } => {
                        StageError::new("prepare", e.to_string())
                    }
                })?;
        tracing::info!(
            restore_id,
            bytes = local.bytes(),
            "the local copy of the artifact is verified"
        );
        drivers::restore(conn, probe, options, &local).await
    }

    /// Where restores keep their verified local copies.
    pub(super) fn restore_dir(&self) -> std::path::PathBuf {
        self.settings.data_dir.join("restore-tmp")
    }

    /// 422 for a system database or the ledger's own database as a restore target.
    async fn refuse_protected_target(&self, conn: &ConnectionString) -> Result<(), AppError> {
        if conn.engine.is_system_database(&conn.database) {
            return Err(AppError::Unprocessable(format!(
                "{:?} is a system database of its server: system databases ({}) are never restore targets",
                conn.database,
                conn.engine.system_databases()
            )));
        }
        if self.is_ledger_database(conn).await {
            return Err(AppError::Unprocessable(format!(
                "{:?} on {}:{} is Backline's own ledger database (BACKLINE_LEDGER_URL): it is never a restore target",
                conn.database, conn.host, conn.port
            )));
        }
        Ok(())
    }

    /// Whether `conn` names the PostgreSQL database the ledger lives in (same name, port, and
    /// host — by name or by any address the two names resolve to).
    async fn is_ledger_database(&self, conn: &ConnectionString) -> bool {
        let url = self.settings.ledger_url();
        if conn.engine != Engine::Postgres
            || !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
        {
            return false;
        }
        let Ok(ledger) = ConnectionString::parse(Engine::Postgres, &url) else {
            return false;
        };
        if ledger.database != conn.database || ledger.port != conn.port {
            return false;
        }
        if ledger.host.eq_ignore_ascii_case(&conn.host) {
            return true;
        }
        let resolve = |host: String, port: u16| async move {
            tokio::net::lookup_host((host.as_str(), port))
                .await
                .map(|a| a.map(|s| s.ip()).collect::<Vec<_>>())
                .unwrap_or_default()
        };
        let (a, b) = tokio::join!(
            resolve(ledger.host.clone(), ledger.port),
            resolve(conn.host.clone(), conn.port)
        );
        a.iter().any(|ip| b.contains(ip))
    }

    /// Claims "the restore running into `target`" for restore `id`, or answers 409 naming the
    /// running one (see `App::holds` for when a claim is stale).
    async fn claim_restore(
        &self,
        target: &str,
        target_name: &str,
        id: &str,
    ) -> Result<(), AppError> {
        self.claim(Kind::Restore, target, id, |other| {
            AppError::Conflict(format!(
                "a restore into {target_name} is already running: {other}"
            ))
        })
        .await
    }

    /// The copy a restore reads: the one on `storage` if named, else the first healthy copy
    /// whose storage is configured here and still holds the object.
    async fn pick_copy(
        &self,
        artifact: &StoredArtifact,
        storage: Option<&str>,
    ) -> Result<(ArtifactStore, backline_domain::ArtifactCopy), StageError> {
        let mut tried = Vec::new();
        for copy in artifact.healthy_copies() {
            if storage.is_some_and(|s| s != copy.name) {
                continue;
            }
            let Some(store) = self.store_of(&copy) else {
                tried.push(format!(
                    "{} ({}): not configured here",
                    copy.name, copy.storage
                ));
                continue;
            };
            match store.operator().exists(&copy.key).await {
                Ok(true) => return Ok((store.clone(), copy)),
                Ok(false) => tried.push(format!("{}: the object is missing", copy.storage)),
                Err(e) => tried.push(format!("{}: {e}", copy.storage)),
            }
        }
        Err(StageError::new(
            "download",
            format!("no copy of the artifact can be read: {}", tried.join("; ")),
        ))
    }
}
