//! Builds the server: settings → app → router → listener, in one place.

use crate::http::{router, HttpState};
use backline_app::{App, Settings, StartError};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;
use tokio::net::TcpListener;

/// The admin token: given, or read from `<data dir>/admin.token`, or made there (0600) and
/// printed once.
pub fn admin_token(given: Option<String>, data_dir: &Path) -> std::io::Result<String> {
    let path = data_dir.join("admin.token");
    backline_infra::secrets::keep_private(&path, 0o600, "the admin token file");
    if let Some(t) = given.filter(|t| !t.trim().is_empty()) {
        return Ok(t.trim().to_string());
    }
    match std::fs::read_to_string(&path) {
        Ok(t) if !t.trim().is_empty() => Ok(t.trim().to_string()),
        _ => {
            std::fs::create_dir_all(data_dir)?;
            let mut bytes = [0u8; 24];
            rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
            let token = hex::encode(bytes);
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&path)?;
            f.write_all(token.as_bytes())?;
            eprintln!(
                "Generated an admin token (stored in {}, shown only this once):\n\n    {token}\n",
                path.display()
            );
            Ok(token)
        }
    }
}

/// Files and directories this process creates are its own: 0600 and 0700 (umask 077). That
/// covers what no code of ours opens with a mode: artifacts and manifests on fs storage
/// (OpenDAL creates them), their partial uploads, the SQLite ledger, local copies.
pub fn restrict_umask() {
    // SAFETY: umask only swaps the process's file mode creation mask; it cannot fail.
    unsafe {
        libc::umask(0o077);
    }
}

/// The shortest admin token accepted: a guessable token would let anyone read every
/// database through a restore.
pub const MIN_ADMIN_TOKEN_CHARS: usize = 24;

pub struct Server {
    pub app: Arc<App>,
    listener: TcpListener,
    token: String,
}

impl Server {
    pub async fn build(
        settings: Settings,
        listen: &str,
        token: String,
    ) -> Result<Self, BuildError> {
        let chars = token.trim().chars().count();
        if chars < MIN_ADMIN_TOKEN_CHARS {
            return Err(BuildError::ShortAdminToken(chars));
        }
        restrict_umask();
        // A large backlog of events is applied after the server listens (see `run`).
        let app = App::open_with(settings, backline_app::CatchUp::SmallBacklog).await?;
        if app
            .access()
            .ensure_first_admin()
            .await
            .map_err(BuildError::FirstAdmin)?
        {
            tracing::info!("made the first admin from BACKLINE_ADMIN_USER");
        }
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|e| BuildError::Bind(listen.to_string(), e))?;
        Ok(Self {
            app,
            listener,
            token,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub async fn run(self) -> std::io::Result<()> {
        let addr = self.listener.local_addr()?;
        tracing::info!(%addr, ledger = self.app.ledger.url_redacted(), storage = self.app.store.label(), node = self.app.node(), "backline is listening");
        self.app.alerting().set_listen_address(addr);
        // Reads answer from the read models as they are meanwhile (with their position in
        // X-Backline-Position); /readyz says `catching_up` until they are current.
        let projections = self.app.projections.clone();
        tokio::spawn(async move {
            match projections.catch_up().await {
                Ok(p) => tracing::info!(position = p, "the read models are current"),
                Err(e) => tracing::error!(error = %e, "catching the read models up failed"),
            }
        });
        let scheduler = if self.app.settings.scheduler {
            tokio::spawn(self.app.scheduler().run())
        } else {
            tracing::info!("BACKLINE_SCHEDULER=false: this process runs no scheduled backups");
            tokio::spawn(async {})
        };
        let alerts = tokio::spawn(self.app.alerting().run());
        // Partial uploads a crash left behind: at start-up, then every hour.
        let sweeper = tokio::spawn(backline_app::backups::partials::sweep_partials_hourly(
            self.app.core().clone(),
        ));
        let sealer = if self.app.settings.seal_interval_secs > 0 {
            tokio::spawn(self.app.seals().run())
        } else {
            tracing::info!("BACKLINE_SEAL_INTERVAL_SECS=0: this process does not seal the ledger");
            tokio::spawn(async {})
        };
        // WAL receivers run with the scheduler (a process without it streams nothing).
        let receivers = if self.app.settings.scheduler {
            tokio::spawn(backline_app::archiving::run_receivers(
                self.app.core().clone(),
            ))
        } else {
            tokio::spawn(async {})
        };
        let free_failures = self.app.settings.auth_free_failures;
        let state = Arc::new(HttpState {
            app: self.app,
            token: self.token,
            storage_probe: Default::default(),
            auth_throttle: crate::http::throttle::AuthThrottle::new(free_failures),
        });
        // The peer address keys the wrong-token throttle.
        let served = axum::serve(
            self.listener,
            router(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown())
        .await;
        scheduler.abort();
        alerts.abort();
        sweeper.abort();
        sealer.abort();
        receivers.abort();
        served
    }
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Start(#[from] StartError),
    #[error("cannot listen on {0}: {1}")]
    Bind(String, #[source] std::io::Error),
    #[error("the admin token has {0} characters; at least {MIN_ADMIN_TOKEN_CHARS} are required: set BACKLINE_ADMIN_TOKEN (or --admin-token) to a longer one (e.g. `openssl rand -hex 24`), or remove <data dir>/admin.token to have one made")]
    ShortAdminToken(usize),
    #[error("cannot make the first admin from BACKLINE_ADMIN_USER/BACKLINE_ADMIN_PASSWORD: {0}")]
    FirstAdmin(#[source] backline_app::AppError),
}
