//! The streaming pipeline. Backup: dump stdout ▸ zstd (multi-threaded) ▸ sha256 ▸ OpenDAL
//! writer (chunked, concurrent parts). Restore: OpenDAL reader ▸ sha256 ▸ zstd decoder ▸ tool
//! stdin. No temporary file; memory is bounded by the chunk size and the part concurrency.

use async_compression::tokio::bufread::{ZstdDecoder, ZstdEncoder};
use async_compression::zstd::CParameter;
use async_compression::Level;
use futures::TryStreamExt;
use sha2::{Digest, Sha256};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, ReadBuf};

use crate::storage::{ArtifactStore, CHUNK_SIZE, CONCURRENT_PARTS};

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("reading the dump failed: {0}")]
    Source(std::io::Error),
    #[error("writing to storage failed: {0}")]
    Upload(opendal::Error),
    #[error("reading from storage failed: {0}")]
    Download(String),
    #[error("the artifact is corrupt: {0}")]
    Corrupt(String),
    #[error("feeding the restore tool failed: {0}")]
    Sink(std::io::Error),
    #[error(transparent)]
    Tool(crate::drivers::StageError),
}

/// Counts bytes passing through a reader; the counter is shared so progress can be observed.
pub struct Counted<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R> Counted<R> {
    pub fn new(inner: R, count: Arc<AtomicU64>) -> Self {
        Self { inner, count }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for Counted<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        r
    }
}

/// Hashes every byte read through it.
struct Hashed<R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
}

impl<R: AsyncRead + Unpin> AsyncRead for Hashed<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        let new = &buf.filled()[before..];
        let n = new.len() as u64;
        self.hasher.update(new);
        self.bytes += n;
        r
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uploaded {
    pub bytes: u64,
    pub raw_bytes: u64,
    pub sha256: String,
}

pub fn zstd_workers() -> u32 {
    std::thread::available_parallelism()
        .map(|n| n.get() as u32)
        .unwrap_or(1)
        .clamp(1, 8)
}

