//! Server globals: a server's roles and tablespaces (PostgreSQL) or users and grants
//! (MariaDB/MySQL) backed up as versions of their own, by hand or on the server's globals
//! schedule, through the same pipeline as databases (zstd, sha256, every destination).
//! Applying a version: `globals_apply`.

use super::{server_error, Servers};
use crate::backups::Started;
use crate::core::Core;
use crate::error::{from_aggregate, AppError};
use backline_domain::{
    CatchUp, GlobalsRun, GlobalsSettings, Schedule, ServerCommand, Stage, StoredArtifact, Trigger,
};
use backline_infra::drivers::globals::{self, GlobalsSource};
use backline_infra::drivers::StageError;
use backline_infra::pipeline;
use backline_infra::storage::{artifact_key, ArtifactStore};
use backline_projections::{GlobalsVersionView, ServerView};
use std::collections::HashSet;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Instant;

/// Servers whose globals backup runs in this process: one at a time per server.
static RUNNING: LazyLock<Mutex<HashSet<String>>> = LazyLock::new(Default::default);

/// `globals` as a request gives it.
#[derive(Debug, Clone, Default)]
pub struct GlobalsInput {
    pub enabled: bool,
    pub keep_passwords: bool,
    pub schedule: Option<String>,
    pub timezone: Option<String>,
}

/// Frees the server's slot in [`RUNNING`] when the run ends, however it ends.
struct RunningGuard(String);

impl Drop for RunningGuard {
    fn drop(&mut self) {
        if let Ok(mut r) = RUNNING.lock() {
            r.remove(&self.0);
        }
    }
}

impl Servers {
    /// Sets how the server's globals are backed up. Kept passwords need an encryption key.
    pub async fn set_globals(
        &self,
        actor: &str,
        id: &str,
        input: &GlobalsInput,
    ) -> Result<ServerView, AppError> {
        self.view(id).await?;
        let schedule = match &input.schedule {
            Some(cron) => Some(
                Schedule::parse(cron, input.timezone.as_deref(), CatchUp::Latest)
                    .map_err(|e| AppError::invalid("schedule", e.to_string()))?,
            ),
            None if input.timezone.is_some() => {
                return Err(AppError::invalid("timezone", "a timezone needs a schedule"))
            }
            None => None,
        };
        let settings = GlobalsSettings {
            enabled: input.enabled,
            keep_passwords: input.keep_passwords,
            schedule,
        };
        let core = &self.core;
        core.aggregates
            .servers
            .execute_with_metadata(
                id,
                ServerCommand::SetGlobals {
                    settings,
                    encryption_configured: core.age.is_some(),
                },
                core.meta(actor, id),
            )
            .await
            .map_err(|e| from_aggregate(e, server_error))?;
        core.refresh().await;
        self.view(id).await
    }

    /// The server's globals versions, newest first.
    pub async fn globals_versions(&self, id: &str) -> Result<Vec<GlobalsVersionView>, AppError> {
        self.view(id).await?;
        Ok(self.core.projections.server_globals(id).await?)
    }

    /// Starts a globals backup of the server; the returned handle ends with it.
    #[tracing::instrument(skip(self, trigger), fields(server = id))]
    pub async fn back_up_globals(
        &self,
        actor: &str,
        id: &str,
        trigger: Trigger,
        globals_id: String,
    ) -> Result<Started, AppError> {
        let state = self.state(id).await?;
        let Some(settings) = state.globals.settings.clone().filter(|s| s.enabled) else {
            return Err(AppError::Unprocessable(format!(
                "globals backups are not enabled on this server: PUT /api/v1/servers/{id}/globals {{\"enabled\": true}} first"
            )));
        };
        if settings.keep_passwords && self.core.age.is_none() {
            return Err(AppError::Unprocessable(
                "this server keeps passwords in its globals, which must be encrypted, but this process has no encryption key: set BACKLINE_ENCRYPT".into(),
            ));
        }
        if !RUNNING
            .lock()
            .map(|mut r| r.insert(id.to_string()))
            .unwrap_or(false)
        {
            return Err(AppError::Conflict(
                "a globals backup of this server is already running".into(),
            ));
        }
        let guard = RunningGuard(id.to_string());
        let name = state
            .name
            .as_ref()
            .map(|n| n.to_string())
            .unwrap_or_default();
        let conn = self.connection(id).await?;
        let core = self.core.clone();
        let (server_id, gid) = (id.to_string(), globals_id.clone());
        let actor = actor.to_string();
        // Reached (and the dump started) before the version is recorded, so that the event
        // says which tool and server versions it holds.
        let reached = crate::tunnels::reach(&core, &conn).await;
        let dump = match &reached {
            Ok(c) => globals::dump(c, &core.tools, settings.keep_passwords).await,
            Err(e) => Err(e.clone()),
        };
        let run = GlobalsRun {
            globals_id: gid.clone(),
            trigger,
            method: dump.as_ref().map(|d| d.method.clone()).unwrap_or_default(),
            tool_version: dump
                .as_ref()
                .map(|d| d.tool_version.clone())
                .unwrap_or_default(),
            server_version: dump
                .as_ref()
                .map(|d| d.server_version.clone())
                .unwrap_or_default(),
            keep_passwords: settings.keep_passwords,
        };
        core.aggregates
            .servers
            .execute_with_metadata(
                &server_id,
                ServerCommand::StartGlobalsBackup(run),
                core.meta(&actor, &gid),
            )
            .await
            .map_err(|e| from_aggregate(e, server_error))?;
        core.refresh().await;
        let done = tokio::spawn(async move {
            let _guard = guard;
            let started = Instant::now();
            let result = match dump {
                Ok(d) => upload(&core, &name, &server_id, &gid, d.source).await,
                Err(e) => Err(e),
            };
            drop(reached);
            let command = match result {
                Ok(artifact) => ServerCommand::CompleteGlobalsBackup {
                    globals_id: gid.clone(),
                    artifact,
                    duration_ms: started.elapsed().as_millis() as u64,
                },
                Err(e) => {
                    tracing::warn!(globals_id = gid, error = %e, "globals backup failed");
                    ServerCommand::FailGlobalsBackup {
                        globals_id: gid.clone(),
                        failure: e.into_failure(),
                    }
                }
            };
            if let Err(e) = core
                .aggregates
                .servers
                .execute_with_metadata(&server_id, command, core.meta(&actor, &gid))
                .await
            {
                tracing::error!(globals_id = gid, error = %e, "could not record how a globals backup ended");
            }
            core.refresh().await;
        });
        Ok(Started {
            id: globals_id,
            done,
        })
    }
}

