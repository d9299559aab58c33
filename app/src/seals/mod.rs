//! Sealing the ledger: a task that, a few seconds after events commit, seals them in position
//! order into blocks (`LedgerSealed` events of the LedgerChain aggregate), signs each block
//! head with the server's key, and anchors it in every configured storage. Never on the append
//! path: appends do not wait for it. `verify` recomputes everything and checks it.
//!
//! Several processes on one PostgreSQL ledger may run the sealer: they race on the chain
//! aggregate's next sequence (as schedulers race on a slot) and the loser does nothing. Only
//! what lies at or below the ledger's head is sealed, read in one statement: appends take an
//! advisory lock held to commit (see the ledger migration), so every position below a visible
//! one has committed or was rolled back for good — the late-commit caveat of DESIGN.md.

mod anchors;
mod export;
mod verify;

use crate::core::Core;
use crate::error::AppError;
use backline_domain::ledger_chain::{block_index, segment_id};
use backline_domain::seal::GENESIS;
use backline_domain::seal::{leaf_hint, root_of, BlockHead, EventRecord, SEAL_FORMAT};
use backline_domain::{LedgerChain, LedgerChainCommand, LedgerChainError, LedgerChainEvent, Seal};
use cqrs_es::AggregateError;
use std::sync::Arc;

pub use export::ExportLine;
pub use verify::{LedgerProblem, LedgerVerification};

/// Most events one block seals.
pub const MAX_BLOCK: i64 = 1000;

/// What a sealing pass did.
#[derive(Debug, Clone, Default, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SealReport {
    /// Blocks appended by this pass.
    pub blocks: u64,
    /// Events they seal.
    pub events: u64,
    /// The last sealed position (0: nothing sealed yet).
    pub sealed_to: i64,
}

/// The ledger's integrity state, for `GET /api/v1/ledger`.
#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LedgerStatus {
    /// The server's Ed25519 public key (hex): seals and manifests are signed with it.
    pub public_key: String,
    pub head: i64,
    pub blocks: u64,
    pub sealed_to: i64,
    /// When the last block was sealed (RFC 3339).
    pub last_sealed_at: Option<String>,
    /// The last verification this process ran.
    pub last_verification: Option<LedgerVerification>,
}

#[derive(Clone)]
pub struct Seals {
    core: Arc<Core>,
}

impl Seals {
    pub fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    /// Seals every event committed now (but a lone trailing seal: sealing it would only make
    /// another), block by block.
    pub async fn seal_now(&self) -> Result<SealReport, AppError> {
        let horizon = self.core.ledger.head().await.map_err(AppError::internal)?;
        let mut report = SealReport::default();
        loop {
            let chain = self.chain().await?;
            report.sealed_to = chain.end;
            match self.seal_next(&chain, horizon).await? {
                Some(seal) => {
                    report.blocks += 1;
                    report.events += seal.head.count;
                    report.sealed_to = seal.head.to;
                    anchors::write(&self.core, &seal).await;
                }
                None => return Ok(report),
            }
        }
    }

    /// Where the chain ends: its last block, read from the ledger (one row).
    async fn chain(&self) -> Result<ChainHead, AppError> {
        let last = self
            .core
            .ledger
            .last_of_type(CHAIN_ID_TYPE)
            .await
            .map_err(AppError::internal)?;
        let Some(e) = last else {
            return Ok(ChainHead::default());
        };
        let seal = match backline_domain::decode(&e.aggregate_type, &e.event_type, &e.payload) {
            Ok(backline_domain::LedgerEvent::Ledger(LedgerChainEvent::LedgerSealed(s))) => s,
            _ => {
                return Err(AppError::bug(format!(
                    "the last seal (position {}) does not decode: run `backline ledger verify`",
                    e.position
                )))
            }
        };
        let index = block_index(&e.aggregate_id, e.sequence).ok_or_else(|| {
            AppError::bug(format!(
                "the seal at position {} has no place in the chain",
                e.position
            ))
        })?;
        Ok(ChainHead {
            blocks: index + 1,
            end: seal.head.to,
            last_hash: seal.head.hash(),
            last_sealed_at: Some(seal.sealed_at),
        })
    }

