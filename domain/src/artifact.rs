//! What a completed backup stored: where, how big, with which checksum, and its copies.

use crate::properties::DatabaseProperties;
use serde::{Deserialize, Serialize};

/// The dump tool and server a backup runs against, as probed just before it starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ToolInfo {
    pub tool: Option<String>,
    pub tool_version: Option<String>,
    pub server_version: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredArtifact {
    pub storage: String,
    pub key: String,
    pub bytes: u64,
    pub raw_bytes: u64,
    pub sha256: String,
    pub compression: String,
    pub encrypted: bool,
    /// Every destination the artifact was streamed to (3-2-1), in configuration order; the
    /// fields above describe the first healthy copy. Empty in events from before fan-out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub copies: Vec<ArtifactCopy>,
    /// What the dump tool is known not to keep exactly in this database (e.g. MariaDB FLOAT
    /// columns, written with 6 significant digits). Empty when nothing is known.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The database's own properties (encoding, locale, comment, settings, grants…), read
    /// from the catalogs while the dump ran; a restore re-creates them from this, never from
    /// the archive's text. Absent in versions from before 2026-11-30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_properties: Option<DatabaseProperties>,
}

/// One copy of an artifact on one storage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactCopy {
    /// The storage's name in configuration (`default` for BACKLINE_STORAGE_URL).
    pub name: String,
    /// The storage URL without credentials.
    pub storage: String,
    pub key: String,
    pub sha256: String,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl StoredArtifact {
    /// The copies that were written, or the artifact itself for events from before fan-out.
    pub fn healthy_copies(&self) -> Vec<ArtifactCopy> {
        if self.copies.is_empty() {
            return vec![ArtifactCopy {
                name: "default".into(),
                storage: self.storage.clone(),
                key: self.key.clone(),
                sha256: self.sha256.clone(),
                ok: true,
                error: None,
            }];
        }
        self.copies.iter().filter(|c| c.ok).cloned().collect()
    }
}
