//! Reads of the read models.

use crate::views::*;
use crate::{ProjectionError, Projections};
use serde::de::DeserializeOwned;
use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, Row};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    #[default]
    Asc,
    Desc,
}

#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    pub after: Option<i64>,
    pub before: Option<i64>,
    pub limit: i64,
    pub database_id: Option<String>,
    pub event_type: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub order: Order,
}

#[derive(Debug, Clone, Default)]
pub struct BackupFilter {
    pub database_id: Option<String>,
    pub status: Option<String>,
    pub limit: i64,
}

/// Fills the schedule's next run, which depends on the clock and so is never stored.
fn with_next_run(v: &mut DatabaseView) {
    let paused = v.paused || v.status != "active";
    let Some(sv) = v.schedule.as_mut() else {
        return;
    };
    if paused {
        return;
    }
    let Some(s) = sv.schedule() else {
        return;
    };
    if let Some(next) = s.next_runs(chrono::Utc::now(), 1).first() {
        sv.next_run_at = Some(next.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        sv.next_run_at_local = Some(s.local(*next));
    }
}

enum Arg {
    I(i64),
    S(String),
}

fn bind_all<'q>(
    mut q: Query<'q, Any, AnyArguments<'q>>,
    args: Vec<Arg>,
) -> Query<'q, Any, AnyArguments<'q>> {
    for a in args {
        q = match a {
            Arg::I(i) => q.bind(i),
            Arg::S(s) => q.bind(s),
        };
    }
    q
}

impl Projections {
    async fn bodies<T: DeserializeOwned>(
        &self,
        sql: &str,
        args: Vec<Arg>,
    ) -> Result<Vec<T>, ProjectionError> {
        let rows = bind_all(sqlx::query(sql), args)
            .fetch_all(self.ledger.pool())
            .await?;
        rows.iter()
            .map(|r| {
                let body: String = r.try_get("body")?;
                Ok(serde_json::from_str(&body)?)
            })
            .collect()
    }

    pub async fn databases(
        &self,
        include_removed: bool,
    ) -> Result<Vec<DatabaseView>, ProjectionError> {
        let sql = if include_removed {
            "SELECT body FROM rm_databases ORDER BY name, id"
        } else {
            "SELECT body FROM rm_databases WHERE status = 'active' ORDER BY name, id"
        };
        let mut v: Vec<DatabaseView> = self.bodies(sql, vec![]).await?;
        v.iter_mut().for_each(with_next_run);
        Ok(v)
    }

    pub async fn database(&self, id: &str) -> Result<Option<DatabaseView>, ProjectionError> {
        let mut v: Option<DatabaseView> = self
            .bodies(
                "SELECT body FROM rm_databases WHERE id = $1",
                vec![Arg::S(id.into())],
            )
            .await?
            .pop();
        v.iter_mut().for_each(with_next_run);
        Ok(v)
    }

    /// The active database named `name` (names are unique among active databases).
    pub async fn database_by_name(
        &self,
        name: &str,
    ) -> Result<Option<DatabaseView>, ProjectionError> {
        Ok(self
            .bodies(
                "SELECT body FROM rm_databases WHERE name = $1 AND status = 'active'",
                vec![Arg::S(name.into())],
            )
            .await?
            .pop()
            .map(|mut v| {
                with_next_run(&mut v);
                v
            }))
    }

    pub async fn backup(&self, id: &str) -> Result<Option<BackupView>, ProjectionError> {
        Ok(self
            .bodies(
                "SELECT body FROM rm_backups WHERE id = $1",
                vec![Arg::S(id.into())],
            )
            .await?
            .pop())
    }

    /// Backups, newest first.
    pub async fn backups(&self, f: &BackupFilter) -> Result<Vec<BackupView>, ProjectionError> {
        let mut sql = String::from("SELECT body FROM rm_backups WHERE 1 = 1");
        let mut args = Vec::new();
        if let Some(d) = &f.database_id {
            args.push(Arg::S(d.clone()));
            sql.push_str(&format!(" AND database_id = ${}", args.len()));
        }
        if let Some(s) = &f.status {
            args.push(Arg::S(s.clone()));
            sql.push_str(&format!(" AND status = ${}", args.len()));
        }
        args.push(Arg::I(f.limit.clamp(1, 10_000)));
        sql.push_str(&format!(
            " ORDER BY started_position DESC LIMIT ${}",
            args.len()
        ));
        self.bodies(&sql, args).await
    }

    pub async fn restore(&self, id: &str) -> Result<Option<RestoreView>, ProjectionError> {
        Ok(self
            .bodies(
                "SELECT body FROM rm_restores WHERE id = $1",
                vec![Arg::S(id.into())],
            )
            .await?
            .pop())
    }

    /// Restores, newest first; `database_id` matches the source or the target.
    pub async fn restores(
        &self,
        database_id: Option<&str>,
        limit: i64,
    ) -> Result<Vec<RestoreView>, ProjectionError> {
        let limit = limit.clamp(1, 10_000);
        match database_id {
            Some(d) => {
                self.bodies(
                    "SELECT body FROM rm_restores WHERE source_database_id = $1 OR target_database_id = $2 \
                     ORDER BY started_position DESC LIMIT $3",
                    vec![Arg::S(d.into()), Arg::S(d.into()), Arg::I(limit)],
                )
                .await
            }
            None => {
                self.bodies(
                    "SELECT body FROM rm_restores ORDER BY started_position DESC LIMIT $1",
                    vec![Arg::I(limit)],
                )
                .await
            }
        }
    }

    /// The timeline, by global position.
    pub async fn events(&self, q: &EventQuery) -> Result<Vec<EventView>, ProjectionError> {
        let mut sql = String::from("SELECT body FROM rm_timeline WHERE 1 = 1");
        let mut args = Vec::new();
        let cond = |sql: &mut String, args: &mut Vec<Arg>, c: &str, a: Arg| {
            args.push(a);
            sql.push_str(&format!(" AND {c} ${}", args.len()));
        };
        if let Some(a) = q.after {
            cond(&mut sql, &mut args, "position >", Arg::I(a));
        }
        if let Some(b) = q.before {
            cond(&mut sql, &mut args, "position <", Arg::I(b));
        }
        if let Some(d) = &q.database_id {
            cond(&mut sql, &mut args, "database_id =", Arg::S(d.clone()));
        }
        if let Some(t) = &q.event_type {
            cond(&mut sql, &mut args, "event_type =", Arg::S(t.clone()));
        }
        if let Some(s) = &q.since {
            cond(&mut sql, &mut args, "at >=", Arg::S(s.clone()));
        }
        if let Some(u) = &q.until {
            cond(&mut sql, &mut args, "at <=", Arg::S(u.clone()));
        }
        args.push(Arg::I(q.limit.clamp(1, 1000)));
        sql.push_str(&format!(
            " ORDER BY position {} LIMIT ${}",
            if q.order == Order::Desc {
                "DESC"
            } else {
                "ASC"
            },
            args.len()
        ));
        self.bodies(&sql, args).await
    }
}
