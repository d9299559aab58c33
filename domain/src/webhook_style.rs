//! The kinds of HTTP notifier a channel can be, and what each one needs besides its URL.
//!
//! Every style keeps its URL sealed (a chat webhook's URL is its credential; a Telegram bot
//! token or an ntfy topic is one too). A style's token (Telegram bot token, ntfy access token,
//! Gotify application token) is sealed in the channel's `secret`, where a generic webhook keeps
//! its signing secret.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookStyle {
    /// Slack incoming webhook (`{"text": …, "attachments": …}`).
    Slack,
    /// Discord webhook (`{"content": …, "embeds": …}`).
    Discord,
    /// The alert as JSON, signed with HMAC-SHA256.
    Generic,
    /// Mattermost incoming webhook (Slack-compatible payload, Markdown text).
    Mattermost,
    /// Microsoft Teams workflow webhook (an Adaptive Card in a message).
    Teams,
    /// Telegram Bot API `sendMessage` (bot token + chat id, HTML parse mode).
    Telegram,
    /// ntfy topic (JSON publish, priority 1–5, optional access token).
    Ntfy,
    /// Gotify server (`POST /message`, application token, priority 0–10).
    Gotify,
}

/// Where Telegram's Bot API answers when a channel names no other base URL.
pub const TELEGRAM_API: &str = "https://api.telegram.org";

/// What a style's extra settings must be, with the field each rule is about.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StyleError {
    #[error("{style} channels need a `token` ({what})")]
    TokenRequired {
        style: &'static str,
        what: &'static str,
    },
    #[error("{style} channels take no `{field}`")]
    NotForStyle {
        style: &'static str,
        field: &'static str,
    },
    #[error(
        "telegram channels need a `chat_id`: a number such as -1001234567890, or @channelname"
    )]
    ChatIdRequired,
    #[error("chat_id {0:?} is neither a number nor @channelname")]
    BadChatId(String),
    #[error(
        "a telegram bot token looks like 123456789:AA… (digits, a colon, letters, digits, - and _)"
    )]
    BadBotToken,
    #[error("{style} priority must be between {min} and {max}, not {got}")]
    BadPriority {
        style: &'static str,
        min: u8,
        max: u8,
        got: i64,
    },
    #[error("an ntfy URL names the topic as its last path segment (https://ntfy.sh/my-topic); letters, digits, - and _ only")]
    BadTopic,
}

impl StyleError {
    /// The request field the rule is about.
    pub fn field(&self) -> &'static str {
        match self {
            StyleError::TokenRequired { .. } | StyleError::BadBotToken => "token",
            StyleError::NotForStyle { field, .. } => field,
            StyleError::ChatIdRequired | StyleError::BadChatId(_) => "chat_id",
            StyleError::BadPriority { .. } => "priority",
            StyleError::BadTopic => "url",
        }
    }
}

impl WebhookStyle {
    pub const ALL: [WebhookStyle; 8] = [
        WebhookStyle::Slack,
        WebhookStyle::Discord,
        WebhookStyle::Generic,
        WebhookStyle::Mattermost,
        WebhookStyle::Teams,
        WebhookStyle::Telegram,
        WebhookStyle::Ntfy,
        WebhookStyle::Gotify,
    ];

    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "json" => Some(WebhookStyle::Generic),
            other => Self::ALL.into_iter().find(|st| st.as_str() == other),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            WebhookStyle::Slack => "slack",
            WebhookStyle::Discord => "discord",
            WebhookStyle::Generic => "generic",
            WebhookStyle::Mattermost => "mattermost",
            WebhookStyle::Teams => "teams",
            WebhookStyle::Telegram => "telegram",
            WebhookStyle::Ntfy => "ntfy",
            WebhookStyle::Gotify => "gotify",
        }
    }

    /// Whether the channel's sealed secret is a token sent to the service (not a signing key).
    pub fn takes_token(self) -> bool {
        matches!(
            self,
            WebhookStyle::Telegram | WebhookStyle::Ntfy | WebhookStyle::Gotify
        )
    }

    /// The priority range the service documents, and the default used when none is given.
    pub fn priority_range(self) -> Option<(u8, u8, u8)> {
        match self {
            WebhookStyle::Ntfy => Some((1, 5, 4)),
            WebhookStyle::Gotify => Some((0, 10, 8)),
            _ => None,
        }
    }

    /// Checks a style's extra settings and returns the priority to store (its default when
    /// the style has one and none was given). `url` is the URL as given.
    pub fn check(
        self,
        url: &str,
        token: Option<&str>,
        chat_id: Option<&str>,
        priority: Option<i64>,
    ) -> Result<Option<u8>, StyleError> {
        let style = self.as_str();
        let not_for = |field: &'static str| StyleError::NotForStyle { style, field };
        if token.is_some() && !self.takes_token() {
            return Err(not_for("token"));
        }
        match (self, token) {
            (WebhookStyle::Telegram, None) => {
                return Err(StyleError::TokenRequired {
                    style,
                    what: "the bot token from @BotFather",
                })
            }
            (WebhookStyle::Telegram, Some(t)) if !valid_bot_token(t) => {
                return Err(StyleError::BadBotToken)
            }
            (WebhookStyle::Gotify, None) => {
                return Err(StyleError::TokenRequired {
                    style,
                    what: "an application token from Gotify's Apps page",
                })
            }
            _ => {}
        }
        match (self, chat_id) {
            (WebhookStyle::Telegram, None) => return Err(StyleError::ChatIdRequired),
            (WebhookStyle::Telegram, Some(c)) if !valid_chat_id(c) => {
                return Err(StyleError::BadChatId(c.to_string()))
            }
            (WebhookStyle::Telegram, Some(_)) | (_, None) => {}
            (_, Some(_)) => return Err(not_for("chat_id")),
        }
        if self == WebhookStyle::Ntfy && ntfy_topic(url).is_none() {
            return Err(StyleError::BadTopic);
        }
        match (self.priority_range(), priority) {
            (None, None) => Ok(None),
            (None, Some(_)) => Err(not_for("priority")),
            (Some((_, _, default)), None) => Ok(Some(default)),
            (Some((min, max, _)), Some(p)) if p < i64::from(min) || p > i64::from(max) => {
                Err(StyleError::BadPriority {
                    style,
                    min,
                    max,
                    got: p,
                })
            }
            (Some(_), Some(p)) => Ok(u8::try_from(p).ok()),
        }
    }
}

