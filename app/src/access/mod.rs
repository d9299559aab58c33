//! People, roles and tokens: users (argon2id passwords), API tokens (sha256 of a random
//! secret), UI sessions, sign-in limits, and who is acting (the [`Principal`] every request
//! resolves to, whose `actor` and name go into each event's metadata).

mod limiter;
mod names;
mod oidc;
mod oidc_config;
mod secrets;
mod sessions;
mod tokens;
mod users;

pub use names::ActorNames;
pub use oidc::{OidcStart, OIDC_ACTOR, PENDING_COOKIE, PENDING_SECS};
pub use oidc_config::{OidcConfig, OidcSecret, OidcSettings, CALLBACK_PATH};
pub use sessions::{SessionStart, SESSION_COOKIE};
pub use tokens::{IssuedToken, NewToken};
pub use users::{NewUser, UserChange};

use crate::core::Core;
use crate::error::AppError;
use backline_domain::{AccessError, DatabaseScope, Role};
use limiter::Limiter;
use std::sync::Arc;

/// The actor of the bootstrap admin token (`BACKLINE_ADMIN_TOKEN`).
pub const BOOTSTRAP_ACTOR: &str = "token:bootstrap";

/// Who is making a request: a user (through a session), a token, or the bootstrap token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// `user:<id>`, `token:<id>` or `token:bootstrap`: what events record as `actor`.
    pub actor: String,
    /// A username or a token's name.
    pub name: String,
    pub role: Role,
    pub scope: DatabaseScope,
    /// The user behind it: itself, or a token's owner.
    pub user_id: Option<String>,
    /// The CSRF token a session's writes must send back; `None` for bearer tokens.
    pub csrf: Option<String>,
}

impl Principal {
    pub fn bootstrap() -> Self {
        Self {
            actor: BOOTSTRAP_ACTOR.into(),
            name: "bootstrap admin token".into(),
            role: Role::Admin,
            scope: DatabaseScope::ALL,
            user_id: None,
            csrf: None,
        }
    }

    /// Whether it sees and acts on the database with this id and name.
    pub fn sees(&self, id: &str, name: &str) -> bool {
        self.scope.allows(id, name)
    }
}

/// Per-process state of sign-ins: failures per user and per address, and single sign-on.
pub(crate) struct AccessState {
    by_user: Limiter,
    by_address: Limiter,
    oidc: Option<OidcConfig>,
}

impl AccessState {
    /// Fails with what to set when single sign-on is configured halfway or wrongly.
    pub(crate) fn new(settings: &crate::Settings) -> Result<Self, String> {
        Ok(Self {
            by_user: Limiter::new(settings.access.signin_user_failures),
            by_address: Limiter::new(settings.access.signin_address_failures),
            oidc: OidcConfig::from_settings(&settings.access.oidc, settings.public_url.as_deref())?,
        })
    }
}

/// The use cases of users, tokens and sessions.
pub struct Access {
    core: Arc<Core>,
}

impl Access {
    pub fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    /// Makes the first admin from BACKLINE_ADMIN_USER / BACKLINE_ADMIN_PASSWORD when no user
    /// has that name yet. Returns whether it was made.
    pub async fn ensure_first_admin(&self) -> Result<bool, AppError> {
        let a = &self.core.settings.access;
        let (Some(user), Some(password)) = (a.admin_user.clone(), a.admin_password.clone()) else {
            return Ok(false);
        };
        if self
            .core
            .projections
            .user_by_name(user.trim())
            .await?
            .is_some()
        {
            return Ok(false);
        }
        let new = NewUser {
            username: user,
            display_name: None,
            password: Some(password),
            role: Role::Admin,
            databases: None,
        };
        self.create_user("system:startup", &new).await?;
        Ok(true)
    }
}

pub(crate) fn access_error(e: &AccessError) -> AppError {
    match e {
        AccessError::BadUsername(_) => AppError::invalid("username", e.to_string()),
        AccessError::BadScope(_) => AppError::invalid("databases", e.to_string()),
        AccessError::BadName => AppError::invalid("name", e.to_string()),
        AccessError::ExpiryInThePast => AppError::invalid("expires_at", e.to_string()),
        AccessError::NoUser | AccessError::NoToken => AppError::NotFound(e.to_string()),
        AccessError::AlreadyExists => AppError::Taken {
            field: "username",
            message: e.to_string(),
        },
        AccessError::Disabled | AccessError::AlreadyRevoked => AppError::Conflict(e.to_string()),
    }
}
