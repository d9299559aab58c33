//! Webhooks: Slack incoming webhooks, Discord webhooks, and a generic signed JSON POST.
//!
//! Generic payloads carry `timestamp` (Unix seconds) and are signed with HMAC-SHA256 over the
//! raw body: `X-Backline-Signature: sha256=<hex>`, with the same timestamp in
//! `X-Backline-Timestamp`. A receiver checks the signature, that both timestamps agree and
//! that the timestamp is recent, which rules out replays of old deliveries.

use super::{services, AlertMessage, Attempt, HookTarget};
use backline_domain::channel::{ChannelError, WebhookPolicy};
use backline_domain::{Notice, WebhookStyle};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::net::SocketAddr;

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
        _ => {
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

/// The request for a target, with its JSON body as the bytes sent (what a signature covers).
fn outgoing(
    t: &HookTarget,
    msg: &AlertMessage,
    timestamp: i64,
) -> Result<(services::Outgoing, Vec<u8>), String> {
    let mut o = match services::request(t, msg) {
        Some(o) => o?,
        None => services::Outgoing {
            url: t.url.clone(),
            headers: Vec::new(),
            body: body(t.style, msg, timestamp),
        },
    };
    let raw = serde_json::to_vec(&o.body).map_err(|e| format!("cannot encode the payload: {e}"))?;
    if t.style == WebhookStyle::Generic {
        o.headers.push((TIMESTAMP_HEADER, timestamp.to_string()));
        if let Some(s) = &t.secret {
            o.headers.push((SIGNATURE_HEADER, sign(s, &raw)));
        }
    }
    Ok((o, raw))
}

/// One delivery. A 3xx is not followed (the client has no redirect policy): a receiver could
/// otherwise send Backline on to an address the checks refused. The receiver's answer is never
/// read: only its status is recorded, so nothing it says ends up in events, responses or logs.
/// Errors name neither the URL's path (a credential for most services) nor any token.
pub async fn send(
    http: &reqwest::Client,
    policy: WebhookPolicy,
    t: &HookTarget,
    msg: &AlertMessage,
) -> Attempt {
    let timestamp = chrono::Utc::now().timestamp();
    let (services::Outgoing { url, headers, .. }, raw) = match outgoing(t, msg, timestamp) {
        Ok(o) => o,
        Err(e) => return Attempt::failed(None, e),
    };
    let hide = |m: &str| {
        let m = scrub(&scrub(m, &url), &t.url);
        match &t.secret {
            Some(s) if !s.is_empty() => m.replace(s.as_str(), "***"),
            _ => m,
        }
    };
    // A host name is checked by the client's resolver; an IP address is never resolved, so it
    // is checked here (again: the rules may have changed since the channel was made).
    if let Err(e) = policy.check_url(&url) {
        return Attempt::failed(None, hide(&e.to_string()));
    }
    let mut req = http
        .post(&url)
        .header(reqwest::header::CONTENT_TYPE, "application/json");
    for (k, v) in headers {
        req = req.header(k, v);
    }
    match req.body(raw).send().await {
        Ok(r) if r.status().is_success() => Attempt::delivered(Some(r.status().as_u16())),
        Ok(r) => {
            let status = r.status().as_u16();
            Attempt::failed(Some(status), format!("HTTP {status}"))
        }
        Err(e) => Attempt::failed(
            None,
            hide(&format!(
                "cannot reach the webhook: {}",
                error_chain(&e.without_url())
            )),
        ),
    }
}

/// Resolves webhook host names and keeps only the addresses the policy allows, so that the
/// connection goes to an address that was checked (a name that resolves to 169.254.169.254, or
/// that answers differently the second time, cannot slip through).
pub struct GuardedResolver {
    pub policy: WebhookPolicy,
}

/// A host name none of whose addresses may receive webhooks.
#[derive(Debug, thiserror::Error)]
#[error("{host} resolves only to refused addresses: {reason}")]
pub struct RefusedHost {
    host: String,
    reason: ChannelError,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let addrs = allowed(policy, &host, resolved)?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The addresses of `host` that `policy` allows; an error naming the rule when there is none.
pub fn allowed(
    policy: WebhookPolicy,
    host: &str,
    resolved: Vec<SocketAddr>,
) -> Result<Vec<SocketAddr>, RefusedHost> {
    let mut refusal = None;
    let mut ok = Vec::new();
    for a in resolved {
        match policy.check(a.ip()) {
            Ok(()) => ok.push(a),
            Err(e) => refusal = refusal.or(Some(e)),
        }
    }
    match (ok.is_empty(), refusal) {
        (true, Some(reason)) => Err(RefusedHost {
            host: host.to_string(),
            reason,
        }),
        (true, None) => Err(RefusedHost {
            host: host.to_string(),
            reason: ChannelError::BadUrl(host.to_string()),
        }),
        (false, _) => Ok(ok),
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
mod resolver_tests {
    use super::*;

    fn addrs(ips: &[&str]) -> Vec<SocketAddr> {
        ips.iter()
            .map(|ip| SocketAddr::new(ip.parse().unwrap(), 0))
            .collect()
    }

    #[test]
    fn a_name_resolving_to_metadata_is_refused_even_when_private_ones_are_allowed() {
        let lax = WebhookPolicy {
            allow_private: true,
        };
        let e = allowed(lax, "metadata.example", addrs(&["169.254.169.254"])).unwrap_err();
        let m = e.to_string();
        assert!(
            m.contains("metadata.example") && m.contains("link-local"),
            "{m}"
        );
        let e = allowed(lax, "m6.example", addrs(&["::ffff:169.254.169.254"])).unwrap_err();
        assert!(e.to_string().contains("link-local"), "{e}");
    }

    #[test]
    fn only_allowed_addresses_are_kept() {
        let strict = WebhookPolicy::default();
        let e = allowed(strict, "localhost", addrs(&["127.0.0.1", "::1"])).unwrap_err();
        assert!(
            e.to_string().contains("BACKLINE_ALLOW_PRIVATE_WEBHOOKS"),
            "{e}"
        );
        let kept = allowed(
            strict,
            "mixed.example",
            addrs(&["10.0.0.1", "93.184.215.14"]),
        )
        .unwrap();
        assert_eq!(kept, addrs(&["93.184.215.14"]));
        let lax = WebhookPolicy {
            allow_private: true,
        };
        assert_eq!(
            allowed(lax, "localhost", addrs(&["127.0.0.1"])).unwrap(),
            addrs(&["127.0.0.1"])
        );
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
