//! Typed settings: flags or `BACKLINE_*` environment variables (with the `cli` feature), with
//! the defaults of DESIGN.md; built directly by tests and embedders.
//! Options that can carry a secret (a password in a ledger, SMTP or storage URL, a token) are
//! `hide_env_values`: `--help` names their variable but never prints its value.

use std::path::PathBuf;

#[derive(Debug, Clone)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
pub struct Settings {
    /// Directory for the embedded ledger, artifacts, master key and admin token.
    #[cfg_attr(
        feature = "cli",
        arg(
            long,
            env = "BACKLINE_DATA_DIR",
            default_value = "./backline-data",
            global = true
        )
    )]
    pub data_dir: PathBuf,
    /// Ledger URL: sqlite://<file> (default: <data dir>/ledger.db) or postgres://…
    #[cfg_attr(
        feature = "cli",
        arg(
            long,
            env = "BACKLINE_LEDGER_URL",
            hide_env_values = true,
            global = true
        )
    )]
    pub ledger_url: Option<String>,
    /// Storage URL: fs:///path (default: <data dir>/artifacts) or s3://bucket/prefix?endpoint=…&region=…
    #[cfg_attr(
        feature = "cli",
        arg(
            long,
            env = "BACKLINE_STORAGE_URL",
            hide_env_values = true,
            global = true
        )
    )]
    pub storage_url: Option<String>,
    /// Master key file (default: <data dir>/master.key, created 0600 on first start).
    #[cfg_attr(
        feature = "cli",
        arg(long, env = "BACKLINE_MASTER_KEY_FILE", global = true)
    )]
    pub master_key_file: Option<PathBuf>,
    /// Ed25519 key that signs ledger seals and manifests (default: <data dir>/signing.key,
    /// created 0600 on first start).
    #[cfg_attr(
        feature = "cli",
        arg(long, env = "BACKLINE_SIGNING_KEY_FILE", global = true)
    )]
    pub signing_key_file: Option<PathBuf>,
    /// Seconds between sealing passes of the ledger (0: this process does not seal).
    #[cfg_attr(
        feature = "cli",
        arg(
            long,
            env = "BACKLINE_SEAL_INTERVAL_SECS",
            default_value_t = 3,
            global = true
        )
    )]
    pub seal_interval_secs: u64,
    /// Seconds between background checks of the whole ledger (`ledger_integrity` alert).
    #[cfg_attr(
        feature = "cli",
        arg(
            long,
            env = "BACKLINE_LEDGER_CHECK_SECS",
            default_value_t = 86400,
            global = true
        )
    )]
    pub ledger_check_secs: u64,
    /// Directory holding pg_dump/pg_restore (default: newest suitable one found).
    #[cfg_attr(feature = "cli", arg(long, env = "BACKLINE_PG_BIN_DIR", global = true))]
    pub pg_bin_dir: Option<PathBuf>,
    /// Directory holding mariadb-dump/mysqldump and mariadb/mysql (default: PATH).
    #[cfg_attr(
        feature = "cli",
        arg(long, env = "BACKLINE_MYSQL_BIN_DIR", global = true)
    )]
    pub mysql_bin_dir: Option<PathBuf>,
    /// zstd level for artifacts (1–3 keeps compression faster than the dump).
    #[cfg_attr(feature = "cli", arg(long, env = "BACKLINE_ZSTD_LEVEL", default_value_t = 1, value_parser = clap::value_parser!(i32).range(1..=19), global = true))]
    pub zstd_level: i32,
    /// Most backups one process runs at once (more wait their turn).
    #[cfg_attr(
        feature = "cli",
        arg(
            long,
            env = "BACKLINE_MAX_CONCURRENT_BACKUPS",
            default_value_t = 2,
            global = true
        )
    )]
    pub max_concurrent_backups: usize,
    /// Seconds a running backup's lease lasts without renewal before it counts as abandoned.
    #[cfg_attr(
        feature = "cli",
        arg(
            long,
            env = "BACKLINE_LEASE_TTL_SECS",
            default_value_t = 30,
            global = true
        )
    )]
    pub lease_ttl_secs: u64,
    /// More destinations, `NAME=URL` (repeatable; or BACKLINE_STORAGE_<NAME>_URL variables).
    /// Every backup is streamed to the default storage and to each of these at once.
    #[cfg_attr(
        feature = "cli",
        arg(
            long = "storage",
            env = "BACKLINE_STORAGES",
            hide_env_values = true,
            global = true,
            value_delimiter = ','
        )
    )]
    pub storages: Vec<String>,
    /// Encrypt artifacts with age: `all`, `none`, or a comma-separated list of database names.
    #[cfg_attr(
        feature = "cli",
        arg(long, env = "BACKLINE_ENCRYPT", default_value = "none", global = true)
    )]
    pub encrypt: String,
    /// The server's age identity (default: <data dir>/age.key, created 0600 when encryption is on).
    #[cfg_attr(
        feature = "cli",
        arg(long, env = "BACKLINE_AGE_IDENTITY_FILE", global = true)
    )]
    pub age_identity_file: Option<PathBuf>,
    /// Extra age recipients (age1…, comma-separated) every encrypted artifact is also encrypted to.
    #[cfg_attr(
        feature = "cli",
        arg(
            long,
            env = "BACKLINE_AGE_RECIPIENTS",
            hide_env_values = true,
            global = true,
            value_delimiter = ','
        )
    )]
    pub age_recipients: Vec<String>,
    /// Name of this process in event metadata (default: host name and pid).
    #[cfg_attr(feature = "cli", arg(long, env = "BACKLINE_NODE", global = true))]
    pub node: Option<String>,
    /// SMTP server for email alerts: smtp://host:port (plain; add ?tls=required for
    /// STARTTLS) or smtps://user:pass@host:465. No email until set.
    #[cfg_attr(
        feature = "cli",
        arg(long, env = "BACKLINE_SMTP_URL", hide_env_values = true, global = true)
    )]
    pub smtp_url: Option<String>,
    /// Sender of alert emails.
    #[cfg_attr(feature = "cli", arg(long, env = "BACKLINE_ALERT_FROM", global = true))]
    pub alert_from: Option<String>,
    /// Address of the web UI in notifications (default: http://<listen address>).
    #[cfg_attr(feature = "cli", arg(long, env = "BACKLINE_PUBLIC_URL", global = true))]
    pub public_url: Option<String>,
    /// Seconds a running backup may write nothing before it is cancelled as stalled.
    #[cfg_attr(
        feature = "cli",
        arg(
            long = "stall-timeout",
            env = "BACKLINE_STALL_TIMEOUT",
            default_value_t = 600,
            global = true
        )
    )]
    pub stall_timeout_secs: u64,
    /// Seconds after a due slot with no backup started before a missed-schedule alert.
    #[cfg_attr(
        feature = "cli",
        arg(
            long,
            env = "BACKLINE_MISSED_SCHEDULE_GRACE_SECS",
            default_value_t = 600,
            global = true
        )
    )]
    pub missed_schedule_grace_secs: u64,
    /// First retry delay of a failed notification, doubled at each retry (capped at 10 min).
    #[cfg_attr(
        feature = "cli",
        arg(
            long,
            env = "BACKLINE_NOTIFY_RETRY_BASE_MS",
            default_value_t = 5000,
            global = true
        )
    )]
    pub notify_retry_base_ms: u64,
    /// Seconds between reminders of an open, unacknowledged alert (0: never).
    #[cfg_attr(
        feature = "cli",
        arg(
            long,
            env = "BACKLINE_ALERT_REMIND_SECS",
            default_value_t = 86400,
            global = true
        )
    )]
    pub alert_remind_secs: u64,
    /// Let webhooks go to loopback, private (10/8, 172.16/12, 192.168/16, fc00::/7),
    /// unspecified and CGNAT (100.64/10) addresses. Link-local and cloud metadata addresses
    /// (169.254/16, fe80::/10) stay refused.
    #[cfg_attr(feature = "cli", arg(long, env = "BACKLINE_ALLOW_PRIVATE_WEBHOOKS", default_value_t = false, action = clap::ArgAction::Set, global = true))]
    pub allow_private_webhooks: bool,
    /// Bearer token that `GET /metrics` requires (the admin token is accepted too). Unset:
    /// `/metrics` answers without a token.
    #[cfg_attr(
        feature = "cli",
        arg(
            long,
            env = "BACKLINE_METRICS_TOKEN",
            hide_env_values = true,
            global = true
        )
    )]
    pub metrics_token: Option<String>,
    /// Wrong bearer tokens one client address may send within a minute before it backs off
    /// (1 s, doubling up to 15 min).
    #[cfg_attr(
        feature = "cli",
        arg(
            long,
            env = "BACKLINE_AUTH_FREE_FAILURES",
            default_value_t = 10,
            global = true
        )
    )]
    pub auth_free_failures: u32,
    /// Free space (bytes) local storage must keep: below it `/readyz` answers 503 and a
    /// `storage_failure` alert is raised, before a backup fails on a full disk.
    #[cfg_attr(
        feature = "cli",
        arg(
            long,
            env = "BACKLINE_MIN_FREE_BYTES",
            default_value_t = 1 << 30,
            global = true
        )
    )]
    pub min_free_bytes: u64,
    /// Seconds between checks of storage and ledger by the alerting loop (a failing check
    /// raises `storage_failure` alerts).
    #[cfg_attr(
        feature = "cli",
        arg(
            long,
            env = "BACKLINE_STORAGE_CHECK_SECS",
            default_value_t = 30,
            global = true
        )
    )]
    pub storage_check_secs: u64,
    /// Run scheduled backups in this process (false: an API/alerting-only node).
    #[cfg_attr(feature = "cli", arg(long, env = "BACKLINE_SCHEDULER", default_value_t = true, action = clap::ArgAction::Set, global = true))]
    pub scheduler: bool,
    /// Seconds between checks of registered servers for new databases (servers with
    /// `auto_register`).
    #[cfg_attr(feature = "cli", arg(long, env = "BACKLINE_DISCOVERY_INTERVAL_SECS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..), global = true))]
    pub discovery_interval_secs: u64,
    /// Users, sessions and sign-ins.
    #[cfg_attr(feature = "cli", command(flatten))]
    pub access: AccessSettings,
}

