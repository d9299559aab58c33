//! Where artifacts live: any OpenDAL backend chosen by URL (`fs://…` by default, `s3://…`,
//! the services in `storage_services.rs`: WebDAV, Azure Blob Storage, Google Cloud Storage, and
//! SFTP in `sftp/`).

use crate::storage_services;
use opendal::layers::{RetryLayer, TimeoutLayer};
use opendal::Operator;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("storage URL {0:?} is not supported: use fs:///path, s3://bucket/prefix?endpoint=…&region=…, webdav+https://host/path, azblob://container/prefix?account=…, gcs://bucket/prefix or sftp://user@host/path?host_key_fingerprint=SHA256:…")]
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
    /// Write probes run so far (each one writes and deletes an object).
    probes: Arc<AtomicU64>,
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
        let remote = match url.split_once("://").map(|(scheme, _)| scheme) {
            Some("webdav+http" | "webdav+https") => Some(storage_services::webdav(url)?),
            Some("azblob") => Some(storage_services::azblob(url)?),
            Some("gcs") => Some(storage_services::gcs(url)?),
            Some("sftp") => Some(crate::sftp::operator(url)?),
            _ => None,
        };
        if let Some(op) = remote {
            return Ok(Self {
                op: layered(op),
                label: redact_url(url),
                probes: Arc::default(),
            });
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
            probes: Arc::default(),
        })
    }

    fn s3(raw: &str) -> Result<Self, StorageError> {
        let invalid = |m: &str| StorageError::Invalid {
            url: redact_url(raw),
            message: m.to_string(),
        };
        let url = url::Url::parse(raw).map_err(|e| invalid(&e.to_string()))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid(
                "credentials do not belong in the storage URL (it is logged and recorded): set \
                 AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or add credentials_file=<path>",
            ));
        }
        let bucket = url.host_str().ok_or_else(|| invalid("no bucket"))?;
        let prefix = url.path().trim_matches('/');
        // Only what the URL and the environment say: no ~/.aws/config, no EC2 metadata
        // probing (which would stall start-up off AWS).
        let mut b = opendal::services::S3::default()
            .bucket(bucket)
            .root(&format!("/{prefix}"))
            .disable_config_load()
            .disable_ec2_metadata();
        let mut region_set = false;
        let mut credentials_file = None;
        for (k, v) in url.query_pairs() {
            match k.as_ref() {
                "endpoint" => b = b.endpoint(&v),
                "region" => {
                    region_set = true;
                    b = b.region(&v)
                }
                "credentials_file" => credentials_file = Some(v.into_owned()),
                "virtual_host_style" if v == "true" => b = b.enable_virtual_host_style(),
                other => return Err(invalid(&format!("unknown parameter {other:?}"))),
            }
        }
        if !region_set {
            b = b.region("us-east-1");
        }
        let creds = match credentials_file {
            Some(path) => {
                Some(S3Credentials::from_file(Path::new(&path)).map_err(|m| invalid(&m))?)
            }
            None => S3Credentials::from_env(),
        };
        match creds {
            Some(c) => {
                b = b
                    .access_key_id(&c.access_key_id)
                    .secret_access_key(&c.secret_access_key);
                if let Some(t) = &c.session_token {
                    b = b.session_token(t);
                }
            }
            None => {
                tracing::warn!(bucket, "no S3 credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or credentials_file=): requests are sent unsigned");
                b = b.skip_signature();
            }
        }
        let op = layered(Operator::new(b)?);
        Ok(Self {
            op,
            label: redact_url(raw),
            probes: Arc::default(),
        })
    }

    pub fn operator(&self) -> &Operator {
        &self.op
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    /// A local directory (`fs://`), where partial uploads wait in `.partial/`.
    pub fn is_local(&self) -> bool {
        self.label.starts_with("fs://")
    }

    /// Whether the service writes an object in one request (OpenDAL's WebDAV: one PUT). Such a
    /// store gets the artifact under `.partial/` and a rename into place, like local storage.
    pub fn writes_in_one_shot(&self) -> bool {
        !self.op.info().capability().write_can_multi
    }

    /// Whether unfinished writes wait under `.partial/` (local storage, one-shot stores and
    /// SFTP), where the partial sweeps look for them.
    pub fn keeps_partials(&self) -> bool {
        self.is_local() || self.writes_in_one_shot() || self.label.starts_with("sftp://")
    }

    /// How many write probes this store (and its clones) has run.
    pub fn probes_run(&self) -> u64 {
        self.probes.load(Ordering::Relaxed)
    }

    /// Writes a small object in one go (manifests).
    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), StorageError> {
        self.op.write(key, bytes).await?;
        Ok(())
    }

    pub async fn get(&self, key: &str) -> Result<Vec<u8>, StorageError> {
        Ok(self.op.read(key).await?.to_vec())
    }

    /// Checks that the store accepts writes as a backup makes them (for readiness): an object
    /// in a directory of its own below the storage's root, through a chunked writer (on local
    /// storage: a partial file renamed into place), then deleted.
    pub async fn probe_writable(&self, node: &str) -> Result<(), StorageError> {
        self.probes.fetch_add(1, Ordering::Relaxed);
        let key = format!(".backline-probe/{node}.probe");
        let mut w = self
            .op
            .writer_with(&key)
            .chunk(CHUNK_SIZE)
            .concurrent(CONCURRENT_PARTS)
            .await?;
        if let Err(e) = w.write(b"ok".to_vec()).await {
            let _ = w.abort().await;
            return Err(e.into());
        }
        if let Err(e) = w.close().await {
            let _ = w.abort().await;
            return Err(e.into());
        }
        self.op.delete(&key).await?;
        Ok(())
    }

    /// The directory of a local storage.
    pub fn local_root(&self) -> Option<&Path> {
        self.label.strip_prefix("fs://").map(Path::new)
    }

    /// Bytes free for this process on a local storage's filesystem (`None` elsewhere).
    pub fn free_bytes(&self) -> Option<std::io::Result<u64>> {
        let root = self.local_root()?;
        Some(
            rustix::fs::statvfs(root)
                .map(|s| s.f_bavail.saturating_mul(s.f_frsize))
                .map_err(std::io::Error::from),
        )
    }
}

