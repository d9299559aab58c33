//! Email over SMTP (lettre): plain text and HTML alternatives.

use super::{AlertMessage, Attempt};
use backline_domain::Notice;
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    /// `url`: `smtp://host:port` (plain, or `?tls=required` for STARTTLS) or
    /// `smtps://user:pass@host:465`.
    pub fn new(url: &str, from: &str) -> Result<Self, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| format!("BACKLINE_SMTP_URL is not usable: {e}"))?
            .timeout(Some(std::time::Duration::from_secs(15)))
            .build();
        let from = from
            .parse::<Mailbox>()
            .map_err(|e| format!("BACKLINE_ALERT_FROM {from:?} is not an address: {e}"))?;
        Ok(Self { transport, from })
    }

    pub async fn send(&self, to: &[String], msg: &AlertMessage) -> Attempt {
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(msg.subject());
        for a in to {
            match a.parse::<Mailbox>() {
                Ok(m) => builder = builder.to(m),
                Err(e) => return Attempt::failed(None, format!("{a:?} is not an address: {e}")),
            }
        }
        let email = match builder.multipart(MultiPart::alternative_plain_html(
            plain_text(msg),
            html(msg),
        )) {
            Ok(e) => e,
            Err(e) => return Attempt::failed(None, format!("cannot build the email: {e}")),
        };
        match self.transport.send(email).await {
            Ok(r) => Attempt::delivered(Some(u16::from(r.code()))),
            Err(e) => Attempt::failed(
                e.status().map(u16::from),
                format!("SMTP delivery failed: {e}"),
            ),
        }
    }
}

fn lines(msg: &AlertMessage) -> Vec<(&'static str, String)> {
    let mut out = vec![
        (
            "Database",
            format!("{} ({})", msg.database_name, msg.database_id),
        ),
        ("What", msg.title.clone()),
        ("Error", msg.message.clone()),
        ("When", msg.raised_at.clone()),
        ("Times", msg.count.to_string()),
    ];
    if msg.notice == Notice::Resolved {
        out.push((
            "Resolved",
            format!(
                "{} by {}",
                msg.resolved_at.as_deref().unwrap_or("?"),
                msg.resolved_by.as_deref().unwrap_or("a later success")
            ),
        ));
    }
    out.push(("Alert", msg.alert_id.clone()));
    out
}

pub fn plain_text(msg: &AlertMessage) -> String {
    let mut s = format!("{}\n\n", msg.subject());
    for (k, v) in lines(msg) {
        s.push_str(&format!("{k}: {v}\n"));
    }
    if !msg.detail.trim().is_empty() {
        s.push_str(&format!(
            "\nLast lines on stderr:\n{}\n",
            msg.detail.trim_end()
        ));
    }
    s.push_str(&format!("\nOpen in Backline: {}\n", msg.link));
    s
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub fn html(msg: &AlertMessage) -> String {
    let mut s = format!(
        "<!doctype html><html><body style=\"font-family:sans-serif\"><h2>{}</h2><table>",
        esc(&msg.subject())
    );
    for (k, v) in lines(msg) {
        s.push_str(&format!(
            "<tr><th align=\"left\">{}</th><td>{}</td></tr>",
            esc(k),
            esc(&v)
        ));
    }
    s.push_str("</table>");
    if !msg.detail.trim().is_empty() {
        s.push_str(&format!(
            "<h3>Last lines on stderr</h3><pre>{}</pre>",
            esc(msg.detail.trim_end())
        ));
    }
    s.push_str(&format!(
        "<p><a href=\"{0}\">Open in Backline</a></p></body></html>",
        esc(&msg.link)
    ));
    s
}
