//! The verified local copy a restore reads: the first step of every restore.
//!
//! The stored object is copied into a private file (0600, in a directory of the data dir)
//! while its sha256 is computed; only when it matches the recorded one does any tool read it,
//! and every pass of the restore (PostgreSQL's sections, MariaDB's scratch and target loads)
//! reads that same file, which nobody else can change. An encrypted artifact is decrypted
//! only after the check, as it is fed. The file is locked while in use and removed when the
//! restore ends; copies left by a process that died are swept at start-up ([`sweep`]).

use crate::destinations::decrypting;
use crate::drivers::{Feed, StageError};
use crate::pipeline::{copy_to_sink, CopyError, Counted};
use crate::storage::{ArtifactStore, CHUNK_SIZE};
use async_compression::tokio::bufread::ZstdDecoder;
use backline_domain::Stage;
use futures::TryStreamExt;
use sha2::{Digest, Sha256};
use std::io::Seek;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncWrite, AsyncWriteExt, BufReader};

#[derive(Debug, thiserror::Error)]
pub enum LocalCopyError {
    /// The stored bytes are not the ones recorded.
    #[error("the artifact is corrupt: sha256 mismatch: expected {expected}, the stored object has {found}")]
    Mismatch { expected: String, found: String },
    #[error("reading {key} from storage failed: {message}")]
    Download { key: String, message: String },
    #[error("the local copy {path} cannot be written: {source}")]
    Local {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("restoring needs {needed} bytes for the verified copy in {dir}, but only {free} are free (set BACKLINE_DATA_DIR to a larger disk, or free space)")]
    NoSpace { needed: u64, free: u64, dir: String },
}

/// Where a stored artifact is and what it must be.
#[derive(Debug, Clone, Copy)]
pub struct StoredObject<'a> {
    pub store: &'a ArtifactStore,
    pub key: &'a str,
    pub sha256: &'a str,
    /// The recorded (stored) size: the space the copy needs.
    pub bytes: u64,
}

/// A verified local copy of an artifact. Removed when dropped.
pub struct LocalArtifact {
    path: PathBuf,
    /// Open and locked (`flock`) for as long as the copy is in use.
    file: std::fs::File,
    /// Opens an encrypted artifact; `None` for a plain one.
    identity: Option<age::x25519::Identity>,
    /// Stored bytes copied while fetching, then raw bytes fed in the current pass.
    progress: Arc<AtomicU64>,
    bytes: u64,
}

impl LocalArtifact {
    /// Copies `object` to `dir/<name>.artifact` and checks its sha256. Refuses up front when
    /// `dir` lacks the space for it.
    pub async fn fetch(
        object: StoredObject<'_>,
        dir: &Path,
        name: &str,
        identity: Option<age::x25519::Identity>,
        progress: Arc<AtomicU64>,
    ) -> Result<Self, LocalCopyError> {
        let StoredObject {
            store,
            key,
            sha256,
            bytes: expected_bytes,
        } = object;
        let path = dir.join(format!("{name}.artifact"));
        let local = |source: std::io::Error| LocalCopyError::Local {
            path: path.display().to_string(),
            source,
        };
        create_private_dir(dir).map_err(local)?;
        let free = free_space(dir).map_err(local)?;
        // A margin for the file system's own blocks.
        let needed = expected_bytes + expected_bytes / 100 + (1 << 20);
        if free < needed {
            return Err(LocalCopyError::NoSpace {
                needed,
                free,
                dir: dir.display().to_string(),
            });
        }
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(local)?;
        rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive)
            .map_err(|e| local(e.into()))?;
        let mut copy = Self {
            path,
            file,
            identity,
            progress,
            bytes: 0,
        };
        copy.bytes = copy.download(store, key, sha256).await?;
        Ok(copy)
    }

    async fn download(
        &mut self,
        store: &ArtifactStore,
        key: &str,
        expected: &str,
    ) -> Result<u64, LocalCopyError> {
        let failed = |e: opendal::Error| LocalCopyError::Download {
            key: key.to_string(),
            message: e.to_string(),
        };
        let local = |source: std::io::Error| LocalCopyError::Local {
            path: self.path.display().to_string(),
            source,
        };
        let writer = self.file.try_clone().map_err(local)?;
        let mut writer = tokio::fs::File::from_std(writer);
        let reader = store
            .operator()
            .reader_with(key)
            .chunk(CHUNK_SIZE)
            .concurrent(2)
            .await
            .map_err(failed)?;
        let mut stream = reader.into_bytes_stream(..).await.map_err(failed)?;
        let mut hasher = Sha256::new();
        let mut bytes = 0u64;
        while let Some(chunk) = stream
            .try_next()
            .await
            .map_err(|e| LocalCopyError::Download {
                key: key.to_string(),
                message: e.to_string(),
            })?
        {
            hasher.update(&chunk);
            bytes += chunk.len() as u64;
            writer.write_all(&chunk).await.map_err(local)?;
            self.progress.store(bytes, Ordering::Relaxed);
        }
        writer.flush().await.map_err(local)?;
        let found = hex::encode(hasher.finalize());
        if found != expected {
            return Err(LocalCopyError::Mismatch {
                expected: expected.to_string(),
                found,
            });
        }
        Ok(bytes)
    }

    /// The stored size of the copy.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for LocalArtifact {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_file(&self.path) {
            tracing::warn!(path = %self.path.display(), error = %e, "could not remove a restore's local copy");
        }
    }
}

