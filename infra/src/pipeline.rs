//! The streaming pipeline. Backup: dump stdout ▸ zstd (multi-threaded) ▸ sha256 ▸ OpenDAL
//! writer (chunked, concurrent parts); no temporary file, memory bounded by the chunk size and
//! the part concurrency. Restore: OpenDAL reader ▸ sha256 ▸ a private local copy, checked
//! before anything reads it ▸ [age] ▸ zstd decoder ▸ tool stdin, once per pass.

use async_compression::tokio::bufread::ZstdDecoder;
use futures::TryStreamExt;
use sha2::{Digest, Sha256};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, ReadBuf};

use crate::destinations::{decrypting, FanOut, Sealed};
pub use crate::destinations::{CopyOutcome, Targets};
use crate::storage::{ArtifactStore, CHUNK_SIZE};

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
    /// One per destination, in the order given: committed, or why not.
    pub copies: Vec<CopyOutcome>,
}

pub fn zstd_workers() -> u32 {
    std::thread::available_parallelism()
        .map(|n| n.get() as u32)
        .unwrap_or(1)
        .clamp(1, 8)
}

const PIECE: usize = 1 << 20;

/// Forwards compressed output to the uploading side in 1 MiB pieces.
struct ToUploader {
    tx: tokio::sync::mpsc::Sender<Vec<u8>>,
    buf: Vec<u8>,
}

impl std::io::Write for ToUploader {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= PIECE {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl ToUploader {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let piece = std::mem::replace(&mut self.buf, Vec::with_capacity(PIECE + 128 * 1024));
        self.tx
            .blocking_send(piece)
            .map_err(|_| std::io::Error::other("upload stopped"))
    }
}

/// Streams `source` compressed into `key`. At the end of the stream `check` decides (e.g. the
/// dump tool's exit status) whether the object is committed. On any error the upload is
/// aborted, so no partial object ever stands at `key`.
///
/// Three stages run at once: reading the source, compressing (zstd's own worker threads, fed
/// from a blocking thread, so compression never stalls the runtime and is never flushed early),
/// and hashing + uploading. Bounded channels between them keep memory flat.
pub async fn upload<'s, R, F>(
    mut source: R,
    targets: impl Into<Targets<'s>>,
    key: &str,
    level: i32,
    raw_counter: Arc<AtomicU64>,
    check: F,
) -> Result<Uploaded, PipelineError>
where
    R: AsyncRead + Unpin,
    F: std::future::Future<Output = Result<(), crate::drivers::StageError>>,
{
    let Targets { stores, encryptor } = targets.into();
    let mut writer = FanOut::open(&stores, key)
        .await
        .map_err(PipelineError::Upload)?;
    let (raw_tx, mut raw_rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
    let (zst_tx, zst_rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
    let compressor = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let out = Sealed::new(
            ToUploader {
                tx: zst_tx,
                buf: Vec::with_capacity(PIECE + 128 * 1024),
            },
            encryptor,
        )?;
        let mut enc = zstd::stream::write::Encoder::new(out, level)?;
        enc.multithread(zstd_workers())?;
        enc.include_checksum(true)?;
        while let Some(chunk) = raw_rx.blocking_recv() {
            std::io::Write::write_all(&mut enc, &chunk)?;
        }
        let mut out = enc.finish()?.finish()?;
        out.send()
    });

    let counter = raw_counter.clone();
    let read = async move {
        let raw_tx = raw_tx;
        let raw_counter = counter;
        loop {
            let mut buf = Vec::with_capacity(PIECE);
            while buf.len() < PIECE {
                let n = (&mut source)
                    .take((PIECE - buf.len()) as u64)
                    .read_to_end(&mut buf)
                    .await
                    .map_err(PipelineError::Source)?;
                if n == 0 {
                    break;
                }
            }
            if buf.is_empty() {
                return Ok::<(), PipelineError>(());
            }
            raw_counter.fetch_add(buf.len() as u64, Ordering::Relaxed);
            if raw_tx.send(buf).await.is_err() {
                // The compressor stopped; its own error says why.
                return Ok(());
            }
        }
    };
    let mut hasher = Sha256::new();
    let mut bytes = 0u64;
    let write = async {
        // Owned here, so a failed write drops the receiving end at once: the compressor's
        // next send fails and it stops, instead of waiting on a channel nobody reads.
        let mut zst_rx = zst_rx;
        while let Some(piece) = zst_rx.recv().await {
            hasher.update(&piece);
            bytes += piece.len() as u64;
            writer.write(piece).await.map_err(PipelineError::Upload)?;
        }
        Ok::<(), PipelineError>(())
    };
    // The first error ends both sides: the reader is dropped with the tool's stdout (nothing
    // is drained) and `check`, which owns the tool, is dropped, killing its process group.
    let streamed = tokio::try_join!(read, write).map(|_| ());
    let result = match streamed {
        Err(e) => {
            drop(check);
            let _ = compressor.await;
            Err(e)
        }
        Ok(()) => {
            let compressed = compressor
                .await
                .map_err(|e| PipelineError::Source(std::io::Error::other(e)))
                .and_then(|r| r.map_err(PipelineError::Source));
            match compressed {
                Err(e) => Err(e),
                Ok(()) => match check.await {
                    Err(e) => Err(PipelineError::Tool(e)),
                    Ok(()) => writer
                        .close()
                        .await
                        .map(|_| ())
                        .map_err(PipelineError::Upload),
                },
            }
        }
    };
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
        copies: writer.outcomes(),
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
pub async fn download<W: AsyncWrite + Unpin + ?Sized>(
    store: &ArtifactStore,
    key: &str,
    expected_sha256: &str,
    sink: &mut W,
    raw_counter: Arc<AtomicU64>,
) -> Result<Downloaded, PipelineError> {
    download_decrypting(store, key, expected_sha256, None, sink, raw_counter).await
}

/// `download` of an artifact that may be age-encrypted: with `identity`, the stored bytes
/// (whose sha256 is checked) are decrypted before they are decompressed.
pub async fn download_decrypting<W: AsyncWrite + Unpin + ?Sized>(
    store: &ArtifactStore,
    key: &str,
    expected_sha256: &str,
    identity: Option<&age::x25519::Identity>,
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
    let copy_result = match identity {
        None => {
            let mut decoder = ZstdDecoder::new(BufReader::with_capacity(1 << 20, &mut hashed));
            decoder.multiple_members(true);
            let mut counted = Counted::new(decoder, raw_counter.clone());
            copy_to_sink(&mut counted, sink).await
        }
        Some(id) => match decrypting(&mut hashed, id).await {
            Ok(plain) => {
                let mut decoder = ZstdDecoder::new(BufReader::with_capacity(1 << 20, plain));
                decoder.multiple_members(true);
                let mut counted = Counted::new(decoder, raw_counter.clone());
                copy_to_sink(&mut counted, sink).await
            }
            Err(e) => Err(CopyError::Read(e)),
        },
    };
    // The consumer stopped reading (it failed, or needed only the start): nothing to verify.
    if let Err(CopyError::Write(e)) = copy_result {
        return Err(PipelineError::Sink(e));
    }
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

pub(crate) enum CopyError {
    Read(std::io::Error),
    Write(std::io::Error),
}

pub(crate) async fn copy_to_sink<R: AsyncRead + Unpin, W: AsyncWrite + Unpin + ?Sized>(
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
                    backline_domain::Stage::Dump,
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
