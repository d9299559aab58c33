//! The read models served by the API.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BackupSummary {
    pub id: String,
    pub status: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub bytes: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ScheduleView {
    /// Cron expression: 5 fields, or 6 with seconds first.
    pub cron: String,
    /// IANA time zone the expression is evaluated in.
    pub timezone: String,
    /// `latest`, `none` or `all`.
    pub catch_up: String,
    /// The schedule in words.
    pub description: String,
    /// When the schedule was set: slots before it are never due.
    pub since: String,
    /// Next run (UTC), computed when read.
    #[serde(default)]
    pub next_run_at: Option<String>,
    /// Next run in the schedule's time zone, computed when read.
    #[serde(default)]
    pub next_run_at_local: Option<String>,
}

impl ScheduleView {
    /// The stored schedule, parsed again (it was validated when it was set).
    pub fn schedule(&self) -> Option<backline_domain::Schedule> {
        backline_domain::Schedule::parse(
            &self.cron,
            Some(&self.timezone),
            backline_domain::CatchUp::parse(&self.catch_up).unwrap_or_default(),
        )
        .ok()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DatabaseView {
    pub id: String,
    pub name: String,
    /// `postgres` or `mysql`.
    pub engine: String,
    /// Connection string with the password replaced by `***`.
    pub connection: String,
    /// `active` or `removed`.
    pub status: String,
    pub created_at: String,
    pub updated_at: String,
    pub removed_at: Option<String>,
    pub last_backup: Option<BackupSummary>,
    pub last_successful_backup_at: Option<String>,
    pub backups_total: u64,
    pub backups_completed: u64,
    pub backups_failed: u64,
    pub restores_total: u64,
    pub running_backup_id: Option<String>,
    #[serde(default)]
    pub schedule: Option<ScheduleView>,
    #[serde(default)]
    pub paused: bool,
    /// Retention policy (`keep_last`, `keep_daily`, …, `max_age_days`, `min_keep`).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub retention: serde_json::Value,
    #[serde(default)]
    pub last_claimed_slot: Option<String>,
    /// Names of the storages its backups go to; `null` means every configured storage.
    #[serde(default)]
    pub destinations: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FailureView {
    pub stage: String,
    pub message: String,
    pub stderr_tail: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BackupView {
    pub id: String,
    pub database_id: String,
    pub database_name: String,
    pub engine: String,
    /// `running`, `completed`, `failed` or `abandoned`.
    pub status: String,
    /// `manual` or `scheduled`.
    pub trigger: String,
    pub actor: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub duration_ms: Option<u64>,
    /// Bytes stored (compressed).
    pub bytes: Option<u64>,
    /// Bytes the dump tool produced.
    pub raw_bytes: Option<u64>,
    /// SHA-256 of the stored bytes (`sha256sum` of the downloaded object).
    pub sha256: Option<String>,
    pub storage: Option<String>,
    pub storage_key: Option<String>,
    pub compression: Option<String>,
    pub encrypted: bool,
    pub tool: Option<String>,
    pub tool_version: Option<String>,
    pub server_version: Option<String>,
    pub node: String,
    pub error: Option<FailureView>,
    /// The scheduled slot this backup ran for.
    #[serde(default)]
    pub slot: Option<String>,
    /// A pinned version is never pruned.
    #[serde(default)]
    pub pinned: bool,
    #[serde(default)]
    pub pruned_at: Option<String>,
    #[serde(default)]
    pub prune_reason: Option<String>,
    /// For pruned versions: whether the files are gone from storage yet.
    #[serde(default)]
    pub artifact_deleted: bool,
    /// The last error deleting a pruned version's files (retried by the sweep).
    #[serde(default)]
    pub deletion_error: Option<String>,
    /// Every copy (`name`, `storage`, `key`, `sha256`, `ok`, `error`) when the backup was
    /// streamed to several destinations; empty for a single one.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub copies: Vec<serde_json::Value>,
    /// Completed, but at least one destination did not get its copy.
    #[serde(default)]
    pub degraded: bool,
    /// The last re-read of the stored artifact (`backline verify`).
    #[serde(default)]
    pub verified_at: Option<String>,
    #[serde(default)]
    pub verified_ok: Option<bool>,
    #[serde(default)]
    pub verification_detail: Option<String>,
    /// What the dump tool is known not to keep exactly in this version.
    #[serde(default)]
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RestoreView {
    pub id: String,
    pub backup_id: String,
    pub source_database_id: String,
    pub target_database_id: String,
    pub target_database_name: String,
    pub engine: String,
    /// `running`, `completed` or `failed`.
    pub status: String,
    pub actor: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub duration_ms: Option<u64>,
    pub previous_kept_as: Option<String>,
    pub tool: Option<String>,
    pub tool_version: Option<String>,
    pub server_version: Option<String>,
    pub error: Option<FailureView>,
    /// Local space the verified copy of the artifact takes while the restore runs.
    #[serde(default)]
    pub local_copy_bytes: Option<u64>,
    /// What the restore could not bring back exactly.
    #[serde(default)]
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EventView {
    pub position: i64,
    #[serde(rename = "type")]
    pub event_type: String,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub database_id: Option<String>,
    pub at: String,
    pub actor: String,
    pub correlation_id: String,
    pub node: String,
    pub event_version: String,
    /// The event's fields, with secrets removed.
    #[schema(value_type = Object)]
    pub payload: Value,
}
