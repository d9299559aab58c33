//! Users: made by an admin (or at first start), their role and scope changed, disabled (which
//! ends their sessions and revokes their tokens at once), their password reset.

use super::secrets::{check_password, hash_password};
use super::{access_error, Access};
use crate::error::{from_aggregate, AppError};
use backline_domain::{DatabaseScope, Role, TokenCommand, UserCommand};
use backline_infra::claims::Kind;
use backline_projections::UserView;

#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub display_name: Option<String>,
    /// Required for local users.
    pub password: Option<String>,
    pub role: Role,
    pub databases: Option<Vec<String>>,
}

/// What `PATCH /users/{id}` changes.
#[derive(Debug, Clone, Default)]
pub struct UserChange {
    pub role: Option<Role>,
    pub disabled: Option<bool>,
    /// `Some(None)`: every database; `Some(Some(list))`: only those.
    pub databases: Option<Option<Vec<String>>>,
}

impl Access {
    pub async fn users(&self) -> Result<Vec<UserView>, AppError> {
        Ok(self.core.projections.users().await?)
    }

    pub async fn user(&self, id: &str) -> Result<UserView, AppError> {
        self.core
            .projections
            .user(id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("no user with id {id}")))
    }

    /// Finds a user by id or username.
    pub async fn resolve_user(&self, reference: &str) -> Result<UserView, AppError> {
        if let Some(u) = self.core.projections.user(reference).await? {
            return Ok(u);
        }
        self.core
            .projections
            .user_by_name(reference.trim())
            .await?
            .ok_or_else(|| AppError::NotFound(format!("no user with id or name {reference:?}")))
    }

    /// Creates a local user; returns its id.
    pub async fn create_user(&self, actor: &str, new: &NewUser) -> Result<String, AppError> {
        let core = &self.core;
        let username =
            backline_domain::access::parse_username(&new.username).map_err(|e| access_error(&e))?;
        let scope = DatabaseScope::parse(new.databases.clone()).map_err(|e| access_error(&e))?;
        let password = new
            .password
            .clone()
            .ok_or_else(|| AppError::invalid("password", "a password is required"))?;
        check_password(&password)?;
        let hash = hash_password(password).await?;
        let id = uuid::Uuid::now_v7().to_string();
        // The username is claimed first: two creations of one name cannot both succeed.
        core.coordination
            .claim(Kind::Username, &username, &id, |_| AppError::Taken {
                field: "username",
                message: format!("a user named {username:?} already exists"),
            })
            .await?;
        core.credentials()
            .set_hash(&id, &hash)
            .await
            .map_err(AppError::internal)?;
        let command = UserCommand::Create {
            username: username.clone(),
            display_name: new.display_name.clone(),
            role: new.role,
            scope,
            origin: "local".into(),
        };
        if let Err(e) = core
            .aggregates
            .users
            .execute_with_metadata(&id, command, core.meta(actor, &id))
            .await
        {
            let _ = core
                .coordination
                .claims
                .release(Kind::Username, &username, &id)
                .await;
            return Err(from_aggregate(e, access_error));
        }
        core.actor_names.remember(&format!("user:{id}"), &username);
        core.refresh().await;
        Ok(id)
    }

    /// Changes a user's role, scope or state. Disabling ends its sessions and revokes its
    /// tokens before answering.
    pub async fn change_user(
        &self,
        actor: &str,
        id: &str,
        change: &UserChange,
    ) -> Result<UserView, AppError> {
        let core = &self.core;
        let current = self.user(id).await?;
        if change.role.is_none() && change.disabled.is_none() && change.databases.is_none() {
            return Err(AppError::Unprocessable(
                "nothing to change: send role, disabled or databases".into(),
            ));
        }
        let mut commands = Vec::new();
        if change.role.is_some() || change.databases.is_some() {
            let databases = match &change.databases {
                Some(d) => d.clone(),
                None => current.databases.clone(),
            };
            let scope = DatabaseScope::parse(databases).map_err(|e| access_error(&e))?;
            let role = change.role.unwrap_or(current.role);
            if role != current.role || scope.0 != current.databases {
                commands.push(UserCommand::ChangeRole { role, scope });
            }
        }
        match change.disabled {
            Some(true) if !current.disabled => commands.push(UserCommand::Disable),
            Some(false) if current.disabled => commands.push(UserCommand::Enable),
            _ => {}
        }
        for command in commands {
            let disabling = command == UserCommand::Disable;
            core.aggregates
                .users
                .execute_with_metadata(id, command, core.meta(actor, id))
                .await
                .map_err(|e| from_aggregate(e, access_error))?;
            if disabling {
                self.end_everything_of(actor, id).await?;
            }
        }
        core.refresh().await;
        self.user(id).await
    }

    /// Ends the sessions of user `id` and revokes the tokens it issued.
    async fn end_everything_of(&self, actor: &str, id: &str) -> Result<(), AppError> {
        let core = &self.core;
        core.credentials()
            .end_sessions_of(id)
            .await
            .map_err(AppError::internal)?;
        let owner = format!("user:{id}");
        for t in core.projections.tokens().await? {
            if t.owner == owner && !t.revoked {
                let command = TokenCommand::Revoke {
                    reason: "its owner was disabled".into(),
                };
                core.aggregates
                    .tokens
                    .execute_with_metadata(&t.id, command, core.meta(actor, &t.id))
                    .await
                    .map_err(|e| from_aggregate(e, access_error))?;
            }
        }
        Ok(())
    }

    /// Sets a new password; the user's sessions end.
    pub async fn set_password(
        &self,
        actor: &str,
        id: &str,
        password: String,
    ) -> Result<(), AppError> {
        let core = &self.core;
        let user = self.user(id).await?;
        check_password(&password)?;
        let hash = hash_password(password).await?;
        core.aggregates
            .users
            .execute_with_metadata(
                &user.id,
                UserCommand::RecordPasswordSet,
                core.meta(actor, &user.id),
            )
            .await
            .map_err(|e| from_aggregate(e, access_error))?;
        core.credentials()
            .set_hash(&user.id, &hash)
            .await
            .map_err(AppError::internal)?;
        core.credentials()
            .end_sessions_of(&user.id)
            .await
            .map_err(AppError::internal)?;
        core.refresh().await;
        Ok(())
    }
}
