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

use crate::core::Core;
use crate::error::{backup_error, database_error, from_aggregate, AppError};
use backline_domain::backup::DatabaseFacts;
use backline_domain::{
    BackupCommand, BackupManifest, ConnectionString, DatabaseCommand, DatabaseName, Retention,
    Trigger,
};
use backline_infra::storage::ArtifactStore;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// What an import did, line by line.
#[derive(Debug, Clone, Default, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImportReport {
    pub databases: usize,
    pub backups: usize,
    pub lines: Vec<String>,
}

/// Whose manifests an import accepts.
#[derive(Debug, Clone, Default)]
pub struct ImportTrust {
    /// The Ed25519 public key (hex) manifests must be signed with (default: this server's).
    pub public_key: Option<String>,
    /// Also accept manifests without a signature (written before manifests were signed). A
    /// signature that does not verify is refused all the same.
    pub trust_unsigned: bool,
}

#[derive(Clone)]
pub struct Import {
    core: Arc<Core>,
}

/// One database found in storage: its manifests, oldest first.
struct Found {
    id: String,
    versions: Vec<BackupManifest>,
}

impl Import {
    pub fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    pub async fn from_storage(
        &self,
        actor: &str,
        storage: &str,
        connections: &[String],
        trust: &ImportTrust,
    ) -> Result<ImportReport, AppError> {
        let core = &self.core;
        let key = trust
            .public_key
            .clone()
            .unwrap_or_else(|| core.signing.public_hex());
        backline_infra::signing::parse_public_key(&key)
            .map_err(|e| AppError::invalid("public_key", e.to_string()))?;
        let head = core.ledger.head().await.map_err(AppError::internal)?;
        if head != 0 {
            return Err(AppError::Conflict(format!(
                "the ledger already holds {head} events: import rebuilds history only into an empty ledger (point BACKLINE_LEDGER_URL / --data-dir at a new one)"
            )));
        }
        let store = core
            .storage_named(storage)
            .ok_or_else(|| {
                AppError::invalid(
                    "from_storage",
                    format!("no storage named {storage:?} is configured"),
                )
            })?
            .clone();
        let mut given: BTreeMap<String, String> = BTreeMap::new();
        for c in connections {
            let (name, url) = c.split_once('=').ok_or_else(|| {
                AppError::invalid(
                    "connection",
                    format!("--connection {c:?}: expected NAME=URL"),
                )
            })?;
            given.insert(name.trim().to_string(), url.trim().to_string());
        }
        let mut report = ImportReport::default();
        let mut refused = Vec::new();
        let found = read_manifests(&store, &mut report, |path, bytes, m| {
            if let Err(why) = check_signature(bytes, m, &key, trust.trust_unsigned) {
                refused.push(format!("{path}: {why}"));
            }
        })
        .await?;
        if !refused.is_empty() {
            return Err(AppError::Unprocessable(format!(
                "refused {} manifests, nothing was imported:\n  {}",
                refused.len(),
                refused.join("\n  ")
            )));
        }
        let mut taken: Vec<String> = Vec::new();
        for db in &found {
            let (Some(first), Some(latest)) = (db.versions.first(), db.versions.last()) else {
                continue;
            };
            // Two databases may have shared a name over time: the most recent keeps it.
            let newer_has_name = found.iter().any(|other| {
                other.id != db.id
                    && other.versions.last().is_some_and(|o| {
                        o.database_name == latest.database_name && o.created_at > latest.created_at
                    })
            });
            let mut name = latest.database_name.clone();
            if newer_has_name || taken.contains(&name) {
                name = format!("{}-{}", name, &db.id[db.id.len().saturating_sub(8)..]);
            }
            let name = DatabaseName::parse(&name).map_err(|e| {
                AppError::bug(format!("database name {name:?} from a manifest: {e}"))
            })?;
            taken.push(name.to_string());
            let Some((raw, source)) = connection_for(&given, &name, latest, &mut report, &db.id)
            else {
                continue;
            };
            let facts = DatabaseFacts {
                id: db.id.clone(),
                name: name.clone(),
                engine: latest.engine,
                removed: false,
            };
            if !self
                .register(
                    actor,
                    &facts,
                    &raw,
                    source,
                    first,
                    store.label(),
                    &mut report,
                )
                .await?
            {
                continue;
            }
            for m in &db.versions {
                self.import_version(actor, &facts, m, store.label()).await?;
                report.backups += 1;
            }
            report.lines.push(format!(
                "  {} versions of {name}, {} to {}",
                db.versions.len(),
                first.created_at,
                latest.created_at
            ));
        }
        core.refresh().await;
        Ok(report)
    }

