//! Anchors: every block head, signed, also lies in every configured storage as
//! `ledger-seals/<from>-<to>.json`, written once and never overwritten. Whoever can rewrite
//! the ledger's database must also rewrite every storage (and hold the signing key) for a
//! changed chain to go unnoticed.

use crate::core::Core;
use backline_domain::Seal;
use backline_infra::storage::ArtifactStore;
use std::collections::BTreeMap;

/// Where anchors lie in a storage.
pub const PREFIX: &str = "ledger-seals/";

/// The anchor's name for a block.
pub fn key(seal: &Seal) -> String {
    format!("{PREFIX}{}-{}.json", seal.head.from, seal.head.to)
}

/// What an anchor holds: the seal without its leaf hints.
pub fn body(seal: &Seal) -> Seal {
    Seal {
        leaves: Vec::new(),
        ..seal.clone()
    }
}

/// Writes `seal`'s anchor to every storage that does not hold it yet. Failures are logged: the
/// next pass writes what is missing, and `verify` reports an anchor that stays missing.
pub async fn write(core: &Core, seal: &Seal) {
    let key = key(seal);
    let Ok(bytes) = serde_json::to_vec_pretty(&body(seal)) else {
        return;
    };
    for (name, store) in &core.storages {
        match store.operator().exists(&key).await {
            Ok(true) => continue,
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(storage = name, key, error = %e, "cannot check a ledger seal's anchor");
                continue;
            }
        }
        if let Err(e) = store.put(&key, bytes.clone()).await {
            tracing::warn!(storage = name, key, error = %e, "cannot anchor a ledger seal");
        }
    }
}

/// Every anchor in `store`, by its key (unreadable ones as an error text).
pub async fn read_all(
    store: &ArtifactStore,
) -> Result<BTreeMap<String, Result<Seal, String>>, String> {
    let entries = match store.operator().list_with(PREFIX).recursive(true).await {
        Ok(e) => e,
        Err(e) if e.kind() == opendal::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e.to_string()),
    };
    let mut out = BTreeMap::new();
    for entry in entries {
        let path = entry.path().to_string();
        if !path.ends_with(".json") {
            continue;
        }
        let parsed = match store.get(&path).await {
            Ok(bytes) => serde_json::from_slice::<Seal>(&bytes).map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        out.insert(path, parsed);
    }
    Ok(out)
}
