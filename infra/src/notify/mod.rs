//! Notifiers: where an alert is delivered (SMTP email, chat and HTTP webhooks). One attempt
//! per call; the caller records the outcome and decides about retries.

pub mod email;
pub mod markup;
pub mod services;
pub mod webhook;

use backline_domain::channel::WebhookPolicy;
use backline_domain::{Notice, Outcome, WebhookStyle};
use serde::Serialize;

/// Everything a notification says, whatever the channel.
#[derive(Debug, Clone, Serialize)]
pub struct AlertMessage {
    pub alert_id: String,
    /// `backup_failed`, `missed_schedule`, …
    pub kind: String,
    /// `backup failed`, …
    pub title: String,
    pub notice: Notice,
    pub state: String,
    pub database_id: String,
    pub database_name: String,
    pub message: String,
    /// The last lines the tool printed on stderr, when there are any.
    pub detail: String,
    /// How many times it happened while the alert was open.
    pub count: u64,
    /// When it was raised (RFC 3339, UTC).
    pub raised_at: String,
    pub resolved_at: Option<String>,
    pub resolved_by: Option<String>,
    /// Where to look in the web UI.
    pub link: String,
}

impl AlertMessage {
    pub fn subject(&self) -> String {
        let prefix = match self.notice {
            Notice::Raised => "",
            Notice::Reminder => "REMINDER: ",
            Notice::Resolved => "RESOLVED: ",
        };
        let count = if self.count > 1 && self.notice != Notice::Resolved {
            format!(" ({} times)", self.count)
        } else {
            String::new()
        };
        format!(
            "[Backline] {prefix}{}: {}{count}",
            self.database_name, self.title
        )
    }

    /// One short paragraph for chat messages.
    pub fn summary(&self) -> String {
        match self.notice {
            Notice::Resolved => format!(
                "{} — resolved by {} at {}. It had happened {} time(s); first at {}: {}",
                self.subject(),
                self.resolved_by.as_deref().unwrap_or("a later success"),
                self.resolved_at.as_deref().unwrap_or("?"),
                self.count,
                self.raised_at,
                self.message
            ),
            _ => format!(
                "{} — {} (at {})",
                self.subject(),
                self.message,
                self.raised_at
            ),
        }
    }
}

/// Where one channel delivers, with its secrets opened.
#[derive(Clone)]
pub enum Target {
    Email { to: Vec<String> },
    Webhook(HookTarget),
}

/// An HTTP notifier with its secrets opened.
#[derive(Clone)]
pub struct HookTarget {
    pub style: WebhookStyle,
    /// The webhook URL (Telegram: the Bot API's base URL; ntfy: the topic URL; Gotify: the
    /// server's URL).
    pub url: String,
    /// A generic webhook's signing secret, or the service's token (Telegram, ntfy, Gotify).
    pub secret: Option<String>,
    pub chat_id: Option<String>,
    pub priority: Option<u8>,
}

/// What one delivery attempt came to.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub outcome: Outcome,
    pub status_code: Option<u16>,
    pub error: Option<String>,
}

impl Attempt {
    pub fn delivered(status_code: Option<u16>) -> Self {
        Self {
            outcome: Outcome::Delivered,
            status_code,
            error: None,
        }
    }

    pub fn failed(status_code: Option<u16>, error: impl Into<String>) -> Self {
        Self {
            outcome: Outcome::Failed,
            status_code,
            error: Some(error.into()),
        }
    }
}

/// Delivers alert messages to channels.
#[derive(Clone)]
pub struct Notifier {
    mailer: Option<email::Mailer>,
    http: reqwest::Client,
    policy: WebhookPolicy,
}

impl Notifier {
    /// `smtp_url` and `from` enable email; without them email channels fail with a message
    /// saying what to set. `policy` says which addresses webhooks may go to.
    pub fn new(
        smtp_url: Option<&str>,
        from: Option<&str>,
        policy: WebhookPolicy,
    ) -> Result<Self, String> {
        let mailer = match smtp_url.filter(|u| !u.trim().is_empty()) {
            Some(url) => Some(email::Mailer::new(
                url,
                from.unwrap_or("backline@localhost"),
            )?),
            None => None,
        };
        // No redirects and no proxy: either would take the request to an address that the
        // resolver never checked.
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(15))
            .user_agent(concat!("backline/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(webhook::GuardedResolver { policy })
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Self {
            mailer,
            http,
            policy,
        })
    }

    pub async fn deliver(&self, target: &Target, msg: &AlertMessage) -> Attempt {
        match target {
            Target::Email { to } => match &self.mailer {
                Some(m) => m.send(to, msg).await,
                None => Attempt::failed(
                    None,
                    "email is not configured: set BACKLINE_SMTP_URL (and BACKLINE_ALERT_FROM)",
                ),
            },
            Target::Webhook(hook) => webhook::send(&self.http, self.policy, hook, msg).await,
        }
    }
}