/// Each attempt is bounded by the timeout layer; the retry layer (outside it) retries
/// temporary errors and timed-out attempts with backoff. Every remote store has both.
fn layered(op: Operator) -> Operator {
    op.layer(
        TimeoutLayer::new()
            .with_timeout(Duration::from_secs(60))
            .with_io_timeout(Duration::from_secs(60)),
    )
    .layer(
        RetryLayer::new()
            .with_max_times(5)
            .with_min_delay(Duration::from_millis(100))
            .with_max_delay(Duration::from_secs(5))
            .with_jitter(),
    )
}

/// A storage URL fit for logs and the ledger: no user info, no secret-looking parameter.
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) => {
            let _ = u.set_password(None);
            let _ = u.set_username("");
            u.to_string()
        }
        Err(_) => raw.split('?').next().unwrap_or(raw).to_string(),
    }
}

/// S3 credentials, from the environment or a file; never from the URL.
struct S3Credentials {
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
}

impl S3Credentials {
    fn from_env() -> Option<Self> {
        let id = std::env::var("AWS_ACCESS_KEY_ID")
            .ok()
            .filter(|v| !v.is_empty())?;
        let secret = std::env::var("AWS_SECRET_ACCESS_KEY")
            .ok()
            .filter(|v| !v.is_empty())?;
        Some(Self {
            access_key_id: id,
            secret_access_key: secret,
            session_token: std::env::var("AWS_SESSION_TOKEN")
                .ok()
                .filter(|v| !v.is_empty()),
        })
    }

    /// `key = value` lines (the `[default]` profile of an AWS credentials file also works):
    /// `aws_access_key_id`, `aws_secret_access_key`, optionally `aws_session_token`.
    fn from_file(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the credentials file {}: {e}", path.display()))?;
        let mut id = None;
        let mut secret = None;
        let mut token = None;
        let mut section = String::from("default");
        for line in text.lines().map(str::trim) {
            if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = s.trim().to_string();
                continue;
            }
            if section != "default" || line.starts_with('#') {
                continue;
            }
            let Some((k, v)) = line.split_once('=') else {
                continue;
            };
            let v = v.trim().to_string();
            match k.trim().to_ascii_lowercase().as_str() {
                "aws_access_key_id" | "access_key_id" => id = Some(v),
                "aws_secret_access_key" | "secret_access_key" => secret = Some(v),
                "aws_session_token" | "session_token" => token = Some(v),
                _ => {}
            }
        }
        match (id, secret) {
            (Some(access_key_id), Some(secret_access_key)) => Ok(Self {
                access_key_id,
                secret_access_key,
                session_token: token,
            }),
            _ => Err(format!(
                "the credentials file {} has no aws_access_key_id and aws_secret_access_key lines",
                path.display()
            )),
        }
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

    #[test]
    fn s3_credentials_never_come_from_the_url() {
        let err = ArtifactStore::from_url("s3://AKIA:sekrit@bucket/p?endpoint=http://127.0.0.1:1")
            .unwrap_err()
            .to_string();
        assert!(err.contains("AWS_ACCESS_KEY_ID"), "{err}");
        assert!(!err.contains("sekrit"), "{err}");
    }

    #[test]
    fn s3_credentials_file_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("creds");
        std::fs::write(
            &f,
            "[other]\naws_access_key_id = no\n[default]\naws_access_key_id = AK\naws_secret_access_key = SK\n",
        )
        .unwrap();
        let c = S3Credentials::from_file(&f).unwrap();
        assert_eq!(
            (c.access_key_id.as_str(), c.secret_access_key.as_str()),
            ("AK", "SK")
        );
        std::fs::write(&f, "nothing here\n").unwrap();
        assert!(S3Credentials::from_file(&f).is_err());
        let store = ArtifactStore::from_url(&format!(
            "s3://bucket/a/b?endpoint=http://127.0.0.1:9&region=eu-west-1&credentials_file={}",
            dir.path().join("missing").display()
        ));
        assert!(store.is_err());
    }
}
