//! Where one backup stream goes: every destination store at once (fan-out), optionally
//! age-encrypted on the way. Used by `pipeline::upload`.

use crate::partials::PARTIAL_DIR;
use crate::storage::{ArtifactStore, CHUNK_SIZE, CONCURRENT_PARTS};
use age::x25519;
use std::io::Write;

/// The stores one artifact is written to, and the encryptor it passes through first.
pub struct Targets<'a> {
    pub stores: Vec<&'a ArtifactStore>,
    pub encryptor: Option<age::Encryptor>,
}

impl<'a> From<&'a ArtifactStore> for Targets<'a> {
    fn from(store: &'a ArtifactStore) -> Self {
        Targets {
            stores: vec![store],
            encryptor: None,
        }
    }
}

/// How the copy on one destination ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyOutcome {
    /// The store's label (URL without credentials).
    pub storage: String,
    /// Why this copy failed; `None` when it was committed.
    pub error: Option<String>,
}

struct Copy {
    label: String,
    writer: Option<opendal::Writer>,
    error: Option<String>,
    /// A store that writes an object in one request (OpenDAL's WebDAV service: a single PUT).
    one_shot: Option<OneShot>,
}

/// The pieces are held here and written once, on close, under `.partial/`, then renamed into
/// place: a server that dies during the PUT leaves no half artifact at the final key.
struct OneShot {
    pieces: Vec<opendal::Buffer>,
    op: opendal::Operator,
    partial: String,
    key: String,
}

/// Writers on every destination, fed the same pieces in lockstep: a slow destination slows
/// the others but never changes their bytes; a failing one is aborted and dropped while the
/// others go on. Only when every copy failed does a write fail.
pub(crate) struct FanOut {
    copies: Vec<Copy>,
}

impl FanOut {
    pub(crate) async fn open(stores: &[&ArtifactStore], key: &str) -> Result<Self, opendal::Error> {
        let mut copies = Vec::with_capacity(stores.len());
        let mut last_err = None;
        for store in stores {
            let one_shot = store.writes_in_one_shot().then(|| OneShot {
                pieces: Vec::new(),
                op: store.operator().clone(),
                partial: format!(
                    "{PARTIAL_DIR}{}",
                    key.rsplit_once('/').map_or(key, |(_, name)| name)
                ),
                key: key.to_string(),
            });
            let opened = match &one_shot {
                None => {
                    store
                        .operator()
                        .writer_with(key)
                        .chunk(CHUNK_SIZE)
                        .concurrent(CONCURRENT_PARTS)
                        .await
                }
                Some(o) => store.operator().writer(&o.partial).await,
            };
            match opened {
                Ok(w) => copies.push(Copy {
                    label: store.label().to_string(),
                    writer: Some(w),
                    error: None,
                    one_shot,
                }),
                Err(e) => {
                    tracing::warn!(storage = store.label(), key, error = %e, "cannot open a destination");
                    copies.push(Copy {
                        label: store.label().to_string(),
                        writer: None,
                        error: Some(e.to_string()),
                        one_shot: None,
                    });
                    last_err = Some(e);
                }
            }
        }
        let fan = Self { copies };
        match (fan.live(), last_err) {
            (0, Some(e)) => Err(e),
            _ => Ok(fan),
        }
    }

    fn live(&self) -> usize {
        self.copies.iter().filter(|c| c.writer.is_some()).count()
    }

    /// Error out when nothing is left to write to, with the copies' own reasons.
    fn require_live(&self) -> Result<(), opendal::Error> {
        if self.live() > 0 {
            return Ok(());
        }
        let reasons: Vec<String> = self
            .copies
            .iter()
            .map(|c| format!("{}: {}", c.label, c.error.as_deref().unwrap_or("?")))
            .collect();
        Err(opendal::Error::new(
            opendal::ErrorKind::Unexpected,
            reasons.join("; "),
        ))
    }

    pub(crate) async fn write(&mut self, piece: Vec<u8>) -> Result<(), opendal::Error> {
        let buf = opendal::Buffer::from(piece);
        let results = futures::future::join_all(self.copies.iter_mut().map(|c| {
            let buf = buf.clone();
            async move {
                match (c.writer.as_mut(), c.one_shot.as_mut()) {
                    (Some(_), Some(o)) => {
                        o.pieces.push(buf);
                        Some(Ok(()))
                    }
                    (Some(w), None) => Some(w.write(buf).await),
                    (None, _) => None,
                }
            }
        }))
        .await;
        for (copy, result) in self.copies.iter_mut().zip(results) {
            if let Some(Err(e)) = result {
                Self::drop_copy(copy, e).await;
            }
        }
        self.require_live()
    }

