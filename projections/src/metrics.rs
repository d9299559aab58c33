//! The Prometheus metrics, a read model of their own: every counter, gauge and histogram is a
//! row of `rm_metrics`, updated in the same transaction as the other read models (so a
//! restart, a replay or a second process counts exactly the ledger), and `/metrics` renders
//! those rows plus a few gauges read when asked: its cost does not grow with the ledger.

use crate::backups::BackupView;
use crate::channels::ChannelView;
use crate::event::Applied;
use crate::store::{load, Arg, OnConflict, Tx, Write};
use crate::{ProjectionError, Projections};
use backline_domain::{AlertEvent, AlertState, BackupEvent, LedgerEvent, Outcome, RestoreEvent};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use std::fmt::Write as _;

const DURATION_BUCKETS: &[f64] = &[
    0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0,
];

/// Renders the metrics read model as the Prometheus text exposition, kept until the ledger or
/// the read models move (a scrape, or hundreds of them a second, costs two small reads).
#[derive(Debug, Default)]
pub struct Metrics {
    rendered: std::sync::Mutex<Option<Rendered>>,
}

/// `(applied position, ledger head)` and the text rendered at them.
type Rendered = ((i64, i64), std::sync::Arc<String>);

/// A histogram's state: cumulative counts per bound of `DURATION_BUCKETS`, and the sum.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct Histogram {
    sum: f64,
    buckets: Vec<u64>,
}

type Labels<'a> = &'a [(&'a str, &'a str)];

