//! Wrong bearer tokens, throttled per client address.
//!
//! Each wrong token is answered after a short delay. After `FREE_FAILURES` wrong tokens from
//! one address within `WINDOW`, that address backs off: for 1 s, then 2 s, 4 s … up to 15 min
//! at each further wrong token. While it backs off, every request from it that carries a
//! token is answered 429 with `Retry-After`, *without looking at the token*: accepting the
//! right one meanwhile would tell a guesser which of its guesses was right, at full speed.
//! Once the back-off has ended, the right token works again at once; the address is
//! forgotten after `FORGET_AFTER` without a wrong token. Requests without a token do not count.
//!
//! Behind a reverse proxy every client has the proxy's address, so they back off together.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Wrong tokens an address may send within `WINDOW` before it backs off.
pub const FREE_FAILURES: u32 = 10;
const WINDOW: Duration = Duration::from_secs(60);
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(15 * 60);
/// How long each wrong token waits for its answer.
pub const FAILURE_DELAY: Duration = Duration::from_millis(200);
const FORGET_AFTER: Duration = Duration::from_secs(30 * 60);
/// Addresses remembered at most (the oldest is forgotten first).
const MAX_CLIENTS: usize = 10_000;

/// What is remembered of one client address.
#[derive(Debug, Clone)]
struct Record {
    /// Wrong tokens in the current window.
    failures: u32,
    window_start: Instant,
    /// Back-offs so far: the next lasts `FIRST_BACKOFF * 2^strikes`.
    strikes: u32,
    blocked_until: Option<Instant>,
    last_failure: Instant,
}

/// Wrong tokens by client: an address, or an IPv6 /64 (one host usually holds all of it).
#[derive(Debug)]
pub struct AuthThrottle {
    clients: Mutex<HashMap<IpAddr, Record>>,
    /// Wrong tokens an address may send within `WINDOW` before it backs off.
    free_failures: u32,
}

impl Default for AuthThrottle {
    fn default() -> Self {
        Self::new(FREE_FAILURES)
    }
}

impl AuthThrottle {
    /// A throttle that lets `free_failures` wrong tokens through per window (`BACKLINE_AUTH_FREE_FAILURES`).
    pub fn new(free_failures: u32) -> Self {
        Self {
            clients: Mutex::new(HashMap::new()),
            free_failures,
        }
    }
}

/// The key of a client address: IPv4 as is (IPv4-mapped IPv6 too), IPv6 by its /64.
fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

fn backoff(strikes: u32) -> Duration {
    FIRST_BACKOFF
        .checked_mul(1u32.checked_shl(strikes).unwrap_or(u32::MAX))
        .unwrap_or(MAX_BACKOFF)
        .min(MAX_BACKOFF)
}

impl AuthThrottle {
    /// `Err(retry after)` while `ip` backs off.
    pub fn check(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        let clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        match clients.get(&client_key(ip)).and_then(|r| r.blocked_until) {
            Some(until) if until > now => Err(until - now),
            _ => Ok(()),
        }
    }

    /// Records a wrong token from `ip`; `Some(retry after)` when it starts a back-off.
    pub fn failed(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let key = client_key(ip);
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if !clients.contains_key(&key) && clients.len() >= MAX_CLIENTS {
            evict(&mut clients, now);
        }
        let r = clients.entry(key).or_insert(Record {
            failures: 0,
            window_start: now,
            strikes: 0,
            blocked_until: None,
            last_failure: now,
        });
        if now.duration_since(r.window_start) > WINDOW {
            r.failures = 0;
            r.window_start = now;
        }
        r.failures += 1;
        r.last_failure = now;
        // Past the free ones, and at every wrong token once it has backed off before.
        if r.failures > self.free_failures || r.strikes > 0 {
            let wait = backoff(r.strikes);
            r.strikes = r.strikes.saturating_add(1);
            r.blocked_until = Some(now + wait);
            tracing::warn!(client = %key, strikes = r.strikes, retry_after_secs = wait.as_secs(), "wrong admin tokens: this client backs off");
            return Some(wait);
        }
        None
    }

    /// Addresses remembered now.
    pub fn clients(&self) -> usize {
        self.clients.lock().map(|c| c.len()).unwrap_or(0)
    }
}

/// Makes room: forgets quiet addresses, else the one whose last wrong token is the oldest.
fn evict(clients: &mut HashMap<IpAddr, Record>, now: Instant) {
    clients.retain(|_, r| {
        now.duration_since(r.last_failure) < FORGET_AFTER
            || r.blocked_until.is_some_and(|u| u > now)
    });
    if clients.len() >= MAX_CLIENTS {
        if let Some(oldest) = clients
            .iter()
            .min_by_key(|(_, r)| r.last_failure)
            .map(|(k, _)| *k)
        {
            clients.remove(&oldest);
        }
    }
}

/// `Retry-After` in whole seconds, rounded up.
pub fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ten_free_wrong_tokens_then_a_growing_back_off() {
        let t = AuthThrottle::default();
        let a = ip("203.0.113.7");
        let now = Instant::now();
        for _ in 0..FREE_FAILURES {
            assert_eq!(t.failed(a, now), None);
            assert!(t.check(a, now).is_ok());
        }
        assert_eq!(t.failed(a, now), Some(Duration::from_secs(1)));
        assert_eq!(t.check(a, now), Err(Duration::from_secs(1)));
        // Once it ends, the address may try again; each wrong token doubles the wait.
        let later = now + Duration::from_secs(1);
        assert!(t.check(a, later).is_ok());
        assert_eq!(t.failed(a, later), Some(Duration::from_secs(2)));
        let later = later + Duration::from_secs(2);
        assert_eq!(t.failed(a, later), Some(Duration::from_secs(4)));
        assert_eq!(backoff(40), MAX_BACKOFF);
    }

    #[test]
    fn other_addresses_are_unaffected_and_ipv6_counts_by_its_64() {
        let t = AuthThrottle::default();
        let now = Instant::now();
        for i in 0..=FREE_FAILURES {
            t.failed(ip(&format!("2001:db8:1:2::{i:x}")), now);
        }
        assert!(t.check(ip("2001:db8:1:2:ffff::1"), now).is_err());
        assert!(t.check(ip("2001:db8:1:3::1"), now).is_ok());
        assert!(t.check(ip("203.0.113.8"), now).is_ok());
        for _ in 0..=FREE_FAILURES {
            t.failed(ip("::ffff:198.51.100.1"), now);
        }
        assert!(t.check(ip("198.51.100.1"), now).is_err());
    }

    #[test]
    fn the_window_renews_the_free_failures() {
        let t = AuthThrottle::default();
        let a = ip("203.0.113.9");
        let now = Instant::now();
        for _ in 0..FREE_FAILURES {
            t.failed(a, now);
        }
        let later = now + WINDOW + Duration::from_secs(1);
        assert_eq!(t.failed(a, later), None);
    }

    #[test]
    fn the_map_stays_bounded() {
        let t = AuthThrottle::default();
        let now = Instant::now();
        for i in 0..(MAX_CLIENTS as u32 + 50) {
            let b = i.to_be_bytes();
            t.failed(IpAddr::from([10, b[1], b[2], b[3]]), now);
        }
        assert!(t.clients() <= MAX_CLIENTS);
        // Quiet addresses are the first to go.
        let much_later = now + FORGET_AFTER + Duration::from_secs(1);
        t.failed(ip("192.0.2.1"), much_later);
        assert_eq!(t.clients(), 1);
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(2)), 2);
        assert_eq!(retry_after_secs(Duration::from_millis(2001)), 3);
    }
}
