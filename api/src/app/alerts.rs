//! Alerting: a reactor that turns ledger events into alerts (from its own checkpoint, so a
//! restart neither loses nor repeats one), watchdogs for missed schedules and stalled
//! backups, the delivery of notifications with bounded exponential retries, channels, and
//! the Prometheus metrics counted from the ledger.

use super::*;
use backline_infra::notify::{AlertMessage, Notifier, Target};
use backline_infra::StoredEvent;
use backline_projections::{AlertView, ChannelView};
use metrics::Recorder;
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};
use std::collections::HashSet;
use std::sync::OnceLock;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const REACTOR: &str = "alerts";
const TICK: Duration = Duration::from_millis(300);
const BATCH: i64 = 200;
/// Delivery attempts per notification and channel before giving up.
pub const MAX_ATTEMPTS: u32 = 8;
const RETRY_CAP: Duration = Duration::from_secs(600);
/// Events older than this when the reactor first sees them (a ledger from before alerting
/// existed) resolve alerts but do not raise any: nobody wants last year's failures by mail.
const STALE_CAUSE: chrono::Duration = chrono::Duration::days(1);

/// What alerting keeps in the application.
pub struct Alerting {
    notifier: Result<Notifier, String>,
    public_url: OnceLock<String>,
    metrics: Metrics,
    in_flight: Mutex<HashSet<(String, String, Notice)>>,
    cancels: Mutex<HashMap<String, CancellationToken>>,
    stall: Mutex<HashMap<String, (u64, Instant)>>,
}

impl Alerting {
    pub fn new(settings: &Settings) -> Self {
        Self {
            notifier: Notifier::new(
                settings.smtp_url.as_deref(),
                settings.alert_from.as_deref(),
                settings.webhook_policy(),
            ),
            public_url: OnceLock::new(),
            metrics: Metrics::new(),
            in_flight: Mutex::new(HashSet::new()),
            cancels: Mutex::new(HashMap::new()),
            stall: Mutex::new(HashMap::new()),
        }
    }
}

/// A channel as created, with its secret shown this once.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct CreatedChannel {
    #[serde(flatten)]
    pub channel: ChannelView,
    /// The HMAC signing secret of a generic webhook: shown only in this response.
    pub secret: Option<String>,
}

/// What `POST /channels/{id}/test` came to.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ChannelTest {
    pub ok: bool,
    pub status_code: Option<u16>,
    pub error: Option<String>,
}

/// A new channel, as the API receives it.
#[derive(Debug, Clone)]
pub struct NewChannel {
    pub name: String,
    pub kind: String,
    pub to: Vec<String>,
    pub url: Option<String>,
    pub style: Option<String>,
    pub secret: Option<String>,
}

fn alert_error(e: &AlertError) -> AppError {
    match e {
        AlertError::NotFound => AppError::NotFound(e.to_string()),
        _ => AppError::Conflict(e.to_string()),
    }
}

fn channel_error(e: &ChannelError) -> AppError {
    match e {
        ChannelError::NotFound => AppError::NotFound(e.to_string()),
        ChannelError::EmptyName => AppError::Invalid {
            field: "name",
            message: e.to_string(),
        },
        ChannelError::NoRecipients | ChannelError::BadAddress(_) => AppError::Invalid {
            field: "to",
            message: e.to_string(),
        },
        ChannelError::BadUrl(_) | ChannelError::RefusedAddress { .. } => AppError::Invalid {
            field: "url",
            message: e.to_string(),
        },
        _ => AppError::Conflict(e.to_string()),
    }
}

/// A stable alert id for (database, kind, cause): raising the same cause twice, from a
/// restarted reactor or from two processes, lands on the same aggregate and is refused.
fn alert_id(database_id: &str, kind: AlertKind, cause: &str) -> String {
    use sha2::Digest;
    let h = sha2::Sha256::digest(format!("{database_id}\n{}\n{cause}", kind.as_str()));
    let x = hex::encode(&h[..16]);
    format!(
        "{}-{}-{}-{}-{}",
        &x[..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..32]
    )
}

fn field(e: &StoredEvent, k: &str) -> String {
    e.payload
        .get(&e.event_type)
        .and_then(|f| f.get(k))
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string()
}

fn field_u64(e: &StoredEvent, k: &str) -> Option<u64> {
    e.payload
        .get(&e.event_type)
        .and_then(|f| f.get(k))
        .and_then(|v| v.as_u64())
}

fn event_at(e: &StoredEvent) -> Option<chrono::DateTime<chrono::Utc>> {
    e.meta("at").and_then(parse_time)
}

