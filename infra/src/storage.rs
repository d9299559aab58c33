//! Where artifacts live: any OpenDAL backend chosen by URL (`fs://…` by default, `s3://…`).

use opendal::Operator;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("storage URL {0:?} is not supported: use fs:///path or s3://bucket/prefix?endpoint=…&region=…")]
    Unsupported(String),
    #[error("storage URL {url:?} is invalid: {message}")]
    Invalid { url: String, message: String },
    #[error("storage error: {0}")]
    Backend(#[from] opendal::Error),
}

/// An artifact store: an OpenDAL operator plus a name for the ledger.
#[derive(Clone, Debug)]
pub struct ArtifactStore {
    op: Operator,
    /// What the ledger records as `storage` (the URL without credentials).
    label: String,
}

pub const CHUNK_SIZE: usize = 8 * 1024 * 1024;
pub const CONCURRENT_PARTS: usize = 4;

impl ArtifactStore {
    pub fn from_url(url: &str) -> Result<Self, StorageError> {
        if let Some(rest) = url.strip_prefix("fs://") {
            return Self::fs(Path::new(rest));
        }
        if url.starts_with("s3://") {
            return Self::s3(url);
        }
        if url.starts_with('/') || url.starts_with('.') {
            return Self::fs(Path::new(url));
        }
        Err(StorageError::Unsupported(url.to_string()))
    }

    fn fs(path: &Path) -> Result<Self, StorageError> {
        let abs: PathBuf = if path.is_absolute() {
            path.to_path_buf()
        } else {
            std::env::current_dir()
                .map_err(|e| StorageError::Invalid {
                    url: path.display().to_string(),
                    message: e.to_string(),
                })?
                .join(path)
        };
        let root = abs.display().to_string();
        // Partial writes land in a side directory and are renamed into place on close, so an
        // interrupted backup never leaves a half artifact at its final key.
        let partial = abs.join(".partial").display().to_string();
        let op = Operator::new(
            opendal::services::Fs::default()
                .root(&root)
                .atomic_write_dir(&partial),
        )?;
        Ok(Self {
            op,
            label: format!("fs://{root}"),
        })
    }

    fn s3(raw: &str) -> Result<Self, StorageError> {
        let invalid = |m: &str| StorageError::Invalid {
            url: raw.to_string(),
            message: m.to_string(),
        };
        let url = url::Url::parse(raw).map_err(|e| invalid(&e.to_string()))?;
        let bucket = url.host_str().ok_or_else(|| invalid("no bucket"))?;
        let prefix = url.path().trim_matches('/');
        let mut b = opendal::services::S3::default()
            .bucket(bucket)
            .root(&format!("/{prefix}"));
        let mut region_set = false;
        for (k, v) in url.query_pairs() {
            match k.as_ref() {
                "endpoint" => b = b.endpoint(&v),
                "region" => {
                    region_set = true;
                    b = b.region(&v)
                }
                other => return Err(invalid(&format!("unknown parameter {other:?}"))),
            }
        }
        if !region_set {
            b = b.region("us-east-1");
        }
        let op = Operator::new(b)?;
        let mut label = url.clone();
        let _ = label.set_password(None);
        let _ = label.set_username("");
        Ok(Self {
            op,
            label: label.to_string(),
        })
    }

    pub fn operator(&self) -> &Operator {
        &self.op
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    /// Writes a small object in one go (manifests).
    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), StorageError> {
        self.op.write(key, bytes).await?;
        Ok(())
    }

    pub async fn get(&self, key: &str) -> Result<Vec<u8>, StorageError> {
        Ok(self.op.read(key).await?.to_vec())
    }

    /// Checks that the store accepts writes (for readiness).
    pub async fn probe_writable(&self) -> Result<(), StorageError> {
        let key = ".backline-probe";
        self.op.write(key, b"ok".to_vec()).await?;
        self.op.delete(key).await?;
        Ok(())
    }
}

/// `<database name>-<database id>/<yyyy>/<mm>/<backup id>.<ext>`
pub fn artifact_key(
    database_name: &str,
    database_id: &str,
    backup_id: &str,
    at: chrono::DateTime<chrono::Utc>,
    ext: &str,
) -> String {
    format!(
        "{database_name}-{database_id}/{}/{backup_id}.{ext}",
        at.format("%Y/%m")
    )
}

/// The manifest lies beside the artifact: `<backup id>.manifest.json`.
pub fn manifest_key(artifact_key: &str) -> String {
    let (dir, file) = artifact_key.rsplit_once('/').unwrap_or(("", artifact_key));
    let stem = file.split_once('.').map(|(s, _)| s).unwrap_or(file);
    if dir.is_empty() {
        format!("{stem}.manifest.json")
    } else {
        format!("{dir}/{stem}.manifest.json")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_layout() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-03-04T05:06:07Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let k = artifact_key("shop.eu", "db1", "b1", at, "pgdump.zst");
        assert_eq!(k, "shop.eu-db1/2026/03/b1.pgdump.zst");
        assert_eq!(manifest_key(&k), "shop.eu-db1/2026/03/b1.manifest.json");
    }

    #[test]
    fn rejects_unknown_schemes() {
        assert!(ArtifactStore::from_url("ftp://x").is_err());
        assert!(ArtifactStore::from_url("s3://b/p?bogus=1").is_err());
    }
}
