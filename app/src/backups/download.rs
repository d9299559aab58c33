//! Downloading a version: its stored object streamed out while the sha256 is checked (see
//! `backline_infra::download`), or its age plaintext when asked and the key is here.

use super::Backups;
use crate::error::AppError;
use backline_domain::{Backup, BackupStatus, Engine};
use backline_infra::download::{self, ByteStream, DownloadError, Requested};

/// A download ready to be sent.
pub struct Download {
    /// The object's file name (`<backup id>.pgdump.zst[.age]`; without `.age` when decrypted).
    pub file_name: String,
    /// The exact length, when known up front (as stored).
    pub length: Option<u64>,
    /// The sha256 of the bytes sent, when they are the stored ones.
    pub sha256: Option<String>,
    pub stream: ByteStream,
}

/// The manual restore command for a version, as the version page shows it: the downloaded
/// object's checksum checked first, then the raw tools (`$DB` names the new database,
/// `$AGE_KEY` the age key file). Database names and file names are validated (letters,
/// digits, `_.-`; a uuid and an extension), so nothing needs shell quoting.
pub fn manual_restore_command(
    engine: Engine,
    database_name: &str,
    file_name: &str,
    sha256: &str,
    encrypted: bool,
) -> String {
    let mut setup = format!("DB={database_name}_restored");
    let read = if encrypted {
        setup.push_str(" AGE_KEY=backline-age.key");
        format!("age -d -i \"$AGE_KEY\" {file_name} | zstd -dc")
    } else {
        format!("zstd -dc {file_name}")
    };
    let check = format!("echo '{sha256}  {file_name}' | sha256sum -c -");
    match engine {
        Engine::Postgres => format!(
            "{setup}; {check} && createdb \"$DB\" && {read} | pg_restore --no-owner -d \"$DB\""
        ),
        Engine::Mysql => {
            format!("{setup}; {check} && mariadb-admin create \"$DB\" && {read} | mariadb \"$DB\"")
        }
    }
}

impl Backups {
    /// Opens the download of version `backup_id` (from the copy on `storage`, or the first
    /// healthy one); `decrypt` asks for the plaintext of an encrypted artifact.
    pub async fn download(
        &self,
        backup_id: &str,
        decrypt: bool,
        storage: Option<&str>,
    ) -> Result<Download, AppError> {
        let core = &self.core;
        let backup = core
            .ledger
            .load::<Backup>(backup_id)
            .await
            .map_err(AppError::internal)?
            .ok_or_else(|| AppError::NotFound(format!("no backup with id {backup_id}")))?;
        let artifact = match (&backup.status, &backup.artifact) {
            (BackupStatus::Completed, Some(a)) => a,
            _ => {
                return Err(AppError::Conflict(format!(
                    "backup {backup_id} is {}: only a completed version can be downloaded",
                    backup.status.as_str()
                )))
            }
        };
        if artifact.is_multipart() {
            let names: Vec<&str> = artifact.parts.iter().map(|p| p.name.as_str()).collect();
            return Err(AppError::Unprocessable(format!(
                "this version is a parallel backup stored as {} parts ({}): it cannot be \
                 downloaded as one file; restore it through Backline, or copy its parts from \
                 storage (their keys and sha256 are in the version's manifest) and load them \
                 with pg_restore in order: pre-data, the data parts, post-data",
                names.len(),
                names.join(", ")
            )));
        }
        let identity = match (decrypt, artifact.encrypted) {
            (false, _) => None,
            (true, false) => {
                return Err(AppError::invalid(
                    "decrypt",
                    "this version is not encrypted: download it without decrypt",
                ))
            }
            (true, true) => Some(core.age_identity().ok_or_else(|| {
                AppError::Unprocessable(format!(
                    "this server has no age identity at {}: it cannot decrypt; download the version as stored and decrypt it with your key",
                    core.settings.age_identity_file().display()
                ))
            })?),
        };
        let (store, copy) = crate::restores::pick_copy(core, artifact, storage)
            .await
            .map_err(|e| AppError::Unprocessable(e.message))?;
        let stored_name = copy.key.rsplit('/').next().unwrap_or(&copy.key).to_string();
        let plaintext = identity.is_some();
        let stream = download::open(Requested {
            store: &store,
            key: &copy.key,
            sha256: &copy.sha256,
            bytes: artifact.bytes,
            identity,
        })
        .await
        .map_err(|e| match e {
            DownloadError::Read { .. } => AppError::Unprocessable(e.to_string()),
            other => {
                tracing::warn!(backup_id, key = copy.key, error = %other, "a download was refused");
                AppError::Unprocessable(format!("{other}; nothing was sent"))
            }
        })?;
        Ok(Download {
            file_name: if plaintext {
                stored_name.trim_end_matches(".age").to_string()
            } else {
                stored_name
            },
            length: (!plaintext).then_some(artifact.bytes),
            sha256: (!plaintext).then(|| copy.sha256.clone()),
            stream,
        })
    }
}
