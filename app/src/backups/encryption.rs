//! Which artifacts are encrypted, and with which keys.

use crate::core::Core;
use crate::settings::Settings;
use backline_infra::encryption::{age, AgeKeys, EncryptionError};

/// `BACKLINE_ENCRYPT`: `all`, `none`, or the names of the databases whose artifacts are encrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EncryptPolicy {
    None,
    All,
    Only(Vec<String>),
}

impl EncryptPolicy {
    pub(crate) fn parse(s: &str) -> Self {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "none" | "false" | "no" | "off" => EncryptPolicy::None,
            "all" | "true" | "yes" | "on" => EncryptPolicy::All,
            _ => EncryptPolicy::Only(
                s.split(',')
                    .map(|n| n.trim().to_string())
                    .filter(|n| !n.is_empty())
                    .collect(),
            ),
        }
    }

    fn covers(&self, database_name: &str) -> bool {
        match self {
            EncryptPolicy::None => false,
            EncryptPolicy::All => true,
            EncryptPolicy::Only(names) => names.iter().any(|n| n == database_name),
        }
    }
}

/// The server's identity: loaded when its file exists (older encrypted backups stay
/// restorable), made when encryption is on and it does not exist yet.
pub(crate) fn load_keys(settings: &Settings) -> Result<Option<AgeKeys>, EncryptionError> {
    let path = settings.age_identity_file();
    let wanted = EncryptPolicy::parse(&settings.encrypt) != EncryptPolicy::None;
    if !wanted && !path.exists() {
        if !settings.age_recipients.is_empty() {
            tracing::warn!(
                "BACKLINE_AGE_RECIPIENTS is set but BACKLINE_ENCRYPT is none: nothing is encrypted"
            );
        }
        return Ok(None);
    }
    let (keys, created) = AgeKeys::load_or_create(&path, &settings.age_recipients)?;
    if created {
        tracing::info!(path = %path.display(), recipient = keys.server_recipient(), "created the server's age identity (mode 0600); back it up: without it (or an extra recipient's key) encrypted backups cannot be read");
    }
    Ok(Some(keys))
}

/// An encryptor and its recipients when `database_name`'s artifacts are to be encrypted.
pub(crate) fn encryption_for(
    core: &Core,
    database_name: &str,
) -> Option<(age::Encryptor, Vec<String>)> {
    let keys = core.age.as_ref()?;
    EncryptPolicy::parse(&core.settings.encrypt)
        .covers(database_name)
        .then(|| (keys.encryptor(), keys.recipients()))
}

#[cfg(test)]
mod tests {
    use super::EncryptPolicy;

    #[test]
    fn policy_reads_all_none_and_names() {
        assert_eq!(EncryptPolicy::parse("none"), EncryptPolicy::None);
        assert_eq!(EncryptPolicy::parse("ALL"), EncryptPolicy::All);
        let p = EncryptPolicy::parse("shop, crm");
        assert!(p.covers("crm") && !p.covers("blog"));
    }
}
