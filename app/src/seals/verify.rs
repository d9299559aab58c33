//! `ledger verify`: recompute every block from the events, check the chain, the signatures and
//! the storage anchors, and name the first bad position.

use super::{anchors, Seals};
use crate::alerting::{Alerting, Trouble};
use crate::error::AppError;
use backline_domain::seal::{leaf_hint, root_of, CanonError, EventRecord, GENESIS};
use backline_domain::{AlertKind, Seal};
use std::collections::BTreeMap;

/// Events read per query.
const PAGE: i64 = 10_000;
/// A block sealed this recently may not be anchored yet (the sealer writes it next).
const ANCHOR_GRACE_SECS: i64 = 30;

/// One thing wrong, at the first position it concerns.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LedgerProblem {
    pub position: i64,
    pub message: String,
}

/// What a verification found.
#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LedgerVerification {
    pub ok: bool,
    /// Events read.
    pub events: u64,
    /// Events inside blocks.
    pub sealed: u64,
    /// Events after the last block (not sealed yet).
    pub unsealed: u64,
    pub blocks: u64,
    /// Anchors found in storage and equal to their block.
    pub anchors: u64,
    pub storages: u64,
    /// The first position something is wrong at.
    pub first_bad_position: Option<i64>,
    /// In position order (at most 100).
    pub problems: Vec<LedgerProblem>,
    /// The key signatures were checked against (hex).
    pub public_key: String,
    pub verified_at: String,
    pub duration_ms: u64,
}

/// The events of one block as found, against what it sealed.
struct Found<'a> {
    seal: &'a Seal,
    leaves: Vec<[u8; 32]>,
    hints: Vec<(i64, String)>,
}

impl Seals {
    /// Verifies the whole ledger against `trusted_key` (hex; default: this server's key).
    pub async fn verify(&self, trusted_key: Option<&str>) -> Result<LedgerVerification, AppError> {
        let started = std::time::Instant::now();
        let key = trusted_key
            .map(str::to_string)
            .unwrap_or_else(|| self.core.signing.public_hex());
        backline_infra::signing::parse_public_key(&key)
            .map_err(|e| AppError::invalid("public_key", e.to_string()))?;
        let blocks: Vec<Seal> = self.blocks().await?.into_iter().map(|(_, s)| s).collect();
        let mut problems = check_chain(&blocks, &key);
        let (events, sealed) = self.check_events(&blocks, &mut problems).await?;
        let (anchors, storages) = self.check_anchors(&blocks, &mut problems).await;
        problems.sort_by_key(|p| p.position);
        problems.truncate(100);
        let v = LedgerVerification {
            ok: problems.is_empty(),
            events,
            sealed,
            unsealed: events - sealed,
            blocks: blocks.len() as u64,
            anchors,
            storages,
            first_bad_position: problems.first().map(|p| p.position),
            problems,
            public_key: key,
            verified_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            duration_ms: started.elapsed().as_millis() as u64,
        };
        self.core.set_last_ledger_check(v.clone());
        Ok(v)
    }

