//! A stored artifact streamed out while its sha256 is checked: the bytes as stored, or their
//! age plaintext. Nothing tampered is ever served whole: the last chunk is held back until the
//! whole object was read and matched, so a mismatch ends the stream with an error (the client
//! sees a short, failed transfer) instead of a complete file. An object of one chunk (or whose
//! size differs from the recorded one) is refused before anything is sent: the first 8 MiB are
//! read before the response starts.

use crate::storage::{ArtifactStore, CHUNK_SIZE};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error(
        "the artifact is corrupt: the stored object has {found} bytes, {expected} were recorded"
    )]
    Size { expected: u64, found: u64 },
    #[error("the artifact is corrupt: sha256 mismatch: expected {expected}, the stored object has {found}")]
    Mismatch { expected: String, found: String },
    #[error("reading {key} from storage failed: {message}")]
    Read { key: String, message: String },
    #[error("decrypting the artifact failed: {0}")]
    Decrypt(String),
    #[error("reading the artifact failed: {0}")]
    Stream(String),
}

pub type ByteStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// What is downloaded and what it must be.
pub struct Requested<'a> {
    pub store: &'a ArtifactStore,
    pub key: &'a str,
    pub sha256: &'a str,
    pub bytes: u64,
    /// Decrypt with this identity (the object is age-encrypted).
    pub identity: Option<age::x25519::Identity>,
}

/// Opens the stream; fails up front when the object is missing, has the wrong size, or (when
/// it fits in one chunk) the wrong checksum.
pub async fn open(req: Requested<'_>) -> Result<ByteStream, DownloadError> {
    let read = |e: opendal::Error| DownloadError::Read {
        key: req.key.to_string(),
        message: e.to_string(),
    };
    let found = req.store.operator().stat(req.key).await.map_err(read)?;
    if found.content_length() != req.bytes {
        return Err(DownloadError::Size {
            expected: req.bytes,
            found: found.content_length(),
        });
    }
    let reader = req
        .store
        .operator()
        .reader_with(req.key)
        .chunk(CHUNK_SIZE)
        .concurrent(2)
        .await
        .map_err(read)?;
    let stored = reader.into_bytes_stream(..).await.map_err(read)?;
    let digest = Arc::new(Mutex::new(None));
    let hashed = Hashing {
        inner: Box::pin(stored),
        hasher: Some(Sha256::new()),
        digest: digest.clone(),
    };
    let inner: ByteStream = match req.identity {
        None => Box::pin(hashed),
        Some(identity) => {
            use tokio_util::compat::{FuturesAsyncReadCompatExt, TokioAsyncReadCompatExt};
            let ciphertext = tokio_util::io::StreamReader::new(hashed);
            let buffered = futures::io::BufReader::with_capacity(1 << 20, ciphertext.compat());
            let decrypt = |e: &dyn std::fmt::Display| DownloadError::Decrypt(e.to_string());
            let decryptor = age::Decryptor::new_async_buffered(buffered)
                .await
                .map_err(|e| decrypt(&e))?;
            let plain = decryptor
                .decrypt_async(std::iter::once(&identity as &dyn age::Identity))
                .map_err(|e| decrypt(&e))?;
            Box::pin(tokio_util::io::ReaderStream::with_capacity(
                plain.compat(),
                1 << 20,
            ))
        }
    };
    let mut held = Withheld {
        inner,
        digest,
        expected: req.sha256.to_string(),
        held: None,
        ready: VecDeque::new(),
        ended: false,
    };
    // Up to a chunk is checked before anything is sent: a small object is refused whole.
    while held.ready.iter().map(Bytes::len).sum::<usize>() < CHUNK_SIZE && !held.ended {
        if let Err(e) = held.pump().await {
            return Err(
                match e.into_inner().map(|e| e.downcast::<DownloadError>()) {
                    Some(Ok(d)) => *d,
                    Some(Err(other)) => DownloadError::Stream(other.to_string()),
                    None => DownloadError::Stream("the stream failed".into()),
                },
            );
        }
    }
    Ok(Box::pin(futures::stream::unfold(
        held,
        |mut s| async move {
            loop {
                if let Some(c) = s.ready.pop_front() {
                    return Some((Ok(c), s));
                }
                if s.ended {
                    return None;
                }
                if let Err(e) = s.pump().await {
                    s.ended = true;
                    s.ready.clear();
                    s.held = None;
                    return Some((Err(e), s));
                }
            }
        },
    )))
}

/// The stored bytes, passed on while hashed; the digest is set at their end.
struct Hashing {
    inner: Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>,
    hasher: Option<Sha256>,
    digest: Arc<Mutex<Option<String>>>,
}

impl Stream for Hashing {
    type Item = io::Result<Bytes>;

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        let polled = self.inner.as_mut().poll_next(cx);
        if let std::task::Poll::Ready(item) = &polled {
            match item {
                Some(Ok(chunk)) => {
                    if let Some(h) = self.hasher.as_mut() {
                        h.update(chunk);
                    }
                }
                Some(Err(_)) => self.hasher = None,
                None => {
                    if let Some(h) = self.hasher.take() {
                        let hex = hex::encode(h.finalize());
                        if let Ok(mut d) = self.digest.lock() {
                            *d = Some(hex);
                        }
                    }
                }
            }
        }
        polled
    }
}

/// The output with its last chunk held back until the stored bytes matched.
struct Withheld {
    inner: ByteStream,
    digest: Arc<Mutex<Option<String>>>,
    expected: String,
    held: Option<Bytes>,
    ready: VecDeque<Bytes>,
    ended: bool,
}

impl Withheld {
    /// Reads one more chunk; at the end, releases the held one only if the checksum matched.
    async fn pump(&mut self) -> io::Result<()> {
        match self.inner.next().await {
            Some(Ok(chunk)) => {
                if let Some(prev) = self.held.replace(chunk) {
                    self.ready.push_back(prev);
                }
                Ok(())
            }
            Some(Err(e)) => {
                self.ended = true;
                Err(e)
            }
            None => {
                self.ended = true;
                let found = self.digest.lock().ok().and_then(|d| d.clone());
                match found {
                    Some(f) if f == self.expected => {
                        self.ready.extend(self.held.take());
                        Ok(())
                    }
                    other => {
                        self.held = None;
                        Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            DownloadError::Mismatch {
                                expected: self.expected.clone(),
                                found: other.unwrap_or_else(|| {
                                    "(the object was not read to its end)".into()
                                }),
                            },
                        ))
                    }
                }
            }
        }
    }
}
