//! The manifest that lies beside every artifact: what storage alone says of a version, enough
//! to rebuild the version history when the ledger is lost (`backline import`). One type, written
//! by the backup and read by the import.

use crate::backup::{StoredArtifact, ToolInfo};
use crate::properties::DatabaseProperties;
use crate::values::Engine;
use serde::{Deserialize, Serialize};

/// The format this version of Backline writes.
pub const MANIFEST_FORMAT: &str = "backline-manifest/1";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupManifest {
    /// `backline-manifest/<n>`: readers accept any `/1` manifest (fields are only added).
    pub format: String,
    pub backup_id: String,
    pub database_id: String,
    pub database_name: String,
    pub engine: Engine,
    /// Where it came from, without the password.
    #[serde(default)]
    pub connection: Option<String>,
    #[serde(default)]
    pub tool: Option<String>,
    #[serde(default)]
    pub tool_version: Option<String>,
    #[serde(default)]
    pub server_version: Option<String>,
    pub key: String,
    pub bytes: u64,
    pub raw_bytes: u64,
    pub sha256: String,
    pub compression: String,
    #[serde(default)]
    pub encrypted: bool,
    #[serde(default)]
    pub encryption: Option<ManifestEncryption>,
    /// RFC 3339.
    pub created_at: String,
    #[serde(default)]
    pub warnings: Vec<String>,
    #[serde(default)]
    pub database_properties: Option<DatabaseProperties>,
    /// The parts of a parallel backup (name, role, order, key, sizes, sha256); `key`,
    /// `bytes`, `raw_bytes` and `sha256` then describe the version as a whole (the first
    /// part's key, the sums, the digest of the parts' list). Absent for one-object versions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<crate::artifact::ArtifactPart>,
    /// The server's Ed25519 signature of the manifest (see [`BackupManifest::signed_bytes`]).
    /// Absent in manifests from before 2026-11-30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<ManifestSignature>,
}

/// Who signed a manifest, and the signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestSignature {
    /// `ed25519`.
    pub algorithm: String,
    /// The signer's public key, hex.
    pub public_key: String,
    /// The signature of [`BackupManifest::signed_bytes`], hex.
    pub signature: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEncryption {
    /// `age`.
    pub scheme: String,
    /// The recipients' public keys (`age1…`).
    pub recipients: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("not a manifest: {0}")]
    Json(#[from] serde_json::Error),
    #[error("manifest format {0:?} is not one this version reads (backline-manifest/1)")]
    Format(String),
    #[error("not a manifest: {0}")]
    Canonical(#[from] crate::seal::CanonError),
}

impl BackupManifest {
    /// Reads a manifest's bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self, ManifestError> {
        let m: Self = serde_json::from_slice(bytes)?;
        if m.format != MANIFEST_FORMAT {
            return Err(ManifestError::Format(m.format));
        }
        Ok(m)
    }

    /// What a manifest's signature signs: the canonical JSON (`docs/ledger-seals.md`) of the
    /// manifest as stored, without its `signature` field. Computed from the stored bytes, so
    /// fields a later version adds are signed too.
    pub fn signed_bytes(stored: &[u8]) -> Result<Vec<u8>, ManifestError> {
        let mut fields: std::collections::BTreeMap<String, Box<serde_json::value::RawValue>> =
            serde_json::from_slice(stored)?;
        fields.remove("signature");
        let text = serde_json::to_string(&fields)?;
        Ok(crate::seal::canonical_json(&text)?.into_bytes())
    }

    /// The bytes written beside the artifact.
    pub fn to_bytes(&self) -> Vec<u8> {
        // A struct of strings, numbers and enums always serializes.
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }

    /// What the dump tool and server were, as a version records them.
    pub fn tools(&self) -> ToolInfo {
        ToolInfo {
            tool: self.tool.clone(),
            tool_version: self.tool_version.clone(),
            server_version: self.server_version.clone(),
        }
    }

    /// The artifact as a version records it, on storage `storage`.
    pub fn artifact(&self, storage: &str) -> StoredArtifact {
        StoredArtifact {
            storage: storage.to_string(),
            key: self.key.clone(),
            bytes: self.bytes,
            raw_bytes: self.raw_bytes,
            sha256: self.sha256.clone(),
            compression: self.compression.clone(),
            encrypted: self.encrypted,
            copies: Vec::new(),
            warnings: self.warnings.clone(),
            database_properties: self.database_properties.clone(),
            parts: self.parts.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A manifest written by Backline before database properties and encryption details were
    /// added (2026-11): it must still import.
    const OLD: &str = r#"{
  "format": "backline-manifest/1",
  "backup_id": "019a0000-0000-7000-8000-000000000001",
  "database_id": "019a0000-0000-7000-8000-000000000002",
  "database_name": "shop",
  "engine": "postgres",
  "connection": "postgres://app@db:5432/shop",
  "tool": "pg_dump",
  "tool_version": "pg_dump (PostgreSQL) 15.19",
  "server_version": "15.19",
  "key": "shop-019a/2026/11/019a0000-0000-7000-8000-000000000001.pgdump.zst",
  "bytes": 1234,
  "raw_bytes": 5678,
  "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  "compression": "zstd",
  "encrypted": false,
  "encryption": null,
  "created_at": "2026-11-20T10:00:00+00:00"
}"#;

    #[test]
    fn an_old_manifest_still_reads() {
        let m = BackupManifest::parse(OLD.as_bytes()).unwrap();
        assert_eq!(m.engine, Engine::Postgres);
        assert!(m.warnings.is_empty() && m.database_properties.is_none());
        assert_eq!(m.artifact("fs:///x").bytes, 1234);
    }

    #[test]
    fn a_manifest_written_is_read_back_by_the_importer() {
        let mut m = BackupManifest::parse(OLD.as_bytes()).unwrap();
        m.warnings = vec!["FLOAT column t.f".into()];
        m.encrypted = true;
        m.encryption = Some(ManifestEncryption {
            scheme: "age".into(),
            recipients: vec!["age1xyz".into()],
        });
        m.database_properties = Some(DatabaseProperties::Mysql(
            crate::properties::MyDatabaseProperties {
                charset: "latin1".into(),
                collation: "latin1_bin".into(),
            },
        ));
        let unsigned = m.to_bytes();
        m.signature = Some(ManifestSignature {
            algorithm: "ed25519".into(),
            public_key: "ab".into(),
            signature: "cd".into(),
        });
        let back = BackupManifest::parse(&m.to_bytes()).unwrap();
        assert_eq!(back, m);
        // The signature covers every field but itself, however the JSON is laid out.
        let signed = BackupManifest::signed_bytes(&m.to_bytes()).unwrap();
        assert_eq!(signed, BackupManifest::signed_bytes(&unsigned).unwrap());
        let compact = serde_json::to_vec(&m).unwrap();
        assert_eq!(BackupManifest::signed_bytes(&compact).unwrap(), signed);
        m.sha256 = "00".into();
        assert_ne!(BackupManifest::signed_bytes(&m.to_bytes()).unwrap(), signed);
        assert_eq!(
            back.artifact("s3://b/p").database_properties,
            m.database_properties
        );
    }

    #[test]
    fn other_formats_are_refused() {
        let text = OLD.replace("backline-manifest/1", "backline-manifest/9");
        assert!(matches!(
            BackupManifest::parse(text.as_bytes()),
            Err(ManifestError::Format(_))
        ));
    }
}
