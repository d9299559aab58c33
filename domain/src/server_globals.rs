//! A server's globals: what lives outside its databases (PostgreSQL roles and tablespaces,
//! MariaDB users and grants), backed up as versions of their own on the Server aggregate.
//!
//! Role passwords are secrets: a globals version keeps them only when the operator asked
//! (`keep_passwords`), and then only encrypted (the application refuses the setting when no
//! encryption key is configured; the rule is kept here too, from the fact it is given).

use crate::artifact::StoredArtifact;
use crate::backup::Trigger;
use crate::schedule::Schedule;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Whether, when and how a server's globals are backed up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct GlobalsSettings {
    pub enabled: bool,
    /// Keep role/user password hashes (the artifact is then always encrypted).
    #[serde(default)]
    pub keep_passwords: bool,
    /// When scheduled globals backups run (`None`: on demand only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Schedule>,
}

/// What the running process knows about a globals backup it starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlobalsRun {
    pub globals_id: String,
    pub trigger: Trigger,
    /// The tool or method used: `pg_dumpall`, `mariadb-dump`, `show-grants`.
    pub method: String,
    pub tool_version: String,
    pub server_version: String,
    pub keep_passwords: bool,
}

/// The globals part of the Server aggregate's state.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GlobalsState {
    #[serde(default)]
    pub settings: Option<GlobalsSettings>,
    /// Globals backups started and not ended, with whether they keep passwords.
    #[serde(default)]
    pub open: BTreeMap<String, bool>,
    /// The newest claimed scheduled slot and the version that runs it.
    #[serde(default)]
    pub last_slot: Option<(DateTime<Utc>, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GlobalsError {
    #[error("globals backups are not enabled on this server: set globals.enabled first")]
    NotEnabled,
    #[error("globals backup {0} was already started")]
    AlreadyStarted(String),
    #[error("no globals backup {0} is running on this server")]
    NotRunning(String),
    #[error("keep_passwords needs encryption: configure BACKLINE_ENCRYPT (an age key) first, or leave keep_passwords off")]
    PasswordsNeedEncryption,
    #[error("a globals version that keeps passwords must be encrypted")]
    UnencryptedPasswords,
    #[error("globals backups of this server have no schedule")]
    NoSchedule,
    #[error("slot {slot} is already claimed (by globals backup {globals_id})")]
    SlotClaimed { slot: String, globals_id: String },
}

impl GlobalsState {
    /// Passwords are only kept where they can be encrypted.
    pub fn check_settings(
        s: &GlobalsSettings,
        encryption_configured: bool,
    ) -> Result<(), GlobalsError> {
        if s.keep_passwords && !encryption_configured {
            return Err(GlobalsError::PasswordsNeedEncryption);
        }
        Ok(())
    }

    pub fn check_start(&self, run: &GlobalsRun) -> Result<(), GlobalsError> {
        let Some(settings) = self.settings.as_ref().filter(|s| s.enabled) else {
            return Err(GlobalsError::NotEnabled);
        };
        if self.open.contains_key(&run.globals_id) {
            return Err(GlobalsError::AlreadyStarted(run.globals_id.clone()));
        }
        if run.keep_passwords && !settings.keep_passwords {
            return Err(GlobalsError::NotEnabled);
        }
        Ok(())
    }

    pub fn check_claim(&self, slot: DateTime<Utc>) -> Result<(), GlobalsError> {
        let scheduled = self
            .settings
            .as_ref()
            .is_some_and(|s| s.enabled && s.schedule.is_some());
        if !scheduled {
            return Err(GlobalsError::NoSchedule);
        }
        if let Some((last, by)) = &self.last_slot {
            if slot <= *last {
                return Err(GlobalsError::SlotClaimed {
                    slot: last.to_rfc3339(),
                    globals_id: by.clone(),
                });
            }
        }
        Ok(())
    }

    pub fn check_end(
        &self,
        globals_id: &str,
        artifact: Option<&StoredArtifact>,
    ) -> Result<(), GlobalsError> {
        let Some(keep_passwords) = self.open.get(globals_id) else {
            return Err(GlobalsError::NotRunning(globals_id.to_string()));
        };
        if artifact.is_some_and(|a| *keep_passwords && !a.encrypted) {
            return Err(GlobalsError::UnencryptedPasswords);
        }
        Ok(())
    }
}
