//! The requests that Mattermost, Microsoft Teams, Telegram, ntfy and Gotify document for an
//! incoming message, each with the alert's text escaped for the markup the service reads.
//!
//! - Mattermost: `POST <incoming webhook URL>`, Slack-compatible JSON (`text`, `attachments`),
//!   Markdown: escaped, `@` mentions broken, tool output in a code block.
//! - Teams: `POST <workflow URL>`, `{"type":"message","attachments":[{"contentType":
//!   "application/vnd.microsoft.card.adaptive","content":<Adaptive Card 1.4>}]}`; every text
//!   from the alert is a `TextRun`, which Teams shows literally (no Markdown).
//! - Telegram: `POST <api>/bot<token>/sendMessage`, `{"chat_id","text","parse_mode":"HTML",
//!   "link_preview_options":{"is_disabled":true}}`, text HTML-escaped.
//! - ntfy: JSON publishing, `POST <server root>` with `{"topic","title","message","priority",
//!   "tags","click"}`, `Authorization: Bearer <token>` when a token is set; plain text.
//! - Gotify: `POST <server>/message` with `X-Gotify-Key: <token>`, `{"title","message",
//!   "priority","extras"}`, shown as plain text (`client::display.contentType`).

use super::markup::{code_block, head, html, markdown, tail};
use super::{AlertMessage, HookTarget};
use backline_domain::webhook_style::{ntfy_topic, TELEGRAM_API};
use backline_domain::{Notice, WebhookStyle};
use serde_json::{json, Value};

/// One HTTP request to a notifier: always a JSON `POST`.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Value,
}

/// The request for one of the five services; `None` for the styles `webhook.rs` builds.
pub fn request(t: &HookTarget, msg: &AlertMessage) -> Option<Result<Outgoing, String>> {
    Some(match t.style {
        WebhookStyle::Mattermost => Ok(plain(&t.url, mattermost(msg))),
        WebhookStyle::Teams => Ok(plain(&t.url, teams(msg))),
        WebhookStyle::Telegram => telegram(t, msg),
        WebhookStyle::Ntfy => ntfy(t, msg),
        WebhookStyle::Gotify => gotify(t, msg),
        WebhookStyle::Slack | WebhookStyle::Discord | WebhookStyle::Generic => return None,
    })
}

fn plain(url: &str, body: Value) -> Outgoing {
    Outgoing {
        url: url.to_string(),
        headers: Vec::new(),
        body,
    }
}

fn resolved(msg: &AlertMessage) -> bool {
    msg.notice == Notice::Resolved
}

/// The facts every message lists, as (label, value).
fn facts(msg: &AlertMessage) -> Vec<(&'static str, String)> {
    let mut f = vec![
        ("Database", msg.database_name.clone()),
        ("What", msg.title.clone()),
        ("When", msg.raised_at.clone()),
        ("Times", msg.count.to_string()),
    ];
    if let Some(r) = &msg.resolved_by {
        f.push(("Resolved by", r.clone()));
    }
    f
}

/// Plain text: the message, then the end of the tool's output when there is some.
fn plain_text(msg: &AlertMessage, max: usize) -> String {
    let detail = msg.detail.trim();
    let text = if detail.is_empty() {
        msg.message.clone()
    } else {
        format!("{}\n\n{}", msg.message, tail(detail, 1500))
    };
    head(&text, max)
}

pub fn mattermost(msg: &AlertMessage) -> Value {
    let mut text = markdown(&head(&msg.message, 3000));
    if !msg.detail.trim().is_empty() {
        text.push_str("\n\n");
        text.push_str(&code_block(&tail(msg.detail.trim(), 3000)));
    }
    json!({
        "text": markdown(&msg.summary()),
        "attachments": [{
            "fallback": markdown(&msg.subject()),
            "color": if resolved(msg) { "#2eb67d" } else { "#e01e5a" },
            "title": markdown(&msg.subject()),
            "title_link": msg.link,
            "text": text,
            "fields": facts(msg).iter().map(|(k, v)| json!({"title": k, "value": markdown(v), "short": true})).collect::<Vec<_>>(),
        }],
    })
}

