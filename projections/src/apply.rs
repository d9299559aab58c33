//! How each event changes the read models. One code path serves live catch-up and rebuild.

use crate::views::*;
use crate::ProjectionError;
use backline_infra::StoredEvent;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use sqlx::{Any, Row, Transaction};

type Tx<'a> = Transaction<'a, Any>;

async fn load<T: DeserializeOwned>(
    tx: &mut Tx<'_>,
    table: &str,
    id: &str,
) -> Result<Option<T>, ProjectionError> {
    let row = sqlx::query(&format!("SELECT body FROM {table} WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    match row {
        Some(r) => {
            let body: String = r.try_get("body")?;
            Ok(Some(serde_json::from_str(&body)?))
        }
        None => Ok(None),
    }
}

async fn save_database(tx: &mut Tx<'_>, v: &DatabaseView) -> Result<(), ProjectionError> {
    sqlx::query(
        "INSERT INTO rm_databases (id, name, status, body) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, status = excluded.status, body = excluded.body",
    )
    .bind(&v.id)
    .bind(&v.name)
    .bind(&v.status)
    .bind(to_text(v)?)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn save_backup(
    tx: &mut Tx<'_>,
    v: &BackupView,
    position: i64,
) -> Result<(), ProjectionError> {
    sqlx::query(
        "INSERT INTO rm_backups (id, database_id, status, started_position, body) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (id) DO UPDATE SET status = excluded.status, body = excluded.body",
    )
    .bind(&v.id)
    .bind(&v.database_id)
    .bind(&v.status)
    .bind(position)
    .bind(to_text(v)?)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Updates a backup row; its `started_position` (the history order) never changes.
async fn update_backup(tx: &mut Tx<'_>, v: &BackupView) -> Result<(), ProjectionError> {
    sqlx::query("UPDATE rm_backups SET status = $1, body = $2 WHERE id = $3")
        .bind(&v.status)
        .bind(to_text(v)?)
        .bind(&v.id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Updates a restore row; its `started_position` never changes.
async fn update_restore(tx: &mut Tx<'_>, v: &RestoreView) -> Result<(), ProjectionError> {
    sqlx::query("UPDATE rm_restores SET body = $1 WHERE id = $2")
        .bind(to_text(v)?)
        .bind(&v.id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn save_restore(
    tx: &mut Tx<'_>,
    v: &RestoreView,
    position: i64,
) -> Result<(), ProjectionError> {
    sqlx::query(
        "INSERT INTO rm_restores (id, source_database_id, target_database_id, started_position, body) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO UPDATE SET body = excluded.body",
    )
    .bind(&v.id)
    .bind(&v.source_database_id)
    .bind(&v.target_database_id)
    .bind(position)
    .bind(to_text(v)?)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn to_text<T: Serialize>(v: &T) -> Result<String, ProjectionError> {
    Ok(serde_json::to_string(v)?)
}

fn s(v: &Value, k: &str) -> String {
    v.get(k)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn os(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_string)
}

fn ou(v: &Value, k: &str) -> Option<u64> {
    v.get(k).and_then(Value::as_u64)
}

fn strings(v: &Value, k: &str) -> Vec<String> {
    v.get(k)
        .and_then(Value::as_array)
        .map(|w| {
            w.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn failure(v: &Value) -> FailureView {
    FailureView {
        stage: s(v, "stage"),
        message: s(v, "message"),
        stderr_tail: s(v, "stderr_tail"),
    }
}

fn enc(x: &str) -> String {
    percent_encode(x)
}

fn percent_encode(x: &str) -> String {
    let mut out = String::new();
    for b in x.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `postgres://user:***@host:port/db?…` from a stored connection (which never holds a clear password).
pub(crate) fn redact(engine: &str, c: &Value) -> String {
    let host = s(c, "host");
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host
    };
    let user = enc(&s(c, "user"));
    let auth = if c.get("password").is_some_and(|p| !p.is_null()) {
        format!("{user}:***")
    } else {
        user
    };
    let mut out = format!(
        "{engine}://{auth}@{host}:{}/{}",
        c.get("port").and_then(Value::as_u64).unwrap_or_default(),
        enc(&s(c, "database"))
    );
    if let Some(params) = c.get("params").and_then(Value::as_object) {
        if !params.is_empty() {
            let q: Vec<String> = params
                .iter()
                .map(|(k, v)| format!("{k}={}", enc(v.as_str().unwrap_or_default())))
                .collect();
            out.push('?');
            out.push_str(&q.join("&"));
        }
    }
    out
}

/// The event's fields with every sealed secret replaced by `***`.
pub(crate) fn public_payload(mut v: Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(map) => {
                for (k, val) in map.iter_mut() {
                    // Sealed secrets: passwords, webhook URLs, signing secrets.
                    if matches!(k.as_str(), "password" | "sealed_url" | "secret") {
                        if !val.is_null() {
                            *val = Value::String("***".into());
                        }
                    } else {
                        walk(val);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut v);
    v
}

/// The inner fields of an externally tagged event payload (`{"BackupStarted": {...}}`).
fn fields(e: &StoredEvent) -> Value {
    e.payload
        .get(&e.event_type)
        .cloned()
        .unwrap_or_else(|| e.payload.clone())
}

pub(crate) async fn apply(tx: &mut Tx<'_>, e: &StoredEvent) -> Result<(), ProjectionError> {
    let f = fields(e);
    let at = e.meta("at").unwrap_or_default().to_string();
    let actor = e.meta("actor").unwrap_or_default().to_string();
    let id = e.aggregate_id.as_str();
    let mut database_id: Option<String> = None;
    match e.event_type.as_str() {
        "DatabaseRegistered" => {
            let engine = s(&f, "engine");
            let v = DatabaseView {
                id: id.to_string(),
                name: s(&f, "name"),
                connection: redact(&engine, &f["connection"]),
                engine,
                status: "active".into(),
                created_at: at.clone(),
                updated_at: at.clone(),
                removed_at: None,
                last_backup: None,
                last_successful_backup_at: None,
                backups_total: 0,
                backups_completed: 0,
                backups_failed: 0,
                restores_total: 0,
                running_backup_id: None,
                schedule: schedule_view(f.get("schedule"), &at),
                paused: false,
                retention: f.get("retention").cloned().unwrap_or(Value::Null),
                last_claimed_slot: None,
                destinations: None,
            };
            save_database(tx, &v).await?;
            database_id = Some(id.to_string());
        }
        "DatabaseUpdated" => {
            if let Some(mut v) = load::<DatabaseView>(tx, "rm_databases", id).await? {
                if let Some(n) = os(&f, "name") {
                    v.name = n;
                }
                if let Some(c) = f.get("connection").filter(|c| !c.is_null()) {
                    v.connection = redact(&v.engine, c);
                }
                if let Some(change) = f.get("schedule").filter(|c| !c.is_null()) {
                    v.schedule = schedule_view(change.get("schedule"), &at);
                    v.last_claimed_slot = None;
                }
                if let Some(r) = f.get("retention").filter(|c| !c.is_null()) {
                    v.retention = r.clone();
                }
                v.updated_at = at.clone();
                save_database(tx, &v).await?;
            }
            database_id = Some(id.to_string());
        }
        "DatabasePaused" | "DatabaseResumed" | "ScheduledRunClaimed" => {
            if let Some(mut v) = load::<DatabaseView>(tx, "rm_databases", id).await? {
                match e.event_type.as_str() {
                    "DatabasePaused" => v.paused = true,
                    "DatabaseResumed" => v.paused = false,
                    _ => v.last_claimed_slot = os(&f, "slot"),
                }
                v.updated_at = at.clone();
                save_database(tx, &v).await?;
            }
            database_id = Some(id.to_string());
        }
        "DestinationsChanged" => {
            if let Some(mut v) = load::<DatabaseView>(tx, "rm_databases", id).await? {
                v.destinations = f
                    .get("destinations")
                    .and_then(|d| serde_json::from_value(d.clone()).ok());
                v.updated_at = at.clone();
                save_database(tx, &v).await?;
            }
            database_id = Some(id.to_string());
        }
        "DatabaseRemoved" => {
            if let Some(mut v) = load::<DatabaseView>(tx, "rm_databases", id).await? {
                v.status = "removed".into();
                v.removed_at = Some(at.clone());
                v.updated_at = at.clone();
                save_database(tx, &v).await?;
            }
            database_id = Some(id.to_string());
        }
        "BackupStarted" => {
            let db = s(&f, "database_id");
            let trigger = f.get("trigger").cloned().unwrap_or(Value::Null);
            let b = BackupView {
                id: id.to_string(),
                database_id: db.clone(),
                database_name: s(&f, "database_name"),
                engine: s(&f, "engine"),
                status: "running".into(),
                trigger: s(&trigger, "kind"),
                actor: actor.clone(),
                started_at: at.clone(),
                finished_at: None,
                duration_ms: None,
                bytes: None,
                raw_bytes: None,
                sha256: None,
                storage: None,
                storage_key: None,
                compression: None,
                encrypted: false,
                tool: os(&f, "tool"),
                tool_version: os(&f, "tool_version"),
                server_version: os(&f, "server_version"),
                node: s(&f, "node"),
                error: None,
                slot: os(&trigger, "slot"),
                pinned: false,
                pruned_at: None,
                prune_reason: None,
                artifact_deleted: false,
                deletion_error: None,
                copies: Vec::new(),
                degraded: false,
                verified_at: None,
                verified_ok: None,
                verification_detail: None,
                warnings: Vec::new(),
            };
            save_backup(tx, &b, e.position).await?;
            if let Some(mut d) = load::<DatabaseView>(tx, "rm_databases", &db).await? {
                d.backups_total += 1;
                d.running_backup_id = Some(b.id.clone());
                d.last_backup = Some(summary(&b));
                save_database(tx, &d).await?;
            }
            database_id = Some(db);
        }
        "BackupCompleted" | "BackupFailed" | "BackupAbandoned" => {
            if let Some(mut b) = load::<BackupView>(tx, "rm_backups", id).await? {
                b.finished_at = Some(at.clone());
                b.duration_ms = ou(&f, "duration_ms").or(b.duration_ms);
                match e.event_type.as_str() {
                    "BackupCompleted" => {
                        b.status = "completed".into();
                        b.bytes = ou(&f, "bytes");
                        b.raw_bytes = ou(&f, "raw_bytes");
                        b.sha256 = os(&f, "sha256");
                        b.storage = os(&f, "storage");
                        b.storage_key = os(&f, "key");
                        b.compression = os(&f, "compression");
                        b.encrypted = f.get("encrypted").and_then(Value::as_bool).unwrap_or(false);
                        b.copies = f
                            .get("copies")
                            .and_then(Value::as_array)
                            .cloned()
                            .unwrap_or_default();
                        b.degraded = b.copies.iter().any(|c| c["ok"] == Value::Bool(false));
                        b.warnings = strings(&f, "warnings");
                    }
                    "BackupFailed" => {
                        b.status = "failed".into();
                        b.error = Some(failure(&f));
                    }
                    _ => {
                        b.status = "abandoned".into();
                        b.error = Some(FailureView {
                            stage: "abandoned".into(),
                            message: s(&f, "reason"),
                            stderr_tail: String::new(),
                        });
                    }
                }
                update_backup(tx, &b).await?;
                if let Some(mut d) =
                    load::<DatabaseView>(tx, "rm_databases", &b.database_id).await?
                {
                    match b.status.as_str() {
                        "completed" => {
                            d.backups_completed += 1;
                            d.last_successful_backup_at = Some(at.clone());
                        }
                        _ => d.backups_failed += 1,
                    }
                    if d.running_backup_id.as_deref() == Some(id) {
                        d.running_backup_id = None;
                    }
                    if d.last_backup.as_ref().is_some_and(|l| l.id == id) {
                        d.last_backup = Some(summary(&b));
                    }
                    save_database(tx, &d).await?;
                }
                database_id = Some(b.database_id);
            }
        }
        "BackupPinned"
        | "BackupUnpinned"
        | "BackupPruned"
        | "BackupArtifactDeleted"
        | "BackupDeletionFailed" => {
            if let Some(mut b) = load::<BackupView>(tx, "rm_backups", id).await? {
                match e.event_type.as_str() {
                    "BackupPinned" => b.pinned = true,
                    "BackupUnpinned" => b.pinned = false,
                    "BackupPruned" => {
                        b.status = "pruned".into();
                        b.pruned_at = Some(at.clone());
                        b.prune_reason = os(&f, "reason");
                    }
                    "BackupDeletionFailed" => b.deletion_error = os(&f, "error"),
                    _ => {
                        b.artifact_deleted = true;
                        b.deletion_error = None;
                    }
                }
                update_backup(tx, &b).await?;
                if e.event_type == "BackupPruned" {
                    if let Some(mut d) =
                        load::<DatabaseView>(tx, "rm_databases", &b.database_id).await?
                    {
                        if d.last_backup.as_ref().is_some_and(|l| l.id == id) {
                            d.last_backup = Some(summary(&b));
                        }
                        save_database(tx, &d).await?;
                    }
                }
                database_id = Some(b.database_id);
            }
        }
        "BackupVerified" | "BackupCopyFailed" => {
            if let Some(mut b) = load::<BackupView>(tx, "rm_backups", id).await? {
                if e.event_type == "BackupVerified" {
                    b.verified_at = Some(at.clone());
                    b.verified_ok = f.get("ok").and_then(Value::as_bool);
                    b.verification_detail = os(&f, "detail");
                    update_backup(tx, &b).await?;
                }
                database_id = Some(b.database_id);
            }
        }
        "RestoreStarted" => {
            let r = RestoreView {
                id: id.to_string(),
                backup_id: s(&f, "backup_id"),
                source_database_id: s(&f, "source_database_id"),
                target_database_id: s(&f, "target_database_id"),
                target_database_name: s(&f, "target_database_name"),
                engine: s(&f, "engine"),
                status: "running".into(),
                actor: actor.clone(),
                started_at: at.clone(),
                finished_at: None,
                duration_ms: None,
                previous_kept_as: None,
                tool: os(&f, "tool"),
                tool_version: os(&f, "tool_version"),
                server_version: os(&f, "server_version"),
                error: None,
                local_copy_bytes: ou(&f, "local_copy_bytes"),
                warnings: Vec::new(),
            };
            save_restore(tx, &r, e.position).await?;
            if let Some(mut d) =
                load::<DatabaseView>(tx, "rm_databases", &r.target_database_id).await?
            {
                d.restores_total += 1;
                save_database(tx, &d).await?;
            }
            database_id = Some(r.target_database_id);
        }
        "RestoreCompleted" | "RestoreFailed" => {
            if let Some(mut r) = load::<RestoreView>(tx, "rm_restores", id).await? {
                r.finished_at = Some(at.clone());
                r.duration_ms = ou(&f, "duration_ms");
                if e.event_type == "RestoreCompleted" {
                    r.status = "completed".into();
                    r.previous_kept_as = os(&f, "previous_kept_as");
                    r.warnings = strings(&f, "warnings");
                } else {
                    r.status = "failed".into();
                    r.error = Some(failure(&f));
                }
                update_restore(tx, &r).await?;
                database_id = Some(r.target_database_id);
            }
        }
        t if t.starts_with("Alert") || t.starts_with("Channel") => {
            database_id = crate::alerts::apply(tx, e, &f, &at, &actor).await?;
        }
        other => {
            tracing::debug!(event_type = other, "no read model uses this event");
        }
    }
    let view = EventView {
        position: e.position,
        event_type: e.event_type.clone(),
        aggregate_type: e.aggregate_type.clone(),
        aggregate_id: e.aggregate_id.clone(),
        sequence: e.sequence,
        database_id: database_id.clone(),
        at: at.clone(),
        actor,
        correlation_id: e.meta("correlation_id").unwrap_or_default().to_string(),
        node: e.meta("node").unwrap_or_default().to_string(),
        event_version: e.event_version.clone(),
        payload: public_payload(f),
    };
    sqlx::query(
        "INSERT INTO rm_timeline (position, event_type, aggregate_type, aggregate_id, database_id, at, body) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (position) DO NOTHING",
    )
    .bind(e.position)
    .bind(&e.event_type)
    .bind(&e.aggregate_type)
    .bind(&e.aggregate_id)
    .bind(database_id)
    .bind(at)
    .bind(to_text(&view)?)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn schedule_view(v: Option<&Value>, at: &str) -> Option<ScheduleView> {
    let v = v.filter(|v| !v.is_null())?;
    let cron = s(v, "cron");
    let timezone = s(v, "timezone");
    let catch_up = os(v, "catch_up").unwrap_or_else(|| "latest".into());
    let description = backline_domain::Schedule::parse(
        &cron,
        Some(&timezone),
        backline_domain::CatchUp::parse(&catch_up).unwrap_or_default(),
    )
    .map(|s| s.describe())
    .unwrap_or_else(|_| cron.clone());
    Some(ScheduleView {
        cron,
        timezone,
        catch_up,
        description,
        since: at.to_string(),
        next_run_at: None,
        next_run_at_local: None,
    })
}

fn summary(b: &BackupView) -> BackupSummary {
    BackupSummary {
        id: b.id.clone(),
        status: b.status.clone(),
        started_at: b.started_at.clone(),
        finished_at: b.finished_at.clone(),
        bytes: b.bytes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn redacts_connections_and_payloads() {
        let c = json!({"host":"db","port":5432,"user":"a b","database":"shop","params":{"sslmode":"require"},
                       "password":{"nonce":"n","ciphertext":"c"}});
        assert_eq!(
            redact("postgres", &c),
            "postgres://a%20b:***@db:5432/shop?sslmode=require"
        );
        let p = public_payload(json!({"connection": c}));
        assert_eq!(p["connection"]["password"], json!("***"));
        assert!(!p.to_string().contains("ciphertext"));
    }
}
