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
    /// A parallel backup (`backup_jobs` > 1) stores one object per part, all beside each
    /// other on every copy; `key` is then the first part's and `sha256` the digest of the
    /// parts' list (see [`parts_digest`]). Empty for a version of one object.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<ArtifactPart>,
}

/// What a part of a parallel backup holds: `pg_dump --section=…`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PartRole {
    /// The schema before the data (`--section=pre-data`).
    PreData,
    /// The rows of a group of tables (`--section=data`); the data parts load in parallel.
    Data,
    /// Indexes, constraints, triggers (`--section=post-data`).
    PostData,
}

impl PartRole {
    pub fn as_str(&self) -> &'static str {
        match self {
            PartRole::PreData => "pre-data",
            PartRole::Data => "data",
            PartRole::PostData => "post-data",
        }
    }
}

/// One object of a parallel backup's version; the same key and checksum on every copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactPart {
    /// `pre-data`, `data-1`, `data-2`, …, `post-data`.
    pub name: String,
    pub role: PartRole,
    /// Its place in the version (0 first); a restore loads pre-data, then the data parts
    /// (in parallel), then post-data.
    pub order: u32,
    pub key: String,
    /// Bytes as stored (compressed, encrypted when the version is).
    pub bytes: u64,
    /// Bytes the dump tool wrote.
    pub raw_bytes: u64,
    /// Of the bytes as stored.
    pub sha256: String,
}

/// The checksum a multi-part version records as its own: the sha256 of its parts' list in
/// the `sha256sum` format (`<sha256>  <file name>` per line, in order), so `sha256sum -c` of
/// that list checks the downloaded parts and the list itself is checked by this digest.
pub fn parts_digest(parts: &[ArtifactPart]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(parts_list(parts).as_bytes());
    hex::encode(h.finalize())
}

/// The parts' list in the `sha256sum` format (see [`parts_digest`]).
pub fn parts_list(parts: &[ArtifactPart]) -> String {
    let mut ordered: Vec<&ArtifactPart> = parts.iter().collect();
    ordered.sort_by_key(|p| p.order);
    ordered
        .iter()
        .map(|p| {
            let file = p.key.rsplit('/').next().unwrap_or(&p.key);
            format!("{}  {file}\n", p.sha256)
        })
        .collect()
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
    /// Whether this version is several objects (a parallel backup).
    pub fn is_multipart(&self) -> bool {
        !self.parts.is_empty()
    }

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
