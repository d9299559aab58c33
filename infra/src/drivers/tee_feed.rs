//! A feed that also keeps what it feeds: while one `pg_restore` pass loads the rows from the
//! stream, the same decompressed bytes go into a private file beside the verified copy, so
//! that the next pass (indexes and constraints, with `--jobs`) can seek in it. The archive is
//! decompressed once, while the rows load, instead of before anything loads.

use super::{Feed, RawFile, StageError};
use std::io::Write;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use tokio::io::AsyncWrite;

/// `inner`, whose bytes are also written to a file while they are fed.
pub(crate) struct TeeFeed<'a> {
    inner: &'a dyn Feed,
    raw: RawFile,
    writer: Mutex<Option<std::io::BufWriter<std::fs::File>>>,
    /// Set once one whole feed reached the file.
    complete: std::sync::atomic::AtomicBool,
}

impl<'a> TeeFeed<'a> {
    /// `None` where `inner` has no place for such a file, or it cannot be made.
    pub(crate) fn new(inner: &'a dyn Feed) -> Option<Self> {
        match inner.raw_file() {
            Ok(Some((raw, file))) => Some(Self {
                inner,
                raw,
                writer: Mutex::new(Some(std::io::BufWriter::with_capacity(1 << 20, file))),
                complete: Default::default(),
            }),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(error = %e, "pg_restore runs as one job from the verified copy");
                None
            }
        }
    }

    /// The file, once a whole feed reached it (else `None`: a full disk, say).
    pub(crate) fn into_file(self) -> Option<RawFile> {
        self.complete
            .load(std::sync::atomic::Ordering::SeqCst)
            .then_some(self.raw)
    }
}

#[async_trait::async_trait]
impl Feed for TeeFeed<'_> {
    async fn feed(&self, sink: &mut (dyn AsyncWrite + Send + Unpin)) -> Result<(), StageError> {
        let file = self.writer.lock().ok().and_then(|mut w| w.take());
        let Some(file) = file else {
            // The file was written (or given up) by an earlier pass: feed as the inner feed.
            return self.inner.feed(sink).await;
        };
        let mut tee = Tee {
            sink,
            sink_open: true,
            file: Some(file),
        };
        let fed = self.inner.feed(&mut tee).await;
        let kept = tee.file.take().and_then(|mut f| match f.flush() {
            Ok(()) => Some(()),
            Err(e) => {
                tracing::warn!(error = %e, "the decompressed copy could not be written: indexes build with one job");
                None
            }
        });
        if fed.is_ok() && kept.is_some() {
            self.complete
                .store(true, std::sync::atomic::Ordering::SeqCst);
        }
        if !tee.sink_open {
            // The tool stopped reading before the end (it had what it needed): as without the
            // file, its exit status decides.
            return Err(StageError::new(
                backline_domain::Stage::Feed,
                "the restore tool stopped reading before the end",
            ));
        }
        fed
    }
}

/// Writes to the tool and the file; once the tool stops reading, to the file alone (so that
/// the file holds the whole archive); once the file cannot be written, to the tool alone.
struct Tee<'s> {
    sink: &'s mut (dyn AsyncWrite + Send + Unpin),
    sink_open: bool,
    file: Option<std::io::BufWriter<std::fs::File>>,
}

impl Tee<'_> {
    fn keep(&mut self, bytes: &[u8]) {
        if let Some(f) = self.file.as_mut() {
            // A buffered write to a file in the page cache: short enough to do in place.
            if let Err(e) = f.write_all(bytes) {
                tracing::warn!(error = %e, "the decompressed copy could not be written: indexes build with one job");
                self.file = None;
            }
        }
    }
}

impl AsyncWrite for Tee<'_> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        let n = if this.sink_open {
            match Pin::new(&mut *this.sink).poll_write(cx, buf) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(n)) => n,
                Poll::Ready(Err(e)) if this.file.is_some() && broken(&e) => {
                    this.sink_open = false;
                    buf.len()
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            }
        } else if this.file.is_some() {
            buf.len()
        } else {
            return Poll::Ready(Err(std::io::ErrorKind::BrokenPipe.into()));
        };
        this.keep(&buf[..n]);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.close_or_flush(cx, false)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.close_or_flush(cx, true)
    }
}

impl Tee<'_> {
    /// Flushes (or with `shutdown`, shuts down) the tool's end; a tool that stopped reading is
    /// no failure while the file is still being written.
    fn close_or_flush(
        &mut self,
        cx: &mut Context<'_>,
        shutdown: bool,
    ) -> Poll<std::io::Result<()>> {
        if !self.sink_open {
            return Poll::Ready(Ok(()));
        }
        let sink = Pin::new(&mut *self.sink);
        let done = if shutdown {
            sink.poll_shutdown(cx)
        } else {
            sink.poll_flush(cx)
        };
        match done {
            Poll::Ready(Err(e)) if self.file.is_some() && broken(&e) => {
                self.sink_open = false;
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

/// The reader went away (`pg_restore` of one section stops reading once it has it).
fn broken(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
    )
}