impl App {
    /// The UI's address in notifications: BACKLINE_PUBLIC_URL, or http://<listen address>.
    pub fn set_listen_address(&self, addr: std::net::SocketAddr) {
        let url = self
            .settings
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"));
        let _ = self
            .alerting
            .public_url
            .set(url.trim_end_matches('/').to_string());
    }

    fn public_url(&self) -> String {
        self.alerting
            .public_url
            .get()
            .cloned()
            .unwrap_or_else(|| "http://127.0.0.1:8080".into())
    }

    /// The cancellation handle of a backup running in this process (made on first use).
    pub(crate) fn cancel_token(&self, backup_id: &str) -> CancellationToken {
        let mut m = self
            .alerting
            .cancels
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        m.entry(backup_id.to_string()).or_default().clone()
    }

    pub(crate) fn forget_cancel_token(&self, backup_id: &str) {
        if let Ok(mut m) = self.alerting.cancels.lock() {
            m.remove(backup_id);
        }
        if let Ok(mut m) = self.alerting.stall.lock() {
            m.remove(backup_id);
        }
    }

    pub(crate) fn stall_timeout(&self) -> Duration {
        Duration::from_secs(self.settings.stall_timeout_secs.max(1))
    }

    /// Runs the alert reactor, the watchdogs and the deliveries until the process ends.
    pub async fn run_alerts(self: Arc<Self>) {
        let mut last_missed_check = Instant::now() - Duration::from_secs(3600);
        loop {
            if let Err(e) = self.react().await {
                tracing::warn!(error = %e, "the alert reactor could not read the ledger");
            }
            if let Err(e) = self.count_metrics().await {
                tracing::warn!(error = %e, "metrics could not read the ledger");
            }
            self.check_stalls();
            if last_missed_check.elapsed() >= Duration::from_secs(1) {
                last_missed_check = Instant::now();
                if let Err(e) = self.check_missed_schedules().await {
                    tracing::warn!(error = %e, "checking for missed schedules failed");
                }
            }
            if let Err(e) = self.deliver_pending().await {
                tracing::warn!(error = %e, "alert delivery failed");
            }
            tokio::time::sleep(TICK).await;
        }
    }

    /// The ledger position up to which the alert reactor has reacted.
    pub async fn reactor_position(&self) -> Result<i64, AppError> {
        let row = sqlx::query("SELECT position FROM reactor_checkpoints WHERE name = $1")
            .bind(REACTOR)
            .fetch_optional(self.ledger.pool())
            .await
            .map_err(AppError::internal)?;
        Ok(match row {
            Some(r) => sqlx::Row::try_get(&r, "position").map_err(AppError::internal)?,
            None => 0,
        })
    }

    async fn save_checkpoint(&self, position: i64) -> Result<(), AppError> {
        sqlx::query(
            "INSERT INTO reactor_checkpoints (name, position) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET position = excluded.position",
        )
        .bind(REACTOR)
        .bind(position)
        .execute(self.ledger.pool())
        .await
        .map_err(AppError::internal)?;
        Ok(())
    }

    /// Turns the events after the checkpoint into alerts, in position order.
    async fn react(self: &Arc<Self>) -> Result<(), AppError> {
        // The read models must have seen what the reactor looks up (backups, open alerts).
        let applied = self.projections.catch_up().await?;
        let mut from = self.reactor_position().await?;
        loop {
            let events = self
                .ledger
                .read_after(from, BATCH)
                .await
                .map_err(AppError::internal)?;
            let n = events.len();
            for e in events.into_iter().take_while(|e| e.position <= applied) {
                self.react_to(&e).await?;
                self.projections.catch_up().await?;
                self.save_checkpoint(e.position).await?;
                from = e.position;
            }
            if (n as i64) < BATCH || from >= applied {
                return Ok(());
            }
        }
    }

