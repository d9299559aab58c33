//! The Prometheus metrics, a projection of their own: counters and histograms counted from the
//! whole ledger (from position 0 at start-up, so they are right after a restart), on a
//! recorder of this process (not a global one), plus gauges read from the read models when
//! rendered.

use crate::{ProjectionError, Projections};
use backline_domain::{
    decode, AlertEvent, AlertState, BackupEvent, ChannelEvent, LedgerEvent, Outcome, RestoreEvent,
};
use backline_infra::{Ledger, StoredEvent};
use metrics::Recorder;
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;

const DURATION_BUCKETS: &[f64] = &[
    0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0,
];
const BATCH: i64 = 500;

pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    position: AtomicI64,
    /// Backup id → (database name, engine), for the events that do not repeat them.
    backups: Mutex<HashMap<String, (String, String)>>,
    channels: Mutex<HashMap<String, String>>,
    /// One catch-up at a time.
    running: tokio::sync::Mutex<()>,
}

type Labels = Vec<(&'static str, String)>;

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let builder = PrometheusBuilder::new();
        // Static, strictly increasing buckets: set_buckets_for_metric cannot fail on them.
        let builder = match builder.set_buckets_for_metric(
            Matcher::Full("backline_backup_duration_seconds".into()),
            DURATION_BUCKETS,
        ) {
            Ok(b) => b,
            Err(_) => PrometheusBuilder::new(),
        };
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        Self {
            recorder,
            handle,
            position: AtomicI64::new(0),
            backups: Mutex::new(HashMap::new()),
            channels: Mutex::new(HashMap::new()),
            running: tokio::sync::Mutex::new(()),
        }
    }

    fn key(name: &'static str, labels: Labels) -> metrics::Key {
        let labels: Vec<metrics::Label> = labels
            .into_iter()
            .map(|(k, v)| metrics::Label::new(k, v))
            .collect();
        metrics::Key::from_parts(name, labels)
    }

    fn meta() -> metrics::Metadata<'static> {
        metrics::Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()))
    }

    fn counter(&self, name: &'static str, labels: Labels) -> metrics::Counter {
        self.recorder
            .register_counter(&Self::key(name, labels), &Self::meta())
    }

    fn gauge(&self, name: &'static str, labels: Labels) -> metrics::Gauge {
        self.recorder
            .register_gauge(&Self::key(name, labels), &Self::meta())
    }

    fn histogram(&self, name: &'static str, labels: Labels) -> metrics::Histogram {
        self.recorder
            .register_histogram(&Self::key(name, labels), &Self::meta())
    }

    /// Counts every event after the last one counted.
    pub async fn catch_up(&self, ledger: &Ledger) -> Result<(), ProjectionError> {
        let _one = self.running.lock().await;
        loop {
            let from = self.position.load(Ordering::Relaxed);
            let events = ledger.read_after(from, BATCH).await?;
            let Some(last) = events.last().map(|e| e.position) else {
                return Ok(());
            };
            for e in &events {
                if let Ok(event) = decode(&e.aggregate_type, &e.event_type, &e.payload) {
                    self.observe(e, &event);
                }
            }
            self.position.store(last, Ordering::Relaxed);
            if (events.len() as i64) < BATCH {
                return Ok(());
            }
        }
    }

    fn database_of(&self, backup_id: &str) -> Labels {
        let (db, engine) = self
            .backups
            .lock()
            .ok()
            .and_then(|m| m.get(backup_id).cloned())
            .unwrap_or_else(|| ("unknown".into(), "unknown".into()));
        vec![("database", db), ("engine", engine)]
    }

    fn observe(&self, s: &StoredEvent, event: &LedgerEvent) {
        let id = &s.aggregate_id;
        match event {
            LedgerEvent::Backup(BackupEvent::BackupStarted {
                database_name,
                engine,
                ..
            }) => {
                let (db, engine) = (database_name.to_string(), engine.as_str().to_string());
                if let Ok(mut m) = self.backups.lock() {
                    m.insert(id.clone(), (db.clone(), engine.clone()));
                }
                self.counter(
                    "backline_backups_started_total",
                    vec![("database", db), ("engine", engine)],
                )
                .increment(1);
            }
            LedgerEvent::Backup(BackupEvent::BackupCompleted {
                artifact,
                duration_ms,
            }) => {
                let labels = self.database_of(id);
                let db = labels[0].1.clone();
                self.counter("backline_backups_completed_total", labels.clone())
                    .increment(1);
                self.counter("backline_backup_bytes_written_total", labels.clone())
                    .increment(artifact.bytes);
                self.histogram("backline_backup_duration_seconds", labels)
                    .record(*duration_ms as f64 / 1000.0);
                let at = s
                    .meta("at")
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
                if let Some(t) = at {
                    self.gauge(
                        "backline_last_success_timestamp_seconds",
                        vec![("database", db)],
                    )
                    .set(t.timestamp_millis() as f64 / 1000.0);
                }
            }
            LedgerEvent::Backup(
                BackupEvent::BackupFailed { .. } | BackupEvent::BackupAbandoned { .. },
            ) => {
                self.counter("backline_backups_failed_total", self.database_of(id))
                    .increment(1);
            }
            LedgerEvent::Restore(RestoreEvent::RestoreCompleted { .. }) => self
                .counter(
                    "backline_restores_total",
                    vec![("outcome", "completed".into())],
                )
                .increment(1),
            LedgerEvent::Restore(RestoreEvent::RestoreFailed { .. }) => self
                .counter(
                    "backline_restores_total",
                    vec![("outcome", "failed".into())],
                )
                .increment(1),
            LedgerEvent::Alert(AlertEvent::AlertRaised { kind, .. }) => self
                .counter(
                    "backline_alerts_raised_total",
                    vec![("kind", kind.as_str().to_string())],
                )
                .increment(1),
            LedgerEvent::Channel(ChannelEvent::ChannelAdded { name, .. }) => {
                if let Ok(mut m) = self.channels.lock() {
                    m.insert(id.clone(), name.clone());
                }
            }
            LedgerEvent::Alert(AlertEvent::AlertNotified { delivery }) => {
                let name = self
                    .channels
                    .lock()
                    .ok()
                    .and_then(|m| m.get(&delivery.channel_id).cloned())
                    .unwrap_or_else(|| delivery.channel_id.clone());
                let metric = match delivery.outcome {
                    Outcome::Delivered => "backline_notifications_delivered_total",
                    Outcome::Failed => "backline_notification_failures_total",
                };
                self.counter(metric, vec![("channel", name)]).increment(1);
            }
            _ => {}
        }
    }

    /// The Prometheus text exposition, counted up to now.
    pub async fn render(&self, projections: &Projections) -> Result<String, ProjectionError> {
        let ledger = projections.ledger();
        self.catch_up(ledger).await?;
        let head = ledger.head().await?;
        self.gauge("backline_ledger_position", vec![])
            .set(head as f64);
        for state in [AlertState::Open, AlertState::Acknowledged] {
            let n = projections.alerts(Some(state), None).await?.len();
            self.gauge(
                "backline_alerts",
                vec![("state", state.as_str().to_string())],
            )
            .set(n as f64);
        }
        for c in projections.channels(false).await? {
            self.gauge(
                "backline_channel_failing",
                vec![("channel", c.name.clone())],
            )
            .set(if c.failing { 1.0 } else { 0.0 });
        }
        Ok(self.handle.render())
    }
}
