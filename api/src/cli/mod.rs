//! The `backline` command line: one file per subcommand.

mod backup;
mod cancel;
mod cleanup;
mod events;
mod import;
mod ledger;
mod progress;
mod prune;
mod replay;
mod restore;
mod schedule;
mod serve;
mod user;
mod verify;
mod watch;

use backline_app::Settings;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "backline",
    version,
    about = "Backups and restores of PostgreSQL and MySQL/MariaDB, kept in an append-only ledger"
)]
pub struct Cli {
    #[command(flatten)]
    pub settings: Settings,
    /// Print results as JSON (one object, or one per line for lists), for scripts.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the HTTP API.
    Serve {
        #[arg(long, env = "BACKLINE_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
        #[arg(long, env = "BACKLINE_ADMIN_TOKEN", hide_env_values = true)]
        admin_token: Option<String>,
    },
    /// Back up a registered database now and wait for the result
    /// (`backline backup cancel|watch <backup id>` stops or follows a running one).
    #[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
    Backup {
        /// Database id or name.
        #[arg(long, required = true)]
        database: Option<String>,
        #[command(subcommand)]
        action: Option<RunAction>,
    },
    /// Restore a backup and wait for the result
    /// (`backline restore cancel|watch <restore id>` stops or follows a running one).
    #[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
    Restore {
        #[arg(long, required = true)]
        backup: Option<String>,
        #[command(subcommand)]
        action: Option<RunAction>,
        /// Target database id or name (default: the backup's own database).
        #[arg(long)]
        target: Option<String>,
        /// PostgreSQL: keep the target's previous contents as <name>_before_restore_<time>.
        #[arg(long)]
        keep_previous: bool,
        /// Skip ownership and privileges (targets without the original roles).
        #[arg(long)]
        no_owner: bool,
        /// MariaDB: make the restoring user the definer of views, routines, triggers, events.
        #[arg(long)]
        no_definer: bool,
        /// Read the copy on this named storage (default: the first healthy copy).
        #[arg(long = "from")]
        from: Option<String>,
        /// PostgreSQL: pg_restore jobs (default min(4, cores)).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=16))]
        jobs: Option<u32>,
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
        /// The Ed25519 public key (hex) manifests must be signed with (default: this
        /// server's, `GET /api/v1/ledger`).
        #[arg(long)]
        public_key: Option<String>,
        /// Also import manifests without a signature (written before Backline signed them).
        #[arg(long)]
        trust_unsigned: bool,
    },
    /// Drop every read model and rebuild it from the ledger.
    Replay,
    /// The ledger's sealed chain: `seal`, `verify`, `export`.
    Ledger {
        #[command(subcommand)]
        command: LedgerCommand,
    },
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
    /// Remove what crashed work left behind: `--scratch` drops the scratch databases of
    /// restores whose process died (see `GET /api/v1/leftovers`), printing each one.
    Cleanup {
        /// The scratch databases of crashed restores.
        #[arg(long, required = true)]
        scratch: bool,
        /// Only list what would be dropped.
        #[arg(long)]
        dry_run: bool,
    },
    /// People: `backline user add dana --role operator`, `list`, `disable`, `enable`,
    /// `reset-password` (passwords from BACKLINE_USER_PASSWORD, the terminal or stdin).
    User {
        #[command(subcommand)]
        command: user::UserCommand,
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
    },
}

/// What to do with a running backup or restore.
#[derive(Subcommand)]
pub enum RunAction {
    /// Ask it to stop (it may run in another process on the same ledger) and wait until it
    /// ends: `cancelled`, or `completed` when the request came as it finished.
    Cancel {
        /// The backup's or restore's id.
        id: String,
    },
    /// Follow it (started anywhere: the API, the UI, the scheduler, another process) with a
    /// bar, percentage and ETA until it ends.
    Watch {
        /// The backup's or restore's id.
        id: String,
    },
}

