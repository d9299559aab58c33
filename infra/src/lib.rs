//! What touches the world: the ledger, secrets, dump drivers, the streaming pipeline, storage.

pub mod claims;
pub mod credentials;
pub mod destinations;
pub mod download;
pub mod drivers;
pub mod encryption;
pub mod leases;
pub mod ledger;
pub mod local_copy;
pub mod notify;
pub mod oidc;
pub mod partials;
pub mod pipeline;
pub mod progress;
pub mod secrets;
mod sftp;
pub mod signing;
pub mod sql;
pub mod ssh_tunnel;
pub mod storage;
mod storage_services;

pub use ledger::{EventMeta, Ledger, LedgerError, LedgerKind, StoredEvent};
