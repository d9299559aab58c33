use super::*;

/// Schedule and retention settings given at registration or in a PATCH.
#[derive(Debug, Clone, Default)]
pub struct ScheduleInput {
    /// `Some(None)` removes the schedule.
    pub schedule: Option<Option<String>>,
    pub timezone: Option<String>,
    pub catch_up: Option<String>,
    pub retention: Option<Retention>,
}

impl ScheduleInput {
    /// The schedule to set (`Some(None)`: remove), validated, given the current one.
    fn resolve(&self, current: Option<&Schedule>) -> Result<Option<Option<Schedule>>, AppError> {
        let invalid = |field: &'static str, message: String| AppError::Invalid { field, message };
        let cron = match &self.schedule {
            Some(None) => return Ok(Some(None)),
            Some(Some(c)) => Some(c.clone()),
            None if self.timezone.is_some() || self.catch_up.is_some() => match current {
                Some(c) => Some(c.cron.clone()),
                None => {
                    return Err(invalid(
                        "schedule",
                        "timezone and catch_up need a schedule (a cron expression)".into(),
                    ))
                }
            },
            None => None,
        };
        let Some(cron) = cron else { return Ok(None) };
        let catch_up = match &self.catch_up {
            Some(c) => CatchUp::parse(c).ok_or_else(|| {
                invalid(
                    "catch_up",
                    format!("catch_up must be latest, none or all, not {c:?}"),
                )
            })?,
            None => current.map(|c| c.catch_up).unwrap_or_default(),
        };
        let tz = self
            .timezone
            .clone()
            .or_else(|| current.map(|c| c.timezone.clone()));
        let schedule = Schedule::parse(&cron, tz.as_deref(), catch_up)
            .map_err(|e| invalid(e.field(), e.to_string()))?;
        Ok(Some(Some(schedule)))
    }
}

impl App {
    pub async fn register(
        &self,
        actor: &str,
        name: &str,
        engine: &str,
        connection: &str,
        settings: &ScheduleInput,
    ) -> Result<DatabaseView, AppError> {
        let name = DatabaseName::parse(name).map_err(|e| AppError::Invalid {
            field: "name",
            message: e.to_string(),
        })?;
        let engine = Engine::parse(engine).ok_or_else(|| AppError::Invalid {
            field: "engine",
            message: format!("unknown engine {engine:?}: use \"postgres\" or \"mysql\""),
        })?;
        let conn = ConnectionString::parse(engine, connection).map_err(|e| AppError::Invalid {
            field: "connection",
            message: e.to_string(),
        })?;
        let schedule = settings.resolve(None)?.flatten();
        let retention = settings.retention.clone().unwrap_or_default();
        if self
            .projections
            .database_by_name(name.as_str())
            .await?
            .is_some()
        {
            return Err(AppError::Conflict(format!(
                "a database named {name} is already registered"
            )));
        }
        let id = uuid::Uuid::now_v7().to_string();
        // The read model answered for what it has seen; the claim decides for concurrent
        // registrations, in this process or another on the same ledger.
        self.claim_name(&name, &id).await?;
        let registered = async {
            let sealed = match conn.password() {
                Some(p) => Some(self.keyring.seal(&id, p).await?),
                None => None,
            };
            self.databases
                .execute_with_metadata(
                    &id,
                    DatabaseCommand::Register {
                        name: name.clone(),
                        engine,
                        connection: conn.to_stored(sealed),
                        schedule,
                        retention,
                    },
                    self.meta(actor, &id),
                )
                .await
                .map_err(|e| from_aggregate(e, database_error))
        }
        .await;
        if let Err(e) = registered {
            self.release(Kind::Name, name.as_str(), &id).await;
            return Err(e);
        }
        self.refresh().await;
        self.projections
            .database(&id)
            .await?
            .ok_or_else(|| AppError::Internal("registered database is not visible".into()))
    }