/// Streams the globals to every configured storage: compressed, always encrypted when an
/// encryption key exists (and kept passwords are only allowed then).
async fn upload(
    core: &Core,
    server_name: &str,
    server_id: &str,
    globals_id: &str,
    source: GlobalsSource,
) -> Result<StoredArtifact, StageError> {
    let encryptor = core.age.as_ref().map(|k| k.encryptor());
    let encrypted = encryptor.is_some();
    let ext = if encrypted {
        "globals.sql.zst.age"
    } else {
        "globals.sql.zst"
    };
    let key = artifact_key(
        &format!("servers/{server_name}"),
        server_id,
        globals_id,
        chrono::Utc::now(),
        ext,
    );
    let stores: Vec<&ArtifactStore> = core.storages.iter().map(|(_, s)| s).collect();
    let targets = pipeline::Targets {
        stores: stores.clone(),
        encryptor,
    };
    let level = core.settings.zstd_level;
    let counter = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let uploaded = match source {
        GlobalsSource::Tool(mut tool) => {
            let stdout = tool
                .stdout
                .take()
                .ok_or_else(|| StageError::new(Stage::Dump, "the dump tool has no stdout"))?;
            pipeline::upload(stdout, targets, &key, level, counter, async move {
                tool.finish(Stage::Dump).await.map(|_| ())
            })
            .await
        }
        GlobalsSource::Text(text) => {
            let source = std::io::Cursor::new(text);
            pipeline::upload(source, targets, &key, level, counter, async { Ok(()) }).await
        }
    }
    .map_err(|e| match e {
        pipeline::PipelineError::Tool(t) => t,
        other => StageError::new(Stage::Upload, other.to_string()),
    })?;
    let copies: Vec<backline_domain::ArtifactCopy> = core
        .storages
        .iter()
        .zip(&uploaded.copies)
        .map(|((name, store), outcome)| backline_domain::ArtifactCopy {
            name: name.clone(),
            storage: store.label().to_string(),
            key: key.clone(),
            sha256: uploaded.sha256.clone(),
            ok: outcome.error.is_none(),
            error: outcome.error.clone(),
        })
        .collect();
    let Some(first) = copies.iter().find(|c| c.ok).cloned() else {
        return Err(StageError::new(Stage::Upload, "no copy could be completed"));
    };
    Ok(StoredArtifact {
        storage: first.storage,
        key,
        bytes: uploaded.bytes,
        raw_bytes: uploaded.raw_bytes,
        sha256: uploaded.sha256,
        compression: "zstd".into(),
        encrypted,
        copies,
        warnings: Vec::new(),
        database_properties: None,
        parts: Vec::new(),
    })
}

/// Claims and starts the globals backups due now (one slot runs once across processes: the
/// claim goes through the Server aggregate).
pub(crate) async fn tick_globals(core: &Arc<Core>) -> Result<(), AppError> {
    let now = chrono::Utc::now();
    let servers = Servers::new(core.clone());
    for view in core.projections.servers().await? {
        let scheduled = view
            .globals
            .as_ref()
            .is_some_and(|g| g.enabled && g.schedule.is_some());
        if !scheduled {
            continue;
        }
        let state = servers.state(&view.id).await?;
        let Some(schedule) = state.globals.settings.and_then(|s| s.schedule) else {
            continue;
        };
        let after = state
            .globals
            .last_slot
            .map(|(t, _)| t)
            .unwrap_or(now - crate::scheduling::GRACE);
        let Some(slot) = schedule
            .due_slots(after, now, crate::scheduling::GRACE)
            .last()
            .copied()
        else {
            continue;
        };
        let globals_id = uuid::Uuid::now_v7().to_string();
        let claimed = core
            .aggregates
            .servers
            .execute_with_metadata(
                &view.id,
                ServerCommand::ClaimGlobalsSlot {
                    slot,
                    globals_id: globals_id.clone(),
                },
                core.meta("system:scheduler", &globals_id),
            )
            .await;
        if claimed.is_err() {
            continue; // another process claimed it (or the setting changed): it runs there
        }
        let trigger = Trigger::Scheduled {
            slot: slot.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        };
        if let Err(e) = servers
            .back_up_globals("system:scheduler", &view.id, trigger, globals_id)
            .await
        {
            tracing::warn!(server = view.id, %slot, error = %e, "scheduled globals backup did not start");
        }
    }
    Ok(())
}
