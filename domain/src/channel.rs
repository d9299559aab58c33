//! The Channel aggregate: a place alerts go (email addresses, or a chat/HTTP webhook).
//!
//! A webhook URL is a credential (Slack and Discord put the token in it) and a generic
//! webhook has a signing secret: both reach the ledger only sealed, like passwords.

use crate::alert::Outcome;
use crate::connection::SealedSecret;
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookStyle {
    /// Slack incoming webhook (`{"text": …, "blocks": …}`).
    Slack,
    /// Discord webhook (`{"content": …, "embeds": …}`).
    Discord,
    /// The alert as JSON, signed with HMAC-SHA256.
    Generic,
}

impl WebhookStyle {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "slack" => Some(WebhookStyle::Slack),
            "discord" => Some(WebhookStyle::Discord),
            "generic" | "json" => Some(WebhookStyle::Generic),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ChannelTarget {
    Email {
        to: Vec<String>,
    },
    Webhook {
        style: WebhookStyle,
        /// The URL, sealed under the channel's data key.
        sealed_url: SealedSecret,
        /// Scheme, host and the first path segment: enough to recognise it.
        url_redacted: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    #[error("name must not be empty")]
    EmptyName,
    #[error("an email channel needs at least one address in `to`")]
    NoRecipients,
    #[error("{0:?} is not an email address")]
    BadAddress(String),
    #[error("webhook url {0:?} is not an http(s) URL")]
    BadUrl(String),
    #[error("this channel already exists")]
    AlreadyAdded,
    #[error("no such channel")]
    NotFound,
    #[error("this channel was removed")]
    Removed,
}

/// Checks an address enough to catch typos (the SMTP server has the last word).
pub fn validate_address(a: &str) -> Result<String, ChannelError> {
    let a = a.trim();
    match a.split_once('@') {
        Some((local, domain))
            if !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !a.chars().any(|c| c.is_whitespace() || c == '<' || c == '>') =>
        {
            Ok(a.to_string())
        }
        _ => Err(ChannelError::BadAddress(a.to_string())),
    }
}

/// Checks a webhook URL and returns the form shown back to people.
pub fn redact_webhook_url(u: &str) -> Result<String, ChannelError> {
    let parsed = url::Url::parse(u.trim()).map_err(|_| ChannelError::BadUrl(u.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(ChannelError::BadUrl(u.to_string()));
    }
    let first = parsed
        .path_segments()
        .and_then(|mut s| s.next())
        .filter(|s| !s.is_empty());
    let port = parsed.port().map(|p| format!(":{p}")).unwrap_or_default();
    let host = parsed.host_str().unwrap_or_default();
    Ok(match first {
        Some(seg) => format!("{}://{host}{port}/{seg}/***", parsed.scheme()),
        None => format!("{}://{host}{port}/", parsed.scheme()),
    })
}

#[derive(Debug, Clone, PartialEq)]
pub enum ChannelCommand {
    Add {
        name: String,
        target: ChannelTarget,
        secret: Option<SealedSecret>,
    },
    Remove,
    RecordTest {
        outcome: Outcome,
        status_code: Option<u16>,
        error: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ChannelEvent {
    ChannelAdded {
        name: String,
        target: ChannelTarget,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        secret: Option<SealedSecret>,
    },
    ChannelRemoved {},
    ChannelTested {
        outcome: Outcome,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status_code: Option<u16>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
}

impl DomainEvent for ChannelEvent {
    fn event_type(&self) -> String {
        match self {
            ChannelEvent::ChannelAdded { .. } => "ChannelAdded",
            ChannelEvent::ChannelRemoved {} => "ChannelRemoved",
            ChannelEvent::ChannelTested { .. } => "ChannelTested",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        "1".to_string()
    }
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Channel {
    pub added: bool,
    pub removed: bool,
    pub target: Option<ChannelTarget>,
    pub secret: Option<SealedSecret>,
}

impl Aggregate for Channel {
    const TYPE: &'static str = "Channel";
    type Command = ChannelCommand;
    type Event = ChannelEvent;
    type Error = ChannelError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let event = match command {
            ChannelCommand::Add {
                name,
                target,
                secret,
            } => {
                if self.added {
                    return Err(ChannelError::AlreadyAdded);
                }
                let name = name.trim().to_string();
                if name.is_empty() {
                    return Err(ChannelError::EmptyName);
                }
                let target = match target {
                    ChannelTarget::Email { to } => {
                        if to.is_empty() {
                            return Err(ChannelError::NoRecipients);
                        }
                        let to = to
                            .iter()
                            .map(|a| validate_address(a))
                            .collect::<Result<Vec<_>, _>>()?;
                        ChannelTarget::Email { to }
                    }
                    w => w,
                };
                ChannelEvent::ChannelAdded {
                    name,
                    target,
                    secret,
                }
            }
            ChannelCommand::Remove => {
                if !self.added {
                    return Err(ChannelError::NotFound);
                }
                if self.removed {
                    return Err(ChannelError::Removed);
                }
                ChannelEvent::ChannelRemoved {}
            }
            ChannelCommand::RecordTest {
                outcome,
                status_code,
                error,
            } => {
                if !self.added {
                    return Err(ChannelError::NotFound);
                }
                if self.removed {
                    return Err(ChannelError::Removed);
                }
                ChannelEvent::ChannelTested {
                    outcome,
                    status_code,
                    error,
                }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            ChannelEvent::ChannelAdded { target, secret, .. } => {
                self.added = true;
                self.target = Some(target);
                self.secret = secret;
            }
            ChannelEvent::ChannelRemoved {} => self.removed = true,
            ChannelEvent::ChannelTested { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;

    type T = TestFramework<Channel>;

    fn email(to: &[&str]) -> ChannelCommand {
        ChannelCommand::Add {
            name: "ops".into(),
            target: ChannelTarget::Email {
                to: to.iter().map(|s| s.to_string()).collect(),
            },
            secret: None,
        }
    }

    fn added() -> ChannelEvent {
        ChannelEvent::ChannelAdded {
            name: "ops".into(),
            target: ChannelTarget::Email {
                to: vec!["ops@example.com".into()],
            },
            secret: None,
        }
    }

    #[test]
    fn email_channels_need_valid_addresses() {
        T::with(())
            .given_no_previous_events()
            .when(email(&[" ops@example.com "]))
            .then_expect_events(vec![added()]);
        T::with(())
            .given_no_previous_events()
            .when(email(&[]))
            .then_expect_error(ChannelError::NoRecipients);
        T::with(())
            .given_no_previous_events()
            .when(email(&["ops@localhost", "x"]))
            .then_expect_error(ChannelError::BadAddress("ops@localhost".into()));
    }

    #[test]
    fn removed_once_and_then_untestable() {
        T::with(())
            .given(vec![added()])
            .when(ChannelCommand::Remove)
            .then_expect_events(vec![ChannelEvent::ChannelRemoved {}]);
        T::with(())
            .given(vec![added(), ChannelEvent::ChannelRemoved {}])
            .when(ChannelCommand::Remove)
            .then_expect_error(ChannelError::Removed);
        T::with(())
            .given(vec![added(), ChannelEvent::ChannelRemoved {}])
            .when(ChannelCommand::RecordTest {
                outcome: Outcome::Delivered,
                status_code: Some(200),
                error: None,
            })
            .then_expect_error(ChannelError::Removed);
        T::with(())
            .given_no_previous_events()
            .when(ChannelCommand::Remove)
            .then_expect_error(ChannelError::NotFound);
    }

    #[test]
    fn webhook_urls_are_checked_and_redacted() {
        assert_eq!(
            redact_webhook_url("https://hooks.slack.com/services/T000/B000/XXXX").unwrap(),
            "https://hooks.slack.com/services/***"
        );
        assert_eq!(
            redact_webhook_url("http://127.0.0.1:9000").unwrap(),
            "http://127.0.0.1:9000/"
        );
        assert!(redact_webhook_url("ftp://x/y").is_err());
        assert!(redact_webhook_url("not a url").is_err());
        assert_eq!(WebhookStyle::parse("Slack"), Some(WebhookStyle::Slack));
        assert_eq!(WebhookStyle::parse("teams"), None);
    }
}