    /// Reads every event once, in position order, and checks each block's count and root. The
    /// next page is read while this one is hashed, and a page's leaves are computed on every
    /// core: both the reading and the hashing scale with the ledger.
    async fn check_events(
        &self,
        blocks: &[Seal],
        problems: &mut Vec<LedgerProblem>,
    ) -> Result<(u64, u64), AppError> {
        let (mut events, mut sealed) = (0u64, 0u64);
        let mut next = 0usize;
        let mut current: Option<Found> = None;
        let (tx, mut pages) = tokio::sync::mpsc::channel(2);
        let ledger = self.core.ledger.clone();
        let reader = tokio::spawn(async move {
            let mut after = 0;
            loop {
                let page = match ledger.read_records(after, i64::MAX, PAGE).await {
                    Ok(page) => page,
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                };
                let Some(last) = page.last() else { return };
                after = last.position;
                let hashed = tokio::task::spawn_blocking(move || leaves(page));
                if tx.send(Ok(hashed)).await.is_err() {
                    return;
                }
            }
        });
        while let Some(page) = pages.recv().await {
            let page = page
                .map_err(AppError::internal)?
                .await
                .map_err(AppError::internal)?;
            for (position, leaf) in page {
                events += 1;
                while current.as_ref().is_some_and(|f| position > f.seal.head.to) {
                    if let Some(done) = current.take() {
                        finish(done, problems);
                    }
                }
                while current.is_none() && next < blocks.len() && position > blocks[next].head.to {
                    finish(Found::new(&blocks[next]), problems);
                    next += 1;
                }
                if current.is_none() && next < blocks.len() && position >= blocks[next].head.from {
                    current = Some(Found::new(&blocks[next]));
                    next += 1;
                }
                let Some(found) = current.as_mut() else {
                    if next < blocks.len() {
                        problems.push(LedgerProblem {
                            position,
                            message: format!("position {position}: the event lies in no block"),
                        });
                    }
                    continue;
                };
                sealed += 1;
                match leaf {
                    Ok(leaf) => {
                        found.hints.push((position, leaf_hint(&leaf)));
                        found.leaves.push(leaf);
                    }
                    Err(e) => {
                        found.hints.push((position, String::new()));
                        found.leaves.push([0; 32]);
                        problems.push(LedgerProblem {
                            position,
                            message: format!("position {position}: the event is not JSON: {e}"),
                        });
                    }
                }
            }
        }
        reader.await.map_err(AppError::internal)?;
        if let Some(done) = current.take() {
            finish(done, problems);
        }
        for b in &blocks[next..] {
            finish(Found::new(b), problems);
        }
        Ok((events, sealed))
    }

    /// Compares every block with its anchor in every storage.
    async fn check_anchors(
        &self,
        blocks: &[Seal],
        problems: &mut Vec<LedgerProblem>,
    ) -> (u64, u64) {
        let mut good = 0;
        let now = chrono::Utc::now();
        for (name, store) in &self.core.storages {
            let mut found = match anchors::read_all(store).await {
                Ok(found) => found,
                Err(e) => {
                    problems.push(LedgerProblem {
                        position: blocks.first().map_or(0, |b| b.head.from),
                        message: format!("the seals in storage {name} cannot be listed: {e}"),
                    });
                    continue;
                }
            };
            for (i, b) in blocks.iter().enumerate() {
                let (from, to) = (b.head.from, b.head.to);
                let problem = match found.remove(&anchors::key(b)) {
                    Some(Ok(a)) if a == anchors::body(b) => {
                        good += 1;
                        continue;
                    }
                    Some(Ok(_)) => {
                        format!("block {from}-{to} differs from its anchor in storage {name}")
                    }
                    Some(Err(e)) => format!(
                        "block {from}-{to}: its anchor in storage {name} is unreadable: {e}"
                    ),
                    None if i + 1 == blocks.len() && recent(b, now) => continue,
                    None => format!("block {from}-{to} is missing from storage {name}"),
                };
                problems.push(LedgerProblem {
                    position: from,
                    message: problem,
                });
            }
            for (key, _) in found {
                let position = key
                    .trim_start_matches(anchors::PREFIX)
                    .split('-')
                    .next()
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(0);
                problems.push(LedgerProblem {
                    position,
                    message: format!("storage {name} holds seal {key}, which the ledger does not"),
                });
            }
        }
        (good, self.core.storages.len() as u64)
    }

    /// Raises a `ledger_integrity` alert when `v` found something wrong.
    pub async fn alert_if_bad(&self, v: &LedgerVerification) {
        let Some(position) = v.first_bad_position else {
            return;
        };
        let message = v
            .problems
            .first()
            .map(|p| p.message.clone())
            .unwrap_or_default();
        let trouble = Trouble {
            kind: AlertKind::LedgerIntegrity,
            database_id: "ledger",
            database_name: "ledger",
            cause: format!("ledger:{position}:{message}"),
            cause_event: Some(position),
            message: format!("The ledger does not verify: {message}"),
            detail: format!(
                "{} problems; run `backline ledger verify`",
                v.problems.len()
            ),
        };
        if let Err(e) = Alerting::new(self.core.clone())
            .raise_or_repeat(trouble)
            .await
        {
            tracing::warn!(error = %e, "cannot raise the ledger_integrity alert");
        }
    }
}