/// A `RichTextBlock` of literal runs: Teams renders no Markdown inside a `TextRun`.
fn runs(parts: &[(&str, bool)]) -> Value {
    json!({
        "type": "RichTextBlock",
        "inlines": parts.iter().map(|(text, bold)| {
            let mut r = json!({"type": "TextRun", "text": text});
            if *bold {
                r["weight"] = json!("Bolder");
            }
            r
        }).collect::<Vec<_>>(),
    })
}

pub fn teams(msg: &AlertMessage) -> Value {
    let mut title = runs(&[(&msg.subject(), true)]);
    title["inlines"][0]["size"] = json!("Medium");
    title["inlines"][0]["color"] = json!(if resolved(msg) { "Good" } else { "Attention" });
    let mut body = vec![title, runs(&[(&head(&msg.message, 3000), false)])];
    for (k, v) in facts(msg) {
        body.push(runs(&[(&format!("{k}: "), true), (&v, false)]));
    }
    if !msg.detail.trim().is_empty() {
        let mut d = runs(&[(&tail(msg.detail.trim(), 3000), false)]);
        d["inlines"][0]["fontType"] = json!("Monospace");
        body.push(d);
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "msteams": {"width": "Full"},
                "body": body,
                "actions": [{"type": "Action.OpenUrl", "title": "Open in Backline", "url": msg.link}],
            },
        }],
    })
}

/// Telegram's text: bold subject, the message, the tool output as `<pre>`, a link; under its
/// 4096-character limit (each part is cut before it is escaped, so no entity is cut in two).
pub fn telegram_text(msg: &AlertMessage) -> String {
    let mut text = format!(
        "<b>{}</b>\n{}",
        html(&head(&msg.subject(), 300)),
        html(&head(&msg.message, 1500))
    );
    for (k, v) in facts(msg).into_iter().skip(2) {
        text.push_str(&format!("\n<i>{k}:</i> {}", html(&head(&v, 100))));
    }
    if !msg.detail.trim().is_empty() {
        text.push_str(&format!(
            "\n<pre>{}</pre>",
            html(&tail(msg.detail.trim(), 1000))
        ));
    }
    text.push_str(&format!(
        "\n<a href=\"{}\">Open in Backline</a>",
        html(&msg.link)
    ));
    text
}

fn telegram(t: &HookTarget, msg: &AlertMessage) -> Result<Outgoing, String> {
    let token = t
        .secret
        .as_deref()
        .ok_or("the channel has no bot token: add it again with `token`")?;
    let chat = t
        .chat_id
        .as_deref()
        .ok_or("the channel has no chat_id: add it again with `chat_id`")?;
    let base = if t.url.trim().is_empty() {
        TELEGRAM_API
    } else {
        t.url.trim_end_matches('/')
    };
    // A numeric id goes as a number, `@channel` as a string (both are what the API takes).
    let chat_id = chat
        .parse::<i64>()
        .map(Value::from)
        .unwrap_or_else(|_| json!(chat));
    Ok(plain(
        &format!("{base}/bot{token}/sendMessage"),
        json!({
            "chat_id": chat_id,
            "text": telegram_text(msg),
            "parse_mode": "HTML",
            "link_preview_options": {"is_disabled": true},
        }),
    ))
}

fn ntfy(t: &HookTarget, msg: &AlertMessage) -> Result<Outgoing, String> {
    let (root, topic) =
        ntfy_topic(&t.url).ok_or("the ntfy URL names no topic (https://ntfy.sh/<topic>)")?;
    let mut headers = Vec::new();
    if let Some(token) = &t.secret {
        headers.push(("Authorization", format!("Bearer {token}")));
    }
    Ok(Outgoing {
        url: root,
        headers,
        body: json!({
            "topic": topic,
            "title": head(&msg.subject(), 250),
            // ntfy keeps messages up to 4096 bytes; a character may take 4.
            "message": plain_text(msg, 1000),
            "priority": t.priority.unwrap_or(4),
            "tags": [if resolved(msg) { "white_check_mark" } else { "rotating_light" }],
            "click": msg.link,
        }),
    })
}

