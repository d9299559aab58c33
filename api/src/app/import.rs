//! `backline import --from-storage`: rebuild the version history in an empty ledger from the
//! manifests that lie beside every artifact (disaster recovery).
//!
//! What storage can give back: each database's id, name and engine, where it was (host, port,
//! user, database — never the password), and every version with its checksum. What it cannot:
//! passwords, schedules, retention, restores, failed runs. So each database is registered
//! under its original id with the connection the operator supplies (`--connection NAME=URL`),
//! or else with the manifest's connection and no password; the operator then PATCHes the
//! connection (and schedule) before the next backup. The events say they were imported
//! (`actor: import`, metadata `imported_from`), and carry the backups' original times.

use super::*;
use backline_domain::{DatabaseName, Engine, Retention};
use std::collections::BTreeMap;

/// The manifest written beside each artifact (`backline-manifest/1`).
#[derive(Debug, Clone, serde::Deserialize)]
struct Manifest {
    format: String,
    backup_id: String,
    database_id: String,
    database_name: String,
    engine: String,
    #[serde(default)]
    connection: Option<String>,
    #[serde(default)]
    tool: Option<String>,
    #[serde(default)]
    tool_version: Option<String>,
    #[serde(default)]
    server_version: Option<String>,
    key: String,
    bytes: u64,
    raw_bytes: u64,
    sha256: String,
    compression: String,
    #[serde(default)]
    encrypted: bool,
    created_at: String,
    #[serde(default)]
    warnings: Vec<String>,
    #[serde(default)]
    database_properties: Option<backline_domain::DatabaseProperties>,
}

/// What an import did, line by line.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ImportReport {
    pub databases: usize,
    pub backups: usize,
    pub lines: Vec<String>,
}