    /// Appends the block after `chain` (up to `horizon`), or `None` when there is nothing to
    /// seal or another sealer was first.
    async fn seal_next(&self, chain: &ChainHead, horizon: i64) -> Result<Option<Seal>, AppError> {
        if horizon <= chain.end {
            return Ok(None);
        }
        let records = self
            .core
            .ledger
            .read_records(chain.end, horizon, MAX_BLOCK)
            .await
            .map_err(AppError::internal)?;
        if records.iter().all(|r| r.aggregate_type == CHAIN_ID_TYPE) {
            return Ok(None);
        }
        let seal = self.make_seal(chain, &records)?;
        let id = segment_id(chain.blocks);
        let meta = self.core.meta("system:sealer", &id);
        match self
            .core
            .aggregates
            .ledger
            .execute_with_metadata(&id, LedgerChainCommand::Seal(seal.clone()), meta)
            .await
        {
            Ok(()) => Ok(Some(seal)),
            // Another sealer appended this block (or one overlapping it) first.
            Err(AggregateError::AggregateConflict)
            | Err(AggregateError::UserError(
                LedgerChainError::NotNext { .. } | LedgerChainError::WrongPrev { .. },
            )) => Ok(None),
            Err(e) => Err(AppError::internal(e)),
        }
    }

    fn make_seal(&self, chain: &ChainHead, records: &[EventRecord]) -> Result<Seal, AppError> {
        let mut leaves = Vec::with_capacity(records.len());
        let mut hints = Vec::with_capacity(records.len());
        for r in records {
            let leaf = r.leaf().map_err(|e| {
                AppError::bug(format!("event at position {} is not JSON: {e}", r.position))
            })?;
            hints.push((r.position, leaf_hint(&leaf)));
            leaves.push(leaf);
        }
        let to = records.last().map_or(chain.end, |r| r.position);
        let head = BlockHead {
            from: chain.end + 1,
            to,
            count: records.len() as u64,
            root: root_of(&leaves),
            prev: chain.last_hash.clone(),
        };
        let key = &self.core.signing;
        Ok(Seal {
            format: SEAL_FORMAT.into(),
            hash: head.hash(),
            public_key: Some(key.public_hex()),
            signature: Some(key.sign(&head.canonical_bytes())),
            head,
            leaves: hints,
            sealed_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        })
    }

    /// Every block of the chain, in chain order.
    pub(crate) async fn blocks(&self) -> Result<Vec<(i64, Seal)>, AppError> {
        let mut out = Vec::new();
        let mut after = 0;
        loop {
            let page = self
                .core
                .ledger
                .read_aggregate_type(CHAIN_ID_TYPE, after, 1000)
                .await
                .map_err(AppError::internal)?;
            let Some(last) = page.last() else {
                return Ok(out);
            };
            after = last.position;
            for e in page {
                if let Ok(backline_domain::LedgerEvent::Ledger(LedgerChainEvent::LedgerSealed(s))) =
                    backline_domain::decode(&e.aggregate_type, &e.event_type, &e.payload)
                {
                    out.push((e.position, s));
                }
            }
        }
    }

    /// The public key, head and chain, and the last verification.
    pub async fn status(&self) -> Result<LedgerStatus, AppError> {
        let head = self.core.ledger.head().await.map_err(AppError::internal)?;
        let chain = self.chain().await?;
        Ok(LedgerStatus {
            public_key: self.core.signing.public_hex(),
            head,
            blocks: chain.blocks,
            sealed_to: chain.end,
            last_sealed_at: chain.last_sealed_at,
            last_verification: self.core.last_ledger_check(),
        })
    }

    /// The sealer: seals what has committed every `BACKLINE_SEAL_INTERVAL_SECS`, and checks
    /// the whole ledger every `BACKLINE_LEDGER_CHECK_SECS` (raising `ledger_integrity`).
    pub async fn run(self) {
        let every = std::time::Duration::from_secs(self.core.settings.seal_interval_secs.max(1));
        let check_every = self.core.settings.ledger_check_secs.max(1);
        let mut last_check = std::time::Instant::now();
        let mut first = true;
        loop {
            tokio::time::sleep(every).await;
            if let Err(e) = self.seal_now().await {
                tracing::warn!(error = %e, "sealing the ledger failed; retrying later");
            }
            if first || last_check.elapsed().as_secs() >= check_every {
                first = false;
                last_check = std::time::Instant::now();
                match self.verify(None).await {
                    Ok(v) => self.alert_if_bad(&v).await,
                    Err(e) => tracing::warn!(error = %e, "the ledger check could not run"),
                }
            }
        }
    }
}

/// The end of the chain.
#[derive(Debug, Clone)]
struct ChainHead {
    blocks: u64,
    end: i64,
    last_hash: String,
    last_sealed_at: Option<String>,
}

impl Default for ChainHead {
    fn default() -> Self {
        Self {
            blocks: 0,
            end: 0,
            last_hash: GENESIS.to_string(),
            last_sealed_at: None,
        }
    }
}

/// The chain aggregate's type, as stored.
const CHAIN_ID_TYPE: &str = <LedgerChain as cqrs_es::Aggregate>::TYPE;
