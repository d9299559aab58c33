//! Schedule and retention as a request gives them.

use crate::error::AppError;
use backline_domain::{CatchUp, Retention, Schedule};

/// Schedule and retention settings given at registration or in a PATCH.
#[derive(Debug, Clone, Default)]
pub struct ScheduleInput {
    /// `Some(None)` removes the schedule.
    pub schedule: Option<Option<String>>,
    pub timezone: Option<String>,
    pub catch_up: Option<String>,
    pub retention: Option<Retention>,
}

impl ScheduleInput {
    /// The schedule to set (`Some(None)`: remove), validated, given the current one.
    pub(crate) fn resolve(
        &self,
        current: Option<&Schedule>,
    ) -> Result<Option<Option<Schedule>>, AppError> {
        let invalid = |field: &'static str, message: String| AppError::Invalid { field, message };
        let cron = match &self.schedule {
            Some(None) => return Ok(Some(None)),
            Some(Some(c)) => Some(c.clone()),
            None if self.timezone.is_some() || self.catch_up.is_some() => match current {
                Some(c) => Some(c.cron.clone()),
                None => {
                    return Err(invalid(
                        "schedule",
                        "timezone and catch_up need a schedule (a cron expression)".into(),
                    ))
                }
            },
            None => None,
        };
        let Some(cron) = cron else { return Ok(None) };
        let catch_up = match &self.catch_up {
            Some(c) => CatchUp::parse(c).ok_or_else(|| {
                invalid(
                    "catch_up",
                    format!("catch_up must be latest, none or all, not {c:?}"),
                )
            })?,
            None => current.map(|c| c.catch_up).unwrap_or_default(),
        };
        let tz = self
            .timezone
            .clone()
            .or_else(|| current.map(|c| c.timezone.clone()));
        let schedule = Schedule::parse(&cron, tz.as_deref(), catch_up)
            .map_err(|e| invalid(e.field(), e.to_string()))?;
        Ok(Some(Some(schedule)))
    }
}
