//! Single sign-on through an OpenID provider (authorization code flow with PKCE). A sign-in's
//! state, nonce and PKCE verifier travel in a short-lived cookie signed with the server's key
//! (so any process sharing the ledger and key can finish it, and no state piles up in memory);
//! the callback checks it, lets the provider's ID token be verified, maps a claim to a role,
//! makes the user on its first sign-in (as `system:oidc`), follows a changed mapping with
//! `UserRoleChanged`, and refuses, recorded as `SignInFailed`, when no mapping matches or the
//! user is disabled. Then the session is the same as a password sign-in's.

use super::secrets::constant_time_eq;
use super::{access_error, Access, SessionStart};
use crate::error::{from_aggregate, AppError};
use backline_domain::{DatabaseScope, Role, SignInEvent, UserCommand};
use backline_infra::claims::Kind;
use backline_infra::oidc::{Authorization, OidcError};
use backline_projections::UserView;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// The actor of what single sign-on does by itself (making users, following role mappings).
pub const OIDC_ACTOR: &str = "system:oidc";
/// The cookie that carries a sign-in from `/oidc/login` to `/oidc/callback`.
pub const PENDING_COOKIE: &str = "backline_oidc";
/// How long a sign-in at the provider may take.
pub const PENDING_SECS: i64 = 600;

/// A sign-in sent to the provider.
#[derive(Debug, Clone)]
pub struct OidcStart {
    /// The provider's authorization URL.
    pub redirect: String,
    /// The signed value of the `PENDING_COOKIE`.
    pub cookie: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Pending {
    state: String,
    nonce: String,
    pkce_verifier: String,
    expires_at: i64,
}

impl Access {
    /// The provider's name for the sign-in button, when single sign-on is configured.
    pub fn oidc_name(&self) -> Option<String> {
        self.core.access.oidc.as_ref().map(|c| c.name.clone())
    }

    fn oidc(&self) -> Result<&super::OidcConfig, AppError> {
        self.core.access.oidc.as_ref().ok_or_else(|| {
            AppError::NotFound(
                "single sign-on is not configured on this server (BACKLINE_OIDC_ISSUER)".into(),
            )
        })
    }

    /// Starts a sign-in at the provider.
    pub async fn oidc_begin(&self) -> Result<OidcStart, AppError> {
        let config = self.oidc()?;
        let auth = config.client.authorize().await.map_err(upstream)?;
        let pending = Pending {
            state: auth.state,
            nonce: auth.nonce,
            pkce_verifier: auth.pkce_verifier,
            expires_at: chrono::Utc::now().timestamp() + PENDING_SECS,
        };
        let body = serde_json::to_vec(&pending).map_err(AppError::internal)?;
        let cookie = format!("{}.{}", hex::encode(&body), self.core.signing.sign(&body));
        Ok(OidcStart {
            redirect: auth.url,
            cookie,
        })
    }

    /// The sign-in this browser started, if its cookie is ours, unexpired and for `state`.
    fn pending(&self, cookie: Option<&str>, state: &str) -> Result<Pending, AppError> {
        let refused = || {
            AppError::invalid(
                "state",
                "this sign-in was not started from this browser, or took longer than 10 minutes: start it again",
            )
        };
        let (body, signature) = cookie.and_then(|c| c.split_once('.')).ok_or_else(refused)?;
        let body = hex::decode(body).map_err(|_| refused())?;
        backline_infra::signing::verify(&self.core.signing.public_hex(), &body, signature)
            .map_err(|_| refused())?;
        let pending: Pending = serde_json::from_slice(&body).map_err(|_| refused())?;
        let fresh = pending.expires_at >= chrono::Utc::now().timestamp();
        if !fresh || !constant_time_eq(pending.state.as_bytes(), state.as_bytes()) {
            return Err(refused());
        }
        Ok(pending)
    }

