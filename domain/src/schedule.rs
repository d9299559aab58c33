//! Schedules: a cron expression (5 fields, or 6 with seconds first) evaluated in an IANA time
//! zone, DST-correct, and the catch-up policy for slots missed while no process was running.

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("invalid cron expression {expr:?}: {reason}")]
    Cron { expr: String, reason: String },
    #[error("cron expression {0:?} must have 5 fields (minute hour day month weekday) or 6 with seconds first")]
    FieldCount(String),
    #[error("unknown time zone {0:?}: use an IANA name such as Europe/Paris or UTC")]
    TimeZone(String),
    #[error("cron expression {0:?} never fires")]
    Never(String),
}

impl ScheduleError {
    /// The request field an error is about (`timezone` or `schedule`).
    pub fn field(&self) -> &'static str {
        match self {
            ScheduleError::TimeZone(_) => "timezone",
            _ => "schedule",
        }
    }
}

/// What to do with slots that passed while no Backline process was running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum CatchUp {
    /// Run once, for the newest missed slot.
    #[default]
    Latest,
    /// Skip missed slots; run only slots that are due now.
    None,
    /// Run every missed slot, oldest first, at most `CATCH_UP_ALL_CAP` of them.
    All,
}

pub const CATCH_UP_ALL_CAP: usize = 10;

impl CatchUp {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "latest" => Some(CatchUp::Latest),
            "none" => Some(CatchUp::None),
            "all" => Some(CatchUp::All),
            _ => None,
        }
    }
}

/// A validated schedule, as stored in the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    pub cron: String,
    pub timezone: String,
    #[serde(default)]
    pub catch_up: CatchUp,
}

fn parser() -> CronParser {
    CronParser::builder()
        .seconds(Seconds::Optional)
        .year(Year::Disallowed)
        .build()
}

impl Schedule {
    pub fn parse(
        cron: &str,
        timezone: Option<&str>,
        catch_up: CatchUp,
    ) -> Result<Self, ScheduleError> {
        let cron = cron.trim().to_string();
        if !cron.starts_with('@') {
            let n = cron.split_whitespace().count();
            if n != 5 && n != 6 {
                return Err(ScheduleError::FieldCount(cron));
            }
        }
        let tz = timezone.unwrap_or("UTC").trim().to_string();
        tz.parse::<Tz>()
            .map_err(|_| ScheduleError::TimeZone(tz.clone()))?;
        let s = Self {
            cron,
            timezone: tz,
            catch_up,
        };
        let c = s.compiled()?;
        // A pattern that matches no date (e.g. 30 February) is an error, not a silent no-op.
        let probe = Utc
            .with_ymd_and_hms(2000, 1, 1, 0, 0, 0)
            .single()
            .unwrap_or_else(Utc::now);
        if c.find_next_occurrence(&probe, false).is_err() {
            return Err(ScheduleError::Never(s.cron));
        }
        Ok(s)
    }

    fn compiled(&self) -> Result<Cron, ScheduleError> {
        parser().parse(&self.cron).map_err(|e| ScheduleError::Cron {
            expr: self.cron.clone(),
            reason: e.to_string(),
        })
    }

    fn tz(&self) -> Tz {
        self.timezone.parse().unwrap_or(chrono_tz::UTC)
    }

    /// The next `n` runs strictly after `after`, in UTC.
    pub fn next_runs(&self, after: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        let Ok(c) = self.compiled() else {
            return vec![];
        };
        let tz = self.tz();
        let mut out = Vec::with_capacity(n);
        let mut t = after.with_timezone(&tz);
        while out.len() < n {
            match c.find_next_occurrence(&t, false) {
                Ok(next) => {
                    out.push(next.with_timezone(&Utc));
                    t = next;
                }
                Err(_) => break,
            }
        }
        out
    }