/// Users, sessions and sign-in limits.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
pub struct AccessSettings {
    /// The first admin's username, created at start when no user has it.
    #[cfg_attr(feature = "cli", arg(long, env = "BACKLINE_ADMIN_USER", global = true))]
    pub admin_user: Option<String>,
    /// The first admin's password (environment only: never a process argument).
    #[cfg_attr(feature = "cli", arg(skip = std::env::var("BACKLINE_ADMIN_PASSWORD").ok()))]
    pub admin_password: Option<String>,
    /// A UI session ends after this many minutes without a request.
    #[cfg_attr(
        feature = "cli",
        arg(
            long,
            env = "BACKLINE_SESSION_IDLE_MINUTES",
            default_value_t = 60,
            global = true
        )
    )]
    pub session_idle_minutes: u64,
    /// A UI session ends this many hours after sign-in, used or not.
    #[cfg_attr(
        feature = "cli",
        arg(
            long,
            env = "BACKLINE_SESSION_MAX_HOURS",
            default_value_t = 12,
            global = true
        )
    )]
    pub session_max_hours: u64,
    /// Wrong passwords for one user within 15 minutes before its sign-ins back off.
    #[cfg_attr(
        feature = "cli",
        arg(
            long,
            env = "BACKLINE_SIGNIN_USER_FAILURES",
            default_value_t = 5,
            global = true
        )
    )]
    pub signin_user_failures: u32,
    /// Failed sign-ins from one address within 15 minutes before it backs off.
    #[cfg_attr(
        feature = "cli",
        arg(
            long,
            env = "BACKLINE_SIGNIN_ADDRESS_FAILURES",
            default_value_t = 100,
            global = true
        )
    )]
    pub signin_address_failures: u32,
    /// OIDC single sign-on.
    #[cfg_attr(feature = "cli", command(flatten))]
    pub oidc: crate::access::OidcSettings,
}

