//! `backline events`: print the ledger (secret-free), oldest first.

use backline_app::{App, Settings};
use backline_projections::{EventQuery, Order};

pub struct Query {
    pub after: Option<i64>,
    pub limit: i64,
    pub database: Option<String>,
    pub event_type: Option<String>,
}

pub async fn run(settings: Settings, query: Query, json: bool) -> anyhow::Result<()> {
    let app = App::open(settings).await?;
    let database_id = match &query.database {
        Some(d) => Some(match app.projections.database(d).await? {
            Some(v) => v.id,
            None => app.resolve_database(d).await?.id,
        }),
        None => None,
    };
    let mut q = EventQuery {
        after: query.after,
        limit: 1000,
        database_id,
        event_type: query.event_type,
        order: Order::Asc,
        ..Default::default()
    };
    let mut printed = 0;
    'pages: loop {
        let page = app.projections.events(&q).await?;
        if page.is_empty() {
            break;
        }
        for e in &page {
            if printed >= query.limit {
                break 'pages;
            }
            if json {
                println!("{}", serde_json::to_string(e)?);
            } else {
                println!(
                    "{:>8}  {}  {:<20} {}  ({} {}, actor {})",
                    e.position,
                    e.at,
                    e.event_type,
                    e.summary,
                    e.aggregate_type,
                    e.aggregate_id,
                    e.actor
                );
            }
            printed += 1;
        }
        q.after = page.last().map(|e| e.position);
    }
    Ok(())
}