    /// Slots in `(after, now]`, oldest first (at most `cap`, keeping the newest).
    pub fn slots_between(
        &self,
        after: DateTime<Utc>,
        now: DateTime<Utc>,
        cap: usize,
    ) -> Vec<DateTime<Utc>> {
        let Ok(c) = self.compiled() else {
            return vec![];
        };
        let tz = self.tz();
        let mut out = std::collections::VecDeque::new();
        let mut t = after.with_timezone(&tz);
        loop {
            match c.find_next_occurrence(&t, false) {
                Ok(next) if next.with_timezone(&Utc) <= now => {
                    if out.len() == cap {
                        out.pop_front();
                    }
                    out.push_back(next.with_timezone(&Utc));
                    t = next;
                }
                _ => break,
            }
        }
        out.into()
    }

    /// Which slots to run now, given the last one claimed (or when the schedule was set).
    /// `grace` is how late a slot may start and still count as due now rather than missed.
    pub fn due_slots(
        &self,
        after: DateTime<Utc>,
        now: DateTime<Utc>,
        grace: chrono::Duration,
    ) -> Vec<DateTime<Utc>> {
        let cap = match self.catch_up {
            CatchUp::All => CATCH_UP_ALL_CAP,
            _ => 1,
        };
        let slots = self.slots_between(after, now, cap);
        match self.catch_up {
            CatchUp::None => slots.into_iter().filter(|s| now - *s <= grace).collect(),
            _ => slots,
        }
    }

    /// A sentence a person can read ("At 02:30 AM, every day (Europe/Paris)").
    pub fn describe(&self) -> String {
        match self.compiled() {
            Ok(c) => {
                // croner's English ("At every 2 minutes."), made plainer.
                let text = c.describe();
                let text = text.trim().trim_end_matches('.');
                let text = match text.strip_prefix("At every ") {
                    Some(rest) => format!("Every {rest}"),
                    None => text.to_string(),
                };
                format!("{text} ({})", self.timezone)
            }
            Err(_) => self.cron.clone(),
        }
    }