    async fn react_to(&self, e: &StoredEvent) -> Result<(), AppError> {
        let fresh = event_at(e).is_none_or(|t| chrono::Utc::now() - t < STALE_CAUSE);
        let cause = format!("position:{}", e.position);
        match e.event_type.as_str() {
            "BackupFailed" | "BackupAbandoned" | "BackupCopyFailed" | "BackupDeletionFailed" => {
                let Some(b) = self.projections.backup(&e.aggregate_id).await? else {
                    return Ok(());
                };
                let (kind, message, detail) = match e.event_type.as_str() {
                    "BackupFailed" => {
                        let stage = field(e, "stage");
                        let kind = match stage.as_str() {
                            "stalled" => AlertKind::BackupStalled,
                            "upload" | "manifest" => AlertKind::StorageFailure,
                            _ => AlertKind::BackupFailed,
                        };
                        (
                            kind,
                            format!("{} ({stage} stage)", field(e, "message")),
                            field(e, "stderr_tail"),
                        )
                    }
                    "BackupDeletionFailed" => (
                        AlertKind::StorageFailure,
                        format!(
                            "pruned version {} could not be deleted from storage: {}",
                            b.id,
                            field(e, "error")
                        ),
                        String::new(),
                    ),
                    "BackupAbandoned" => (
                        AlertKind::BackupAbandoned,
                        format!("backup {} was abandoned: {}", b.id, field(e, "reason")),
                        String::new(),
                    ),
                    _ => (
                        AlertKind::StorageFailure,
                        format!(
                            "the copy of backup {} to {} failed: {}",
                            b.id,
                            field(e, "storage"),
                            field(e, "message")
                        ),
                        String::new(),
                    ),
                };
                if fresh {
                    self.raise_or_repeat(
                        kind,
                        &b.database_id,
                        &b.database_name,
                        &cause,
                        Some(e.position),
                        message,
                        detail,
                    )
                    .await?;
                }
            }
            "RestoreFailed" => {
                let Some(r) = self.projections.restore(&e.aggregate_id).await? else {
                    return Ok(());
                };
                if fresh {
                    self.raise_or_repeat(
                        AlertKind::RestoreFailed,
                        &r.target_database_id,
                        &r.target_database_name,
                        &cause,
                        Some(e.position),
                        format!(
                            "restore {} of backup {} failed: {} ({} stage)",
                            r.id,
                            r.backup_id,
                            field(e, "message"),
                            field(e, "stage")
                        ),
                        field(e, "stderr_tail"),
                    )
                    .await?;
                }
            }
            "BackupCompleted" => {
                let Some(b) = self.projections.backup(&e.aggregate_id).await? else {
                    return Ok(());
                };
                for a in self.projections.alerts(None, Some(&b.database_id)).await? {
                    let Some(kind) = AlertKind::parse(&a.kind) else {
                        continue;
                    };
                    let degraded = b.degraded && kind == AlertKind::StorageFailure;
                    if a.state != "resolved" && kind.resolved_by_backup() && !degraded {
                        self.resolve(&a.id, e).await?;
                    }
                }
            }
            "RestoreCompleted" => {
                let Some(r) = self.projections.restore(&e.aggregate_id).await? else {
                    return Ok(());
                };
                for a in self
                    .projections
                    .alerts(None, Some(&r.target_database_id))
                    .await?
                {
                    if a.state != "resolved" && a.kind == AlertKind::RestoreFailed.as_str() {
                        self.resolve(&a.id, e).await?;
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    async fn resolve(&self, alert_id: &str, by: &StoredEvent) -> Result<(), AppError> {
        let r = self
            .alerts
            .execute_with_metadata(
                alert_id,
                AlertCommand::Resolve {
                    by_event: by.position,
                    by_type: by.event_type.clone(),
                },
                self.meta("alerts", alert_id),
            )
            .await;
        match r {
            Ok(()) => {
                tracing::info!(alert_id, by = by.event_type, "alert resolved");
                Ok(())
            }
            Err(AggregateError::UserError(AlertError::Resolved)) => Ok(()),
            Err(e) => Err(from_aggregate(e, alert_error)),
        }
    }

    /// One open alert per (database, kind): a repeat increments its counter.
    #[allow(clippy::too_many_arguments)]
    async fn raise_or_repeat(
        &self,
        kind: AlertKind,
        database_id: &str,
        database_name: &str,
        cause: &str,
        cause_event: Option<i64>,
        message: String,
        detail: String,
    ) -> Result<(), AppError> {
        if let Some(open) = self
            .projections
            .unresolved_alert(database_id, kind.as_str())
            .await?
        {
            let r = self
                .alerts
                .execute_with_metadata(
                    &open.id,
                    AlertCommand::Repeat {
                        cause: cause.to_string(),
                        cause_event,
                        message,
                    },
                    self.meta("alerts", &open.id),
                )
                .await;
            return match r {
                Ok(()) => Ok(()),
                Err(AggregateError::UserError(
                    AlertError::DuplicateCause(_) | AlertError::Resolved,
                )) => Ok(()),
                Err(e) => Err(from_aggregate(e, alert_error)),
            };
        }
        let id = alert_id(database_id, kind, cause);
        let r = self
            .alerts
            .execute_with_metadata(
                &id,
                AlertCommand::Raise {
                    kind,
                    database_id: database_id.to_string(),
                    database_name: database_name.to_string(),
                    cause: cause.to_string(),
                    cause_event,
                    message: message.clone(),
                    detail,
                },
                self.meta("alerts", &id),
            )
            .await;
        match r {
            Ok(()) => {
                tracing::warn!(
                    alert_id = id,
                    kind = kind.as_str(),
                    database_name,
                    message,
                    "alert raised"
                );
                Ok(())
            }
            Err(AggregateError::UserError(AlertError::AlreadyRaised))
            | Err(AggregateError::AggregateConflict) => Ok(()),
            Err(e) => Err(from_aggregate(e, alert_error)),
        }
    }

    /// Cancels backups of this process that wrote nothing for BACKLINE_STALL_TIMEOUT; the
    /// backup then fails at stage `stalled`, which raises its alert.
    fn check_stalls(&self) {
        let running: Vec<(String, CancellationToken)> = match self.alerting.cancels.lock() {
            Ok(m) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            Err(_) => return,
        };
        let Ok(mut stall) = self.alerting.stall.lock() else {
            return;
        };
        stall.retain(|id, _| running.iter().any(|(r, _)| r == id));
        for (id, token) in running {
            // No counter yet: still waiting for a slot among the concurrent backups.
            let Some(bytes) = self.progress(&id) else {
                stall.remove(&id);
                continue;
            };
            let entry = stall.entry(id.clone()).or_insert((bytes, Instant::now()));
            if entry.0 != bytes {
                *entry = (bytes, Instant::now());
            } else if entry.1.elapsed() >= self.stall_timeout() && !token.is_cancelled() {
                tracing::warn!(
                    backup_id = id,
                    bytes,
                    timeout_s = self.stall_timeout().as_secs(),
                    "backup stalled: cancelling it"
                );
                token.cancel();
            }
        }
    }

    /// The message of a backup cancelled for writing nothing.
    pub(crate) fn stall_message(&self, backup_id: &str) -> String {
        format!(
            "no bytes written for {} s (BACKLINE_STALL_TIMEOUT): the dump was cancelled after {} bytes; \
             is the database waiting on a lock?",
            self.stall_timeout().as_secs(),
            self.progress(backup_id).unwrap_or(0)
        )
    }

    /// Dead-man check: a due slot that no backup claimed within the grace period.
    async fn check_missed_schedules(&self) -> Result<(), AppError> {
        let now = chrono::Utc::now();
        let grace = chrono::Duration::seconds(self.settings.missed_schedule_grace_secs as i64);
        for view in self.projections.databases(false).await? {
            let Some(sv) = &view.schedule else { continue };
            if view.paused {
                continue;
            }
            let Some(schedule) = sv.schedule() else {
                continue;
            };
            let Some(after) = view
                .last_claimed_slot
                .as_deref()
                .or(Some(sv.since.as_str()))
                .and_then(parse_time)
            else {
                continue;
            };
            let Some(slot) = schedule.slots_between(after, now - grace, 1).pop() else {
                continue;
            };
            let slot_text = slot.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
            self.raise_or_repeat(
                AlertKind::MissedSchedule,
                &view.id,
                &view.name,
                &format!("slot:{slot_text}"),
                None,
                format!(
                    "no backup started for the slot of {} ({}) within {} s: is any Backline process running its schedule?",
                    schedule.local(slot),
                    sv.description,
                    grace.num_seconds()
                ),
                String::new(),
            )
            .await?;
        }
        Ok(())
    }

    /// Sends every notification that is due: raised and resolved notices to every channel
    /// that existed when they happened, reminders of unacknowledged alerts, retries of
    /// failed attempts after their back-off. Each send runs in its own task.
    async fn deliver_pending(self: &Arc<Self>) -> Result<(), AppError> {
        let channels = self.projections.channels(false).await?;
        if channels.is_empty() {
            return Ok(());
        }
        let now = chrono::Utc::now();
        let base = Duration::from_millis(self.settings.notify_retry_base_ms.max(10));
        let remind = self.settings.alert_remind_secs;
        let alerts = self.projections.alerts(None, None).await?;
        for a in alerts {
            if a.state == "resolved"
                && a.resolved_at
                    .as_deref()
                    .and_then(parse_time)
                    .is_some_and(|t| now - t > STALE_CAUSE)
            {
                continue;
            }
            for c in &channels {
                let mut notices = Vec::new();
                if c.created_position < a.raised_position {
                    notices.push(Notice::Raised);
                }
                let raised_done = a.deliveries.iter().any(|d| {
                    d.channel_id == c.id && d.notice == "raised" && d.outcome == "delivered"
                }) || attempts(&a, &c.id, Notice::Raised) >= MAX_ATTEMPTS;
                if a.state == "resolved"
                    && a.resolved_position.is_some_and(|p| c.created_position < p)
                    && (raised_done || c.created_position > a.raised_position)
                {
                    notices.push(Notice::Resolved);
                }
                for notice in notices {
                    if delivered(&a, &c.id, notice) {
                        continue;
                    }
                    let n = attempts(&a, &c.id, notice);
                    if n >= MAX_ATTEMPTS {
                        continue;
                    }
                    if n > 0 {
                        let last = last_attempt_at(&a, &c.id, notice).unwrap_or(now);
                        let wait = retry_delay(base, RETRY_CAP, n);
                        if now < last + chrono::Duration::from_std(wait).unwrap_or_default() {
                            continue;
                        }
                    }
                    self.spawn_delivery(&a, c, notice, n + 1);
                }
                // Reminders: open, unacknowledged, and nothing sent to this channel lately.
                if remind > 0 && a.state == "open" && raised_done {
                    let last = a
                        .deliveries
                        .iter()
                        .filter(|d| d.channel_id == c.id && d.notice != "resolved")
                        .filter_map(|d| parse_time(&d.at))
                        .max();
                    if last.is_some_and(|t| now - t >= chrono::Duration::seconds(remind as i64)) {
                        self.spawn_delivery(&a, c, Notice::Reminder, 1);
                    }
                }
            }
        }
        Ok(())
    }

    fn spawn_delivery(
        self: &Arc<Self>,
        a: &AlertView,
        c: &ChannelView,
        notice: Notice,
        attempt: u32,
    ) {
        let key = (a.id.clone(), c.id.clone(), notice);
        {
            let Ok(mut f) = self.alerting.in_flight.lock() else {
                return;
            };
            if !f.insert(key.clone()) {
                return;
            }
        }
        let app = self.clone();
        let a = a.clone();
        let channel_id = c.id.clone();
        tokio::spawn(async move {
            // The scan may have read the alert before an earlier attempt was recorded: check
            // against the read model as it is now, so an attempt is never made twice.
            if notice != Notice::Reminder {
                let fresh = app.projections.alert(&a.id).await.ok().flatten();
                let base = Duration::from_millis(app.settings.notify_retry_base_ms.max(10));
                let stale = fresh.as_ref().is_none_or(|f| {
                    let n = attempts(f, &channel_id, notice);
                    let early = n > 0
                        && last_attempt_at(f, &channel_id, notice).is_none_or(|t| {
                            chrono::Utc::now()
                                < t + chrono::Duration::from_std(retry_delay(base, RETRY_CAP, n))
                                    .unwrap_or_default()
                        });
                    delivered(f, &channel_id, notice) || n + 1 != attempt || early
                });
                if stale {
                    if let Ok(mut f) = app.alerting.in_flight.lock() {
                        f.remove(&key);
                    }
                    return;
                }
            }
            let outcome = match app.open_target(&channel_id).await {
                Ok(target) => {
                    let msg = app.message(&a, notice);
                    app.send(&target, &msg).await
                }
                Err(e) => backline_infra::notify::Attempt::failed(None, e.to_string()),
            };
            if let Some(err) = &outcome.error {
                tracing::warn!(alert_id = a.id, channel_id, attempt, notice = notice.as_str(), error = %err, "alert delivery failed");
            }
            let delivery = Delivery {
                channel_id: channel_id.clone(),
                notice,
                outcome: outcome.outcome,
                status_code: outcome.status_code,
                error: outcome.error,
                attempt,
            };
            // Deliveries to several channels record on the same alert at once: a conflict
            // only means another one committed first, so reload and record again.
            let mut tries = 0;
            loop {
                tries += 1;
                match app
                    .alerts
                    .execute_with_metadata(
                        &a.id,
                        AlertCommand::RecordDelivery(delivery.clone()),
                        app.meta("alerts", &a.id),
                    )
                    .await
                {
                    Ok(()) => break,
                    Err(AggregateError::AggregateConflict) if tries < 20 => {
                        tokio::time::sleep(Duration::from_millis(10 * tries)).await;
                    }
                    Err(e) => {
                        tracing::error!(alert_id = a.id, error = %e, "could not record an alert delivery");
                        break;
                    }
                }
            }
            app.refresh().await;
            if let Ok(mut f) = app.alerting.in_flight.lock() {
                f.remove(&key);
            }
        });
    }

    async fn send(&self, target: &Target, msg: &AlertMessage) -> backline_infra::notify::Attempt {
        match &self.alerting.notifier {
            Ok(n) => n.deliver(target, msg).await,
            Err(e) => backline_infra::notify::Attempt::failed(None, e.clone()),
        }
    }

    fn message(&self, a: &AlertView, notice: Notice) -> AlertMessage {
        let kind = AlertKind::parse(&a.kind);
        AlertMessage {
            alert_id: a.id.clone(),
            kind: a.kind.clone(),
            title: kind.map(|k| k.title()).unwrap_or("alert").to_string(),
            notice,
            state: a.state.clone(),
            database_id: a.database_id.clone(),
            database_name: a.database_name.clone(),
            message: a.message.clone(),
            detail: a.detail.clone(),
            count: a.count,
            raised_at: a.raised_at.clone(),
            resolved_at: a.resolved_at.clone(),
            resolved_by: a.resolved_by.clone(),
            link: format!("{}/databases/{}", self.public_url(), a.database_id),
        }
    }

    /// A channel's destination with its secrets opened.
    async fn open_target(&self, channel_id: &str) -> Result<Target, AppError> {
        let c = self
            .ledger
            .load::<Channel>(channel_id)
            .await
            .map_err(AppError::internal)?
            .ok_or_else(|| AppError::NotFound(format!("no channel {channel_id}")))?;
        match c.target {
            Some(ChannelTarget::Email { to }) => Ok(Target::Email { to }),
            Some(ChannelTarget::Webhook {
                style, sealed_url, ..
            }) => {
                let url = self.keyring.open(channel_id, &sealed_url).await?;
                let secret = match &c.secret {
                    Some(s) => Some(self.keyring.open(channel_id, s).await?),
                    None => None,
                };
                Ok(Target::Webhook { style, url, secret })
            }
            None => Err(AppError::NotFound(format!("no channel {channel_id}"))),
        }
    }

    // ---- commands of the HTTP API ----

    pub async fn acknowledge_alert(&self, actor: &str, id: &str) -> Result<AlertView, AppError> {
        self.alerts
            .execute_with_metadata(
                id,
                AlertCommand::Acknowledge {
                    actor: actor.to_string(),
                },
                self.meta(actor, id),
            )
            .await
            .map_err(|e| from_aggregate(e, alert_error))?;
        self.refresh().await;
        self.projections
            .alert(id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("no alert {id}")))
    }

    pub async fn add_channel(
        &self,
        actor: &str,
        new: NewChannel,
    ) -> Result<CreatedChannel, AppError> {
        let id = uuid::Uuid::now_v7().to_string();
        let mut shown_secret = None;
        let (target, secret) = match new.kind.as_str() {
            "email" => (ChannelTarget::Email { to: new.to }, None),
            "webhook" => {
                let style = match new.style.as_deref() {
                    None => WebhookStyle::Generic,
                    Some(s) => WebhookStyle::parse(s).ok_or_else(|| AppError::Invalid {
                        field: "style",
                        message: format!("style must be slack, discord or generic, not {s:?}"),
                    })?,
                };
                let url = new.url.ok_or_else(|| AppError::Invalid {
                    field: "url",
                    message: "a webhook channel needs a url".into(),
                })?;
                let url_redacted = redact_webhook_url(&url).map_err(|e| channel_error(&e))?;
                self.settings
                    .webhook_policy()
                    .check_url(&url)
                    .map_err(|e| channel_error(&e))?;
                let secret = match style {
                    WebhookStyle::Generic => {
                        let s = new.secret.filter(|s| !s.is_empty()).unwrap_or_else(|| {
                            let mut b = [0u8; 24];
                            rand::RngCore::fill_bytes(&mut rand::rng(), &mut b);
                            hex::encode(b)
                        });
                        shown_secret = Some(s.clone());
                        Some(self.keyring.seal(&id, &s).await?)
                    }
                    _ => None,
                };
                let sealed_url = self.keyring.seal(&id, url.trim()).await?;
                (
                    ChannelTarget::Webhook {
                        style,
                        sealed_url,
                        url_redacted,
                    },
                    secret,
                )
            }
            other => {
                return Err(AppError::Invalid {
                    field: "type",
                    message: format!("type must be email or webhook, not {other:?}"),
                })
            }
        };
        let added = self
            .channels
            .execute_with_metadata(
                &id,
                ChannelCommand::Add {
                    name: new.name,
                    target,
                    secret,
                },
                self.meta(actor, &id),
            )
            .await;
        if let Err(e) = added {
            // Nothing was recorded: drop the data key made for the sealed URL.
            let _ = self.keyring.destroy(&id).await;
            return Err(from_aggregate(e, channel_error));
        }
        self.refresh().await;
        let channel = self
            .projections
            .channel(&id)
            .await?
            .ok_or_else(|| AppError::Internal("channel vanished".into()))?;
        Ok(CreatedChannel {
            channel,
            secret: shown_secret,
        })
    }

    pub async fn remove_channel(&self, actor: &str, id: &str) -> Result<(), AppError> {
        self.channels
            .execute_with_metadata(id, ChannelCommand::Remove, self.meta(actor, id))
            .await
            .map_err(|e| from_aggregate(e, channel_error))?;
        // Crypto-shreds the webhook URL and signing secret.
        self.keyring.destroy(id).await?;
        self.refresh().await;
        Ok(())
    }

    /// Sends a test notification now and records how it went.
    pub async fn test_channel(&self, actor: &str, id: &str) -> Result<ChannelTest, AppError> {
        let view = self
            .projections
            .channel(id)
            .await?
            .filter(|c| c.status == "active")
            .ok_or_else(|| AppError::NotFound(format!("no active channel {id}")))?;
        let target = self.open_target(id).await?;
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let msg = AlertMessage {
            alert_id: "test".into(),
            kind: "test".into(),
            title: "test notification".into(),
            notice: Notice::Raised,
            state: "open".into(),
            database_id: "-".into(),
            database_name: "Backline".into(),
            message: format!(
                "This is a test of channel {:?}: alerts will arrive here.",
                view.name
            ),
            detail: String::new(),
            count: 1,
            raised_at: now,
            resolved_at: None,
            resolved_by: None,
            link: self.public_url(),
        };
        let outcome = self.send(&target, &msg).await;
        self.channels
            .execute_with_metadata(
                id,
                ChannelCommand::RecordTest {
                    outcome: outcome.outcome,
                    status_code: outcome.status_code,
                    error: outcome.error.clone(),
                },
                self.meta(actor, id),
            )
            .await
            .map_err(|e| from_aggregate(e, channel_error))?;
        self.refresh().await;
        Ok(ChannelTest {
            ok: outcome.outcome == Outcome::Delivered,
            status_code: outcome.status_code,
            error: outcome.error,
        })
    }

    // ---- metrics ----

    async fn count_metrics(&self) -> Result<(), AppError> {
        let m = &self.alerting.metrics;
        loop {
            let from = m.position.load(Ordering::Relaxed) as i64;
            let events = self
                .ledger
                .read_after(from, 500)
                .await
                .map_err(AppError::internal)?;
            let Some(last) = events.last().map(|e| e.position) else {
                return Ok(());
            };
            for e in &events {
                m.observe(e);
            }
            m.position.store(last as u64, Ordering::Relaxed);
            if events.len() < 500 {
                return Ok(());
            }
        }
    }

    /// The Prometheus text exposition.
    pub async fn render_metrics(&self) -> Result<String, AppError> {
        self.count_metrics().await?;
        let m = &self.alerting.metrics;
        let head = self.ledger.head().await.map_err(AppError::internal)?;
        m.gauge("backline_ledger_position", vec![]).set(head as f64);
        for state in ["open", "acknowledged"] {
            let n = self.projections.alerts(Some(state), None).await?.len();
            m.gauge("backline_alerts", vec![("state", state.to_string())])
                .set(n as f64);
        }
        for c in self.projections.channels(false).await? {
            m.gauge(
                "backline_channel_failing",
                vec![("channel", c.name.clone())],
            )
            .set(if c.failing { 1.0 } else { 0.0 });
        }
        Ok(m.handle.render())
    }
}

fn attempts(a: &AlertView, channel_id: &str, notice: Notice) -> u32 {
    a.deliveries
        .iter()
        .filter(|d| d.channel_id == channel_id && d.notice == notice.as_str())
        .count() as u32
}

fn delivered(a: &AlertView, channel_id: &str, notice: Notice) -> bool {
    a.deliveries.iter().any(|d| {
        d.channel_id == channel_id && d.notice == notice.as_str() && d.outcome == "delivered"
    })
}

fn last_attempt_at(
    a: &AlertView,
    channel_id: &str,
    notice: Notice,
) -> Option<chrono::DateTime<chrono::Utc>> {
    a.deliveries
        .iter()
        .filter(|d| d.channel_id == channel_id && d.notice == notice.as_str())
        .filter_map(|d| parse_time(&d.at))
        .max()
}

/// Counters and histograms counted from the whole ledger (from position 0 at start-up, so
/// they are right after a restart), on a recorder of this application (not a global one).
pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    position: AtomicU64,
    /// Backup id → (database name, engine), for the events that do not repeat them.
    backups: Mutex<HashMap<String, (String, String)>>,
    channels: Mutex<HashMap<String, String>>,
}

const DURATION_BUCKETS: &[f64] = &[
    0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0,
];

impl Metrics {
    fn new() -> Self {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("backline_backup_duration_seconds".into()),
                DURATION_BUCKETS,
            )
            .expect("static buckets are valid")
            .build_recorder();
        let handle = recorder.handle();
        Self {
            recorder,
            handle,
            position: AtomicU64::new(0),
            backups: Mutex::new(HashMap::new()),
            channels: Mutex::new(HashMap::new()),
        }
    }

    fn key(name: &'static str, labels: Vec<(&'static str, String)>) -> metrics::Key {
        let labels: Vec<metrics::Label> = labels
            .into_iter()
            .map(|(k, v)| metrics::Label::new(k, v))
            .collect();
        metrics::Key::from_parts(name, labels)
    }

    fn meta() -> metrics::Metadata<'static> {
        metrics::Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()))
    }

    fn counter(&self, name: &'static str, labels: Vec<(&'static str, String)>) -> metrics::Counter {
        self.recorder
            .register_counter(&Self::key(name, labels), &Self::meta())
    }

    fn gauge(&self, name: &'static str, labels: Vec<(&'static str, String)>) -> metrics::Gauge {
        self.recorder
            .register_gauge(&Self::key(name, labels), &Self::meta())
    }

    fn histogram(
        &self,
        name: &'static str,
        labels: Vec<(&'static str, String)>,
    ) -> metrics::Histogram {
        self.recorder
            .register_histogram(&Self::key(name, labels), &Self::meta())
    }

    fn observe(&self, e: &StoredEvent) {
        let db_of = |id: &str| {
            self.backups
                .lock()
                .ok()
                .and_then(|m| m.get(id).cloned())
                .unwrap_or_else(|| ("unknown".into(), "unknown".into()))
        };
        match e.event_type.as_str() {
            "BackupStarted" => {
                let (db, engine) = (field(e, "database_name"), field(e, "engine"));
                if let Ok(mut m) = self.backups.lock() {
                    m.insert(e.aggregate_id.clone(), (db.clone(), engine.clone()));
                }
                self.counter(
                    "backline_backups_started_total",
                    vec![("database", db), ("engine", engine)],
                )
                .increment(1);
            }
            "BackupCompleted" => {
                let (db, engine) = db_of(&e.aggregate_id);
                let labels = vec![("database", db.clone()), ("engine", engine)];
                self.counter("backline_backups_completed_total", labels.clone())
                    .increment(1);
                self.counter("backline_backup_bytes_written_total", labels.clone())
                    .increment(field_u64(e, "bytes").unwrap_or(0));
                self.histogram("backline_backup_duration_seconds", labels)
                    .record(field_u64(e, "duration_ms").unwrap_or(0) as f64 / 1000.0);
                if let Some(t) = event_at(e) {
                    self.gauge(
                        "backline_last_success_timestamp_seconds",
                        vec![("database", db)],
                    )
                    .set(t.timestamp_millis() as f64 / 1000.0);
                }
            }
            "BackupFailed" | "BackupAbandoned" => {
                let (db, engine) = db_of(&e.aggregate_id);
                self.counter(
                    "backline_backups_failed_total",
                    vec![("database", db), ("engine", engine)],
                )
                .increment(1);
            }
            "RestoreCompleted" | "RestoreFailed" => {
                let outcome = if e.event_type == "RestoreCompleted" {
                    "completed"
                } else {
                    "failed"
                };
                self.counter(
                    "backline_restores_total",
                    vec![("outcome", outcome.to_string())],
                )
                .increment(1);
            }
            "AlertRaised" => {
                self.counter(
                    "backline_alerts_raised_total",
                    vec![("kind", field(e, "kind"))],
                )
                .increment(1);
            }
            "ChannelAdded" => {
                if let Ok(mut m) = self.channels.lock() {
                    m.insert(e.aggregate_id.clone(), field(e, "name"));
                }
            }
            "AlertNotified" => {
                let channel_id = field(e, "channel_id");
                let name = self
                    .channels
                    .lock()
                    .ok()
                    .and_then(|m| m.get(&channel_id).cloned())
                    .unwrap_or(channel_id);
                let name = if field(e, "outcome") == "delivered" {
                    self.counter(
                        "backline_notifications_delivered_total",
                        vec![("channel", name)],
                    )
                    .increment(1);
                    return;
                } else {
                    name
                };
                self.counter(
                    "backline_notification_failures_total",
                    vec![("channel", name)],
                )
                .increment(1);
            }
            _ => {}
        }
    }
}
