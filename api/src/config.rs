//! Typed settings: flags or `BACKLINE_*` environment variables, with the defaults of DESIGN.md.

use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// Directory for the embedded ledger, artifacts, master key and admin token.
    #[arg(
        long,
        env = "BACKLINE_DATA_DIR",
        default_value = "./backline-data",
        global = true
    )]
    pub data_dir: PathBuf,
    /// Ledger URL: sqlite://<file> (default: <data dir>/ledger.db) or postgres://…
    #[arg(long, env = "BACKLINE_LEDGER_URL", global = true)]
    pub ledger_url: Option<String>,
    /// Storage URL: fs:///path (default: <data dir>/artifacts) or s3://bucket/prefix?endpoint=…&region=…
    #[arg(long, env = "BACKLINE_STORAGE_URL", global = true)]
    pub storage_url: Option<String>,
    /// Master key file (default: <data dir>/master.key, created 0600 on first start).
    #[arg(long, env = "BACKLINE_MASTER_KEY_FILE", global = true)]
    pub master_key_file: Option<PathBuf>,
    /// Directory holding pg_dump/pg_restore (default: newest suitable one found).
    #[arg(long, env = "BACKLINE_PG_BIN_DIR", global = true)]
    pub pg_bin_dir: Option<PathBuf>,
    /// Directory holding mariadb-dump/mysqldump and mariadb/mysql (default: PATH).
    #[arg(long, env = "BACKLINE_MYSQL_BIN_DIR", global = true)]
    pub mysql_bin_dir: Option<PathBuf>,
    /// zstd level for artifacts (1–3 keeps compression faster than the dump).
    #[arg(long, env = "BACKLINE_ZSTD_LEVEL", default_value_t = 1, value_parser = clap::value_parser!(i32).range(1..=19), global = true)]
    pub zstd_level: i32,
    /// Most backups one process runs at once (more wait their turn).
    #[arg(
        long,
        env = "BACKLINE_MAX_CONCURRENT_BACKUPS",
        default_value_t = 2,
        global = true
    )]
    pub max_concurrent_backups: usize,
    /// Seconds a running backup's lease lasts without renewal before it counts as abandoned.
    #[arg(
        long,
        env = "BACKLINE_LEASE_TTL_SECS",
        default_value_t = 30,
        global = true
    )]
    pub lease_ttl_secs: u64,
    /// Encrypt artifacts with age: `all`, `none`, or a comma-separated list of database names.
    #[arg(long, env = "BACKLINE_ENCRYPT", default_value = "none", global = true)]
    pub encrypt: String,
    /// The server's age identity (default: <data dir>/age.key, created 0600 when encryption is on).
    #[arg(long, env = "BACKLINE_AGE_IDENTITY_FILE", global = true)]
    pub age_identity_file: Option<PathBuf>,
    /// Extra age recipients (age1…, comma-separated) every encrypted artifact is also encrypted to.
    #[arg(
        long,
        env = "BACKLINE_AGE_RECIPIENTS",
        global = true,
        value_delimiter = ','
    )]
    pub age_recipients: Vec<String>,
    /// Name of this process in event metadata (default: host name and pid).
    #[arg(long, env = "BACKLINE_NODE", global = true)]
    pub node: Option<String>,
}

impl Settings {
    pub fn ledger_url(&self) -> String {
        self.ledger_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("ledger.db").display()))
    }

    pub fn storage_url(&self) -> String {
        self.storage_url.clone().unwrap_or_else(|| {
            let dir = if self.data_dir.is_absolute() {
                self.data_dir.clone()
            } else {
                std::env::current_dir()
                    .unwrap_or_default()
                    .join(&self.data_dir)
            };
            format!("fs://{}", dir.join("artifacts").display())
        })
    }

    pub fn master_key_file(&self) -> PathBuf {
        self.master_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("master.key"))
    }

    pub fn age_identity_file(&self) -> PathBuf {
        self.age_identity_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("age.key"))
    }

    pub fn node(&self) -> String {
        self.node.clone().unwrap_or_else(|| {
            let host = std::fs::read_to_string("/etc/hostname")
                .map(|h| h.trim().to_string())
                .unwrap_or_else(|_| "localhost".into());
            format!("{host}:{}", std::process::id())
        })
    }
}
