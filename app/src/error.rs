//! What can go wrong with a use case, in terms the HTTP layer maps to a status. Internal
//! errors keep their source, so the log shows the whole chain.

use backline_domain::{AlertError, BackupError, ChannelError, DatabaseError, RestoreError};
use cqrs_es::AggregateError;

type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// A conflict on one field of the request (a name already taken).
    #[error("{message}")]
    Taken {
        field: &'static str,
        message: String,
    },
    #[error("{message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// Several fields are invalid at once (every one is reported).
    #[error("{}", .0.iter().map(|f| format!("{}: {}", f.field, f.message)).collect::<Vec<_>>().join("; "))]
    InvalidFields(Vec<FieldError>),
    #[error("{0}")]
    Unprocessable(String),
    /// No credentials, or unknown, revoked or expired ones.
    #[error("{0}")]
    Unauthorized(String),
    /// Valid credentials without the right.
    #[error("{0}")]
    Forbidden(String),
    /// A service we depend on (an OpenID provider) failed or answered wrongly.
    #[error("{0}")]
    Upstream(String),
    /// Too many failures: try again after `retry_after`.
    #[error("{message}")]
    Throttled {
        retry_after: std::time::Duration,
        message: String,
    },
    /// Something that should not happen: logged with its chain, never shown to a client.
    #[error("{context}")]
    Internal {
        context: String,
        #[source]
        source: Option<Source>,
    },
}

impl AppError {
    /// An internal error caused by `e`.
    pub fn internal(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        AppError::Internal {
            context: e.to_string(),
            source: Some(Box::new(e)),
        }
    }

    /// An internal error with no underlying error (a broken invariant).
    pub fn bug(context: impl Into<String>) -> Self {
        AppError::Internal {
            context: context.into(),
            source: None,
        }
    }

    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        AppError::Invalid {
            field,
            message: message.into(),
        }
    }
}

impl From<backline_projections::ProjectionError> for AppError {
    fn from(e: backline_projections::ProjectionError) -> Self {
        AppError::internal(e)
    }
}

impl From<backline_infra::secrets::SecretError> for AppError {
    fn from(e: backline_infra::secrets::SecretError) -> Self {
        AppError::internal(e)
    }
}

impl From<backline_infra::LedgerError> for AppError {
    fn from(e: backline_infra::LedgerError) -> Self {
        AppError::internal(e)
    }
}

/// Maps a command's error: the aggregate's own through `status`, a concurrent change to 409.
pub(crate) fn from_aggregate<E: std::error::Error + Send + Sync + 'static>(
    e: AggregateError<E>,
    status: impl Fn(&E) -> AppError,
) -> AppError {
    match e {
        AggregateError::UserError(u) => status(&u),
        AggregateError::AggregateConflict => {
            AppError::Conflict("the record was changed concurrently; try again".into())
        }
        other => AppError::internal(other),
    }
}

pub(crate) fn database_error(e: &DatabaseError) -> AppError {
    match e {
        DatabaseError::NotFound => AppError::NotFound(e.to_string()),
        DatabaseError::NothingToChange | DatabaseError::NoSchedule => {
            AppError::Unprocessable(e.to_string())
        }
        DatabaseError::BackupJobsOutOfRange(_) | DatabaseError::BackupJobsNotSupported(_) => {
            AppError::invalid("backup_jobs", e.to_string())
        }
        DatabaseError::RestoreJobsOutOfRange(_) | DatabaseError::RestoreJobsNotSupported(_) => {
            AppError::invalid("restore_jobs", e.to_string())
        }
        _ => AppError::Conflict(e.to_string()),
    }
}

pub(crate) fn backup_error(e: &BackupError) -> AppError {
    match e {
        BackupError::DatabaseNotFound | BackupError::NotFound => AppError::NotFound(e.to_string()),
        _ => AppError::Conflict(e.to_string()),
    }
}

pub(crate) fn restore_error(e: &RestoreError) -> AppError {
    match e {
        RestoreError::BackupNotFound | RestoreError::NotFound => AppError::NotFound(e.to_string()),
        RestoreError::EngineMismatch { .. } => {
            AppError::invalid("target_database_id", e.to_string())
        }
        _ => AppError::Conflict(e.to_string()),
    }
}

pub(crate) fn alert_error(e: &AlertError) -> AppError {
    match e {
        AlertError::NotFound => AppError::NotFound(e.to_string()),
        _ => AppError::Conflict(e.to_string()),
    }
}

pub(crate) fn channel_error(e: &ChannelError) -> AppError {
    match e {
        ChannelError::NotFound => AppError::NotFound(e.to_string()),
        ChannelError::EmptyName => AppError::invalid("name", e.to_string()),
        ChannelError::NoRecipients | ChannelError::BadAddress(_) => {
            AppError::invalid("to", e.to_string())
        }
        ChannelError::NoMailServer => AppError::invalid("type", e.to_string()),
        ChannelError::BadUrl(_) | ChannelError::RefusedAddress { .. } => {
            AppError::invalid("url", e.to_string())
        }
        _ => AppError::Conflict(e.to_string()),
    }
}