/// `k="v",…` with Prometheus' escaping.
fn labels(l: Labels<'_>) -> String {
    l.iter()
        .map(|(k, v)| {
            let v = v
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            format!("{k}=\"{v}\"")
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// One series: a counter's or gauge's value, or a histogram's count, sum and cumulative
/// bucket counts.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct Series {
    value: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    histogram: Option<Histogram>,
}

async fn change(
    tx: &mut Tx<'_>,
    name: &str,
    l: Labels<'_>,
    kind: &str,
    f: impl FnOnce(&mut Series),
) -> Result<(), ProjectionError> {
    let labels = labels(l);
    let id = format!("{name}{{{labels}}}");
    let mut series = load::<Series>(tx, "rm_metrics", &id)
        .await?
        .unwrap_or_default();
    f(&mut series);
    tx.write(Write {
        table: "rm_metrics",
        key: ("id", Arg::S(id)),
        cols: vec![
            ("name", Arg::S(name.to_string())),
            ("labels", Arg::S(labels)),
            ("kind", Arg::S(kind.to_string())),
            ("body", Arg::body(&series)),
        ],
        on_conflict: OnConflict::Set(&["body"]),
    });
    Ok(())
}

async fn count(tx: &mut Tx<'_>, name: &str, l: Labels<'_>, by: f64) -> Result<(), ProjectionError> {
    change(tx, name, l, "counter", |s| s.value += by).await
}

async fn set(tx: &mut Tx<'_>, name: &str, l: Labels<'_>, v: f64) -> Result<(), ProjectionError> {
    change(tx, name, l, "gauge", |s| s.value = v).await
}

async fn observe(
    tx: &mut Tx<'_>,
    name: &str,
    l: Labels<'_>,
    v: f64,
) -> Result<(), ProjectionError> {
    change(tx, name, l, "histogram", |s| {
        let h = s.histogram.get_or_insert_with(Histogram::default);
        h.buckets.resize(DURATION_BUCKETS.len(), 0);
        for (n, bound) in h.buckets.iter_mut().zip(DURATION_BUCKETS) {
            if v <= *bound {
                *n += 1;
            }
        }
        h.sum += v;
        s.value += 1.0;
    })
    .await
}

/// The database name and engine a backup's events are counted under.
async fn backup_labels(tx: &mut Tx<'_>, id: &str) -> Result<(String, String), ProjectionError> {
    Ok(match load::<BackupView>(tx, "rm_backups", id).await? {
        Some(b) => (b.database_name, b.engine.as_str().to_string()),
        None => ("unknown".into(), "unknown".into()),
    })
}

pub(crate) async fn apply(tx: &mut Tx<'_>, e: &Applied<'_>) -> Result<(), ProjectionError> {
    let id = e.aggregate_id;
    match &e.event {
        LedgerEvent::Backup(BackupEvent::BackupStarted {
            database_name,
            engine,
            ..
        }) => {
            let (db, engine) = (database_name.to_string(), engine.as_str());
            let l = [("database", db.as_str()), ("engine", engine)];
            count(tx, "backline_backups_started_total", &l, 1.0).await?;
        }
        LedgerEvent::Backup(BackupEvent::BackupCompleted {
            artifact,
            duration_ms,
        }) => {
            let (db, engine) = backup_labels(tx, id).await?;
            let l = [("database", db.as_str()), ("engine", engine.as_str())];
            count(tx, "backline_backups_completed_total", &l, 1.0).await?;
            count(
                tx,
                "backline_backup_bytes_written_total",
                &l,
                artifact.bytes as f64,
            )
            .await?;
            let secs = *duration_ms as f64 / 1000.0;
            observe(tx, "backline_backup_duration_seconds", &l, secs).await?;
            if let Ok(t) = chrono::DateTime::parse_from_rfc3339(&e.at) {
                let at = t.timestamp_millis() as f64 / 1000.0;
                let l = [("database", db.as_str())];
                set(tx, "backline_last_success_timestamp_seconds", &l, at).await?;
            }
        }
        LedgerEvent::Backup(
            BackupEvent::BackupFailed { .. } | BackupEvent::BackupAbandoned { .. },
        ) => {
            let (db, engine) = backup_labels(tx, id).await?;
            let l = [("database", db.as_str()), ("engine", engine.as_str())];
            count(tx, "backline_backups_failed_total", &l, 1.0).await?;
        }
        LedgerEvent::Restore(RestoreEvent::RestoreCompleted { .. }) => {
            count(
                tx,
                "backline_restores_total",
                &[("outcome", "completed")],
                1.0,
            )
            .await?;
        }
        LedgerEvent::Restore(RestoreEvent::RestoreFailed { .. }) => {
            count(tx, "backline_restores_total", &[("outcome", "failed")], 1.0).await?;
        }
        LedgerEvent::Alert(AlertEvent::AlertRaised { kind, .. }) => {
            let l = [("kind", kind.as_str())];
            count(tx, "backline_alerts_raised_total", &l, 1.0).await?;
        }
        LedgerEvent::Alert(AlertEvent::AlertNotified { delivery }) => {
            let name = load::<ChannelView>(tx, "rm_channels", &delivery.channel_id)
                .await?
                .map(|c| c.name)
                .unwrap_or_else(|| delivery.channel_id.clone());
            let metric = match delivery.outcome {
                Outcome::Delivered => "backline_notifications_delivered_total",
                Outcome::Failed => "backline_notification_failures_total",
            };
            count(tx, metric, &[("channel", name.as_str())], 1.0).await?;
        }
        _ => {}
    }
    Ok(())
}

/// A sample's value as Prometheus reads it: whole numbers without a fraction.
fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

fn sample(out: &mut String, name: &str, labels: &str, value: f64) {
    let _ = if labels.is_empty() {
        writeln!(out, "{name} {}", number(value))
    } else {
        writeln!(out, "{name}{{{labels}}} {}", number(value))
    };
}

fn histogram(out: &mut String, name: &str, labels: &str, count: f64, h: &Histogram) {
    let sep = if labels.is_empty() { "" } else { "," };
    for (bound, n) in DURATION_BUCKETS.iter().zip(h.buckets.iter()) {
        let l = format!("{labels}{sep}le=\"{bound}\"");
        sample(out, &format!("{name}_bucket"), &l, *n as f64);
    }
    let l = format!("{labels}{sep}le=\"+Inf\"");
    sample(out, &format!("{name}_bucket"), &l, count);
    sample(out, &format!("{name}_sum"), labels, h.sum);
    sample(out, &format!("{name}_count"), labels, count);
}

impl Metrics {
    pub fn new() -> Self {
        Self::default()
    }

    /// The Prometheus text exposition, as the read models have applied the ledger (a read
    /// of one small table, a count of unresolved alerts and the channels).
    pub async fn render(&self, projections: &Projections) -> Result<String, ProjectionError> {
        let at = (
            projections.checkpoint().await?,
            projections.ledger().head().await?,
        );
        let kept = self.rendered.lock().ok().and_then(|r| r.clone());
        if let Some((_, text)) = kept.filter(|(key, _)| *key == at) {
            return Ok(text.as_str().to_owned());
        }
        let text = self.render_now(projections, at.1).await?;
        if let Ok(mut r) = self.rendered.lock() {
            *r = Some((at, std::sync::Arc::new(text.clone())));
        }
        Ok(text)
    }

    /// Drops the kept text (after a rebuild, which leaves the positions as they were).
    pub fn forget(&self) {
        if let Ok(mut r) = self.rendered.lock() {
            *r = None;
        }
    }

    async fn render_now(
        &self,
        projections: &Projections,
        head: i64,
    ) -> Result<String, ProjectionError> {
        let pool = projections.ledger().pool();
        let rows =
            sqlx::query("SELECT name, labels, kind, body FROM rm_metrics ORDER BY name, labels")
                .fetch_all(pool)
                .await?;
        let mut out = String::new();
        let mut last = String::new();
        for r in rows {
            let (name, labels, kind): (String, String, String) =
                (r.try_get("name")?, r.try_get("labels")?, r.try_get("kind")?);
            let series: Series = serde_json::from_str(&r.try_get::<String, _>("body")?)?;
            if name != last {
                let _ = writeln!(out, "# TYPE {name} {kind}");
                last = name.clone();
            }
            match &series.histogram {
                Some(h) => histogram(&mut out, &name, &labels, series.value, h),
                None => sample(&mut out, &name, &labels, series.value),
            }
        }
        out.push_str("# TYPE backline_ledger_position gauge\n");
        sample(&mut out, "backline_ledger_position", "", head as f64);
        out.push_str("# TYPE backline_alerts gauge\n");
        for state in [AlertState::Open, AlertState::Acknowledged] {
            let n = projections.alert_count(Some(state), None).await?;
            sample(
                &mut out,
                "backline_alerts",
                &labels(&[("state", state.as_str())]),
                n as f64,
            );
        }
        let channels = projections.channels(false).await?;
        if !channels.is_empty() {
            out.push_str("# TYPE backline_channel_failing gauge\n");
        }
        for c in channels {
            let l = labels(&[("channel", c.name.as_str())]);
            sample(
                &mut out,
                "backline_channel_failing",
                &l,
                if c.failing { 1.0 } else { 0.0 },
            );
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_render_as_prometheus_text() {
        let mut out = String::new();
        sample(&mut out, "x_total", &labels(&[("database", "a\"b")]), 3.0);
        sample(&mut out, "y", "", 1.5);
        assert_eq!(out, "x_total{database=\"a\\\"b\"} 3\ny 1.5\n");
        let mut out = String::new();
        let h = Histogram {
            sum: 2.5,
            buckets: vec![0, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2],
        };
        histogram(&mut out, "d", "database=\"a\"", 2.0, &h);
        assert!(
            out.contains("d_bucket{database=\"a\",le=\"0.5\"} 1\n"),
            "{out}"
        );
        assert!(
            out.contains("d_bucket{database=\"a\",le=\"+Inf\"} 2\n"),
            "{out}"
        );
        assert!(
            out.ends_with("d_sum{database=\"a\"} 2.5\nd_count{database=\"a\"} 2\n"),
            "{out}"
        );
    }
}
