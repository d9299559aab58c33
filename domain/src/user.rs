//! The User aggregate: a person who signs in (locally or through OIDC), with a role and an
//! optional database scope. Passwords never reach the ledger: their argon2id hashes are kept
//! beside it (`infra::credentials`); the ledger records that a password was set.

use crate::access::{parse_username, AccessError, DatabaseScope, Role};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq)]
pub enum UserCommand {
    Create {
        username: String,
        display_name: Option<String>,
        role: Role,
        scope: DatabaseScope,
        /// `local` (a password) or `oidc`.
        origin: String,
    },
    ChangeRole {
        role: Role,
        scope: DatabaseScope,
    },
    Disable,
    Enable,
    /// A new password hash was stored beside the ledger.
    RecordPasswordSet,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum UserEvent {
    UserCreated {
        username: String,
        display_name: String,
        role: Role,
        #[serde(default)]
        databases: Option<Vec<String>>,
        #[serde(default = "local")]
        origin: String,
    },
    UserRoleChanged {
        role: Role,
        #[serde(default)]
        databases: Option<Vec<String>>,
    },
    UserDisabled {},
    UserEnabled {},
    UserPasswordSet {},
}

fn local() -> String {
    "local".into()
}

impl UserEvent {
    pub fn name(&self) -> &'static str {
        match self {
            UserEvent::UserCreated { .. } => "UserCreated",
            UserEvent::UserRoleChanged { .. } => "UserRoleChanged",
            UserEvent::UserDisabled {} => "UserDisabled",
            UserEvent::UserEnabled {} => "UserEnabled",
            UserEvent::UserPasswordSet {} => "UserPasswordSet",
        }
    }
}

impl DomainEvent for UserEvent {
    fn event_type(&self) -> String {
        self.name().to_string()
    }
    fn event_version(&self) -> String {
        "1".to_string()
    }
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub created: bool,
    pub disabled: bool,
    pub role: Option<Role>,
}

impl Aggregate for User {
    const TYPE: &'static str = "User";
    type Command = UserCommand;
    type Event = UserEvent;
    type Error = AccessError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        if !matches!(command, UserCommand::Create { .. }) && !self.created {
            return Err(AccessError::NoUser);
        }
        let event = match command {
            UserCommand::Create {
                username,
                display_name,
                role,
                scope,
                origin,
            } => {
                if self.created {
                    return Err(AccessError::AlreadyExists);
                }
                let username = parse_username(&username)?;
                let display_name = display_name
                    .map(|d| d.trim().to_string())
                    .filter(|d| !d.is_empty())
                    .unwrap_or_else(|| username.clone());
                if display_name.chars().count() > 100 {
                    return Err(AccessError::BadName);
                }
                UserEvent::UserCreated {
                    username,
                    display_name,
                    role,
                    databases: scope.0,
                    origin,
                }
            }
            UserCommand::ChangeRole { role, scope } => UserEvent::UserRoleChanged {
                role,
                databases: scope.0,
            },
            UserCommand::Disable => UserEvent::UserDisabled {},
            UserCommand::Enable => UserEvent::UserEnabled {},
            UserCommand::RecordPasswordSet => {
                if self.disabled {
                    return Err(AccessError::Disabled);
                }
                UserEvent::UserPasswordSet {}
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            UserEvent::UserCreated { role, .. } => {
                self.created = true;
                self.role = Some(role);
            }
            UserEvent::UserRoleChanged { role, .. } => self.role = Some(role),
            UserEvent::UserDisabled {} => self.disabled = true,
            UserEvent::UserEnabled {} => self.disabled = false,
            UserEvent::UserPasswordSet {} => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;

    type F = TestFramework<User>;

    fn created() -> UserEvent {
        UserEvent::UserCreated {
            username: "ann".into(),
            display_name: "Ann".into(),
            role: Role::Viewer,
            databases: None,
            origin: "local".into(),
        }
    }

    #[test]
    fn a_user_is_created_once_with_a_valid_name() {
        F::with(())
            .given_no_previous_events()
            .when(UserCommand::Create {
                username: " ann ".into(),
                display_name: Some("Ann".into()),
                role: Role::Viewer,
                scope: DatabaseScope::ALL,
                origin: "local".into(),
            })
            .then_expect_events(vec![created()]);
        F::with(())
            .given(vec![created()])
            .when(UserCommand::Create {
                username: "ann".into(),
                display_name: None,
                role: Role::Admin,
                scope: DatabaseScope::ALL,
                origin: "local".into(),
            })
            .then_expect_error(AccessError::AlreadyExists);
    }

    #[test]
    fn changes_need_a_user() {
        F::with(())
            .given_no_previous_events()
            .when(UserCommand::Disable)
            .then_expect_error(AccessError::NoUser);
        F::with(())
            .given(vec![created(), UserEvent::UserDisabled {}])
            .when(UserCommand::RecordPasswordSet)
            .then_expect_error(AccessError::Disabled);
    }
}
