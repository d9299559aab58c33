//! Row bodies as the write-behind buffer keeps them: decoded values (cloned back by `load`
//! without parsing, turned into JSON text once when written) or the text read from the table.

use super::Arg;
use crate::ProjectionError;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::any::Any as AnyValue;
use std::sync::Arc;

/// A row body kept decoded until it is written: what `load` clones back without parsing.
pub(crate) trait Body: Send + Sync {
    fn text(&self) -> Result<String, serde_json::Error>;
    fn any(&self) -> &dyn AnyValue;
}

impl<T: Serialize + Send + Sync + 'static> Body for T {
    fn text(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }
    fn any(&self) -> &dyn AnyValue {
        self
    }
}

/// A row's body as this transaction sees it.
#[derive(Clone)]
pub(super) enum Known {
    Text(String),
    Value(Arc<dyn Body>),
}

impl Known {
    pub(super) fn of(a: &Arg) -> Known {
        match a {
            Arg::B(b) => Known::Value(b.clone()),
            other => Known::Text(key_text(other)),
        }
    }

    pub(super) fn decode<T: DeserializeOwned + Clone + 'static>(
        &self,
    ) -> Result<T, ProjectionError> {
        match self {
            Known::Value(b) => match b.any().downcast_ref::<T>() {
                Some(v) => Ok(v.clone()),
                None => Ok(serde_json::from_str(&b.text()?)?),
            },
            Known::Text(t) => Ok(serde_json::from_str(t)?),
        }
    }
}

pub(super) fn key_text(a: &Arg) -> String {
    match a {
        Arg::I(i) => i.to_string(),
        Arg::S(s) => s.clone(),
        Arg::N(n) => n.clone().unwrap_or_default(),
        Arg::B(b) => b.text().unwrap_or_default(),
    }
}
