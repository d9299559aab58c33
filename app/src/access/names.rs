//! The names actors are known by, for the `actor_name` of each event's metadata: system
//! actors by rule, people and tokens as this process last authenticated or made them.

use std::collections::HashMap;
use std::sync::RwLock;

#[derive(Debug, Default)]
pub struct ActorNames {
    known: RwLock<HashMap<String, String>>,
}

impl ActorNames {
    pub fn remember(&self, actor: &str, name: &str) {
        let mut known = self.known.write().unwrap_or_else(|e| e.into_inner());
        if known.get(actor).map(String::as_str) != Some(name) {
            known.insert(actor.to_string(), name.to_string());
        }
    }

    /// The display name of `actor`.
    pub fn name_of(&self, actor: &str) -> String {
        match actor {
            "system:scheduler" => return "scheduler".into(),
            "system:retention" => return "retention".into(),
            "system:sealer" => return "sealer".into(),
            "system:startup" => return "startup".into(),
            "system:cli" => return "command line".into(),
            super::OIDC_ACTOR => return "single sign-on".into(),
            "import" => return "import".into(),
            super::BOOTSTRAP_ACTOR => return "bootstrap admin token".into(),
            _ => {}
        }
        let known = self.known.read().unwrap_or_else(|e| e.into_inner());
        known
            .get(actor)
            .cloned()
            .unwrap_or_else(|| actor.to_string())
    }
}