impl Default for AccessSettings {
    fn default() -> Self {
        Self {
            admin_user: None,
            admin_password: None,
            session_idle_minutes: 60,
            session_max_hours: 12,
            signin_user_failures: 5,
            signin_address_failures: 100,
            oidc: Default::default(),
        }
    }
}

impl Settings {
    /// Where webhooks may be sent.
    pub fn webhook_policy(&self) -> backline_domain::channel::WebhookPolicy {
        backline_domain::channel::WebhookPolicy {
            allow_private: self.allow_private_webhooks,
        }
    }

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

    pub fn signing_key_file(&self) -> PathBuf {
        self.signing_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("signing.key"))
    }

    pub fn master_key_file(&self) -> PathBuf {
        self.master_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("master.key"))
    }

    /// Named destinations besides the default one: `--storage NAME=URL` flags, then
    /// `BACKLINE_STORAGE_<NAME>_URL` variables (names lower-cased), in that order.
    pub fn named_storages(&self) -> Result<Vec<(String, String)>, String> {
        let mut out: Vec<(String, String)> = Vec::new();
        for item in &self.storages {
            let (name, url) = item
                .split_once('=')
                .ok_or_else(|| format!("--storage {item:?}: expected NAME=URL"))?;
            out.push((name.trim().to_ascii_lowercase(), url.trim().to_string()));
        }
        let mut from_env: Vec<(String, String)> = std::env::vars()
            .filter_map(|(k, v)| {
                let name = k.strip_prefix("BACKLINE_STORAGE_")?.strip_suffix("_URL")?;
                // An empty value (e.g. an unset compose variable) configures nothing.
                (!name.is_empty() && !v.trim().is_empty()).then(|| (name.to_ascii_lowercase(), v))
            })
            .collect();
        from_env.sort();
        out.extend(from_env);
        for (i, (name, _)) in out.iter().enumerate() {
            let valid = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !valid || name == "default" {
                return Err(format!(
                    "storage name {name:?} is not allowed: use letters, digits, _ or -, not \"default\""
                ));
            }
            if out[..i].iter().any(|(n, _)| n == name) {
                return Err(format!("storage {name:?} is configured twice"));
            }
        }
        Ok(out)
    }

    pub fn age_identity_file(&self) -> PathBuf {
        self.age_identity_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("age.key"))
    }

    /// How long a lease on running work lasts without renewal.
    pub fn lease_ttl(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.lease_ttl_secs.max(3))
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
