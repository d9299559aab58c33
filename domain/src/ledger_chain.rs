//! The LedgerChain aggregate: the chain of blocks that seal the ledger's events, each
//! `LedgerSealed` event one block. Block `k` (from 0) is event `k % BLOCKS_PER_SEGMENT + 1` of
//! aggregate [`segment_id`]`(k)`: a block has exactly one place, so two sealers that computed
//! the same next block race on it and one loses, as two schedulers do on a slot. Segments keep
//! what a seal loads small however long the chain grows.

use crate::seal::{BlockHead, GENESIS};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

/// Blocks per aggregate instance.
pub const BLOCKS_PER_SEGMENT: u64 = 100;

/// The aggregate id that holds block `index` (0-based): `ledger-<index / 100>`.
pub fn segment_id(index: u64) -> String {
    format!("ledger-{}", index / BLOCKS_PER_SEGMENT)
}

/// The index of the block that is event `sequence` (1-based) of aggregate `id`.
pub fn block_index(id: &str, sequence: i64) -> Option<u64> {
    let segment: u64 = id.strip_prefix("ledger-")?.parse().ok()?;
    let within = u64::try_from(sequence).ok()?.checked_sub(1)?;
    Some(segment * BLOCKS_PER_SEGMENT + within)
}

/// One block of sealed events, as the `LedgerSealed` event and the storage anchor hold it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seal {
    /// `backline-seal/1`.
    pub format: String,
    #[serde(flatten)]
    pub head: BlockHead,
    /// [`BlockHead::hash`].
    pub hash: String,
    /// The signer's Ed25519 public key, hex.
    #[serde(default)]
    pub public_key: Option<String>,
    /// Ed25519 signature of the head's canonical bytes, hex.
    #[serde(default)]
    pub signature: Option<String>,
    /// `[position, leading hex of its leaf]` for each sealed event: only to name the first
    /// bad position when the root does not match (the root decides, not these).
    #[serde(default)]
    pub leaves: Vec<(i64, String)>,
    /// When it was sealed (RFC 3339).
    pub sealed_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LedgerChainEvent {
    LedgerSealed(Seal),
}

impl LedgerChainEvent {
    pub fn name(&self) -> &'static str {
        match self {
            LedgerChainEvent::LedgerSealed(_) => "LedgerSealed",
        }
    }
}

impl DomainEvent for LedgerChainEvent {
    fn event_type(&self) -> String {
        self.name().to_string()
    }
    fn event_version(&self) -> String {
        "1".to_string()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum LedgerChainCommand {
    Seal(Seal),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerChainError {
    #[error("block {from}-{to} does not follow the chain, which ends at position {end}")]
    NotNext { from: i64, to: i64, end: i64 },
    #[error("block {from}-{to} does not name the last block's hash as prev")]
    WrongPrev { from: i64, to: i64 },
    #[error("block {from}-{to} is empty or its hash is not its head's")]
    Malformed { from: i64, to: i64 },
}

/// The chain so far: where it ends and its last block's hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerChain {
    pub blocks: u64,
    /// Last sealed position (0: nothing sealed).
    pub end: i64,
    pub last_hash: String,
}

impl Default for LedgerChain {
    fn default() -> Self {
        Self {
            blocks: 0,
            end: 0,
            last_hash: GENESIS.to_string(),
        }
    }
}

impl Aggregate for LedgerChain {
    const TYPE: &'static str = "Ledger";
    type Command = LedgerChainCommand;
    type Event = LedgerChainEvent;
    type Error = LedgerChainError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let LedgerChainCommand::Seal(seal) = command;
        let (from, to) = (seal.head.from, seal.head.to);
        // A segment's first block follows the previous segment's last: the sealer read it.
        if self.blocks == 0 {
            if to < from || seal.head.count == 0 || seal.hash != seal.head.hash() {
                return Err(LedgerChainError::Malformed { from, to });
            }
            sink.write(LedgerChainEvent::LedgerSealed(seal), self).await;
            return Ok(());
        }
        if from != self.end + 1 {
            return Err(LedgerChainError::NotNext {
                from,
                to,
                end: self.end,
            });
        }
        if seal.head.prev != self.last_hash {
            return Err(LedgerChainError::WrongPrev { from, to });
        }
        if to < from || seal.head.count == 0 || seal.hash != seal.head.hash() {
            return Err(LedgerChainError::Malformed { from, to });
        }
        sink.write(LedgerChainEvent::LedgerSealed(seal), self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        let LedgerChainEvent::LedgerSealed(seal) = event;
        self.blocks += 1;
        self.end = seal.head.to;
        self.last_hash = seal.hash;
    }
}

/// A block of `from..=to` (unsigned, a made-up root) for tests.
#[cfg(test)]
pub(crate) fn test_seal(from: i64, to: i64, prev: &str) -> Seal {
    let head = BlockHead {
        from,
        to,
        count: (to - from + 1) as u64,
        root: "ab".repeat(32),
        prev: prev.to_string(),
    };
    Seal {
        format: crate::seal::SEAL_FORMAT.into(),
        hash: head.hash(),
        head,
        public_key: None,
        signature: None,
        leaves: vec![],
        sealed_at: "2026-11-30T18:00:00Z".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;

    fn seal(from: i64, to: i64, prev: &str) -> Seal {
        test_seal(from, to, prev)
    }

    #[test]
    fn blocks_follow_each_other() {
        let first = seal(1, 4, GENESIS);
        let second = seal(5, 9, &first.hash);
        TestFramework::<LedgerChain>::with(())
            .given(vec![LedgerChainEvent::LedgerSealed(first.clone())])
            .when(LedgerChainCommand::Seal(second.clone()))
            .then_expect_events(vec![LedgerChainEvent::LedgerSealed(second)]);
        // The same block again (another sealer was first): refused.
        TestFramework::<LedgerChain>::with(())
            .given(vec![LedgerChainEvent::LedgerSealed(first.clone())])
            .when(LedgerChainCommand::Seal(seal(1, 4, GENESIS)))
            .then_expect_error(LedgerChainError::NotNext {
                from: 1,
                to: 4,
                end: 4,
            });
        TestFramework::<LedgerChain>::with(())
            .given(vec![LedgerChainEvent::LedgerSealed(first)])
            .when(LedgerChainCommand::Seal(seal(5, 9, GENESIS)))
            .then_expect_error(LedgerChainError::WrongPrev { from: 5, to: 9 });
        let mut bad = seal(1, 2, GENESIS);
        bad.head.count = 5;
        TestFramework::<LedgerChain>::with(())
            .given_no_previous_events()
            .when(LedgerChainCommand::Seal(bad))
            .then_expect_error(LedgerChainError::Malformed { from: 1, to: 2 });
    }

    #[test]
    fn blocks_have_one_place_each() {
        assert_eq!(segment_id(0), "ledger-0");
        assert_eq!(segment_id(99), "ledger-0");
        assert_eq!(segment_id(100), "ledger-1");
        for k in [0, 1, 99, 100, 250] {
            let seq = (k % BLOCKS_PER_SEGMENT + 1) as i64;
            assert_eq!(block_index(&segment_id(k), seq), Some(k));
        }
        assert_eq!(block_index("ledger-x", 1), None);
        assert_eq!(block_index("ledger-1", 0), None);
    }
}
