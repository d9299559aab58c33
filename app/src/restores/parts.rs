//! The verified local copies of a multi-part version (a parallel backup): every part copied
//! and its sha256 checked, and the list of parts checked against the version's own digest,
//! before any tool reads one of them (to restore the version, some of its tables, or to list
//! what it holds).

use super::run::{copy_error, Source};
use crate::core::Core;
use backline_domain::{parts_digest, PartRole, Stage};
use backline_infra::drivers::{Feed, PartFeeds, StageError};
use backline_infra::local_copy::{LocalArtifact, StoredObject};

/// The verified parts, in the version's order.
pub(super) struct VerifiedParts {
    parts: Vec<(PartRole, LocalArtifact)>,
}

impl VerifiedParts {
    /// The parts by role, as the restore loads them.
    pub(super) fn feeds(&self) -> Result<PartFeeds<'_>, StageError> {
        let one = |role: PartRole| -> Result<&dyn Feed, StageError> {
            let mut found = self.parts.iter().filter(|(r, _)| *r == role);
            match (found.next(), found.next()) {
                (Some((_, local)), None) => Ok(local as &dyn Feed),
                _ => Err(StageError::new(
                    Stage::Verify,
                    format!(
                        "this version does not have exactly one {} part; nothing was changed",
                        role.as_str()
                    ),
                )),
            }
        };
        let data: Vec<&dyn Feed> = self
            .parts
            .iter()
            .filter(|(r, _)| *r == PartRole::Data)
            .map(|(_, l)| l as &dyn Feed)
            .collect();
        Ok(PartFeeds {
            pre_data: one(PartRole::PreData)?,
            data,
            post_data: one(PartRole::PostData)?,
        })
    }
}

/// Copies every part of `source`'s version to a private local file (`<name>.<order>`) and
/// checks its sha256; the first mismatch fails the restore before any database is created or
/// changed.
pub(super) async fn verified_parts(
    core: &Core,
    name: &str,
    source: Source<'_>,
) -> Result<VerifiedParts, StageError> {
    let artifact = source.artifact;
    // The list of parts is the one the version recorded (its digest is the version's sha256).
    if parts_digest(&artifact.parts) != source.copy.sha256 {
        return Err(StageError::new(
            Stage::Verify,
            "the version's list of parts does not match its recorded checksum; nothing was changed",
        ));
    }
    let mut ordered = artifact.parts.clone();
    ordered.sort_by_key(|p| p.order);
    let dir = core.settings.data_dir.join("restore-tmp");
    let mut parts = Vec::with_capacity(ordered.len());
    for part in &ordered {
        let object = StoredObject {
            store: source.store,
            key: &part.key,
            sha256: &part.sha256,
            bytes: part.bytes,
        };
        let file = format!("{name}.{:02}", part.order);
        let local = LocalArtifact::fetch(
            object,
            &dir,
            &file,
            source.identity.clone(),
            source.progress.clone(),
        )
        .await
        .map_err(|e| {
            let e = copy_error(e);
            StageError {
                message: format!("part {}: {}", part.name, e.message),
                ..e
            }
        })?;
        parts.push((part.role, local));
    }
    tracing::info!(
        copy = name,
        parts = parts.len(),
        "every part of the version is copied and verified"
    );
    Ok(VerifiedParts { parts })
}
