//! Sign-in with a username and password, and the UI sessions it starts: a random secret in
//! an HttpOnly cookie (only its sha256 is stored), a CSRF token the session's writes send back,
//! an idle and an absolute expiry. Every attempt is an event (`SignedIn`, `SignInFailed`);
//! failures back off per user and per address (see `limiter`).

use super::secrets::{random_secret, sha256_hex, verify_password};
use super::{Access, Principal};
use crate::error::AppError;
use backline_domain::{DatabaseScope, SignInEvent};
use backline_projections::UserView;
use std::net::IpAddr;
use std::time::Instant;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "backline_session";

/// A session just started.
#[derive(Debug, Clone)]
pub struct SessionStart {
    /// The cookie's value (shown to this response only).
    pub secret: String,
    /// What the session's writes send back in `X-CSRF-Token`.
    pub csrf: String,
    pub user: UserView,
}

impl Access {
    pub(super) async fn record(&self, event: SignInEvent) {
        let core = &self.core;
        let id = uuid::Uuid::now_v7().to_string();
        let actor = match &event {
            SignInEvent::SignedIn { user_id, .. } => format!("user:{user_id}"),
            SignInEvent::SignInFailed {
                user_id: Some(u), ..
            } => format!("user:{u}"),
            SignInEvent::SignInFailed { username, .. } => format!("anonymous:{username}"),
        };
        if let Err(e) = core
            .aggregates
            .sign_ins
            .execute_with_metadata(&id, event, core.meta(&actor, &id))
            .await
        {
            tracing::error!(error = %e, "a sign-in could not be recorded");
        }
        core.refresh().await;
    }

    pub(super) async fn refuse(
        &self,
        username: &str,
        user: Option<&UserView>,
        reason: &str,
        address: IpAddr,
    ) {
        self.record(SignInEvent::SignInFailed {
            username: username.to_string(),
            user_id: user.map(|u| u.id.clone()),
            reason: reason.to_string(),
            address: address.to_string(),
        })
        .await;
    }

    /// Checks a username and password from `address`, and starts a session.
    pub async fn sign_in(
        &self,
        username: &str,
        password: String,
        address: IpAddr,
    ) -> Result<SessionStart, AppError> {
        let core = &self.core;
        let state = &core.access;
        let username = username.trim();
        let user_key = format!("user:{}", username.to_lowercase());
        let address_key = format!("address:{address}");
        let now = Instant::now();
        let user = core.projections.user_by_name(username).await?;
        let blocked = [
            state.by_user.check(&user_key, now),
            state.by_address.check(&address_key, now),
        ]
        .into_iter()
        .filter_map(Result::err)
        .max();
        if let Some(wait) = blocked {
            self.refuse(username, user.as_ref(), "too many failed sign-ins", address)
                .await;
            return Err(AppError::Throttled {
                retry_after: wait,
                message: "too many failed sign-ins: try again later".into(),
            });
        }
        let hash = match &user {
            Some(u) => core
                .credentials()
                .hash(&u.id)
                .await
                .map_err(AppError::internal)?,
            None => None,
        };
        let matches = verify_password(password, hash).await;
        let reason = match &user {
            None => Some("unknown user"),
            Some(_) if !matches => Some("wrong password"),
            Some(u) if u.disabled => Some("user disabled"),
            Some(_) => None,
        };
        if let Some(reason) = reason {
            state.by_user.failed(&user_key, now);
            state.by_address.failed(&address_key, now);
            self.refuse(username, user.as_ref(), reason, address).await;
            // Unknown users and wrong passwords answer alike.
            return Err(AppError::Unauthorized(
                "wrong username or password, or this user is disabled".into(),
            ));
        }
        let Some(user) = user else {
            return Err(AppError::bug("signed in without a user"));
        };
        state.by_user.succeeded(&user_key);
        let start = self.start_session(&user).await?;
        self.record(SignInEvent::SignedIn {
            user_id: user.id.clone(),
            username: user.username.clone(),
            method: "password".into(),
            address: address.to_string(),
        })
        .await;
        Ok(start)
    }

    /// Starts a session for a user already checked (by password or by SSO).
    pub async fn start_session(&self, user: &UserView) -> Result<SessionStart, AppError> {
        let secret = random_secret();
        let csrf = random_secret();
        self.core
            .credentials()
            .create_session(
                &sha256_hex(&secret),
                &user.id,
                &csrf,
                chrono::Utc::now().timestamp(),
            )
            .await
            .map_err(AppError::internal)?;
        self.core
            .actor_names
            .remember(&format!("user:{}", user.id), &user.username);
        Ok(SessionStart {
            secret,
            csrf,
            user: user.clone(),
        })
    }

    /// The principal of a session cookie, or 401 when it is unknown, expired or its user
    /// disabled (an expired session is deleted).
    pub async fn authenticate_session(&self, secret: &str) -> Result<Principal, AppError> {
        let core = &self.core;
        let expired = || AppError::Unauthorized("the session has ended: sign in again".into());
        let id_hash = sha256_hex(secret);
        let creds = core.credentials();
        let row = creds
            .session(&id_hash)
            .await
            .map_err(AppError::internal)?
            .ok_or_else(expired)?;
        let now = chrono::Utc::now().timestamp();
        let a = &core.settings.access;
        let idle = (a.session_idle_minutes.max(1) * 60) as i64;
        let max = (a.session_max_hours.max(1) * 3600) as i64;
        let user = core.projections.user(&row.user_id).await?;
        let live = now - row.last_seen_at <= idle && now - row.created_at <= max;
        let user = match user {
            Some(u) if live && !u.disabled => u,
            _ => {
                let _ = creds.end_session(&id_hash).await;
                return Err(expired());
            }
        };
        if let Err(e) = creds.touch_session(&id_hash, now).await {
            tracing::warn!(error = %e, "could not extend a session");
        }
        let actor = format!("user:{}", user.id);
        core.actor_names.remember(&actor, &user.username);
        Ok(Principal {
            actor,
            name: user.username,
            role: user.role,
            scope: DatabaseScope(user.databases),
            user_id: Some(user.id),
            csrf: Some(row.csrf),
        })
    }

    /// Ends the session of this cookie (nothing if there is none).
    pub async fn sign_out(&self, secret: &str) -> Result<(), AppError> {
        self.core
            .credentials()
            .end_session(&sha256_hex(secret))
            .await
            .map_err(AppError::internal)
    }
}