/// Streams `source` compressed into `key`. At the end of the stream `check` decides (e.g. the
/// dump tool's exit status) whether the object is committed. On any error the upload is
/// aborted, so no partial object ever stands at `key`.
pub async fn upload<R, F>(
    source: R,
    store: &ArtifactStore,
    key: &str,
    level: i32,
    raw_counter: Arc<AtomicU64>,
    check: F,
) -> Result<Uploaded, PipelineError>
where
    R: AsyncRead + Unpin,
    F: std::future::Future<Output = Result<(), crate::drivers::StageError>>,
{
    let counted = Counted::new(source, raw_counter.clone());
    let mut encoder = ZstdEncoder::with_quality_and_params(
        BufReader::with_capacity(1 << 20, counted),
        Level::Precise(level),
        &[CParameter::nb_workers(zstd_workers())],
    );
    let mut writer = store
        .operator()
        .writer_with(key)
        .chunk(CHUNK_SIZE)
        .concurrent(CONCURRENT_PARTS)
        .await
        .map_err(PipelineError::Upload)?;
    let mut hasher = Sha256::new();
    let mut bytes = 0u64;
    let result: Result<(), PipelineError> = async {
        loop {
            let mut buf = Vec::with_capacity(1 << 20);
            let n = (&mut encoder)
                .take(1 << 20)
                .read_to_end(&mut buf)
                .await
                .map_err(PipelineError::Source)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf);
            bytes += n as u64;
            writer.write(buf).await.map_err(PipelineError::Upload)?;
        }
        check.await.map_err(PipelineError::Tool)?;
        writer.close().await.map_err(PipelineError::Upload)?;
        Ok(())
    }
    .await;
    if let Err(e) = result {
        if let Err(abort) = writer.abort().await {
            tracing::warn!(key, error = %abort, "aborting the partial upload failed");
        }
        return Err(e);
    }
    Ok(Uploaded {
        bytes,
        raw_bytes: raw_counter.load(Ordering::Relaxed),
        sha256: hex::encode(hasher.finalize()),
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    pub bytes: u64,
    pub raw_bytes: u64,
    pub sha256: String,
}

/// Streams the artifact at `key` decompressed into `sink`, and checks its sha256 against
/// `expected_sha256`. The sink receives data before the check completes, so callers restore
/// into a scratch target and only promote it once this returns Ok.
pub async fn download<W: AsyncWrite + Unpin>(
    store: &ArtifactStore,
    key: &str,
    expected_sha256: &str,
    sink: &mut W,
    raw_counter: Arc<AtomicU64>,
) -> Result<Downloaded, PipelineError> {
    let reader = store
        .operator()
        .reader_with(key)
        .chunk(CHUNK_SIZE)
        .concurrent(2)
        .await
        .map_err(|e| PipelineError::Download(e.to_string()))?;
    let stream = reader
        .into_bytes_stream(..)
        .await
        .map_err(|e| PipelineError::Download(e.to_string()))?
        .map_err(std::io::Error::other);
    let mut hashed = Hashed {
        inner: tokio_util::io::StreamReader::new(stream),
        hasher: Sha256::new(),
        bytes: 0,
    };
    let copy_result = {
        let mut decoder = ZstdDecoder::new(BufReader::with_capacity(1 << 20, &mut hashed));
        decoder.multiple_members(true);
        let mut counted = Counted::new(decoder, raw_counter.clone());
        copy_to_sink(&mut counted, sink).await
    };
    // Hash whatever the decoder left unread, so the checksum covers the whole object.
    let drained = tokio::io::copy(&mut hashed, &mut tokio::io::sink()).await;
    let sha = hex::encode(hashed.hasher.clone().finalize());
    let bytes = hashed.bytes;
    let mismatch = sha != expected_sha256;
    match copy_result {
        Err(CopyError::Read(e)) => {
            return Err(if mismatch && drained.is_ok() {
                PipelineError::Corrupt(format!(
                    "sha256 mismatch: expected {expected_sha256}, stored object has {sha} ({e})"
                ))
            } else if e.kind() == std::io::ErrorKind::Other && !mismatch {
                PipelineError::Download(e.to_string())
            } else {
                PipelineError::Corrupt(e.to_string())
            })
        }
        Err(CopyError::Write(e)) => return Err(PipelineError::Sink(e)),
        Ok(()) => {}
    }
    if let Err(e) = drained {
        return Err(PipelineError::Download(e.to_string()));
    }
    if mismatch {
        return Err(PipelineError::Corrupt(format!(
            "sha256 mismatch: expected {expected_sha256}, stored object has {sha}"
        )));
    }
    sink.flush().await.map_err(PipelineError::Sink)?;
    Ok(Downloaded {
        bytes,
        raw_bytes: raw_counter.load(Ordering::Relaxed),
        sha256: sha,
    })
}

enum CopyError {
    Read(std::io::Error),
    Write(std::io::Error),
}

async fn copy_to_sink<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(
    r: &mut R,
    w: &mut W,
) -> Result<(), CopyError> {
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = r.read(&mut buf).await.map_err(CopyError::Read)?;
        if n == 0 {
            return Ok(());
        }
        w.write_all(&buf[..n]).await.map_err(CopyError::Write)?;
    }
}

/// Reads the whole object and returns its sha256 and size (for `verify`).
pub async fn checksum(store: &ArtifactStore, key: &str) -> Result<(String, u64), PipelineError> {
    let reader = store
        .operator()
        .reader_with(key)
        .chunk(CHUNK_SIZE)
        .await
        .map_err(|e| PipelineError::Download(e.to_string()))?;
    let mut stream = reader
        .into_bytes_stream(..)
        .await
        .map_err(|e| PipelineError::Download(e.to_string()))?;
    let mut hasher = Sha256::new();
    let mut n = 0u64;
    while let Some(chunk) = stream
        .try_next()
        .await
        .map_err(|e| PipelineError::Download(e.to_string()))?
    {
        hasher.update(&chunk);
        n += chunk.len() as u64;
    }
    Ok((hex::encode(hasher.finalize()), n))
}