/// `123456789:AAE…`: the form @BotFather hands out. Nothing else may reach the URL path.
fn valid_bot_token(t: &str) -> bool {
    match t.split_once(':') {
        Some((id, key)) => {
            !id.is_empty()
                && id.bytes().all(|b| b.is_ascii_digit())
                && !key.is_empty()
                && key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        }
        None => false,
    }
}

/// A chat id (`-1001234567890`) or a public channel's username (`@backups`).
fn valid_chat_id(c: &str) -> bool {
    let digits = c.strip_prefix('-').unwrap_or(c);
    let numeric =
        !digits.is_empty() && digits.len() <= 20 && digits.bytes().all(|b| b.is_ascii_digit());
    let username = c.strip_prefix('@').is_some_and(|u| {
        (4..=32).contains(&u.len()) && u.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    });
    numeric || username
}

/// An ntfy topic URL split into the server's base URL (where JSON is published) and the topic.
pub fn ntfy_topic(url: &str) -> Option<(String, String)> {
    let u = url.trim().trim_end_matches('/');
    let (base, topic) = u.rsplit_once('/')?;
    let ok = !topic.is_empty()
        && topic.len() <= 64
        && topic
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    // `https://host` has no topic: the split would land inside `//`.
    (ok && !base.ends_with('/') && base.contains("://"))
        .then(|| (format!("{base}/"), topic.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn styles_parse_by_name() {
        for s in WebhookStyle::ALL {
            assert_eq!(WebhookStyle::parse(s.as_str()), Some(s));
        }
        assert_eq!(WebhookStyle::parse("Teams"), Some(WebhookStyle::Teams));
        assert_eq!(WebhookStyle::parse("pager"), None);
    }

    #[test]
    fn telegram_needs_a_well_formed_token_and_chat() {
        let t = WebhookStyle::Telegram;
        let u = TELEGRAM_API;
        assert_eq!(
            t.check(u, Some("123:AA-b_c"), Some("-100123"), None),
            Ok(None)
        );
        assert_eq!(
            t.check(u, Some("123:AA"), Some("@backline_ops"), None),
            Ok(None)
        );
        assert_eq!(
            t.check(u, None, Some("1"), None).unwrap_err().field(),
            "token"
        );
        for bad in ["123", "abc:def", "123:a/b", "123:a?x", ":abc"] {
            assert_eq!(
                t.check(u, Some(bad), Some("1"), None),
                Err(StyleError::BadBotToken),
                "{bad}"
            );
        }
        assert_eq!(
            t.check(u, Some("1:a"), None, None),
            Err(StyleError::ChatIdRequired)
        );
        assert!(matches!(
            t.check(u, Some("1:a"), Some("12a"), None),
            Err(StyleError::BadChatId(_))
        ));
        assert_eq!(
            t.check(u, Some("1:a"), Some("1"), Some(3))
                .unwrap_err()
                .field(),
            "priority"
        );
    }

    #[test]
    fn priorities_have_the_documented_ranges_and_defaults() {
        let n = WebhookStyle::Ntfy;
        let url = "https://ntfy.sh/backline-alerts";
        assert_eq!(n.check(url, None, None, None), Ok(Some(4)));
        assert_eq!(n.check(url, Some("tk_x"), None, Some(5)), Ok(Some(5)));
        assert!(matches!(
            n.check(url, None, None, Some(6)),
            Err(StyleError::BadPriority { .. })
        ));
        assert!(matches!(
            n.check(url, None, None, Some(0)),
            Err(StyleError::BadPriority { .. })
        ));
        let g = WebhookStyle::Gotify;
        assert_eq!(g.check("https://g", Some("A"), None, None), Ok(Some(8)));
        assert_eq!(g.check("https://g", Some("A"), None, Some(0)), Ok(Some(0)));
        assert!(g.check("https://g", Some("A"), None, Some(11)).is_err());
        assert_eq!(
            g.check("https://g", None, None, None).unwrap_err().field(),
            "token"
        );
        assert_eq!(
            WebhookStyle::Slack
                .check("https://h", Some("x"), None, None)
                .unwrap_err()
                .field(),
            "token"
        );
        assert_eq!(
            WebhookStyle::Teams
                .check("https://h", None, Some("1"), None)
                .unwrap_err()
                .field(),
            "chat_id"
        );
    }

    #[test]
    fn ntfy_urls_name_a_topic() {
        assert_eq!(
            ntfy_topic("https://ntfy.sh/backline-alerts"),
            Some(("https://ntfy.sh/".into(), "backline-alerts".into()))
        );
        assert_eq!(
            ntfy_topic("http://127.0.0.1:8080/ntfy/ops_1/"),
            Some(("http://127.0.0.1:8080/ntfy/".into(), "ops_1".into()))
        );
        assert_eq!(ntfy_topic("https://ntfy.sh"), None);
        assert_eq!(ntfy_topic("https://ntfy.sh/"), None);
        assert_eq!(ntfy_topic("https://ntfy.sh/a?b"), None);
    }
}
