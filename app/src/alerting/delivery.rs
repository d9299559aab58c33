//! Delivery of notifications: raised and resolved notices to every channel that existed when
//! they happened, reminders of unacknowledged alerts, retries with bounded exponential
//! back-off. Each send runs in its own task; every attempt is an `AlertNotified` event.

use super::{Alerting, STALE_CAUSE};
use crate::error::AppError;
use crate::time::parse_time;
use backline_domain::{
    retry_delay, AlertCommand, AlertState, Channel, ChannelTarget, Delivery, Notice,
};
use backline_infra::notify::{AlertMessage, Attempt, HookTarget, Target};
use backline_projections::{AlertView, ChannelView};
use cqrs_es::AggregateError;
use std::time::Duration;

/// Delivery attempts per notification and channel before giving up.
pub const MAX_ATTEMPTS: u32 = 8;
const RETRY_CAP: Duration = Duration::from_secs(600);

fn last_attempt_at(
    a: &AlertView,
    channel_id: &str,
    notice: Notice,
) -> Option<chrono::DateTime<chrono::Utc>> {
    a.deliveries
        .iter()
        .filter(|d| d.channel_id == channel_id && d.notice == notice)
        .filter_map(|d| parse_time(&d.at))
        .max()
}

impl Alerting {
    fn retry_base(&self) -> Duration {
        Duration::from_millis(self.core.settings.notify_retry_base_ms.max(10))
    }

    /// Whether attempt `n + 1` of `notice` to `channel_id` must still wait for its back-off.
    fn too_early(&self, a: &AlertView, channel_id: &str, notice: Notice, n: u32) -> bool {
        n > 0
            && last_attempt_at(a, channel_id, notice).is_none_or(|t| {
                let wait = retry_delay(self.retry_base(), RETRY_CAP, n);
                chrono::Utc::now() < t + chrono::Duration::from_std(wait).unwrap_or_default()
            })
    }

