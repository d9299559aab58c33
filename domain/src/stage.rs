//! Where in a backup or a restore something failed.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The stage a backup or restore failed in. Serialized as its lower-case name; a name this
/// version does not know (from a newer or older Backline) is kept as it was.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum Stage {
    /// Reaching the database server.
    Connect,
    /// Finding or starting the engine's tools.
    Tool,
    /// The dump tool.
    Dump,
    /// Writing to storage.
    Upload,
    /// Writing the manifest beside the artifact.
    Manifest,
    /// The dump wrote nothing for too long and was cancelled.
    Stalled,
    /// Its process died (the lease expired).
    Abandoned,
    /// Preparing a restore (scratch database, local copy, space).
    Prepare,
    /// Reading from storage.
    Download,
    /// The stored object's sha256 is not the recorded one.
    Verify,
    /// The verified artifact does not decrypt or decompress.
    Decrypt,
    Decode,
    /// The restore tool.
    Restore,
    /// Feeding the restore tool.
    Feed,
    /// Putting the restored database in the target's place.
    Swap,
    Cleanup,
    /// Cancelled by someone.
    Cancelled,
    /// A stage this version of Backline does not know.
    Other(String),
}

impl Stage {
    pub fn as_str(&self) -> &str {
        match self {
            Stage::Connect => "connect",
            Stage::Tool => "tool",
            Stage::Dump => "dump",
            Stage::Upload => "upload",
            Stage::Manifest => "manifest",
            Stage::Stalled => "stalled",
            Stage::Abandoned => "abandoned",
            Stage::Prepare => "prepare",
            Stage::Download => "download",
            Stage::Verify => "verify",
            Stage::Decrypt => "decrypt",
            Stage::Decode => "decode",
            Stage::Restore => "restore",
            Stage::Feed => "feed",
            Stage::Swap => "swap",
            Stage::Cleanup => "cleanup",
            Stage::Cancelled => "cancelled",
            Stage::Other(s) => s,
        }
    }

    /// Stages whose failure is storage's, not the database's.
    pub fn is_storage(&self) -> bool {
        matches!(self, Stage::Upload | Stage::Manifest)
    }
}

impl From<String> for Stage {
    fn from(s: String) -> Self {
        match s.as_str() {
            "connect" => Stage::Connect,
            "tool" => Stage::Tool,
            "dump" => Stage::Dump,
            "upload" => Stage::Upload,
            "manifest" => Stage::Manifest,
            "stalled" => Stage::Stalled,
            "abandoned" => Stage::Abandoned,
            "prepare" => Stage::Prepare,
            "download" => Stage::Download,
            "verify" => Stage::Verify,
            "decrypt" => Stage::Decrypt,
            "decode" => Stage::Decode,
            "restore" => Stage::Restore,
            "feed" => Stage::Feed,
            "swap" => Stage::Swap,
            "cleanup" => Stage::Cleanup,
            "cancelled" => Stage::Cancelled,
            _ => Stage::Other(s),
        }
    }
}

impl From<&str> for Stage {
    fn from(s: &str) -> Self {
        Stage::from(s.to_string())
    }
}

impl From<Stage> for String {
    fn from(s: Stage) -> Self {
        s.as_str().to_string()
    }
}

impl Default for Stage {
    fn default() -> Self {
        Stage::Other(String::new())
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_ones_are_kept() {
        for s in [
            Stage::Connect,
            Stage::Upload,
            Stage::Verify,
            Stage::Abandoned,
            Stage::Cancelled,
        ] {
            let v = serde_json::to_value(&s).unwrap();
            assert_eq!(serde_json::from_value::<Stage>(v).unwrap(), s);
        }
        let odd: Stage = serde_json::from_str("\"warp\"").unwrap();
        assert_eq!(odd, Stage::Other("warp".into()));
        assert_eq!(serde_json::to_string(&odd).unwrap(), "\"warp\"");
    }
}