    /// `t` in this schedule's time zone, RFC 3339.
    pub fn local(&self, t: DateTime<Utc>) -> String {
        t.with_timezone(&self.tz()).to_rfc3339()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn sched(c: &str, tz: &str) -> Schedule {
        Schedule::parse(c, Some(tz), CatchUp::Latest).unwrap()
    }

    #[test]
    fn descriptions_read_plainly() {
        assert_eq!(
            sched("*/2 * * * *", "UTC").describe(),
            "Every 2 minutes (UTC)"
        );
        assert!(!sched("30 2 * * *", "Europe/Paris")
            .describe()
            .contains(". ("));
    }

    #[test]
    fn rejects_bad_input_with_the_reason() {
        assert!(matches!(
            Schedule::parse("* * *", None, CatchUp::Latest),
            Err(ScheduleError::FieldCount(_))
        ));
        assert!(matches!(
            Schedule::parse("0 0 0 * * * 2030", None, CatchUp::Latest),
            Err(ScheduleError::FieldCount(_))
        ));
        assert!(matches!(
            Schedule::parse("61 * * * *", None, CatchUp::Latest),
            Err(ScheduleError::Cron { .. })
        ));
        assert!(matches!(
            Schedule::parse("0 0 * * *", Some("Mars/Olympus"), CatchUp::Latest),
            Err(ScheduleError::TimeZone(_))
        ));
        assert!(matches!(
            Schedule::parse("0 0 30 2 *", None, CatchUp::Latest),
            Err(ScheduleError::Never(_))
        ));
    }

    #[test]
    fn spring_forward_gap_runs_once_at_the_shifted_time() {
        // Europe/Paris, 2026-03-29: 02:00 → 03:00. 02:30 does not exist that day.
        let s = sched("30 2 * * *", "Europe/Paris");
        let runs = s.next_runs(utc("2026-03-28T12:00:00Z"), 3);
        assert_eq!(runs[0], utc("2026-03-29T01:00:00Z")); // 03:00 CEST, once
        assert_eq!(runs[1], utc("2026-03-30T00:30:00Z")); // 02:30 CEST next day
                                                          // New York, 2026-03-08: 02:00 → 03:00.
        let s = sched("30 2 * * *", "America/New_York");
        let runs = s.next_runs(utc("2026-03-07T12:00:00Z"), 2);
        assert_eq!(runs[0], utc("2026-03-08T07:00:00Z")); // 03:00 EDT
        assert_eq!(runs[1], utc("2026-03-09T06:30:00Z"));
    }

    #[test]
    fn fall_back_overlap_runs_once() {
        // Europe/Paris, 2026-10-25: 03:00 → 02:00; 02:30 happens twice, runs once.
        let s = sched("30 2 * * *", "Europe/Paris");
        let runs = s.next_runs(utc("2026-10-24T12:00:00Z"), 2);
        assert_eq!(runs[0], utc("2026-10-25T00:30:00Z")); // first pass, CEST
        assert_eq!(runs[1], utc("2026-10-26T01:30:00Z")); // next day, CET
        let s = sched("30 1 * * *", "America/New_York");
        let runs = s.next_runs(utc("2026-10-31T12:00:00Z"), 2);
        assert_eq!(runs[0], utc("2026-11-01T05:30:00Z"));
        assert_eq!(runs[1], utc("2026-11-02T06:30:00Z"));
    }

    #[test]
    fn interval_patterns_run_in_both_passes_of_a_repeated_hour() {
        // Decided: "every 30 minutes" means every 30 real minutes, so in the fall-back hour
        // 01:00 and 01:30 New York time run twice (once EDT, once EST): four distinct instants.
        let s = sched("*/30 1 * * *", "America/New_York");
        let runs = s.next_runs(utc("2026-11-01T04:00:00Z"), 4);
        assert_eq!(
            runs,
            vec![
                utc("2026-11-01T05:00:00Z"),
                utc("2026-11-01T05:30:00Z"),
                utc("2026-11-01T06:00:00Z"),
                utc("2026-11-01T06:30:00Z"),
            ]
        );
    }

    #[test]
    fn month_ends_weekdays_and_macros() {
        let s = sched("0 0 31 * *", "UTC");
        let runs = s.next_runs(utc("2026-01-01T00:00:00Z"), 3);
        assert_eq!(
            runs,
            vec![
                utc("2026-01-31T00:00:00Z"),
                utc("2026-03-31T00:00:00Z"),
                utc("2026-05-31T00:00:00Z")
            ]
        );
        let s = sched("0 12 * * MON-FRI", "UTC");
        let runs = s.next_runs(utc("2026-11-27T13:00:00Z"), 2); // a Friday afternoon
        assert_eq!(
            runs,
            vec![utc("2026-11-30T12:00:00Z"), utc("2026-12-01T12:00:00Z")]
        );
        let s = sched("@daily", "UTC");
        assert_eq!(
            s.next_runs(utc("2026-11-27T13:00:00Z"), 1),
            vec![utc("2026-11-28T00:00:00Z")]
        );
        let s = sched("*/2 * * * * *", "UTC");
        assert_eq!(
            s.next_runs(utc("2026-11-27T13:00:00Z"), 2),
            vec![utc("2026-11-27T13:00:02Z"), utc("2026-11-27T13:00:04Z")]
        );
    }

    #[test]
    fn catch_up_policies() {
        let mut s = sched("0 * * * *", "UTC");
        let after = utc("2026-01-01T00:00:00Z");
        let now = utc("2026-01-01T05:00:10Z");
        let grace = chrono::Duration::seconds(60);
        assert_eq!(
            s.due_slots(after, now, grace),
            vec![utc("2026-01-01T05:00:00Z")]
        );
        s.catch_up = CatchUp::All;
        assert_eq!(s.due_slots(after, now, grace).len(), 5);
        s.catch_up = CatchUp::None;
        assert_eq!(
            s.due_slots(after, now, grace),
            vec![utc("2026-01-01T05:00:00Z")]
        );
        assert!(s
            .due_slots(after, utc("2026-01-01T05:30:00Z"), grace)
            .is_empty());
        // Nothing due twice: after the claimed slot, nothing until the next one.
        assert!(s
            .due_slots(utc("2026-01-01T05:00:00Z"), now, grace)
            .is_empty());
    }
}
