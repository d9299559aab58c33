//! Reading, writing, listing and deleting over an SFTP session.
//!
//! A write goes to `.partial/<file name>.<id>` under the root and is renamed to its key only
//! when complete, so a server that fails mid-upload (disk full, connection lost) never leaves a
//! half artifact at the final key; `abort` removes the partial file, and the partial sweeps
//! (`partials.rs`) remove what an abort could not.

use super::conn::{Connector, Session};
use super::target::SftpTarget;
use crate::partials::PARTIAL_DIR;
use bytes::{Buf, BytesMut};
use futures::StreamExt;
use opendal::raw::*;
use opendal::{Buffer, BytesRange, EntryMode, Error, ErrorKind, Metadata, MetadataBuilder, Result};
use openssh_sftp_client::error::SftpErrorKind;
use openssh_sftp_client::file::TokioCompatFile;
use openssh_sftp_client::metadata::MetaData;
use std::pin::Pin;
use std::sync::Arc;
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

/// The server's answer as an OpenDAL error: what was done to which path, and its words.
pub(crate) fn sftp_error(what: &str, path: &str, e: openssh_sftp_client::Error) -> Error {
    use openssh_sftp_client::Error as E;
    let (kind, temporary) = match &e {
        E::SftpError(SftpErrorKind::NoSuchFile, _) => (ErrorKind::NotFound, false),
        E::SftpError(SftpErrorKind::PermDenied, _) => (ErrorKind::PermissionDenied, false),
        E::SftpError(SftpErrorKind::OpUnsupported, _) => (ErrorKind::Unsupported, false),
        E::SftpError(_, _) => (ErrorKind::Unexpected, false),
        // The session itself broke (ssh exited, a pipe closed): a new one may work.
        _ => (ErrorKind::Unexpected, true),
    };
    let err = Error::new(kind, format!("sftp {what} {path}: {e}"));
    if temporary {
        err.set_temporary()
    } else {
        err
    }
}

fn io_error(what: &str, path: &str, session: &Session, e: std::io::Error) -> Error {
    let said = session.last_words();
    let tail = if said.is_empty() {
        String::new()
    } else {
        format!(" (ssh: {said})")
    };
    Error::new(
        ErrorKind::Unexpected,
        format!("sftp {what} {path}: {e}{tail}"),
    )
}

pub(crate) fn metadata(m: &MetaData) -> Metadata {
    let mut out = match m.file_type() {
        Some(t) if t.is_dir() => MetadataBuilder::dir(),
        Some(t) if t.is_file() => MetadataBuilder::file(m.len().unwrap_or(0)),
        _ => MetadataBuilder::unknown(),
    };
    if let Some(t) = m.modified() {
        if let Ok(ts) = Timestamp::try_from(t.as_system_time()) {
            out.last_modified(ts);
        }
    }
    out.build()
}

/// The metadata of `abs` on the server.
pub(crate) async fn stat(s: &Session, abs: &str) -> Result<Metadata> {
    let meta = s
        .sftp
        .fs()
        .metadata(abs)
        .await
        .map_err(|e| sftp_error("stat", abs, e))?;
    Ok(metadata(&meta))
}

/// `mkdir -p` of `dir` (relative to `root`): each level made unless it is there already.
pub(crate) async fn create_dirs(s: &Session, root: &str, dir: &str) -> Result<()> {
    let mut fs = s.sftp.fs();
    let mut current = root.to_string();
    for part in dir.split('/').filter(|p| !p.is_empty()) {
        current = format!("{current}/{part}");
        if let Err(e) = fs.create_dir(&current).await {
            // Already there (OpenSSH answers a generic failure): fine when it is a directory.
            match fs.metadata(&current).await {
                Ok(m) if m.file_type().is_some_and(|t| t.is_dir()) => {}
                _ => return Err(sftp_error("mkdir", &current, e)),
            }
        }
    }
    Ok(())
}

/// Creates the root itself (and its parents) when it is missing.
async fn ensure_root(s: &Session, root: &str) -> Result<()> {
    create_dirs(s, "", root).await
}