#[async_trait::async_trait]
impl Feed for LocalArtifact {
    async fn feed(&self, sink: &mut (dyn AsyncWrite + Send + Unpin)) -> Result<(), StageError> {
        self.progress.store(0, Ordering::Relaxed);
        let open = |e: std::io::Error| {
            StageError::new(
                Stage::Restore,
                format!("cannot read the verified copy {}: {e}", self.path.display()),
            )
        };
        // The same (locked) file each pass, from its start.
        let mut file = self.file.try_clone().map_err(open)?;
        file.rewind().map_err(open)?;
        let file = BufReader::with_capacity(1 << 20, tokio::fs::File::from_std(file));
        let copied = match &self.identity {
            None => {
                let mut decoder = ZstdDecoder::new(file);
                decoder.multiple_members(true);
                copy_to_sink(&mut Counted::new(decoder, self.progress.clone()), sink).await
            }
            Some(id) => match decrypting(file, id).await {
                Ok(plain) => {
                    let mut decoder = ZstdDecoder::new(BufReader::with_capacity(1 << 20, plain));
                    decoder.multiple_members(true);
                    copy_to_sink(&mut Counted::new(decoder, self.progress.clone()), sink).await
                }
                Err(e) => Err(CopyError::Read(e)),
            },
        };
        let stopped = |e: std::io::Error| {
            StageError::new(
                Stage::Feed,
                format!("the restore tool stopped reading: {e}"),
            )
        };
        match copied {
            Ok(()) => sink.flush().await.map_err(stopped),
            Err(CopyError::Write(e)) => Err(stopped(e)),
            // The bytes are the recorded ones (their sha256 matched), yet they do not decrypt
            // or decompress: the artifact was written, or recorded, wrong.
            Err(CopyError::Read(e)) => Err(StageError::new(
                Stage::Decode,
                format!("the verified artifact does not decrypt/decompress: {e}"),
            )),
        }
    }

    async fn materialize(&self) -> Result<Option<RawFile>, StageError> {
        self.write_raw().await.map(Some)
    }

    fn raw_file(&self) -> Result<Option<(RawFile, std::fs::File)>, StageError> {
        self.create_raw().map(Some)
    }
}

/// The decompressed (and decrypted) artifact in a private file (0600, locked, in the verified
/// copy's directory, so a leftover is swept like one), removed when dropped.
pub struct RawFile {
    path: PathBuf,
    _file: std::fs::File,
}

impl RawFile {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for RawFile {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_file(&self.path) {
            tracing::warn!(path = %self.path.display(), error = %e, "could not remove a restore's decompressed copy");
        }
    }
}

impl LocalArtifact {
    /// `<copy>.raw.artifact`, created empty, private and locked (a sweep leaves it alone),
    /// with a handle to write it through.
    fn create_raw(&self) -> Result<(RawFile, std::fs::File), StageError> {
        let name = self
            .path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let path = self.path.with_file_name(format!("{name}.raw.artifact"));
        let fail = |e: std::io::Error| {
            StageError::new(
                Stage::Prepare,
                format!("cannot write the decompressed copy {}: {e}", path.display()),
            )
        };
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(fail)?;
        let raw = RawFile {
            path: path.clone(),
            _file: file.try_clone().map_err(fail)?,
        };
        rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive)
            .map_err(|e| fail(e.into()))?;
        Ok((raw, file))
    }

    /// `<copy>.raw.artifact`: the verified copy decompressed once.
    async fn write_raw(&self) -> Result<RawFile, StageError> {
        let (raw, file) = self.create_raw()?;
        let fail = |e: std::io::Error| {
            StageError::new(
                Stage::Prepare,
                format!(
                    "cannot write the decompressed copy {}: {e}",
                    raw.path().display()
                ),
            )
        };
        let mut out = tokio::io::BufWriter::with_capacity(1 << 20, tokio::fs::File::from_std(file));
        self.feed(&mut out).await.map_err(|e| match e.stage {
            // Writing our own file failed (a full disk, most likely).
            Stage::Feed => StageError::new(
                Stage::Prepare,
                e.message.replace(
                    "the restore tool stopped reading",
                    "writing the decompressed copy failed",
                ),
            ),
            _ => e,
        })?;
        out.shutdown().await.map_err(fail)?;
        Ok(raw)
    }
}

