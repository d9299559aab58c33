use anyhow::{bail, Context};
use backline_api::app::App;
use backline_api::config::Settings;
use backline_api::startup::{admin_token, Server};
use backline_api::telemetry;
use backline_domain::Trigger;
use backline_projections::{EventQuery, Order};
use clap::{Parser, Subcommand};
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "backline",
    version,
    about = "Backups and restores of PostgreSQL and MySQL/MariaDB, kept in an append-only ledger"
)]
struct Cli {
    #[command(flatten)]
    settings: Settings,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP API.
    Serve {
        #[arg(long, env = "BACKLINE_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
        #[arg(long, env = "BACKLINE_ADMIN_TOKEN", hide_env_values = true)]
        admin_token: Option<String>,
    },
    /// Back up a registered database now and wait for the result.
    Backup {
        /// Database id or name.
        #[arg(long)]
        database: String,
    },
    /// Restore a backup and wait for the result.
    Restore {
        #[arg(long)]
        backup: String,
        /// Target database id or name (default: the backup's own database).
        #[arg(long)]
        target: Option<String>,
        /// PostgreSQL: keep the target's previous contents as <name>_before_restore_<time>.
        #[arg(long)]
        keep_previous: bool,
        /// Skip ownership and privileges (targets without the original roles).
        #[arg(long)]
        no_owner: bool,
        /// Read the copy on this named storage (default: the first healthy copy).
        #[arg(long = "from")]
        from: Option<String>,
    },
    /// Re-read stored artifacts: check their sha256 (and that they decrypt and decompress,
    /// when this server holds the key) and record `BackupVerified` for each.
    Verify {
        /// One backup.
        #[arg(long, conflicts_with = "all", required_unless_present = "all")]
        backup: Option<String>,
        /// Every completed backup.
        #[arg(long)]
        all: bool,
    },
    /// Rebuild the version history in an empty ledger from the manifests in storage
    /// (disaster recovery). Databases come back without their passwords: see README.
    Import {
        /// Required: read the manifests of this configured storage (`default` or a name).
        #[arg(long = "from-storage", value_name = "NAME", num_args = 0..=1, default_missing_value = "default", required = true)]
        from_storage: Option<String>,
        /// The connection to register a database with, `NAME=URL` (repeatable); without one
        /// the manifest's connection (no password) is used.
        #[arg(long = "connection", value_name = "NAME=URL")]
        connections: Vec<String>,
    },
    /// Drop every read model and rebuild it from the ledger.
    Replay,
    /// Apply retention policies now (all databases, or one).
    Prune {
        /// Database id or name (default: every database).
        #[arg(long)]
        database: Option<String>,
        /// Only list what would be pruned, and why.
        #[arg(long)]
        dry_run: bool,
    },
    /// Schedules: `backline schedule check "0 2 * * *" --tz Europe/Paris`.
    Schedule {
        #[command(subcommand)]
        command: ScheduleCommand,
    },
    /// Print the ledger (secret-free), oldest first.
    Events {
        #[arg(long)]
        after: Option<i64>,
        #[arg(long, default_value_t = 1000)]
        limit: i64,
        /// Database id or name.
        #[arg(long)]
        database: Option<String>,
        #[arg(long = "type")]
        event_type: Option<String>,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum ScheduleCommand {
    /// Validate a cron expression and print its next 5 runs.
    Check {
        expr: String,
        #[arg(long, default_value = "UTC")]
        tz: String,
    },
}

fn human(n: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i < units.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    format!("{v:.1} {}", units[i])
}

async fn wait_with_progress(app: &App, id: &str, done: tokio::task::JoinHandle<()>) {
    let mut done = done;
    loop {
        tokio::select! {
            _ = &mut done => break,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {
                if let Some(b) = app.progress(id) {
                    eprintln!("  … {} processed", human(b));
                }
            }
        }
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    telemetry::init();
    backline_api::startup::restrict_umask();
    let settings = cli.settings;
    match cli.command {
        Command::Serve {
            listen,
            admin_token: token,
        } => {
            let token = admin_token(token, &settings.data_dir).context("admin token")?;
            let server = Server::build(settings, &listen, token).await?;
            server.run().await?;
        }
        Command::Backup { database } => {
            let app = App::open(settings).await?;
            let started = app
                .start_backup(
                    "cli",
                    &database,
                    Trigger::Manual {
                        actor: "cli".into(),
                    },
                )
                .await?;
            eprintln!("backup {} started", started.id);
            wait_with_progress(&app, &started.id, started.done).await;
            let b = app
                .projections
                .backup(&started.id)
                .await?
                .context("backup vanished")?;
            if b.status != "completed" {
                let e = b
                    .error
                    .unwrap_or_else(|| backline_projections::FailureView {
                        stage: "?".into(),
                        message: "unknown".into(),
                        stderr_tail: String::new(),
                    });
                if !e.stderr_tail.is_empty() {
                    eprintln!("{}", e.stderr_tail);
                }
                bail!(
                    "backup {} {} at stage {}: {}",
                    b.id,
                    b.status,
                    e.stage,
                    e.message
                );
            }
            println!(
                "backup {} completed: {} stored ({} raw) in {} ms, sha256 {}, key {}",
                b.id,
                human(b.bytes.unwrap_or(0)),
                human(b.raw_bytes.unwrap_or(0)),
                b.duration_ms.unwrap_or(0),
                b.sha256.unwrap_or_default(),
                b.storage_key.unwrap_or_default()
            );
        }
        Command::Restore {
            backup,
            target,
            keep_previous,
            no_owner,
            from,
        } => {
            let app = App::open(settings).await?;
            let started = app
                .start_restore_from(
                    "cli",
                    &backup,
                    target.as_deref(),
                    keep_previous,
                    no_owner,
                    from.as_deref(),
                )
                .await?;
            eprintln!("restore {} started", started.id);
            wait_with_progress(&app, &started.id, started.done).await;
            let r = app
                .projections
                .restore(&started.id)
                .await?
                .context("restore vanished")?;
            if r.status != "completed" {
                let e = r.error.context("restore failed without a reason")?;
                if !e.stderr_tail.is_empty() {
                    eprintln!("{}", e.stderr_tail);
                }
                bail!(
                    "restore {} failed at stage {}: {}",
                    r.id,
                    e.stage,
                    e.message
                );
            }
            println!(
                "restore {} completed into {} in {} ms{}",
                r.id,
                r.target_database_name,
                r.duration_ms.unwrap_or(0),
                r.previous_kept_as
                    .map(|k| format!("; previous contents kept as {k}"))
                    .unwrap_or_default()
            );
        }
        Command::Verify { backup, all: _ } => {
            let app = App::open(settings).await?;
            let results = app.verify("cli", backup.as_deref()).await?;
            let mut bad = 0;
            for v in &results {
                println!(
                    "{} {}  {}",
                    if v.ok { "ok  " } else { "FAIL" },
                    v.backup_id,
                    v.detail
                );
                bad += usize::from(!v.ok);
            }
            if bad > 0 {
                bail!("{bad} of {} backups failed verification", results.len());
            }
            println!("{} backups verified", results.len());
        }
        Command::Import {
            from_storage,
            connections,
        } => {
            let app = App::open(settings).await?;
            let report = app
                .import_from_storage(
                    "import",
                    from_storage.as_deref().unwrap_or("default"),
                    &connections,
                )
                .await?;
            for line in &report.lines {
                println!("{line}");
            }
            println!(
                "imported {} databases and {} backups",
                report.databases, report.backups
            );
        }
        Command::Replay => {
            let app = App::open(settings).await?;
            let head = app.ledger.head().await?;
            let applied = app.projections.rebuild().await?;
            println!("rebuilt every read model from the ledger: applied up to position {applied} of {head}");
        }
        Command::Prune { database, dry_run } => {
            let app = App::open(settings).await?;
            let targets = match database {
                Some(d) => vec![app.resolve_database(&d).await?],
                None => app.projections.databases(false).await?,
            };
            for db in targets {
                let plan = app.prune("cli", &db.id, dry_run).await?;
                let verb = if dry_run { "would prune" } else { "pruned" };
                println!(
                    "{}: {verb} {} version(s), {} kept (policy: {})",
                    db.name,
                    plan.prune.len(),
                    plan.kept,
                    if plan.policy.is_empty() {
                        "none: keep everything"
                    } else {
                        &plan.policy
                    }
                );
                for p in plan.prune {
                    println!("  {}  {}  {}", p.id, p.finished_at, p.reason);
                }
            }
        }
        Command::Schedule {
            command: ScheduleCommand::Check { expr, tz },
        } => {
            let s = backline_domain::Schedule::parse(&expr, Some(&tz), Default::default())?;
            println!("{}", s.describe());
            for t in s.next_runs(chrono::Utc::now(), 5) {
                println!("  {}  ({})", s.local(t), t.to_rfc3339());
            }
        }
        Command::Events {
            after,
            limit,
            database,
            event_type,
            json,
        } => {
            let app = App::open(settings).await?;
            let database_id = match database {
                Some(d) => Some(match app.projections.database(&d).await? {
                    Some(v) => v.id,
                    None => app.resolve_database(&d).await?.id,
                }),
                None => None,
            };
            let mut q = EventQuery {
                after,
                limit: 1000,
                database_id,
                event_type,
                order: Order::Asc,
                ..Default::default()
            };
            let mut printed = 0;
            'pages: loop {
                let page = app.projections.events(&q).await?;
                if page.is_empty() {
                    break;
                }
                for e in &page {
                    if printed >= limit {
                        break 'pages;
                    }
                    if json {
                        println!("{}", serde_json::to_string(e)?);
                    } else {
                        println!(
                            "{:>8}  {}  {:<18} {:<8} {}  actor={}",
                            e.position,
                            e.at,
                            e.event_type,
                            e.aggregate_type,
                            e.aggregate_id,
                            e.actor
                        );
                    }
                    printed += 1;
                }
                q.after = page.last().map(|e| e.position);
            }
        }
    }
    Ok(())
}