impl App {
    pub async fn import_from_storage(
        &self,
        actor: &str,
        storage: &str,
        connections: &[String],
    ) -> Result<ImportReport, AppError> {
        let head = self.ledger.head().await.map_err(AppError::internal)?;
        if head != 0 {
            return Err(AppError::Conflict(format!(
                "the ledger already holds {head} events: import rebuilds history only into an empty ledger (point BACKLINE_LEDGER_URL / --data-dir at a new one)"
            )));
        }
        let store = self
            .storage_named(storage)
            .ok_or_else(|| AppError::Invalid {
                field: "from_storage",
                message: format!("no storage named {storage:?} is configured"),
            })?
            .clone();
        let mut given: BTreeMap<String, String> = BTreeMap::new();
        for c in connections {
            let (name, url) = c.split_once('=').ok_or_else(|| AppError::Invalid {
                field: "connection",
                message: format!("--connection {c:?}: expected NAME=URL"),
            })?;
            given.insert(name.trim().to_string(), url.trim().to_string());
        }

        let mut report = ImportReport::default();
        let entries = store
            .operator()
            .list_with("")
            .recursive(true)
            .await
            .map_err(|e| AppError::Internal(format!("listing {}: {e}", store.label())))?;
        let mut manifests: Vec<Manifest> = Vec::new();
        for entry in entries {
            let path = entry.path();
            if !path.ends_with(".manifest.json") {
                continue;
            }
            let bytes = store
                .get(path)
                .await
                .map_err(|e| AppError::Internal(format!("reading {path}: {e}")))?;
            let m: Manifest = match serde_json::from_slice(&bytes) {
                Ok(m) => m,
                Err(e) => {
                    report
                        .lines
                        .push(format!("skipped {path}: not a manifest ({e})"));
                    continue;
                }
            };
            if !m.format.starts_with("backline-manifest/") {
                report
                    .lines
                    .push(format!("skipped {path}: format {}", m.format));
                continue;
            }
            match store.operator().exists(&m.key).await {
                Ok(true) => manifests.push(m),
                Ok(false) => report.lines.push(format!(
                    "skipped backup {}: its artifact {} is missing",
                    m.backup_id, m.key
                )),
                Err(e) => report
                    .lines
                    .push(format!("skipped backup {}: {e}", m.backup_id)),
            }
        }
        manifests.sort_by(|a, b| (&a.created_at, &a.backup_id).cmp(&(&b.created_at, &b.backup_id)));

        // Databases in order of their first backup; the newest manifest names each.
        let mut order: Vec<String> = Vec::new();
        let mut by_db: BTreeMap<String, Vec<Manifest>> = BTreeMap::new();
        for m in manifests {
            if !by_db.contains_key(&m.database_id) {
                order.push(m.database_id.clone());
            }
            by_db.entry(m.database_id.clone()).or_default().push(m);
        }
        let mut taken: Vec<String> = Vec::new();
        for db_id in order {
            let Some(versions) = by_db.get(&db_id) else {
                continue;
            };
            let (Some(first), Some(latest)) = (versions.first(), versions.last()) else {
                continue;
            };
            let engine = Engine::parse(&latest.engine).ok_or_else(|| {
                AppError::Internal(format!("manifest engine {:?} is unknown", latest.engine))
            })?;
            // Two databases may have shared a name over time: the most recent keeps it.
            let newer_has_name = by_db.iter().any(|(other, v)| {
                other != &db_id
                    && v.last().is_some_and(|o| {
                        o.database_name == latest.database_name && o.created_at > latest.created_at
                    })
            });
            let mut name = latest.database_name.clone();
            if newer_has_name || taken.contains(&name) {
                name = format!("{}-{}", name, &db_id[db_id.len().saturating_sub(8)..]);
            }
            let name = DatabaseName::parse(&name).map_err(|e| {
                AppError::Internal(format!("database name {name:?} from a manifest: {e}"))
            })?;
            taken.push(name.to_string());
            let (raw, source) = match given
                .get(name.as_str())
                .or_else(|| given.get(&latest.database_name))
            {
                Some(url) => (url.clone(), "the given connection"),
                None => match &latest.connection {
                    // The manifest holds the redacted form: drop the `***` placeholder.
                    Some(c) => (
                        c.replace(":***@", "@"),
                        "the manifest's connection, without password",
                    ),
                    None => {
                        report.lines.push(format!(
                            "skipped database {} ({db_id}): its manifests hold no connection; give one with --connection {}=URL",
                            latest.database_name, latest.database_name
                        ));
                        continue;
                    }
                },
            };
            let conn = ConnectionString::parse(engine, &raw).map_err(|e| AppError::Invalid {
                field: "connection",
                message: format!("connection for {name}: {e}"),
            })?;
            if let Err(e) = self.claim_name(&name, &db_id).await {
                report
                    .lines
                    .push(format!("skipped database {name} ({db_id}): {}", e));
                continue;
            }
            let sealed = match conn.password() {
                Some(p) => Some(self.keyring.seal(&db_id, p).await?),
                None => None,
            };
            let mut meta = self.import_meta(actor, &db_id, &first.created_at, store.label());
            self.databases
                .execute_with_metadata(
                    &db_id,
                    DatabaseCommand::Register {
                        name: name.clone(),
                        engine,
                        connection: conn.to_stored(sealed),
                        schedule: None,
                        retention: Retention::default(),
                    },
                    std::mem::take(&mut meta),
                )
                .await
                .map_err(|e| from_aggregate(e, database_error))?;
            report.databases += 1;
            report.lines.push(format!(
                "database {name} ({db_id}, {engine}) registered with {source}: {}{}",
                conn.redacted(),
                if conn.password().is_none() && source != "the given connection" {
                    " (PATCH the connection to add its password if it needs one)"
                } else {
                    ""
                }
            ));
            let facts = DatabaseFacts {
                id: db_id.clone(),
                name: name.clone(),
                engine,
                removed: false,
            };
            for m in versions {
                let tools = ToolInfo {
                    tool: m.tool.clone(),
                    tool_version: m.tool_version.clone(),
                    server_version: m.server_version.clone(),
                };
                self.backups
                    .execute_with_metadata(
                        &m.backup_id,
                        BackupCommand::Start {
                            database: facts.clone(),
                            trigger: Trigger::Manual {
                                actor: actor.to_string(),
                            },
                            tools,
                            node: self.node.clone(),
                        },
                        self.import_meta(actor, &m.backup_id, &m.created_at, store.label()),
                    )
                    .await
                    .map_err(|e| from_aggregate(e, backup_error))?;
                self.backups
                    .execute_with_metadata(
                        &m.backup_id,
                        BackupCommand::Complete {
                            artifact: StoredArtifact {
                                storage: store.label().to_string(),
                                key: m.key.clone(),
                                bytes: m.bytes,
                                raw_bytes: m.raw_bytes,
                                sha256: m.sha256.clone(),
                                compression: m.compression.clone(),
                                encrypted: m.encrypted,
                                copies: Vec::new(),
                                warnings: m.warnings.clone(),
                                database_properties: m.database_properties.clone(),
                            },
                            duration_ms: 0,
                        },
                        self.import_meta(actor, &m.backup_id, &m.created_at, store.label()),
                    )
                    .await
                    .map_err(|e| from_aggregate(e, backup_error))?;
                report.backups += 1;
            }
            report.lines.push(format!(
                "  {} versions of {name}, {} to {}",
                versions.len(),
                first.created_at,
                latest.created_at
            ));
        }
        self.refresh().await;
        Ok(report)
    }

    /// Metadata of an imported event: dated when the backup happened, saying it was imported.
    fn import_meta(
        &self,
        actor: &str,
        correlation_id: &str,
        at: &str,
        from: &str,
    ) -> HashMap<String, String> {
        let mut m = self.meta(actor, correlation_id);
        let at = chrono::DateTime::parse_from_rfc3339(at)
            .map(|t| {
                t.with_timezone(&chrono::Utc)
                    .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
            })
            .unwrap_or_else(|_| at.to_string());
        if let Some(recorded) = m.insert("at".into(), at) {
            m.insert("recorded_at".into(), recorded);
        }
        m.insert("imported_from".into(), from.to_string());
        m
    }
}
