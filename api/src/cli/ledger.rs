//! `backline ledger seal | verify | export`: the sealed chain of the ledger, with the server
//! running or stopped (they read the configured data directory and ledger).

use anyhow::bail;
use backline_app::{App, Settings};
use std::io::Write;

pub async fn seal(settings: Settings, json: bool) -> anyhow::Result<()> {
    let app = App::open(settings).await?;
    let report = app.seals().seal_now().await?;
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "sealed {} events in {} blocks; the chain now ends at position {}",
            report.events, report.blocks, report.sealed_to
        );
    }
    Ok(())
}

pub async fn verify(
    settings: Settings,
    public_key: Option<&str>,
    json: bool,
) -> anyhow::Result<()> {
    let app = App::open(settings).await?;
    let v = app.seals().verify(public_key).await?;
    if json {
        println!("{}", serde_json::to_string(&v)?);
    } else if v.ok {
        println!(
            "ok: {} events, {} sealed in {} blocks, {} not sealed yet; {} anchors in {} storages; signed by {}",
            v.events, v.sealed, v.blocks, v.unsealed, v.anchors, v.storages, v.public_key
        );
    } else {
        for p in &v.problems {
            println!("position {}: {}", p.position, p.message);
        }
    }
    match v.first_bad_position {
        Some(position) => bail!(
            "the ledger does not verify: first bad position {position} ({} problems)",
            v.problems.len()
        ),
        None => Ok(()),
    }
}

pub async fn export(settings: Settings, from: i64, to: i64) -> anyhow::Result<()> {
    let app = App::open(settings).await?;
    let mut out = std::io::BufWriter::new(std::io::stdout());
    let mut write = |line: &backline_app::seals::ExportLine| -> std::io::Result<()> {
        serde_json::to_writer(&mut out, line)?;
        out.write_all(b"\n")
    };
    let (events, blocks) = app.seals().export(from, to, &mut write).await?;
    out.flush()?;
    eprintln!("exported {events} events and {blocks} seals");
    Ok(())
}