    /// Finishes a sign-in the provider sent back with `(state, code, iss)`; `cookie` is the
    /// browser's `PENDING_COOKIE`.
    pub async fn oidc_finish(
        &self,
        cookie: Option<&str>,
        (state, code, iss): (&str, &str, Option<&str>),
        address: IpAddr,
    ) -> Result<SessionStart, AppError> {
        let config = self.oidc()?;
        let pending = self.pending(cookie, state)?;
        let issuer = config.client.party().issuer.trim_end_matches('/');
        if iss.is_some_and(|i| i.trim_end_matches('/') != issuer) {
            // RFC 9207: the answer comes from another provider than the one asked (mix-up).
            return Err(AppError::Unauthorized(
                "the answer names another issuer than the configured OpenID provider".into(),
            ));
        }
        let auth = Authorization {
            url: String::new(),
            state: pending.state,
            nonce: pending.nonce,
            pkce_verifier: pending.pkce_verifier,
        };
        let needed = [config.role_claim.as_str(), config.username_claim.as_str()];
        let identity = match config.client.finish(code, &auth, &needed).await {
            Ok(i) => i,
            Err(e @ OidcError::Discovery { .. }) => return Err(upstream(e)),
            Err(e) => {
                let message = e.to_string();
                self.refuse("(oidc)", None, &message, address).await;
                return Err(AppError::Unauthorized(message));
            }
        };
        let name_claim = &config.username_claim;
        let username = identity.values(name_claim).into_iter().next();
        let username = match username.map(|u| backline_domain::access::parse_username(&u)) {
            Some(Ok(u)) => u,
            Some(Err(e)) => {
                let message = format!("the provider's {name_claim} claim cannot be a username: {e}; set BACKLINE_OIDC_USERNAME_CLAIM");
                self.refuse(&identity.subject, None, &message, address)
                    .await;
                return Err(AppError::Forbidden(message));
            }
            None => {
                let message = format!("the provider sent no {name_claim} claim to name the user: set BACKLINE_OIDC_USERNAME_CLAIM to a claim it sends");
                self.refuse(&identity.subject, None, &message, address)
                    .await;
                return Err(AppError::Forbidden(message));
            }
        };
        let values = identity.values(&config.role_claim);
        let user = self.core.projections.user_by_name(&username).await?;
        let refusal = match (&user, config.role_for(&values)) {
            (Some(u), _) if u.origin != "oidc" => Some(format!(
                "{username} is a local user of Backline: single sign-on cannot take over its name"
            )),
            (_, None) => Some(format!(
                "no role is mapped to your {} ({}): ask an administrator to add one to BACKLINE_OIDC_ROLE_MAP",
                config.role_claim,
                if values.is_empty() { "none sent".to_string() } else { values.join(", ") }
            )),
            (Some(u), _) if u.disabled => Some(format!("{username} is disabled")),
            _ => None,
        };
        if let Some(message) = refusal {
            self.refuse(&username, user.as_ref(), &message, address)
                .await;
            return Err(AppError::Forbidden(message));
        }
        let role = config.role_for(&values).unwrap_or(Role::Viewer);
        let display_name = identity.values("name").into_iter().next();
        let user = match user {
            Some(u) if u.role == role => u,
            Some(u) => self.follow_mapping(u, role).await?,
            None => self.create_oidc_user(&username, display_name, role).await?,
        };
        let start = self.start_session(&user).await?;
        self.record(SignInEvent::SignedIn {
            user_id: user.id.clone(),
            username: user.username.clone(),
            method: "oidc".into(),
            address: address.to_string(),
        })
        .await;
        Ok(start)
    }

    /// The provider now maps this user to `role`: recorded as `UserRoleChanged`.
    async fn follow_mapping(&self, user: UserView, role: Role) -> Result<UserView, AppError> {
        let core = &self.core;
        let command = UserCommand::ChangeRole {
            role,
            scope: DatabaseScope(user.databases.clone()),
        };
        core.aggregates
            .users
            .execute_with_metadata(&user.id, command, core.meta(OIDC_ACTOR, &user.id))
            .await
            .map_err(|e| from_aggregate(e, access_error))?;
        core.refresh().await;
        self.user(&user.id).await
    }

    /// A user on its first single sign-on: no password, origin `oidc`.
    async fn create_oidc_user(
        &self,
        username: &str,
        display_name: Option<String>,
        role: Role,
    ) -> Result<UserView, AppError> {
        let core = &self.core;
        let id = uuid::Uuid::now_v7().to_string();
        core.coordination
            .claim(Kind::Username, username, &id, |_| AppError::Taken {
                field: "username",
                message: format!("a user named {username:?} is being made: sign in again"),
            })
            .await?;
        let command = UserCommand::Create {
            username: username.to_string(),
            display_name,
            role,
            scope: DatabaseScope::ALL,
            origin: "oidc".into(),
        };
        if let Err(e) = core
            .aggregates
            .users
            .execute_with_metadata(&id, command, core.meta(OIDC_ACTOR, &id))
            .await
        {
            let _ = core
                .coordination
                .claims
                .release(Kind::Username, username, &id)
                .await;
            return Err(from_aggregate(e, access_error));
        }
        core.actor_names.remember(&format!("user:{id}"), username);
        core.refresh().await;
        self.user(&id).await
    }
}

/// The provider could not be reached or described itself wrongly.
fn upstream(e: OidcError) -> AppError {
    tracing::warn!(error = %e, "single sign-on: the OpenID provider failed");
    AppError::Upstream(e.to_string())
}