    pub async fn update(
        &self,
        actor: &str,
        reference: &str,
        name: Option<&str>,
        connection: Option<&str>,
        settings: &ScheduleInput,
    ) -> Result<DatabaseView, AppError> {
        let current = self.resolve_database(reference).await?;
        let engine = Engine::parse(&current.engine)
            .ok_or_else(|| AppError::Internal("stored engine is unknown".into()))?;
        let state = self
            .ledger
            .load::<Database>(&current.id)
            .await
            .map_err(AppError::internal)?
            .unwrap_or_default();
        let schedule = settings.resolve(state.schedule.as_ref())?;
        let name = name
            .map(|n| {
                DatabaseName::parse(n).map_err(|e| AppError::Invalid {
                    field: "name",
                    message: e.to_string(),
                })
            })
            .transpose()?;
        let conn = connection
            .map(|c| {
                ConnectionString::parse(engine, c).map_err(|e| AppError::Invalid {
                    field: "connection",
                    message: e.to_string(),
                })
            })
            .transpose()?;
        if let Some(n) = &name {
            if let Some(other) = self.projections.database_by_name(n.as_str()).await? {
                if other.id != current.id {
                    return Err(AppError::Conflict(format!(
                        "a database named {n} is already registered"
                    )));
                }
            }
        }
        let stored = match conn {
            Some(c) => {
                let sealed = match c.password() {
                    Some(p) => Some(self.keyring.seal(&current.id, p).await?),
                    None => None,
                };
                Some(c.to_stored(sealed))
            }
            None => None,
        };
        let renamed = name.clone().filter(|n| n.as_str() != current.name);
        if let Some(n) = &renamed {
            self.claim_name(n, &current.id).await?;
        }
        let updated = self
            .databases
            .execute_with_metadata(
                &current.id,
                DatabaseCommand::Update {
                    name,
                    connection: stored,
                    schedule,
                    retention: settings.retention.clone(),
                },
                self.meta(actor, &current.id),
            )
            .await
            .map_err(|e| from_aggregate(e, database_error));
        match (&renamed, updated) {
            (Some(n), Err(e)) => {
                self.release(Kind::Name, n.as_str(), &current.id).await;
                return Err(e);
            }
            (_, Err(e)) => return Err(e),
            (Some(_), Ok(())) => self.release(Kind::Name, &current.name, &current.id).await,
            (None, Ok(())) => {}
        }
        self.refresh().await;
        self.projections
            .database(&current.id)
            .await?
            .ok_or_else(|| AppError::Internal("database vanished".into()))
    }

    /// Stops (`pause`) or restarts scheduled backups.
    pub async fn set_paused(
        &self,
        actor: &str,
        reference: &str,
        paused: bool,
    ) -> Result<DatabaseView, AppError> {
        let current = self.resolve_database(reference).await?;
        let command = if paused {
            DatabaseCommand::Pause
        } else {
            DatabaseCommand::Resume
        };
        self.databases
            .execute_with_metadata(&current.id, command, self.meta(actor, &current.id))
            .await
            .map_err(|e| from_aggregate(e, database_error))?;
        self.refresh().await;
        self.projections
            .database(&current.id)
            .await?
            .ok_or_else(|| AppError::Internal("database vanished".into()))
    }

    /// Pins (never pruned) or unpins a version.
    pub async fn set_pinned(
        &self,
        actor: &str,
        backup_id: &str,
        pinned: bool,
    ) -> Result<(), AppError> {
        let command = if pinned {
            BackupCommand::Pin {
                actor: actor.into(),
            }
        } else {
            BackupCommand::Unpin {
                actor: actor.into(),
            }
        };
        if self.projections.backup(backup_id).await?.is_none() {
            return Err(AppError::NotFound(format!("no backup with id {backup_id}")));
        }
        self.backups
            .execute_with_metadata(backup_id, command, self.meta(actor, backup_id))
            .await
            .map_err(|e| from_aggregate(e, backup_error))?;
        self.refresh().await;
        Ok(())
    }

    pub async fn remove(&self, actor: &str, reference: &str) -> Result<(), AppError> {
        let current = self.resolve_database(reference).await?;
        self.databases
            .execute_with_metadata(
                &current.id,
                DatabaseCommand::Remove,
                self.meta(actor, &current.id),
            )
            .await
            .map_err(|e| from_aggregate(e, database_error))?;
        self.release(Kind::Name, &current.name, &current.id).await;
        self.keyring.destroy(&current.id).await?;
        self.refresh().await;
        Ok(())
    }

    /// Claims `name` for database `id`, or answers 409 when another database has it.
    pub(super) async fn claim_name(&self, name: &DatabaseName, id: &str) -> Result<(), AppError> {
        self.claim(Kind::Name, name.as_str(), id, |_| {
            AppError::Conflict(format!("a database named {name} is already registered"))
        })
        .await
    }

    /// Claims `key` of `kind` for `id` (see `backline_infra::claims`). When another holder has
    /// it and still does (`holds`), `busy` names the conflict; a stale claim is taken over.
    pub(super) async fn claim(
        &self,
        kind: Kind,
        key: &str,
        id: &str,
        busy: impl Fn(&str) -> AppError,
    ) -> Result<(), AppError> {
        for _ in 0..3 {
            let Some(holder) = self
                .claims
                .claim(kind, key, id)
                .await
                .map_err(AppError::internal)?
            else {
                return Ok(());
            };
            if self.holds(kind, key, &holder).await? {
                return Err(busy(&holder.id));
            }
            if self
                .claims
                .take_over(kind, key, &holder.id, id)
                .await
                .map_err(AppError::internal)?
            {
                return Ok(());
            }
        }
        Err(busy("another holder"))
    }

