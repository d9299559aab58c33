//! API tokens: `blt_<id>_<secret>`, shown once; only the sha256 of the whole token is kept.
//! A token never has a higher role or a wider scope than whoever issues it, and a request with
//! an unknown, revoked or expired token, or one whose owner is disabled, is refused at once.

use super::secrets::{constant_time_eq, random_secret, sha256_hex};
use super::{access_error, Access, Principal};
use crate::error::{from_aggregate, AppError};
use backline_domain::{DatabaseScope, Role, TokenCommand};
use backline_projections::TokenView;
use chrono::{DateTime, Utc};

const PREFIX: &str = "blt_";

#[derive(Debug, Clone)]
pub struct NewToken {
    pub name: String,
    pub role: Role,
    pub databases: Option<Vec<String>>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// A token just issued: the only time its secret is known.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub id: String,
    pub token: String,
}

/// The token id inside a presented token, if it has our shape.
fn token_id(presented: &str) -> Option<String> {
    let rest = presented.strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    if secret.len() != 64 {
        return None;
    }
    uuid::Uuid::try_parse(id).ok().map(|u| u.to_string())
}

impl Access {
    /// Issues a token for `by`, no more powerful than `by` itself.
    pub async fn issue_token(
        &self,
        by: &Principal,
        new: &NewToken,
    ) -> Result<IssuedToken, AppError> {
        let core = &self.core;
        if new.role > by.role {
            return Err(AppError::Forbidden(format!(
                "a {} cannot issue a token with role {}",
                by.role, new.role
            )));
        }
        let scope = DatabaseScope::parse(new.databases.clone()).map_err(|e| access_error(&e))?;
        if !by.scope.contains(&scope) {
            return Err(AppError::Forbidden(
                "a token cannot reach databases outside its issuer's scope: name a subset of them in databases".into(),
            ));
        }
        let uuid = uuid::Uuid::now_v7();
        let id = uuid.to_string();
        let token = format!("{PREFIX}{}_{}", uuid.simple(), random_secret());
        core.credentials()
            .set_hash(&id, &sha256_hex(&token))
            .await
            .map_err(AppError::internal)?;
        let command = TokenCommand::Issue {
            name: new.name.clone(),
            owner: by.actor.clone(),
            role: new.role,
            scope,
            expires_at: new.expires_at,
            now: Utc::now(),
        };
        core.aggregates
            .tokens
            .execute_with_metadata(&id, command, core.meta(&by.actor, &id))
            .await
            .map_err(|e| from_aggregate(e, access_error))?;
        core.actor_names
            .remember(&format!("token:{id}"), new.name.trim());
        core.refresh().await;
        Ok(IssuedToken { id, token })
    }

    /// Every token, with its last use.
    pub async fn tokens(&self) -> Result<Vec<TokenView>, AppError> {
        let mut tokens = self.core.projections.tokens().await?;
        let used: std::collections::HashMap<String, i64> = self
            .core
            .credentials()
            .last_used()
            .await
            .map_err(AppError::internal)?
            .into_iter()
            .collect();
        for t in &mut tokens {
            t.last_used_at = used
                .get(&t.id)
                .and_then(|s| DateTime::from_timestamp(*s, 0))
                .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        }
        Ok(tokens)
    }

    pub async fn revoke_token(&self, actor: &str, id: &str) -> Result<(), AppError> {
        let core = &self.core;
        if core.projections.token(id).await?.is_none() {
            return Err(AppError::NotFound(format!("no token with id {id}")));
        }
        core.aggregates
            .tokens
            .execute_with_metadata(
                id,
                TokenCommand::Revoke {
                    reason: String::new(),
                },
                core.meta(actor, id),
            )
            .await
            .map_err(|e| from_aggregate(e, access_error))?;
        core.refresh().await;
        Ok(())
    }

    /// The principal of a presented API token, or why it is refused (401).
    pub async fn authenticate_token(&self, presented: &str) -> Result<Principal, AppError> {
        let core = &self.core;
        let unknown = || AppError::Unauthorized("the bearer token is not valid".into());
        let id = token_id(presented).ok_or_else(unknown)?;
        let stored = core
            .credentials()
            .hash(&id)
            .await
            .map_err(AppError::internal)?
            .ok_or_else(unknown)?;
        if !constant_time_eq(stored.as_bytes(), sha256_hex(presented).as_bytes()) {
            return Err(unknown());
        }
        let t = core.projections.token(&id).await?.ok_or_else(unknown)?;
        if t.revoked {
            return Err(AppError::Unauthorized("this token was revoked".into()));
        }
        let expired = t
            .expires_at
            .as_deref()
            .and_then(|e| DateTime::parse_from_rfc3339(e).ok())
            .is_some_and(|e| e <= Utc::now());
        if expired {
            return Err(AppError::Unauthorized("this token has expired".into()));
        }
        // Never more than its owner can do now (a demoted owner's tokens follow it down).
        let mut role = t.role;
        let mut user_id = None;
        if let Some(owner) = t.owner.strip_prefix("user:") {
            let user = core.projections.user(owner).await?;
            match user {
                Some(u) if !u.disabled => {
                    role = role.min(u.role);
                    user_id = Some(u.id);
                }
                _ => {
                    return Err(AppError::Unauthorized(
                        "this token's owner is disabled".into(),
                    ))
                }
            }
        }
        let actor = format!("token:{id}");
        core.actor_names.remember(&actor, &t.name);
        let now = Utc::now().timestamp();
        if let Err(e) = core.credentials().touch(&id, now).await {
            tracing::warn!(error = %e, "could not record a token's last use");
        }
        Ok(Principal {
            actor,
            name: t.name,
            role,
            scope: DatabaseScope(t.databases),
            user_id,
            csrf: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_well_formed_tokens_name_an_id() {
        let u = uuid::Uuid::now_v7();
        let t = format!("blt_{}_{}", u.simple(), "a".repeat(64));
        assert_eq!(token_id(&t), Some(u.to_string()));
        assert_eq!(token_id("blt_x_y"), None);
        assert_eq!(token_id(&format!("blt_{}_short", u.simple())), None);
        assert_eq!(token_id("admin-token"), None);
    }
}