fn gotify(t: &HookTarget, msg: &AlertMessage) -> Result<Outgoing, String> {
    let token = t
        .secret
        .as_deref()
        .ok_or("the channel has no application token: add it again with `token`")?;
    Ok(Outgoing {
        url: format!("{}/message", t.url.trim_end_matches('/')),
        headers: vec![("X-Gotify-Key", token.to_string())],
        body: json!({
            "title": head(&msg.subject(), 250),
            "message": plain_text(msg, 3000),
            "priority": t.priority.unwrap_or(8),
            "extras": {
                "client::display": {"contentType": "text/plain"},
                "client::notification": {"click": {"url": msg.link}},
            },
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hostile(notice: Notice) -> AlertMessage {
        AlertMessage {
            alert_id: "a1".into(),
            kind: "backup_failed".into(),
            title: "backup failed".into(),
            notice,
            state: "open".into(),
            database_id: "d1".into(),
            database_name: "shop".into(),
            message: "relation \"<b>@channel</b>\" [x](http://evil) & **more**".into(),
            detail: "ERROR: ``` <!here>".into(),
            count: 2,
            raised_at: "2026-01-01T00:00:00Z".into(),
            resolved_at: None,
            resolved_by: None,
            link: "http://127.0.0.1:8080/databases/d1?a=1&b=\"2\"".into(),
        }
    }

    fn target(style: WebhookStyle) -> HookTarget {
        HookTarget {
            style,
            url: "https://h.example/t0pic".into(),
            secret: Some("1:tok".into()),
            chat_id: Some("-100".into()),
            priority: None,
        }
    }

    #[test]
    fn telegram_html_has_only_our_tags() {
        let t = telegram_text(&hostile(Notice::Raised));
        assert!(t.contains("&lt;b&gt;@channel&lt;/b&gt;"), "{t}");
        assert!(t.contains("&amp; **more**"), "{t}");
        assert!(
            t.contains("href=\"http://127.0.0.1:8080/databases/d1?a=1&amp;b=&quot;2&quot;\""),
            "{t}"
        );
        let o = request(&target(WebhookStyle::Telegram), &hostile(Notice::Raised))
            .unwrap()
            .unwrap();
        assert_eq!(o.url, "https://h.example/t0pic/bot1:tok/sendMessage");
        assert_eq!(o.body["chat_id"], json!(-100));
        assert_eq!(o.body["parse_mode"], "HTML");
    }

    #[test]
    fn teams_text_is_literal_runs_only() {
        let v = teams(&hostile(Notice::Raised));
        let card = &v["attachments"][0]["content"];
        for block in card["body"].as_array().unwrap() {
            assert_eq!(block["type"], "RichTextBlock", "{block}");
            for r in block["inlines"].as_array().unwrap() {
                assert_eq!(r["type"], "TextRun");
            }
        }
        assert_eq!(
            card["body"][1]["inlines"][0]["text"],
            hostile(Notice::Raised).message
        );
    }

    #[test]
    fn mattermost_markdown_cannot_mention_or_link() {
        let v = mattermost(&hostile(Notice::Raised)).to_string();
        assert!(!v.contains("@channel") && !v.contains("[x](http"), "{v}");
        assert!(!v.contains("<!here>") || v.contains("````"), "{v}");
    }

    #[test]
    fn ntfy_and_gotify_take_priority_and_token() {
        let mut t = target(WebhookStyle::Ntfy);
        t.priority = Some(5);
        let o = request(&t, &hostile(Notice::Resolved)).unwrap().unwrap();
        assert_eq!(o.url, "https://h.example/");
        assert_eq!(o.body["topic"], "t0pic");
        assert_eq!(o.body["priority"], 5);
        assert_eq!(o.body["tags"], json!(["white_check_mark"]));
        assert_eq!(
            o.headers,
            vec![("Authorization", "Bearer 1:tok".to_string())]
        );
        let g = request(&target(WebhookStyle::Gotify), &hostile(Notice::Raised))
            .unwrap()
            .unwrap();
        assert_eq!(g.url, "https://h.example/t0pic/message");
        assert_eq!(g.body["priority"], 8);
        assert_eq!(
            g.body["extras"]["client::display"]["contentType"],
            "text/plain"
        );
    }
}