    /// Sends every notification that is due.
    pub(crate) async fn deliver_pending(&self) -> Result<(), AppError> {
        let channels = self.core.projections.channels(false).await?;
        if channels.is_empty() {
            return Ok(());
        }
        let now = chrono::Utc::now();
        let remind = self.core.settings.alert_remind_secs;
        for a in self.core.projections.alerts(None, None).await? {
            let long_resolved = a.is_resolved()
                && a.resolved_at
                    .as_deref()
                    .and_then(parse_time)
                    .is_some_and(|t| now - t > STALE_CAUSE);
            if long_resolved {
                continue;
            }
            for c in &channels {
                let raised_done = a.delivered(&c.id, Notice::Raised)
                    || a.attempts(&c.id, Notice::Raised) >= MAX_ATTEMPTS;
                let mut notices = Vec::new();
                if c.created_position < a.raised_position {
                    notices.push(Notice::Raised);
                }
                if a.is_resolved()
                    && a.resolved_position.is_some_and(|p| c.created_position < p)
                    && (raised_done || c.created_position > a.raised_position)
                {
                    notices.push(Notice::Resolved);
                }
                for notice in notices {
                    let n = a.attempts(&c.id, notice);
                    if a.delivered(&c.id, notice)
                        || n >= MAX_ATTEMPTS
                        || self.too_early(&a, &c.id, notice, n)
                    {
                        continue;
                    }
                    self.spawn_delivery(&a, c, notice, n + 1);
                }
                // Reminders: open, unacknowledged, and nothing sent to this channel lately.
                if remind > 0 && a.state == AlertState::Open && raised_done {
                    let last = a
                        .deliveries
                        .iter()
                        .filter(|d| d.channel_id == c.id && d.notice != Notice::Resolved)
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

    fn spawn_delivery(&self, a: &AlertView, c: &ChannelView, notice: Notice, attempt: u32) {
        let key = (a.id.clone(), c.id.clone(), notice);
        {
            let Ok(mut f) = self.core.alerting.in_flight.lock() else {
                return;
            };
            if !f.insert(key.clone()) {
                return;
            }
        }
        let me = self.clone();
        let a = a.clone();
        let channel_id = c.id.clone();
        tokio::spawn(async move {
            // The scan may have read the alert before an earlier attempt was recorded: check
            // against the read model as it is now, so an attempt is never made twice.
            if notice != Notice::Reminder
                && me.stale_attempt(&a.id, &channel_id, notice, attempt).await
            {
                if let Ok(mut f) = me.core.alerting.in_flight.lock() {
                    f.remove(&key);
                }
                return;
            }
            let outcome = match me.open_target(&channel_id).await {
                Ok(target) => me.send(&target, &me.message(&a, notice)).await,
                Err(e) => Attempt::failed(None, e.to_string()),
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
            me.record_delivery(&a.id, delivery).await;
            me.core.refresh().await;
            if let Ok(mut f) = me.core.alerting.in_flight.lock() {
                f.remove(&key);
            }
        });
    }

    /// Whether attempt `attempt` of `notice` is no longer due (delivered, made, or early).
    async fn stale_attempt(
        &self,
        alert_id: &str,
        channel_id: &str,
        notice: Notice,
        attempt: u32,
    ) -> bool {
        let fresh = self.core.projections.alert(alert_id).await.ok().flatten();
        fresh.as_ref().is_none_or(|f| {
            let n = f.attempts(channel_id, notice);
            f.delivered(channel_id, notice)
                || n + 1 != attempt
                || self.too_early(f, channel_id, notice, n)
        })
    }

    /// Records an attempt. Deliveries to several channels record on the same alert at once:
    /// a conflict only means another one committed first, so reload and record again.
    async fn record_delivery(&self, alert_id: &str, delivery: Delivery) {
        let core = &self.core;
        let mut tries = 0;
        loop {
            tries += 1;
            match core
                .aggregates
                .alerts
                .execute_with_metadata(
                    alert_id,
                    AlertCommand::RecordDelivery(delivery.clone()),
                    core.meta("alerts", alert_id),
                )
                .await
            {
                Ok(()) => return,
                Err(AggregateError::AggregateConflict) if tries < 20 => {
                    tokio::time::sleep(Duration::from_millis(10 * tries)).await;
                }
                Err(e) => {
                    tracing::error!(alert_id, error = %e, "could not record an alert delivery");
                    return;
                }
            }
        }
    }

    pub(crate) async fn send(&self, target: &Target, msg: &AlertMessage) -> Attempt {
        match &self.core.alerting.notifier {
            Ok(n) => n.deliver(target, msg).await,
            Err(e) => Attempt::failed(None, e.clone()),
        }
    }

    fn message(&self, a: &AlertView, notice: Notice) -> AlertMessage {
        AlertMessage {
            alert_id: a.id.clone(),
            kind: a.kind.as_str().to_string(),
            title: a.kind.title().to_string(),
            notice,
            state: a.state.as_str().to_string(),
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
    pub(crate) async fn open_target(&self, channel_id: &str) -> Result<Target, AppError> {
        let core = &self.core;
        let c = core
            .ledger
            .load::<Channel>(channel_id)
            .await
            .map_err(AppError::internal)?
            .ok_or_else(|| AppError::NotFound(format!("no channel {channel_id}")))?;
        match c.target {
            Some(ChannelTarget::Email { to }) => Ok(Target::Email { to }),
            Some(ChannelTarget::Webhook {
                style,
                sealed_url,
                chat_id,
                priority,
                ..
            }) => {
                let url = core.keyring.open(channel_id, &sealed_url).await?;
                let secret = match &c.secret {
                    Some(s) => Some(core.keyring.open(channel_id, s).await?),
                    None => None,
                };
                Ok(Target::Webhook(HookTarget {
                    style,
                    url,
                    secret,
                    chat_id,
                    priority,
                }))
            }
            None => Err(AppError::NotFound(format!("no channel {channel_id}"))),
        }
    }
}