#[derive(Subcommand)]
pub enum LedgerCommand {
    /// Seal every event committed now into signed blocks, anchored in every storage.
    Seal,
    /// Recompute every block, check the chain, signatures and storage anchors: prints `ok`
    /// with counts, or the first bad position (and exits non-zero).
    Verify {
        /// The Ed25519 public key (hex) the seals must be signed with (default: this
        /// server's).
        #[arg(long)]
        public_key: Option<String>,
    },
    /// Write events `--from..=--to` (widened to whole blocks) and their seals as JSON lines
    /// (see docs/ledger-seals.md and scripts/verify-ledger.py).
    Export {
        #[arg(long, default_value_t = 1)]
        from: i64,
        #[arg(long, default_value_t = i64::MAX)]
        to: i64,
    },
}

#[derive(Subcommand)]
pub enum ScheduleCommand {
    /// Validate a cron expression and print its next 5 runs.
    Check {
        expr: String,
        #[arg(long, default_value = "UTC")]
        tz: String,
    },
}

impl Cli {
    /// Runs the subcommand.
    pub async fn run(self) -> anyhow::Result<()> {
        let settings = self.settings;
        let json = self.json;
        match self.command {
            Command::Serve {
                listen,
                admin_token,
            } => serve::run(settings, &listen, admin_token).await,
            Command::Backup {
                action: Some(RunAction::Cancel { id }),
                ..
            } => cancel::run(settings, cancel::Kind::Backup, &id, json).await,
            Command::Restore {
                action: Some(RunAction::Cancel { id }),
                ..
            } => cancel::run(settings, cancel::Kind::Restore, &id, json).await,
            Command::Backup {
                action: Some(RunAction::Watch { id }),
                ..
            } => watch::run(settings, cancel::Kind::Backup, &id, json).await,
            Command::Restore {
                action: Some(RunAction::Watch { id }),
                ..
            } => watch::run(settings, cancel::Kind::Restore, &id, json).await,
            Command::Backup { database, .. } => {
                backup::run(settings, &database.unwrap_or_default(), json).await
            }
            Command::Restore {
                backup,
                action: None,
                target,
                keep_previous,
                no_owner,
                no_definer,
                from,
                jobs,
            } => {
                let req = backline_app::RestoreRequest {
                    backup_id: backup.unwrap_or_default(),
                    target,
                    keep_previous,
                    no_owner,
                    no_definer,
                    storage: from,
                    jobs,
                    new_database: None,
                    ..Default::default()
                };
                restore::run(settings, req, json).await
            }
            Command::Verify { backup, all: _ } => {
                verify::run(settings, backup.as_deref(), json).await
            }
            Command::Import {
                from_storage,
                connections,
                public_key,
                trust_unsigned,
            } => {
                let trust = backline_app::ImportTrust {
                    public_key,
                    trust_unsigned,
                };
                import::run(
                    settings,
                    from_storage.as_deref(),
                    &connections,
                    &trust,
                    json,
                )
                .await
            }
            Command::Replay => replay::run(settings, json).await,
            Command::Ledger { command } => match command {
                LedgerCommand::Seal => ledger::seal(settings, json).await,
                LedgerCommand::Verify { public_key } => {
                    ledger::verify(settings, public_key.as_deref(), json).await
                }
                LedgerCommand::Export { from, to } => ledger::export(settings, from, to).await,
            },
            Command::Prune { database, dry_run } => {
                prune::run(settings, database.as_deref(), dry_run, json).await
            }
            Command::Cleanup {
                scratch: _,
                dry_run,
            } => cleanup::run(settings, dry_run, json).await,
            Command::User { command } => user::run(settings, command, json).await,
            Command::Schedule {
                command: ScheduleCommand::Check { expr, tz },
            } => schedule::check(&expr, &tz, json),
            Command::Events {
                after,
                limit,
                database,
                event_type,
            } => {
                let q = events::Query {
                    after,
                    limit,
                    database,
                    event_type,
                };
                events::run(settings, q, json).await
            }
        }
    }
}
