//! Alerting: a reactor that turns ledger events into alerts (from its own checkpoint, so a
//! restart neither loses nor repeats one), watchdogs for missed schedules and stalled
//! backups, the delivery of notifications with bounded exponential retries, and channels.

mod channels;
mod delivery;
mod reactor;
mod watchdogs;

pub use channels::{ChannelTest, CreatedChannel, NewChannel};
pub use delivery::MAX_ATTEMPTS;

use crate::core::Core;
use crate::error::{alert_error, from_aggregate, AppError};
use crate::settings::Settings;
use backline_domain::{AlertCommand, AlertError, AlertKind, Notice};
use backline_infra::notify::Notifier;
use backline_projections::AlertView;
use cqrs_es::AggregateError;
use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

const TICK: Duration = Duration::from_millis(300);
/// Events older than this when the reactor first sees them (a ledger from before alerting
/// existed) resolve alerts but do not raise any: nobody wants last year's failures by mail.
pub(crate) const STALE_CAUSE: chrono::Duration = chrono::Duration::days(1);

/// What alerting keeps in the application.
pub struct AlertingState {
    notifier: Result<Notifier, String>,
    public_url: OnceLock<String>,
    /// Deliveries being attempted now: (alert, channel, notice).
    in_flight: Mutex<HashSet<(String, String, Notice)>>,
}

impl AlertingState {
    pub(crate) fn new(settings: &Settings) -> Self {
        Self {
            notifier: Notifier::new(
                settings.smtp_url.as_deref(),
                settings.alert_from.as_deref(),
                settings.webhook_policy(),
            ),
            public_url: OnceLock::new(),
            in_flight: Mutex::new(HashSet::new()),
        }
    }
}

#[derive(Clone)]
pub struct Alerting {
    core: Arc<Core>,
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

impl Alerting {
    /// How often storage and ledger are checked (BACKLINE_STORAGE_CHECK_SECS).
    fn storage_check_every(&self) -> Duration {
        Duration::from_secs(self.core.settings.storage_check_secs.max(1))
    }
}

/// Leftover scratch databases are looked for on the servers this often.
const LEFTOVER_CHECK_EVERY: Duration = Duration::from_secs(600);

/// What an alert is raised for.
pub(crate) struct Trouble<'a> {
    pub kind: AlertKind,
    pub database_id: &'a str,
    pub database_name: &'a str,
    pub cause: String,
    pub cause_event: Option<i64>,
    pub message: String,
    pub detail: String,
}

impl Alerting {
    pub fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    /// The UI's address in notifications: BACKLINE_PUBLIC_URL, or http://<listen address>.
    pub fn set_listen_address(&self, addr: std::net::SocketAddr) {
        let url = self
            .core
            .settings
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"));
        let _ = self
            .core
            .alerting
            .public_url
            .set(url.trim_end_matches('/').to_string());
    }

    pub(crate) fn public_url(&self) -> String {
        self.core
            .alerting
            .public_url
            .get()
            .cloned()
            .unwrap_or_else(|| "http://127.0.0.1:8080".into())
    }

    /// Runs the alert reactor, the watchdogs and the deliveries until the process ends.
    pub async fn run(self) {
        let mut last_missed_check = Instant::now() - Duration::from_secs(3600);
        let mut last_leftover_check = Instant::now() - LEFTOVER_CHECK_EVERY;
        // The first check a while after start: a server starting on a full disk still says so
        // at once through /readyz.
        let mut last_storage_check = Instant::now();
        loop {
            if let Err(e) = self.react().await {
                tracing::warn!(error = %e, "the alert reactor could not read the ledger");
            }
            self.check_stalls();
            if last_missed_check.elapsed() >= Duration::from_secs(1) {
                last_missed_check = Instant::now();
                if let Err(e) = self.check_missed_schedules().await {
                    tracing::warn!(error = %e, "checking for missed schedules failed");
                }
            }
            if last_storage_check.elapsed() >= self.storage_check_every() {
                last_storage_check = Instant::now();
                if let Err(e) = self.check_storage().await {
                    tracing::warn!(error = %e, "checking storage failed");
                }
            }
            if last_leftover_check.elapsed() >= LEFTOVER_CHECK_EVERY {
                last_leftover_check = Instant::now();
                if let Err(e) = self.check_leftovers().await {
                    tracing::warn!(error = %e, "checking for leftover scratch databases failed");
                }
            }
            if let Err(e) = self.deliver_pending().await {
                tracing::warn!(error = %e, "alert delivery failed");
            }
            tokio::time::sleep(TICK).await;
        }
    }

    /// One open alert per (database, kind): a repeat increments its counter.
    pub(crate) async fn raise_or_repeat(&self, t: Trouble<'_>) -> Result<(), AppError> {
        let core = &self.core;
        if let Some(open) = core
            .projections
            .unresolved_alert(t.database_id, t.kind)
            .await?
        {
            let r = core
                .aggregates
                .alerts
                .execute_with_metadata(
                    &open.id,
                    AlertCommand::Repeat {
                        cause: t.cause,
                        cause_event: t.cause_event,
                        message: t.message,
                    },
                    core.meta("alerts", &open.id),
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
        let id = alert_id(t.database_id, t.kind, &t.cause);
        let r = core
            .aggregates
            .alerts
            .execute_with_metadata(
                &id,
                AlertCommand::Raise {
                    kind: t.kind,
                    database_id: t.database_id.to_string(),
                    database_name: t.database_name.to_string(),
                    cause: t.cause,
                    cause_event: t.cause_event,
                    message: t.message.clone(),
                    detail: t.detail,
                },
                core.meta("alerts", &id),
            )
            .await;
        match r {
            Ok(()) => {
                tracing::warn!(
                    alert_id = id,
                    kind = t.kind.as_str(),
                    database_name = t.database_name,
                    message = t.message,
                    "alert raised"
                );
                Ok(())
            }
            Err(AggregateError::UserError(AlertError::AlreadyRaised))
            | Err(AggregateError::AggregateConflict) => Ok(()),
            Err(e) => Err(from_aggregate(e, alert_error)),
        }
    }

    /// Acknowledges an alert: reminders stop; it stays until what it is about recovers.
    pub async fn acknowledge(&self, actor: &str, id: &str) -> Result<AlertView, AppError> {
        let core = &self.core;
        core.aggregates
            .alerts
            .execute_with_metadata(
                id,
                AlertCommand::Acknowledge {
                    actor: actor.to_string(),
                },
                core.meta(actor, id),
            )
            .await
            .map_err(|e| from_aggregate(e, alert_error))?;
        core.refresh().await;
        core.projections
            .alert(id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("no alert {id}")))
    }
}
