//! The Channel aggregate: a place alerts go (email addresses, or a chat/HTTP webhook).
//!
//! A webhook URL is a credential (Slack and Discord put the token in it) and a generic
//! webhook has a signing secret: both reach the ledger only sealed, like passwords.

use crate::alert::Outcome;
use crate::connection::SealedSecret;
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub use crate::webhook_style::WebhookStyle;

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
        /// Telegram: the chat the bot writes to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        chat_id: Option<String>,
        /// ntfy (1–5) and Gotify (0–10): the priority notifications are sent with.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        priority: Option<u8>,
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
    #[error("email channels need an SMTP server: set BACKLINE_SMTP_URL (and BACKLINE_ALERT_FROM) on the server, or use a webhook")]
    NoMailServer,
    #[error("webhook url {0:?} is not an http(s) URL")]
    BadUrl(String),
    #[error("webhook address {address} is {}", rule.explain())]
    RefusedAddress { address: IpAddr, rule: AddressRule },
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

/// Why a webhook may not be sent to an address. Webhooks are the one place where whoever holds
/// the admin token makes Backline's network position send requests, so addresses that reach
/// the host itself or its private network are refused (server-side request forgery).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressRule {
    /// 169.254.0.0/16, fe80::/10: where cloud metadata services answer. Always refused.
    LinkLocal,
    /// A cloud metadata address outside link-local (fd00:ec2::254, 100.100.100.200). Always refused.
    Metadata,
    /// Multicast, broadcast or reserved: no HTTP server lives there. Always refused.
    NotUnicast,
    /// 127.0.0.0/8, ::1.
    Loopback,
    /// 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, fc00::/7 (and the old fec0::/10).
    Private,
    /// 0.0.0.0/8, :: (connecting there reaches this host).
    Unspecified,
    /// 100.64.0.0/10, carrier-grade NAT.
    SharedAddressSpace,
}

impl AddressRule {
    /// Refused even with `BACKLINE_ALLOW_PRIVATE_WEBHOOKS=true`.
    pub fn always_refused(self) -> bool {
        matches!(
            self,
            AddressRule::LinkLocal | AddressRule::Metadata | AddressRule::NotUnicast
        )
    }

    /// The rule in words, with what (if anything) lifts it.
    pub fn explain(self) -> &'static str {
        match self {
            AddressRule::LinkLocal => "link-local (169.254.0.0/16, fe80::/10), where cloud metadata services answer: webhooks never go there",
            AddressRule::Metadata => "a cloud metadata address: webhooks never go there",
            AddressRule::NotUnicast => "multicast, broadcast or reserved: webhooks never go there",
            AddressRule::Loopback => "loopback (127.0.0.0/8, ::1): refused unless BACKLINE_ALLOW_PRIVATE_WEBHOOKS=true",
            AddressRule::Private => "private (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, fc00::/7): refused unless BACKLINE_ALLOW_PRIVATE_WEBHOOKS=true",
            AddressRule::Unspecified => "unspecified (0.0.0.0/8, ::), which reaches this host: refused unless BACKLINE_ALLOW_PRIVATE_WEBHOOKS=true",
            AddressRule::SharedAddressSpace => "carrier-grade NAT space (100.64.0.0/10): refused unless BACKLINE_ALLOW_PRIVATE_WEBHOOKS=true",
        }
    }

    /// The rule an address falls under, if any (public unicast addresses fall under none).
    /// IPv6 forms that carry an IPv4 address (mapped, compatible, NAT64, 6to4) are judged by
    /// that IPv4 address.
    pub fn of(ip: IpAddr) -> Option<Self> {
        match ip {
            IpAddr::V4(v4) => Self::of_v4(v4),
            IpAddr::V6(v6) => Self::of_v6(v6),
        }
    }

    fn of_v4(ip: Ipv4Addr) -> Option<Self> {
        let [a, b, ..] = ip.octets();
        Some(if ip.is_link_local() {
            AddressRule::LinkLocal
        } else if ip == Ipv4Addr::new(100, 100, 100, 200) {
            AddressRule::Metadata
        } else if ip.is_multicast() || ip.is_broadcast() || a >= 240 {
            AddressRule::NotUnicast
        } else if ip.is_loopback() {
            AddressRule::Loopback
        } else if ip.is_private() {
            AddressRule::Private
        } else if a == 0 {
            AddressRule::Unspecified
        } else if a == 100 && (64..128).contains(&b) {
            AddressRule::SharedAddressSpace
        } else {
            return None;
        })
    }

    fn of_v6(ip: Ipv6Addr) -> Option<Self> {
        let s = ip.segments();
        let embedded_v4 =
            |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
        if ip.is_unspecified() {
            return Some(AddressRule::Unspecified);
        }
        if ip.is_loopback() {
            return Some(AddressRule::Loopback);
        }
        if let Some(v4) = ip.to_ipv4_mapped() {
            return Self::of_v4(v4);
        }
        // ::a.b.c.d (IPv4-compatible, deprecated) and 64:ff9b::a.b.c.d (NAT64).
        if s[..6] == [0; 6] || s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
            return Self::of_v4(embedded_v4(s[6], s[7]));
        }
        // 2002:AABB:CCDD::/48 (6to4) carries AA.BB.CC.DD.
        if s[0] == 0x2002 {
            return Self::of_v4(embedded_v4(s[1], s[2]));
        }
        Some(if s[0] & 0xffc0 == 0xfe80 {
            AddressRule::LinkLocal
        } else if ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
            AddressRule::Metadata
        } else if s[0] & 0xff00 == 0xff00 {
            AddressRule::NotUnicast
        } else if s[0] & 0xfe00 == 0xfc00 || s[0] & 0xffc0 == 0xfec0 {
            AddressRule::Private
        } else {
            return None;
        })
    }
}