fn recent(b: &Seal, now: chrono::DateTime<chrono::Utc>) -> bool {
    chrono::DateTime::parse_from_rfc3339(&b.sealed_at)
        .is_ok_and(|t| (now - t.with_timezone(&chrono::Utc)).num_seconds() < ANCHOR_GRACE_SECS)
}

/// Each event's position and leaf, computed on every core.
fn leaves(page: Vec<EventRecord>) -> Vec<(i64, Result<[u8; 32], CanonError>)> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = page.len().div_ceil(cores).max(1);
    std::thread::scope(|scope| {
        let parts: Vec<_> = page
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|r| (r.position, r.leaf()))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        parts
            .into_iter()
            .flat_map(|part| part.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

impl<'a> Found<'a> {
    fn new(seal: &'a Seal) -> Self {
        Self {
            seal,
            leaves: Vec::new(),
            hints: Vec::new(),
        }
    }
}

/// Checks a block's count and root; names the first position that differs when they do not.
fn finish(found: Found, problems: &mut Vec<LedgerProblem>) {
    let head = &found.seal.head;
    if found.leaves.len() as u64 == head.count && root_of(&found.leaves) == head.root {
        return;
    }
    let (position, what) = locate(&found.seal.leaves, &found.hints, head.from);
    problems.push(LedgerProblem {
        position,
        message: format!(
            "position {position}: {what} since block {}-{} sealed it",
            head.from, head.to
        ),
    });
}

/// The first position where what was sealed and what is there differ, and how.
fn locate(sealed: &[(i64, String)], found: &[(i64, String)], from: i64) -> (i64, &'static str) {
    let mut by_position: BTreeMap<i64, (Option<&String>, Option<&String>)> = BTreeMap::new();
    for (p, h) in sealed {
        by_position.entry(*p).or_default().0 = Some(h);
    }
    for (p, h) in found {
        by_position.entry(*p).or_default().1 = Some(h);
    }
    for (p, (was, is)) in by_position {
        match (was, is) {
            (Some(a), Some(b)) if a == b => continue,
            (Some(_), Some(_)) => return (p, "the event was edited or moved"),
            (Some(_), None) => return (p, "the event was removed"),
            (None, Some(_)) => return (p, "an event was inserted"),
            (None, None) => continue,
        }
    }
    (from, "the block's events do not match its root")
}

/// Checks links, hashes and signatures of the chain.
fn check_chain(blocks: &[Seal], key: &str) -> Vec<LedgerProblem> {
    let mut problems = Vec::new();
    let (mut prev_hash, mut prev_to) = (GENESIS.to_string(), 0i64);
    for b in blocks {
        let (from, to) = (b.head.from, b.head.to);
        let mut bad = |message: String| {
            problems.push(LedgerProblem {
                position: from,
                message,
            })
        };
        if b.hash != b.head.hash() {
            bad(format!("block {from}-{to}: its hash is not its head's"));
        }
        if b.head.prev != prev_hash {
            bad(format!(
                "block {from}-{to} does not link to the block before it"
            ));
        }
        if from != prev_to + 1 {
            bad(format!(
                "block {from}-{to} does not start where the block before it ends ({prev_to})"
            ));
        }
        match (&b.public_key, &b.signature) {
            (Some(pk), Some(sig)) if pk == key => {
                if let Err(e) = backline_infra::signing::verify(key, &b.head.canonical_bytes(), sig)
                {
                    bad(format!("block {from}-{to}: {e}"));
                }
            }
            (Some(pk), Some(_)) => {
                bad(format!("block {from}-{to} is signed by another key ({pk})"))
            }
            _ => bad(format!("block {from}-{to} is not signed")),
        }
        prev_hash = b.head.hash();
        prev_to = to;
    }
    problems
}