/// Creates `dir` (and its parents) with mode 0700.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

fn free_space(dir: &Path) -> std::io::Result<u64> {
    let s = rustix::fs::statvfs(dir).map_err(std::io::Error::from)?;
    Ok(s.f_bavail.saturating_mul(s.f_frsize))
}

/// Removes the local copies in `dir` that no running restore holds (left by a process that
/// died); returns how many went.
pub fn sweep(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "artifact") {
            continue;
        }
        let Ok(file) = std::fs::OpenOptions::new().read(true).open(&path) else {
            continue;
        };
        // A restore in progress holds the lock; a file nobody holds is a leftover.
        if rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_ok()
            && std::fs::remove_file(&path).is_ok()
        {
            removed += 1;
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj<'a>(store: &'a ArtifactStore, sha: &'a str, bytes: u64) -> StoredObject<'a> {
        StoredObject {
            store,
            key: "k/a.zst",
            sha256: sha,
            bytes,
        }
    }

    async fn stored(dir: &Path, data: &[u8]) -> (ArtifactStore, String) {
        let store = ArtifactStore::from_url(&format!("fs://{}", dir.display())).unwrap();
        let up = crate::pipeline::upload(data, &store, "k/a.zst", 1, Default::default(), async {
            Ok(())
        })
        .await
        .unwrap();
        (store, up.sha256)
    }

    #[tokio::test]
    async fn copies_verify_feed_every_pass_and_go_away() {
        let tmp = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..500_000u32)
            .flat_map(|i| (i % 97).to_le_bytes())
            .collect();
        let (store, sha) = stored(&tmp.path().join("s"), &data).await;
        let dir = tmp.path().join("restore-tmp");
        let copy =
            LocalArtifact::fetch(obj(&store, &sha, 10), &dir, "r1", None, Default::default())
                .await
                .unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(copy.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let dmode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(dmode & 0o777, 0o700);
        // Held by a running restore: the sweep leaves it.
        assert_eq!(sweep(&dir), 0);
        // The stored object changes after the check: every pass still reads the checked bytes.
        std::fs::write(tmp.path().join("s/k/a.zst"), b"replaced").unwrap();
        for _ in 0..2 {
            let mut out = Vec::new();
            copy.feed(&mut out).await.unwrap();
            assert_eq!(out, data);
        }
        let path = copy.path().to_path_buf();
        drop(copy);
        assert!(!path.exists());
    }

    #[tokio::test]
    async fn a_mismatch_leaves_nothing_and_a_leftover_is_swept() {
        let tmp = tempfile::tempdir().unwrap();
        let (store, sha) = stored(&tmp.path().join("s"), b"hello world").await;
        let dir = tmp.path().join("restore-tmp");
        let mut bytes = std::fs::read(tmp.path().join("s/k/a.zst")).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(tmp.path().join("s/k/a.zst"), bytes).unwrap();
        let err = LocalArtifact::fetch(obj(&store, &sha, 10), &dir, "r2", None, Default::default())
            .await
            .err()
            .unwrap();
        assert!(matches!(err, LocalCopyError::Mismatch { .. }), "{err}");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        std::fs::write(dir.join("dead.artifact"), b"left").unwrap();
        assert_eq!(sweep(&dir), 1);
        assert!(!dir.join("dead.artifact").exists());
    }

    #[tokio::test]
    async fn refuses_when_space_is_short() {
        let tmp = tempfile::tempdir().unwrap();
        let (store, sha) = stored(&tmp.path().join("s"), b"x").await;
        let err = LocalArtifact::fetch(
            obj(&store, &sha, u64::MAX / 4),
            tmp.path(),
            "r3",
            None,
            Default::default(),
        )
        .await
        .err()
        .unwrap();
        assert!(matches!(err, LocalCopyError::NoSpace { .. }), "{err}");
    }
}