pub(crate) async fn rename(s: &Session, t: &SftpTarget, from: &str, to: &str) -> Result<()> {
    if let Some((dir, _)) = to.rsplit_once('/') {
        create_dirs(s, &t.root, dir).await?;
    }
    let (from, to) = (t.abs(from), t.abs(to));
    let mut fs = s.sftp.fs();
    if let Err(e) = fs.rename(&from, &to).await {
        // SFTP v3's rename refuses an existing target: replace it (keys are never reused for
        // artifacts; a probe or a manifest written again is the same content).
        if fs.metadata(&to).await.is_err() {
            return Err(sftp_error("rename", &from, e));
        }
        fs.remove_file(&to)
            .await
            .map_err(|e| sftp_error("remove", &to, e))?;
        fs.rename(&from, &to)
            .await
            .map_err(|e| sftp_error("rename", &from, e))?;
    }
    Ok(())
}

/// A write under `.partial/`, renamed to its key on close.
pub(crate) struct SftpWriter {
    core: Arc<Connector>,
    key: String,
    partial: String,
    open: Option<(Arc<Session>, Pin<Box<TokioCompatFile>>)>,
}

impl SftpWriter {
    pub fn new(core: Arc<Connector>, key: &str) -> Self {
        let name = key.rsplit_once('/').map_or(key, |(_, n)| n);
        let partial = format!("{PARTIAL_DIR}{name}.{}", uuid::Uuid::now_v7().simple());
        Self {
            core,
            key: key.to_string(),
            partial,
            open: None,
        }
    }

    async fn file(&mut self) -> Result<&mut (Arc<Session>, Pin<Box<TokioCompatFile>>)> {
        if self.open.is_none() {
            let s = self.core.session().await?;
            let t = &self.core.target;
            ensure_root(&s, &t.root).await?;
            create_dirs(&s, &t.root, PARTIAL_DIR).await?;
            let abs = t.abs(&self.partial);
            let f = s
                .sftp
                .create(&abs)
                .await
                .map_err(|e| sftp_error("create", &abs, e))?;
            self.open = Some((s, Box::pin(TokioCompatFile::new(f))));
        }
        self.open
            .as_mut()
            .ok_or_else(|| Error::new(ErrorKind::Unexpected, "sftp writer not open"))
    }
}

impl oio::Write for SftpWriter {
    async fn write(&mut self, mut bs: Buffer) -> Result<()> {
        let abs = self.core.target.abs(&self.partial);
        let (s, f) = self.file().await?;
        while bs.has_remaining() {
            let n = f
                .write(bs.chunk())
                .await
                .map_err(|e| io_error("write", &abs, s, e))?;
            bs.advance(n);
        }
        Ok(())
    }

    async fn close(&mut self) -> Result<Metadata> {
        let abs = self.core.target.abs(&self.partial);
        let (s, f) = self.file().await?;
        f.shutdown()
            .await
            .map_err(|e| io_error("write", &abs, s, e))?;
        let s = s.clone();
        self.open = None;
        rename(&s, &self.core.target, &self.partial, &self.key).await?;
        stat(&s, &self.core.target.abs(&self.key)).await
    }

    async fn abort(&mut self) -> Result<()> {
        let Some((s, f)) = self.open.take() else {
            return Ok(());
        };
        drop(f);
        let abs = self.core.target.abs(&self.partial);
        match s.sftp.fs().remove_file(&abs).await {
            Ok(()) => Ok(()),
            Err(e) => match sftp_error("remove", &abs, e) {
                e if e.kind() == ErrorKind::NotFound => Ok(()),
                e => Err(e),
            },
        }
    }
}

/// A read of one object from an offset, in chunks.
pub(crate) struct SftpReader {
    core: Arc<Connector>,
    path: String,
}

impl SftpReader {
    pub fn new(core: Arc<Connector>, path: &str) -> Self {
        Self {
            core,
            path: path.to_string(),
        }
    }
}

impl oio::StreamRead for SftpReader {
    async fn open(&self, range: BytesRange) -> Result<(RpRead, Box<dyn oio::ReadStreamDyn>)> {
        let s = self.core.session().await?;
        let abs = self.core.target.abs(&self.path);
        let mut f = s
            .sftp
            .open(&abs)
            .await
            .map_err(|e| sftp_error("open", &abs, e))?;
        if range.offset() != 0 {
            f.seek(std::io::SeekFrom::Start(range.offset()))
                .await
                .map_err(|e| io_error("seek", &abs, &s, e))?;
        }
        let stream = ReadStream {
            _session: s,
            file: f,
            path: abs,
            left: range.size(),
            buf: BytesMut::new(),
        };
        Ok((RpRead::default(), Box::new(stream)))
    }
}