/// Feeds a stored artifact, decompressed and checksum-verified, into a restore tool.
pub struct ArtifactFeed {
    pub store: ArtifactStore,
    pub key: String,
    pub sha256: String,
    pub progress: Arc<AtomicU64>,
}

#[async_trait::async_trait]
impl crate::drivers::Feed for ArtifactFeed {
    async fn feed(
        &self,
        stdin: &mut tokio::process::ChildStdin,
    ) -> Result<(), crate::drivers::StageError> {
        use crate::drivers::StageError;
        self.progress.store(0, Ordering::Relaxed);
        download(
            &self.store,
            &self.key,
            &self.sha256,
            stdin,
            self.progress.clone(),
        )
        .await
        .map(|_| ())
        .map_err(|e| match e {
            PipelineError::Sink(e) => {
                StageError::new("feed", format!("the restore tool stopped reading: {e}"))
            }
            PipelineError::Corrupt(m) => {
                StageError::new("verify", format!("artifact {} is corrupt: {m}", self.key))
            }
            other => StageError::new("download", other.to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn round_trip_and_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let store = ArtifactStore::from_url(&format!("fs://{}", dir.path().display())).unwrap();
        let data: Vec<u8> = (0..3_000_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let up = upload(&data[..], &store, "a/b.zst", 1, Default::default(), async {
            Ok(())
        })
        .await
        .unwrap();
        assert_eq!(up.raw_bytes, data.len() as u64);
        let mut out = Vec::new();
        let down = download(&store, "a/b.zst", &up.sha256, &mut out, Default::default())
            .await
            .unwrap();
        assert_eq!(out, data);
        assert_eq!(down.sha256, up.sha256);
        assert_eq!(checksum(&store, "a/b.zst").await.unwrap().0, up.sha256);

        // Flip one byte in the middle: the restore must fail loudly.
        let path = dir.path().join("a/b.zst");
        let mut bytes = std::fs::read(&path).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0xff;
        std::fs::write(&path, bytes).unwrap();
        let mut out = Vec::new();
        let err = download(&store, "a/b.zst", &up.sha256, &mut out, Default::default())
            .await
            .unwrap_err();
        assert!(matches!(err, PipelineError::Corrupt(_)), "{err}");
    }

    #[tokio::test]
    async fn failed_source_leaves_no_object() {
        struct Broken(usize);
        impl AsyncRead for Broken {
            fn poll_read(
                mut self: Pin<&mut Self>,
                _: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<std::io::Result<()>> {
                if self.0 == 0 {
                    return Poll::Ready(Err(std::io::Error::other("dump died")));
                }
                self.0 -= 1;
                buf.put_slice(&[7u8; 4096]);
                Poll::Ready(Ok(()))
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let store = ArtifactStore::from_url(&format!("fs://{}", dir.path().display())).unwrap();
        let err = upload(
            Broken(5000),
            &store,
            "x/y.zst",
            1,
            Default::default(),
            async { Ok(()) },
        )
        .await
        .unwrap_err();
        assert!(matches!(err, PipelineError::Source(_)));
        assert!(!dir.path().join("x/y.zst").exists());

        // A clean stream whose producer then reports failure is not committed either.
        let err = upload(
            &[1u8; 1000][..],
            &store,
            "x/z.zst",
            1,
            Default::default(),
            async {
                Err(crate::drivers::StageError::new(
                    "dump",
                    "pg_dump exited with code 1",
                ))
            },
        )
        .await
        .unwrap_err();
        assert!(matches!(err, PipelineError::Tool(_)));
        assert!(!dir.path().join("x/z.zst").exists());
    }
}
