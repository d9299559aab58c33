//! The Token aggregate: an API token for machines (CI, Prometheus), issued by a user for a role
//! no higher than its own. The secret is shown once and kept beside the ledger only as a hash.

use crate::access::{AccessError, DatabaseScope, Role};
use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq)]
pub enum TokenCommand {
    Issue {
        name: String,
        /// The principal that issued it (`user:<id>`, `token:bootstrap`).
        owner: String,
        role: Role,
        scope: DatabaseScope,
        expires_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    },
    Revoke {
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TokenEvent {
    TokenIssued {
        name: String,
        owner: String,
        role: Role,
        #[serde(default)]
        databases: Option<Vec<String>>,
        #[serde(default)]
        expires_at: Option<DateTime<Utc>>,
    },
    TokenRevoked {
        #[serde(default)]
        reason: String,
    },
}

impl TokenEvent {
    pub fn name(&self) -> &'static str {
        match self {
            TokenEvent::TokenIssued { .. } => "TokenIssued",
            TokenEvent::TokenRevoked { .. } => "TokenRevoked",
        }
    }
}

impl DomainEvent for TokenEvent {
    fn event_type(&self) -> String {
        self.name().to_string()
    }
    fn event_version(&self) -> String {
        "1".to_string()
    }
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Token {
    pub issued: bool,
    pub revoked: bool,
}

impl Aggregate for Token {
    const TYPE: &'static str = "Token";
    type Command = TokenCommand;
    type Event = TokenEvent;
    type Error = AccessError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let event = match command {
            TokenCommand::Issue {
                name,
                owner,
                role,
                scope,
                expires_at,
                now,
            } => {
                if self.issued {
                    return Err(AccessError::AlreadyExists);
                }
                let name = name.trim().to_string();
                if name.is_empty() || name.chars().count() > 100 {
                    return Err(AccessError::BadName);
                }
                if expires_at.is_some_and(|e| e <= now) {
                    return Err(AccessError::ExpiryInThePast);
                }
                TokenEvent::TokenIssued {
                    name,
                    owner,
                    role,
                    databases: scope.0,
                    expires_at,
                }
            }
            TokenCommand::Revoke { reason } => {
                if !self.issued {
                    return Err(AccessError::NoToken);
                }
                if self.revoked {
                    return Err(AccessError::AlreadyRevoked);
                }
                TokenEvent::TokenRevoked { reason }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            TokenEvent::TokenIssued { .. } => self.issued = true,
            TokenEvent::TokenRevoked { .. } => self.revoked = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;

    fn issued() -> TokenEvent {
        TokenEvent::TokenIssued {
            name: "ci".into(),
            owner: "user:1".into(),
            role: Role::Operator,
            databases: None,
            expires_at: None,
        }
    }

    #[test]
    fn issued_once_not_expired_and_revoked_once() {
        let now = Utc::now();
        TestFramework::<Token>::with(())
            .given_no_previous_events()
            .when(TokenCommand::Issue {
                name: "ci".into(),
                owner: "user:1".into(),
                role: Role::Operator,
                scope: DatabaseScope::ALL,
                expires_at: Some(now - chrono::Duration::seconds(1)),
                now,
            })
            .then_expect_error(AccessError::ExpiryInThePast);
        TestFramework::<Token>::with(())
            .given(vec![issued()])
            .when(TokenCommand::Revoke { reason: "r".into() })
            .then_expect_events(vec![TokenEvent::TokenRevoked { reason: "r".into() }]);
        TestFramework::<Token>::with(())
            .given(vec![
                issued(),
                TokenEvent::TokenRevoked { reason: "r".into() },
            ])
            .when(TokenCommand::Revoke { reason: "r".into() })
            .then_expect_error(AccessError::AlreadyRevoked);
    }
}
