//! Failed sign-ins, counted per user and per client address. Past the free failures within
//! `WINDOW`, the key backs off (1 s, doubling up to 15 min at each further failure); while it
//! does, sign-ins for it are refused without looking at the password, so guessing cannot go
//! faster than the back-off allows. Keys are forgotten after a quiet `WINDOW`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(15 * 60);
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(15 * 60);
const MAX_KEYS: usize = 10_000;

#[derive(Debug)]
struct Record {
    failures: u32,
    window_start: Instant,
    strikes: u32,
    blocked_until: Option<Instant>,
}

#[derive(Debug)]
pub(crate) struct Limiter {
    free: u32,
    keys: Mutex<HashMap<String, Record>>,
}

impl Limiter {
    pub(crate) fn new(free: u32) -> Self {
        Self {
            free,
            keys: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(wait)` while `key` backs off.
    pub(crate) fn check(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        match keys.get(key).and_then(|r| r.blocked_until) {
            Some(until) if until > now => Err(until - now),
            _ => Ok(()),
        }
    }

    /// Records a failure; `Some(wait)` when `key` now backs off.
    pub(crate) fn failed(&self, key: &str, now: Instant) -> Option<Duration> {
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        if keys.len() >= MAX_KEYS && !keys.contains_key(key) {
            keys.retain(|_, r| {
                now.duration_since(r.window_start) < WINDOW
                    || r.blocked_until.is_some_and(|u| u > now)
            });
        }
        if keys.len() >= MAX_KEYS && !keys.contains_key(key) {
            // Still full of live keys: count this one with no memory rather than grow.
            return None;
        }
        let r = keys.entry(key.to_string()).or_insert(Record {
            failures: 0,
            window_start: now,
            strikes: 0,
            blocked_until: None,
        });
        if now.duration_since(r.window_start) > WINDOW {
            *r = Record {
                failures: 0,
                window_start: now,
                strikes: 0,
                blocked_until: None,
            };
        }
        r.failures += 1;
        if r.failures > self.free || r.strikes > 0 {
            let wait = FIRST_BACKOFF
                .checked_mul(1u32.checked_shl(r.strikes).unwrap_or(u32::MAX))
                .unwrap_or(MAX_BACKOFF)
                .min(MAX_BACKOFF);
            r.strikes = r.strikes.saturating_add(1);
            r.blocked_until = Some(now + wait);
            return Some(wait);
        }
        None
    }

    /// A successful sign-in forgets the key's failures.
    pub(crate) fn succeeded(&self, key: &str) {
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        keys.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_failures_then_a_doubling_back_off_per_key() {
        let l = Limiter::new(3);
        let now = Instant::now();
        for _ in 0..3 {
            assert_eq!(l.failed("user:ann", now), None);
        }
        assert_eq!(l.failed("user:ann", now), Some(Duration::from_secs(1)));
        assert!(l.check("user:ann", now).is_err());
        assert!(l.check("user:bob", now).is_ok());
        let later = now + Duration::from_secs(1);
        assert!(l.check("user:ann", later).is_ok());
        assert_eq!(l.failed("user:ann", later), Some(Duration::from_secs(2)));
        l.succeeded("user:ann");
        assert!(l.check("user:ann", later).is_ok());
        let much_later = later + WINDOW + Duration::from_secs(1);
        assert_eq!(l.failed("user:bob", much_later), None);
    }
}