    /// Whether `holder` still has its claim, from the ledger. A claim whose event never reached
    /// the ledger (its process died) is stale a minute on; younger, it may be on its way.
    async fn holds(&self, kind: Kind, key: &str, holder: &Holder) -> Result<bool, AppError> {
        let in_flight = holder.younger_than(IN_FLIGHT_SECS);
        Ok(match kind {
            Kind::Name => {
                let db = self
                    .ledger
                    .load::<Database>(&holder.id)
                    .await
                    .map_err(AppError::internal)?;
                in_flight
                    || db.is_some_and(|d| {
                        !d.removed && d.name.as_ref().map(DatabaseName::as_str) == Some(key)
                    })
            }
            Kind::Backup => {
                let b = self
                    .ledger
                    .load::<Backup>(&holder.id)
                    .await
                    .map_err(AppError::internal)?
                    .unwrap_or_default();
                match b.status {
                    BackupStatus::Running => true,
                    BackupStatus::New => in_flight,
                    _ => false,
                }
            }
            Kind::Restore => {
                let r = self
                    .ledger
                    .load::<Restore>(&holder.id)
                    .await
                    .map_err(AppError::internal)?
                    .unwrap_or_default();
                match r.status {
                    // Running while its node renews the lease (see `reap_abandoned`).
                    RestoreStatus::Running => match self
                        .leases
                        .get(&holder.id)
                        .await
                        .map_err(AppError::internal)?
                    {
                        Some((_, expired)) => !expired,
                        None => in_flight,
                    },
                    RestoreStatus::New => in_flight,
                    _ => false,
                }
            }
        })
    }

    /// Gives up a claim; a failure is harmless (a stale claim is taken over later).
    pub(super) async fn release(&self, kind: Kind, key: &str, holder: &str) {
        if let Err(e) = self.claims.release(kind, key, holder).await {
            tracing::warn!(?kind, key, holder, error = %e, "could not release a claim");
        }
    }

    /// The database aggregate and its connection with the password opened.
    pub(super) async fn database_state(
        &self,
        id: &str,
    ) -> Result<(Database, Option<ConnectionString>), AppError> {
        let db = self
            .ledger
            .load::<Database>(id)
            .await
            .map_err(AppError::internal)?
            .ok_or_else(|| AppError::NotFound(format!("no database with id {id}")))?;
        if db.removed {
            return Ok((db, None));
        }
        let (Some(engine), Some(stored)) = (db.engine, db.connection.clone()) else {
            return Err(AppError::Internal("database has no connection".into()));
        };
        let password = match &stored.password {
            Some(sealed) => Some(self.keyring.open(id, sealed).await?),
            None => None,
        };
        Ok((
            db,
            Some(ConnectionString::from_stored(engine, &stored, password)),
        ))
    }

    pub async fn test_registered(&self, reference: &str) -> Result<ConnectionTest, AppError> {
        let view = self.resolve_database(reference).await?;
        let (_, conn) = self.database_state(&view.id).await?;
        let conn = conn.ok_or_else(|| AppError::Conflict("this database was removed".into()))?;
        Ok(self.test_connection(&conn).await)
    }

    pub async fn test_connection(&self, conn: &ConnectionString) -> ConnectionTest {
        match drivers::probe(conn, &self.tools).await {
            Ok(p) => ConnectionTest {
                ok: true,
                message: format!(
                    "connected; will dump with {} and restore with {}",
                    p.dump_tool_version, p.restore_tool_version
                ),
                server_version: Some(p.server_version),
            },
            Err(e) => {
                // A reachable server whose tools are missing still reports its version.
                let version = drivers::server_version(conn).await.ok();
                ConnectionTest {
                    ok: false,
                    server_version: version,
                    message: e.message,
                }
            }
        }
    }

    pub(super) fn facts(id: &str, db: &Database) -> Result<DatabaseFacts, AppError> {
        match (&db.name, db.engine) {
            (Some(name), Some(engine)) => Ok(DatabaseFacts {
                id: id.to_string(),
                name: name.clone(),
                engine,
                removed: db.removed,
            }),
            _ => Err(AppError::NotFound(format!("no database with id {id}"))),
        }
    }
}