    /// Registers a database found in storage under its original id; `false` when skipped.
    #[allow(clippy::too_many_arguments)]
    async fn register(
        &self,
        actor: &str,
        db: &DatabaseFacts,
        raw: &str,
        source: &str,
        first: &BackupManifest,
        from: &str,
        report: &mut ImportReport,
    ) -> Result<bool, AppError> {
        let core = &self.core;
        let (name, db_id, engine) = (&db.name, &db.id, db.engine);
        let conn = ConnectionString::parse(engine, raw)
            .map_err(|e| AppError::invalid("connection", format!("connection for {name}: {e}")))?;
        if let Err(e) = core.coordination.claim_name(name, db_id).await {
            report
                .lines
                .push(format!("skipped database {name} ({db_id}): {e}"));
            return Ok(false);
        }
        let stored = crate::tunnels::seal(core, db_id, &conn).await?;
        core.aggregates
            .databases
            .execute_with_metadata(
                db_id,
                DatabaseCommand::Register {
                    name: name.clone(),
                    engine,
                    connection: stored,
                    schedule: None,
                    retention: Retention::default(),
                },
                self.meta(actor, db_id, &first.created_at, from),
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
        Ok(true)
    }

    /// Records one version from its manifest: started and completed, at its original time.
    async fn import_version(
        &self,
        actor: &str,
        facts: &DatabaseFacts,
        m: &BackupManifest,
        from: &str,
    ) -> Result<(), AppError> {
        let core = &self.core;
        core.aggregates
            .backups
            .execute_with_metadata(
                &m.backup_id,
                BackupCommand::Start {
                    database: facts.clone(),
                    trigger: Trigger::Manual {
                        actor: actor.to_string(),
                    },
                    tools: m.tools(),
                    node: core.node.clone(),
                },
                self.meta(actor, &m.backup_id, &m.created_at, from),
            )
            .await
            .map_err(|e| from_aggregate(e, backup_error))?;
        core.aggregates
            .backups
            .execute_with_metadata(
                &m.backup_id,
                BackupCommand::Complete {
                    artifact: m.artifact(from),
                    duration_ms: 0,
                },
                self.meta(actor, &m.backup_id, &m.created_at, from),
            )
            .await
            .map_err(|e| from_aggregate(e, backup_error))
    }

    /// Metadata of an imported event: dated when the backup happened, saying it was imported.
    fn meta(
        &self,
        actor: &str,
        correlation_id: &str,
        at: &str,
        from: &str,
    ) -> HashMap<String, String> {
        let mut m = self.core.meta(actor, correlation_id);
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

/// Every readable manifest in `store` whose artifact is there, by database in order of their
/// first backup, each database's versions oldest first.
async fn read_manifests(
    store: &ArtifactStore,
    report: &mut ImportReport,
    mut check: impl FnMut(&str, &[u8], &BackupManifest),
) -> Result<Vec<Found>, AppError> {
    let entries = store
        .operator()
        .list_with("")
        .recursive(true)
        .await
        .map_err(|e| AppError::bug(format!("listing {}: {e}", store.label())))?;
    let mut manifests: Vec<BackupManifest> = Vec::new();
    for entry in entries {
        let path = entry.path();
        if !path.ends_with(".manifest.json") {
            continue;
        }
        let bytes = store
            .get(path)
            .await
            .map_err(|e| AppError::bug(format!("reading {path}: {e}")))?;
        let m = match BackupManifest::parse(&bytes) {
            Ok(m) => m,
            Err(e) => {
                report.lines.push(format!("skipped {path}: {e}"));
                continue;
            }
        };
        check(path, &bytes, &m);
        match missing_object(store, &m).await {
            Ok(None) => manifests.push(m),
            Ok(Some(key)) => report.lines.push(format!(
                "skipped backup {}: its artifact {key} is missing",
                m.backup_id
            )),
            Err(e) => report
                .lines
                .push(format!("skipped backup {}: {e}", m.backup_id)),
        }
    }
    manifests.sort_by(|a, b| (&a.created_at, &a.backup_id).cmp(&(&b.created_at, &b.backup_id)));
    let mut found: Vec<Found> = Vec::new();
    for m in manifests {
        match found.iter_mut().find(|f| f.id == m.database_id) {
            Some(f) => f.versions.push(m),
            None => found.push(Found {
                id: m.database_id.clone(),
                versions: vec![m],
            }),
        }
    }
    Ok(found)
}

/// The first object of `m`'s version (its artifact, or each part of a parallel backup) that
/// is not in `store`.
async fn missing_object(
    store: &ArtifactStore,
    m: &BackupManifest,
) -> Result<Option<String>, opendal::Error> {
    let keys = std::iter::once(&m.key).chain(m.parts.iter().map(|p| &p.key));
    for key in keys {
        if !store.operator().exists(key).await? {
            return Ok(Some(key.clone()));
        }
    }
    Ok(None)
}

/// Whether a manifest is signed by `key` and unchanged since: the reason it is refused if not.
fn check_signature(
    stored: &[u8],
    m: &BackupManifest,
    key: &str,
    trust_unsigned: bool,
) -> Result<(), String> {
    let Some(sig) = &m.signature else {
        return if trust_unsigned {
            Ok(())
        } else {
            Err("unsigned (pass --trust-unsigned to import manifests written before Backline signed them)".into())
        };
    };
    if sig.public_key != key {
        return Err(format!(
            "signed by another key ({}), not {key} (pass the key it was signed with as --public-key)",
            sig.public_key
        ));
    }
    let bytes = BackupManifest::signed_bytes(stored).map_err(|e| e.to_string())?;
    backline_infra::signing::verify(key, &bytes, &sig.signature).map_err(|_| {
        "its signature does not verify: it was changed after it was signed".to_string()
    })
}

/// The connection to register a database with: the given one, else the manifest's (without
/// its password); `None` (and a report line) when there is none.
fn connection_for(
    given: &BTreeMap<String, String>,
    name: &DatabaseName,
    latest: &BackupManifest,
    report: &mut ImportReport,
    db_id: &str,
) -> Option<(String, &'static str)> {
    if let Some(url) = given
        .get(name.as_str())
        .or_else(|| given.get(&latest.database_name))
    {
        return Some((url.clone(), "the given connection"));
    }
    match &latest.connection {
        // The manifest holds the redacted form: drop the `***` placeholder.
        Some(c) => Some((
            c.replace(":***@", "@"),
            "the manifest's connection, without password",
        )),
        None => {
            report.lines.push(format!(
                "skipped database {} ({db_id}): its manifests hold no connection; give one with --connection {}=URL",
                latest.database_name, latest.database_name
            ));
            None
        }
    }
}
