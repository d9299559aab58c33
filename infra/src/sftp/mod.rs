//! SFTP storage: `sftp://<user>@<host>[:<port>]/<base path>?host_key_fingerprint=SHA256:…`
//! as an OpenDAL service of our own, so it slots into `ArtifactStore` (fan-out, timeouts,
//! retries, verify, import) like every other storage.
//!
//! Why not OpenDAL's `services-sftp`: it drives the system `ssh` through the `openssh` crate
//! but gives no way to name a known_hosts or ssh_config file, so its strict mode trusts
//! whatever the process user's `~/.ssh/known_hosts` holds (and reads `~/.ssh/config`); and its
//! writer writes in place and cannot abort, so a failed upload would leave a half artifact at
//! its final key. Here `ssh` runs pinned exactly as an SSH tunnel does (`conn.rs`), and an
//! artifact is written under `.partial/` and renamed into place when complete (`io.rs`).

mod conn;
mod io;
mod target;

use crate::storage::StorageError;
use conn::Connector;
use opendal::raw::*;
use opendal::{Capability, Error, ErrorKind, OperationContext, Result};
use std::sync::Arc;

/// The operator of an `sftp://` URL (nothing is contacted until the first operation).
pub(crate) fn operator(raw: &str) -> std::result::Result<opendal::Operator, StorageError> {
    let target = target::SftpTarget::parse(raw)?;
    Ok(opendal::Operator::new(SftpBuilder {
        target: Some(target),
    })?)
}

#[derive(Default)]
struct SftpBuilder {
    target: Option<target::SftpTarget>,
}

impl opendal::Builder for SftpBuilder {
    type Config = ();

    fn build(self) -> Result<impl Service> {
        let target = self
            .target
            .ok_or_else(|| Error::new(ErrorKind::ConfigInvalid, "no sftp:// URL"))?;
        let root = target.root.clone();
        Ok(SftpService {
            core: Arc::new(Connector::new(target)),
            info: ServiceInfo::new("sftp", root, ""),
        })
    }
}

#[derive(Clone)]
pub(crate) struct SftpService {
    core: Arc<Connector>,
    info: ServiceInfo,
}

impl std::fmt::Debug for SftpService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SftpService")
            .field("target", &self.core.target)
            .finish()
    }
}

impl Service for SftpService {
    type Reader = oio::StreamReader<io::SftpReader>;
    type Writer = io::SftpWriter;
    type Lister = io::SftpLister;
    type Deleter = oio::OneShotDeleter<io::SftpDeleter>;
    type Copier = ();
    type Composer = ();

    fn info(&self) -> ServiceInfo {
        self.info.clone()
    }

    fn capability(&self) -> Capability {
        Capability {
            stat: true,
            read: true,
            write: true,
            write_can_empty: true,
            write_can_multi: true,
            create_dir: true,
            delete: true,
            list: true,
            rename: true,
            shared: true,
            ..Default::default()
        }
    }

    async fn create_dir(
        &self,
        _ctx: &OperationContext,
        path: &str,
        _: OpCreateDir,
    ) -> Result<RpCreateDir> {
        let s = self.core.session().await?;
        io::create_dirs(&s, &self.core.target.root, path).await?;
        Ok(RpCreateDir::default())
    }

    async fn stat(&self, _ctx: &OperationContext, path: &str, _: OpStat) -> Result<RpStat> {
        let s = self.core.session().await?;
        Ok(RpStat::new(
            io::stat(&s, &self.core.target.abs(path)).await?,
        ))
    }

    fn read(&self, _ctx: &OperationContext, path: &str, _: OpRead) -> Result<Self::Reader> {
        Ok(oio::StreamReader::new(io::SftpReader::new(
            self.core.clone(),
            path,
        )))
    }

    fn write(&self, _ctx: &OperationContext, path: &str, op: OpWrite) -> Result<Self::Writer> {
        if op.append() || op.if_not_exists() {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "sftp storage writes whole objects only",
            ));
        }
        Ok(io::SftpWriter::new(self.core.clone(), path))
    }

    fn delete(&self, _ctx: &OperationContext) -> Result<Self::Deleter> {
        Ok(oio::OneShotDeleter::new(io::SftpDeleter::new(
            self.core.clone(),
        )))
    }

    fn list(&self, _ctx: &OperationContext, path: &str, _: OpList) -> Result<Self::Lister> {
        Ok(io::SftpLister::new(self.core.clone(), path))
    }

    fn copy(&self, _: &OperationContext, _: &str, _: &str, _: OpCopy) -> Result<Self::Copier> {
        Err(Error::new(
            ErrorKind::Unsupported,
            "sftp storage does not copy",
        ))
    }

    async fn rename(
        &self,
        _ctx: &OperationContext,
        from: &str,
        to: &str,
        _: OpRename,
    ) -> Result<RpRename> {
        let s = self.core.session().await?;
        io::rename(&s, &self.core.target, from, to).await?;
        Ok(RpRename::default())
    }

    async fn presign(&self, _: &OperationContext, _: &str, _: OpPresign) -> Result<RpPresign> {
        Err(Error::new(
            ErrorKind::Unsupported,
            "sftp storage does not presign",
        ))
    }
}