    async fn drop_copy(copy: &mut Copy, e: opendal::Error) {
        tracing::warn!(storage = copy.label, error = %e, "a destination failed; the other copies go on");
        if let Some(mut w) = copy.writer.take() {
            if let Err(abort) = w.abort().await {
                tracing::warn!(storage = copy.label, error = %abort, "aborting the failed copy failed");
            }
        }
        copy.error = Some(e.to_string());
    }

    /// Commits every live copy.
    pub(crate) async fn close(&mut self) -> Result<(), opendal::Error> {
        let results = futures::future::join_all(self.copies.iter_mut().map(|c| async move {
            let w = c.writer.as_mut()?;
            let Some(o) = c.one_shot.take() else {
                return Some(w.close().await.map(|_| ()));
            };
            let whole: opendal::Buffer = o.pieces.into_iter().flatten().collect();
            if let Err(e) = w.write(whole).await {
                return Some(Err(e));
            }
            if let Err(e) = w.close().await {
                return Some(Err(e));
            }
            Some(o.op.rename(&o.partial, &o.key).await)
        }))
        .await;
        for (copy, result) in self.copies.iter_mut().zip(results) {
            match result {
                Some(Err(e)) => Self::drop_copy(copy, e).await,
                Some(Ok(_)) => copy.writer = None,
                None => {}
            }
        }
        if self.copies.iter().all(|c| c.error.is_some()) {
            // Nothing was committed anywhere.
            let reasons: Vec<String> = self
                .copies
                .iter()
                .map(|c| format!("{}: {}", c.label, c.error.as_deref().unwrap_or("?")))
                .collect();
            return Err(opendal::Error::new(
                opendal::ErrorKind::Unexpected,
                reasons.join("; "),
            ));
        }
        Ok(())
    }

    /// Aborts every copy still open (after a failure of the source or the dump tool).
    pub(crate) async fn abort(&mut self) -> Result<(), opendal::Error> {
        let mut last = Ok(());
        for copy in &mut self.copies {
            if let Some(mut w) = copy.writer.take() {
                if let Err(e) = w.abort().await {
                    last = Err(e);
                }
                copy.error.get_or_insert_with(|| "aborted".into());
            }
        }
        last
    }

    pub(crate) fn outcomes(&self) -> Vec<CopyOutcome> {
        self.copies
            .iter()
            .map(|c| CopyOutcome {
                storage: c.label.clone(),
                error: c.error.clone(),
            })
            .collect()
    }
}

/// The compressor's output: as is, or through an age encryption stream.
pub(crate) enum Sealed<W: Write> {
    Plain(W),
    Age(age::stream::StreamWriter<W>),
}

impl<W: Write> Sealed<W> {
    pub(crate) fn new(inner: W, encryptor: Option<age::Encryptor>) -> std::io::Result<Self> {
        Ok(match encryptor {
            None => Sealed::Plain(inner),
            Some(e) => Sealed::Age(e.wrap_output(inner)?),
        })
    }

    /// Writes the last (authenticated) chunk when encrypting, and gives the writer back.
    pub(crate) fn finish(self) -> std::io::Result<W> {
        match self {
            Sealed::Plain(w) => Ok(w),
            Sealed::Age(w) => w.finish(),
        }
    }
}

impl<W: Write> Write for Sealed<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Sealed::Plain(w) => w.write(buf),
            Sealed::Age(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sealed::Plain(w) => w.flush(),
            Sealed::Age(w) => w.flush(),
        }
    }
}

/// A reader of the plaintext of an age file read from `input`, for `identity`.
pub(crate) async fn decrypting<R>(
    input: R,
    identity: &x25519::Identity,
) -> std::io::Result<impl tokio::io::AsyncRead + Unpin + Send>
where
    R: tokio::io::AsyncRead + Unpin + Send,
{
    use tokio_util::compat::{FuturesAsyncReadCompatExt, TokioAsyncReadCompatExt};
    let buffered = futures::io::BufReader::with_capacity(1 << 20, input.compat());
    let decryptor = age::Decryptor::new_async_buffered(buffered)
        .await
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    let reader = decryptor
        .decrypt_async(std::iter::once(identity as &dyn age::Identity))
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    Ok(reader.compat())
}