struct ReadStream {
    /// The session lives while the stream does.
    _session: Arc<Session>,
    file: openssh_sftp_client::file::File,
    path: String,
    left: Option<u64>,
    buf: BytesMut,
}

const READ_CHUNK: u64 = 2 << 20;

impl oio::ReadStream for ReadStream {
    async fn read(&mut self) -> Result<Buffer> {
        let want = self.left.unwrap_or(READ_CHUNK).min(READ_CHUNK);
        if want == 0 {
            return Ok(Buffer::new());
        }
        self.buf.reserve(want as usize);
        let got = self
            .file
            .read(want as u32, self.buf.split_off(0))
            .await
            .map_err(|e| sftp_error("read", &self.path, e))?;
        let Some(bytes) = got else {
            return Ok(Buffer::new());
        };
        if let Some(left) = self.left.as_mut() {
            *left = left.saturating_sub(bytes.len() as u64);
        }
        Ok(Buffer::from(bytes.freeze()))
    }
}

/// One directory's entries (the directory itself first); OpenDAL walks deeper for a recursive
/// listing. A directory that is not there lists nothing.
pub(crate) struct SftpLister {
    core: Arc<Connector>,
    path: String,
    entries: Option<std::vec::IntoIter<oio::Entry>>,
}

impl SftpLister {
    pub fn new(core: Arc<Connector>, path: &str) -> Self {
        Self {
            core,
            path: path.to_string(),
            entries: None,
        }
    }

    async fn load(&self) -> Result<Vec<oio::Entry>> {
        let s = self.core.session().await?;
        let abs = self.core.target.abs(&self.path);
        let dir = match s.sftp.fs().open_dir(&abs).await {
            Ok(d) => d,
            Err(e) => {
                return match sftp_error("list", &abs, e) {
                    e if e.kind() == ErrorKind::NotFound => Ok(Vec::new()),
                    e => Err(e),
                }
            }
        };
        let prefix = match self.path.as_str() {
            "/" | "" => String::new(),
            p => format!("{}/", p.trim_end_matches('/')),
        };
        let mut out = vec![oio::Entry::new(
            if prefix.is_empty() { "/" } else { &prefix },
            MetadataBuilder::dir().build(),
        )];
        let mut read = std::pin::pin!(dir.read_dir());
        while let Some(entry) = read.next().await {
            let entry = entry.map_err(|e| sftp_error("list", &abs, e))?;
            let name = entry.filename().to_string_lossy().to_string();
            if name == "." || name == ".." {
                continue;
            }
            let meta = metadata(&entry.metadata());
            let path = match meta.mode() {
                EntryMode::DIR => format!("{prefix}{name}/"),
                _ => format!("{prefix}{name}"),
            };
            out.push(oio::Entry::new(&path, meta));
        }
        Ok(out)
    }
}

impl oio::List for SftpLister {
    async fn next(&mut self) -> Result<Option<oio::Entry>> {
        if self.entries.is_none() {
            self.entries = Some(self.load().await?.into_iter());
        }
        Ok(self.entries.as_mut().and_then(Iterator::next))
    }
}

pub(crate) struct SftpDeleter {
    core: Arc<Connector>,
}

impl SftpDeleter {
    pub fn new(core: Arc<Connector>) -> Self {
        Self { core }
    }
}

impl oio::OneShotDelete for SftpDeleter {
    async fn delete_once(&self, path: String, _: OpDelete) -> Result<()> {
        let s = self.core.session().await?;
        let abs = self.core.target.abs(&path);
        let mut fs = s.sftp.fs();
        let done = match path.ends_with('/') {
            true => fs.remove_dir(&abs).await,
            false => fs.remove_file(&abs).await,
        };
        match done {
            Ok(()) => Ok(()),
            Err(e) => match sftp_error("remove", &abs, e) {
                e if e.kind() == ErrorKind::NotFound => Ok(()),
                e => Err(e),
            },
        }
    }
}
