//! Sign-ins, each its own aggregate of one event (so attempts never conflict): who signed in
//! or failed to, from where, and why a failure failed. Never the password tried.

use crate::access::AccessError;
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SignInEvent {
    SignedIn {
        user_id: String,
        username: String,
        /// `password` or `oidc`.
        method: String,
        address: String,
    },
    SignInFailed {
        username: String,
        #[serde(default)]
        user_id: Option<String>,
        /// `wrong password`, `unknown user`, `disabled`, `throttled`, …
        reason: String,
        address: String,
    },
}

impl SignInEvent {
    pub fn name(&self) -> &'static str {
        match self {
            SignInEvent::SignedIn { .. } => "SignedIn",
            SignInEvent::SignInFailed { .. } => "SignInFailed",
        }
    }
}

impl DomainEvent for SignInEvent {
    fn event_type(&self) -> String {
        self.name().to_string()
    }
    fn event_version(&self) -> String {
        "1".to_string()
    }
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignIn {
    pub recorded: bool,
}

impl Aggregate for SignIn {
    const TYPE: &'static str = "SignIn";
    /// The attempt to record.
    type Command = SignInEvent;
    type Event = SignInEvent;
    type Error = AccessError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        if self.recorded {
            return Err(AccessError::AlreadyExists);
        }
        sink.write(command, self).await;
        Ok(())
    }

    fn apply(&mut self, _event: Self::Event) {
        self.recorded = true;
    }
}
