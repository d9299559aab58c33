//! What `POST /databases` and `PATCH /databases/{id}` take.

use super::error::ApiError;
use super::schemas::{RetentionPolicy, TimeZoneName};
use super::ssh::SshBlock;
use serde::Deserialize;
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterDatabase {
    /// 1–63 characters: letters, digits, `_`, `-`, `.`.
    #[schema(pattern = r"^\s*[A-Za-z0-9][A-Za-z0-9_.-]{0,62}\s*$", example = "shop")]
    pub name: String,
    /// `postgres` or `mysql` (MariaDB too).
    #[schema(
        pattern = "^(postgres|postgresql|mysql|mariadb)$",
        example = "postgres"
    )]
    pub engine: String,
    /// `postgres://user:password@host:5432/db` or `mysql://user:password@host:3306/db`.
    #[schema(
        pattern = "^(postgres|postgresql|mysql|mariadb)://",
        example = "postgres://app:secret@127.0.0.1:5432/shop"
    )]
    pub connection: String,
    /// Cron expression (5 fields, or 6 with seconds first; `@daily` etc. work too).
    #[schema(min_length = 1, example = "30 2 * * *")]
    pub schedule: Option<String>,
    /// IANA time zone of the schedule (default UTC).
    #[schema(value_type = Option<TimeZoneName>)]
    pub timezone: Option<String>,
    /// Missed slots: `latest` (default), `none` or `all`.
    #[schema(pattern = "^(latest|none|all)$", example = "latest")]
    pub catch_up: Option<String>,
    /// Which versions retention keeps.
    #[schema(value_type = Option<RetentionPolicy>)]
    pub retention: Option<serde_json::Value>,
    /// Names of the configured storages its backups go to (default: all of them).
    #[schema(min_items = 1, example = json!(["default"]))]
    pub destinations: Option<Vec<String>>,
    /// Operators may restore into it (a staging or sandbox database). Default false.
    pub restore_target: Option<bool>,
    /// Reach it through an SSH bastion.
    pub ssh: Option<SshBlock>,
    /// PostgreSQL only: `pg_dump` processes per backup, sharing one exported snapshot, each
    /// streaming a part of one version (pre-data, groups of tables balanced by size,
    /// post-data). Default 1: one stream. Refused for MySQL/MariaDB.
    #[schema(minimum = 1, maximum = 16, example = 1)]
    pub backup_jobs: Option<u32>,
    /// PostgreSQL only: `pg_restore --jobs` for restores into this database. Default (left
    /// out): min(4, cores) of the Backline host. 1: one stream, which is the fastest on hosts
    /// with 2 cores or fewer (see bench/restore_throughput.sh). Refused above 1 for MySQL/MariaDB.
    #[schema(minimum = 1, maximum = 16, example = 1)]
    pub restore_jobs: Option<u32>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateDatabase {
    #[schema(pattern = r"^\s*[A-Za-z0-9][A-Za-z0-9_.-]{0,62}\s*$", example = "shop")]
    pub name: Option<String>,
    #[schema(
        pattern = "^(postgres|postgresql|mysql|mariadb)://",
        example = "postgres://app:secret@127.0.0.1:5432/shop"
    )]
    pub connection: Option<String>,
    /// A cron expression, or `null` to remove the schedule.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, min_length = 1, example = "0 */6 * * *")]
    pub schedule: Option<Option<String>>,
    #[schema(value_type = Option<TimeZoneName>)]
    pub timezone: Option<String>,
    #[schema(pattern = "^(latest|none|all)$", example = "latest")]
    pub catch_up: Option<String>,
    #[schema(value_type = Option<RetentionPolicy>)]
    pub retention: Option<serde_json::Value>,
    /// Storage names, or `null` for every configured storage.
    #[serde(default, deserialize_with = "double_option_list")]
    #[schema(value_type = Option<Vec<String>>, min_items = 1)]
    pub destinations: Option<Option<Vec<String>>>,
    /// Operators may restore into it (a staging or sandbox database).
    pub restore_target: Option<bool>,
    /// A new SSH bastion (its secret again too), or `null` to connect directly.
    #[serde(default, deserialize_with = "double_option_ssh")]
    #[schema(value_type = Option<SshBlock>)]
    pub ssh: Option<Option<SshBlock>>,
    /// PostgreSQL only: `pg_dump` processes per backup (1: one stream). Refused for MySQL/MariaDB.
    #[schema(minimum = 1, maximum = 16, example = 2)]
    pub backup_jobs: Option<u32>,
    /// PostgreSQL only: `pg_restore --jobs` for restores into this database (1: one stream).
    /// Refused above 1 for MySQL/MariaDB.
    #[schema(minimum = 1, maximum = 16, example = 1)]
    pub restore_jobs: Option<u32>,
}

fn double_option_ssh<'de, D>(d: D) -> Result<Option<Option<SshBlock>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Ok(Some(Option::deserialize(d)?))
}

fn double_option_list<'de, D>(d: D) -> Result<Option<Option<Vec<String>>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Ok(Some(Option::deserialize(d)?))
}

/// Absent → `None`; `null` → `Some(None)`; a value → `Some(Some(v))`.
fn double_option<'de, D>(d: D) -> Result<Option<Option<String>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Ok(Some(Option::deserialize(d)?))
}

/// Parses a retention policy, naming the field in the error.
pub(super) fn retention(
    v: Option<serde_json::Value>,
) -> Result<Option<backline_domain::Retention>, ApiError> {
    let Some(v) = v else { return Ok(None) };
    // serde would also read a struct from a JSON array, by position: only an object is a policy.
    if v.is_array() {
        return Err(ApiError::invalid(
            "retention",
            "a retention policy is an object, e.g. {\"keep_daily\": 7, \"min_keep\": 3}",
        ));
    }
    let r: backline_domain::Retention = serde_json::from_value(v).map_err(|e| {
        ApiError::invalid(
            "retention",
            format!("invalid retention policy: {e} (fields: keep_last, keep_daily, keep_weekly, keep_monthly, keep_yearly, max_age_days, min_keep; whole numbers ≥ 0)"),
        )
    })?;
    if r.min_keep == Some(0) {
        return Err(ApiError::invalid(
            "retention",
            "min_keep must be at least 1: the newest version is always kept",
        ));
    }
    Ok(Some(r))
}
