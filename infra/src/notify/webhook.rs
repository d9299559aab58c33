//! Webhooks: Slack incoming webhooks, Discord webhooks, and a generic signed JSON POST.
//!
//! Generic payloads carry `timestamp` (Unix seconds) and are signed with HMAC-SHA256 over the
//! raw body: `X-Backline-Signature: sha256=<hex>`, with the same timestamp in
//! `X-Backline-Timestamp`. A receiver checks the signature, that both timestamps agree and
//! that the timestamp is recent, which rules out replays of old deliveries.

use super::{AlertMessage, Attempt};
use backline_domain::{Notice, WebhookStyle};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

pub const SIGNATURE_HEADER: &str = "X-Backline-Signature";
pub const TIMESTAMP_HEADER: &str = "X-Backline-Timestamp";

/// `sha256=<hex of HMAC-SHA256(secret, body)>`.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn color(msg: &AlertMessage) -> (&'static str, u32) {
    match msg.notice {
        Notice::Resolved => ("#2eb67d", 0x2eb67d),
        _ => ("#e01e5a", 0xe01e5a),
    }
}

pub fn body(style: WebhookStyle, msg: &AlertMessage, timestamp: i64) -> Value {
    let (hex_color, int_color) = color(msg);
    let mut fields = vec![
        ("Database", msg.database_name.clone()),
        ("What", msg.title.clone()),
        ("When", msg.raised_at.clone()),
        ("Times", msg.count.to_string()),
    ];
    if let Some(r) = &msg.resolved_by {
        fields.push(("Resolved by", r.clone()));
    }
    let detail = if msg.detail.trim().is_empty() {
        String::new()
    } else {
        let tail: String = msg
            .detail
            .chars()
            .rev()
            .take(1500)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        format!("\n```{}```", tail.trim_end())
    };
    match style {
        // Slack reads `<…>` as links and mentions (`<!channel>`): text from a database's error
        // output is escaped, so it can never ping anyone or forge a link.
        WebhookStyle::Slack => json!({
            "text": slack_escape(&msg.summary()),
            "attachments": [{
                "color": hex_color,
                "title": slack_escape(&msg.subject()),
                "title_link": msg.link,
                "text": slack_escape(&format!("{}{}", msg.message, detail)),
                "fields": fields.iter().map(|(k, v)| json!({"title": k, "value": slack_escape(v), "short": true})).collect::<Vec<_>>(),
            }],
        }),
        // Discord: no @everyone/@here/role/user mention in any of it is acted on.
        WebhookStyle::Discord => json!({
            "allowed_mentions": {"parse": []},
            "content": msg.summary().chars().take(1900).collect::<String>(),
            "embeds": [{
                "title": msg.subject().chars().take(250).collect::<String>(),
                "url": msg.link,
                "description": format!("{}{}", msg.message, detail).chars().take(3900).collect::<String>(),
                "color": int_color,
                "fields": fields.iter().map(|(k, v)| json!({"name": k, "value": v, "inline": true})).collect::<Vec<_>>(),
            }],
        }),
        WebhookStyle::Generic => {
            let mut v = serde_json::to_value(msg).unwrap_or(Value::Null);
            v["timestamp"] = json!(timestamp);
            v["subject"] = json!(msg.subject());
            v
        }
    }
}

/// Slack's three control characters as its entities.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

pub async fn send(
    http: &reqwest::Client,
    style: WebhookStyle,
    url: &str,
    secret: Option<&str>,
    msg: &AlertMessage,
) -> Attempt {
    let timestamp = chrono::Utc::now().timestamp();
    let raw = match serde_json::to_vec(&body(style, msg, timestamp)) {
        Ok(b) => b,
        Err(e) => return Attempt::failed(None, format!("cannot encode the payload: {e}")),
    };
    let mut req = http
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json");
    if style == WebhookStyle::Generic {
        req = req.header(TIMESTAMP_HEADER, timestamp.to_string());
        if let Some(s) = secret {
            req = req.header(SIGNATURE_HEADER, sign(s, &raw));
        }
    }
    match req.body(raw).send().await {
        Ok(r) if r.status().is_success() => Attempt::delivered(Some(r.status().as_u16())),
        Ok(r) => {
            let status = r.status();
            let text: String = r
                .text()
                .await
                .unwrap_or_default()
                .chars()
                .take(300)
                .collect();
            Attempt::failed(
                Some(status.as_u16()),
                scrub(
                    &format!("the webhook answered {status}: {}", text.trim()),
                    url,
                ),
            )
        }
        Err(e) => Attempt::failed(
            None,
            scrub(
                &format!(
                    "cannot reach the webhook: {}",
                    error_chain(&e.without_url())
                ),
                url,
            ),
        ),
    }
}

/// Webhook URLs are credentials (Slack's and Discord's paths are the secret): errors that are
/// recorded and shown name only the scheme, host and port.
fn scrub(message: &str, url: &str) -> String {
    let Ok(u) = url::Url::parse(url) else {
        return message.replace(url, "<webhook URL>");
    };
    let shown = format!(
        "{}://{}{}/…",
        u.scheme(),
        u.host_str().unwrap_or(""),
        u.port().map(|p| format!(":{p}")).unwrap_or_default()
    );
    let mut m = message.replace(url, &shown);
    let path = u.path();
    if path.len() > 1 {
        m = m.replace(path, "/…");
    }
    if let Some(q) = u.query() {
        m = m.replace(q, "…");
    }
    m
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod scrub_tests {
    #[test]
    fn urls_are_scrubbed_from_errors() {
        let url = "https://hooks.slack.com/services/T0/B0/secret-token?x=abc";
        let m = super::scrub(
            &format!("error sending request for url ({url}): timed out"),
            url,
        );
        assert!(!m.contains("secret-token") && !m.contains("abc"), "{m}");
        assert!(m.contains("hooks.slack.com"));
    }
}

#[cfg(test)]
mod body_tests {
    use super::*;
    use crate::notify::AlertMessage;
    use backline_domain::Notice;

    fn hostile() -> AlertMessage {
        AlertMessage {
            alert_id: "a1".into(),
            kind: "backup_failed".into(),
            title: "backup failed".into(),
            notice: Notice::Raised,
            state: "open".into(),
            database_id: "d1".into(),
            database_name: "shop".into(),
            message: "relation \"<!channel> @everyone <https://evil|click>\" & more".into(),
            detail: "ERROR: <!here>".into(),
            count: 1,
            raised_at: "2026-01-01T00:00:00Z".into(),
            resolved_at: None,
            resolved_by: None,
            link: "http://127.0.0.1:8080/alerts/a1".into(),
        }
    }

    #[test]
    fn slack_text_cannot_mention_or_link() {
        let v = body(WebhookStyle::Slack, &hostile(), 0).to_string();
        assert!(
            !v.contains("<!channel>") && !v.contains("<!here>") && !v.contains("<https://evil"),
            "{v}"
        );
        assert!(
            v.contains("&lt;!channel&gt;") && v.contains("&amp; more"),
            "{v}"
        );
    }

    #[test]
    fn discord_acts_on_no_mention() {
        let v = body(WebhookStyle::Discord, &hostile(), 0);
        assert_eq!(v["allowed_mentions"]["parse"], serde_json::json!([]));
    }
}