/// Where webhooks may go: public addresses always; loopback, private, unspecified and CGNAT
/// ones only when the operator allows them; link-local and metadata ones never.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WebhookPolicy {
    /// `BACKLINE_ALLOW_PRIVATE_WEBHOOKS`.
    pub allow_private: bool,
}

impl WebhookPolicy {
    pub fn check(self, ip: IpAddr) -> Result<(), ChannelError> {
        match AddressRule::of(ip) {
            Some(rule) if rule.always_refused() || !self.allow_private => {
                Err(ChannelError::RefusedAddress { address: ip, rule })
            }
            _ => Ok(()),
        }
    }

    /// Checks a webhook URL whose host is an IP address (a host name is checked when it is
    /// resolved, at each delivery).
    pub fn check_url(self, u: &str) -> Result<(), ChannelError> {
        let parsed = url::Url::parse(u.trim()).map_err(|_| ChannelError::BadUrl(u.to_string()))?;
        match parsed.host() {
            Some(url::Host::Ipv4(ip)) => self.check(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => self.check(IpAddr::V6(ip)),
            _ => Ok(()),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ChannelCommand {
    Add {
        name: String,
        target: ChannelTarget,
        secret: Option<SealedSecret>,
        /// Whether this server can send email (an SMTP server is configured).
        can_email: bool,
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

impl ChannelEvent {
    /// The event's type name, as the ledger stores it.
    pub fn name(&self) -> &'static str {
        match self {
            ChannelEvent::ChannelAdded { .. } => "ChannelAdded",
            ChannelEvent::ChannelRemoved {} => "ChannelRemoved",
            ChannelEvent::ChannelTested { .. } => "ChannelTested",
        }
    }
}

impl DomainEvent for ChannelEvent {
    fn event_type(&self) -> String {
        self.name().to_string()
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
                can_email,
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
                        if !can_email {
                            return Err(ChannelError::NoMailServer);
                        }
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
            can_email: true,
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
            .when(ChannelCommand::Add {
                name: "ops".into(),
                target: ChannelTarget::Email {
                    to: vec!["ops@example.com".into()],
                },
                secret: None,
                can_email: false,
            })
            .then_expect_error(ChannelError::NoMailServer);
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
        assert_eq!(WebhookStyle::parse("pager"), None);
    }

    fn rule(ip: &str) -> Option<AddressRule> {
        AddressRule::of(ip.parse().unwrap())
    }

    #[test]
    fn addresses_fall_under_their_rules() {
        use AddressRule::*;
        for (ip, want) in [
            ("169.254.169.254", Some(LinkLocal)),
            ("169.254.0.1", Some(LinkLocal)),
            ("fe80::1", Some(LinkLocal)),
            ("febf::1", Some(LinkLocal)),
            ("::ffff:169.254.169.254", Some(LinkLocal)),
            ("::169.254.169.254", Some(LinkLocal)),
            ("64:ff9b::a9fe:a9fe", Some(LinkLocal)),
            ("2002:a9fe:a9fe::1", Some(LinkLocal)),
            ("fd00:ec2::254", Some(Metadata)),
            ("100.100.100.200", Some(Metadata)),
            ("224.0.0.1", Some(NotUnicast)),
            ("255.255.255.255", Some(NotUnicast)),
            ("ff02::1", Some(NotUnicast)),
            ("127.0.0.1", Some(Loopback)),
            ("127.255.0.9", Some(Loopback)),
            ("::1", Some(Loopback)),
            ("::ffff:127.0.0.1", Some(Loopback)),
            ("10.1.2.3", Some(Private)),
            ("172.16.0.1", Some(Private)),
            ("172.31.255.255", Some(Private)),
            ("192.168.1.1", Some(Private)),
            ("fc00::1", Some(Private)),
            ("fd12:3456::1", Some(Private)),
            ("::ffff:10.0.0.1", Some(Private)),
            ("0.0.0.0", Some(Unspecified)),
            ("::", Some(Unspecified)),
            ("100.64.0.1", Some(SharedAddressSpace)),
            ("100.127.255.255", Some(SharedAddressSpace)),
            ("100.128.0.1", None),
            ("172.32.0.1", None),
            ("8.8.8.8", None),
            ("2606:4700:4700::1111", None),
            ("::ffff:8.8.8.8", None),
        ] {
            assert_eq!(rule(ip), want, "{ip}");
        }
    }

    #[test]
    fn the_policy_lifts_only_the_private_rules() {
        let strict = WebhookPolicy::default();
        let lax = WebhookPolicy {
            allow_private: true,
        };
        for ip in [
            "127.0.0.1",
            "10.0.0.1",
            "::1",
            "0.0.0.0",
            "100.64.0.1",
            "fc00::1",
        ] {
            assert!(strict.check(ip.parse().unwrap()).is_err(), "{ip}");
            assert!(lax.check(ip.parse().unwrap()).is_ok(), "{ip}");
        }
        for ip in [
            "169.254.169.254",
            "fe80::1",
            "::ffff:169.254.169.254",
            "fd00:ec2::254",
        ] {
            let e = lax.check(ip.parse().unwrap()).unwrap_err();
            assert!(e.to_string().contains("never"), "{ip}: {e}");
        }
        assert!(strict.check("93.184.215.14".parse().unwrap()).is_ok());
    }

    #[test]
    fn urls_are_checked_by_their_ip_literal_host() {
        let strict = WebhookPolicy::default();
        // The URL parser reads every IPv4 spelling (decimal, hex, short) as the same address.
        for u in [
            "http://169.254.169.254/latest/meta-data",
            "http://2852039166/",
            "http://0xa9fea9fe/",
            "http://169.254.43518/",
            "http://[::ffff:a9fe:a9fe]/",
            "http://127.1:8080/x",
        ] {
            let e = strict.check_url(u).unwrap_err();
            assert!(matches!(e, ChannelError::RefusedAddress { .. }), "{u}: {e}");
        }
        let e = strict.check_url("http://10.0.0.5/hook").unwrap_err();
        assert!(
            e.to_string()
                .contains("BACKLINE_ALLOW_PRIVATE_WEBHOOKS=true"),
            "{e}"
        );
        assert!(strict
            .check_url("https://hooks.slack.com/services/x")
            .is_ok());
        assert!(
            strict.check_url("http://localhost:9/x").is_ok(),
            "names are checked when resolved"
        );
    }
}
