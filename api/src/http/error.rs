//! One error type for every route, rendered as `application/problem+json`.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use backline_app::AppError;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// RFC 9457 problem details.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub detail: String,
    pub errors: Vec<FieldError>,
}

impl ApiError {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            detail: detail.into(),
            errors: Vec::new(),
        }
    }

    pub fn invalid(field: &str, detail: impl Into<String>) -> Self {
        let detail = detail.into();
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            errors: vec![FieldError {
                field: field.to_string(),
                message: detail.clone(),
            }],
            detail,
        }
    }

    /// An internal error: logged with its whole chain (in the request's span, which carries
    /// its id); the client gets only the request id to quote.
    pub fn internal(e: &(dyn std::error::Error + 'static)) -> Self {
        let mut chain = e.to_string();
        let mut source = e.source();
        while let Some(s) = source {
            chain.push_str(": ");
            chain.push_str(&s.to_string());
            source = s.source();
        }
        tracing::error!(error = %chain, "internal error");
        let detail = match crate::telemetry::request_id() {
            Some(id) => {
                format!("internal error (request id {id}); the server's log has the details")
            }
            None => "internal error; the server's log has the details".to_string(),
        };
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, detail)
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::NotFound(m) => ApiError::new(StatusCode::NOT_FOUND, m),
            AppError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, m),
            AppError::Taken { field, message } => ApiError {
                status: StatusCode::CONFLICT,
                errors: vec![FieldError {
                    field: field.to_string(),
                    message: message.clone(),
                }],
                detail: message,
            },
            AppError::Invalid { field, message } => ApiError::invalid(field, message),
            AppError::InvalidFields(fields) => {
                let detail = fields
                    .iter()
                    .map(|f| format!("{}: {}", f.field, f.message))
                    .collect::<Vec<_>>()
                    .join("; ");
                ApiError {
                    status: StatusCode::UNPROCESSABLE_ENTITY,
                    detail,
                    errors: fields
                        .into_iter()
                        .map(|f| FieldError {
                            field: f.field,
                            message: f.message,
                        })
                        .collect(),
                }
            }
            AppError::Unprocessable(m) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, m),
            AppError::Unauthorized(m) => ApiError::new(StatusCode::UNAUTHORIZED, m),
            AppError::Forbidden(m) => ApiError::new(StatusCode::FORBIDDEN, m),
            AppError::Upstream(m) => ApiError::new(StatusCode::BAD_GATEWAY, m),
            AppError::Throttled { message, .. } => {
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, message)
            }
            e @ AppError::Internal { .. } => ApiError::internal(&e),
        }
    }
}

impl From<backline_projections::ProjectionError> for ApiError {
    fn from(e: backline_projections::ProjectionError) -> Self {
        ApiError::from(AppError::from(e))
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        // 415 without a JSON content type, 422 for a well-formed body of the wrong shape,
        // 413 for a body over the limit, 400 for malformed JSON.
        let status = r.status();
        ApiError::new(status, format!("invalid request body: {}", r.body_text()))
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("invalid query string: {}", r.body_text()),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let title = self
            .status
            .canonical_reason()
            .unwrap_or("Error")
            .to_string();
        let body = Problem {
            kind: "about:blank".into(),
            title,
            status: self.status.as_u16(),
            detail: self.detail,
            errors: self.errors,
        };
        (
            self.status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            serde_json::to_string(&body).unwrap_or_default(),
        )
            .into_response()
    }
}

/// `Json` whose rejections are problem+json.
#[derive(axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// `Query` whose rejections are problem+json.
#[derive(axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("the disk said: secret detail")]
    struct Low;

    #[tokio::test]
    async fn internal_errors_name_the_request_not_the_error() {
        let e = AppError::internal(Low);
        let api = ApiError::from(e);
        assert_eq!(api.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!api.detail.contains("secret"), "{}", api.detail);
        assert!(api.detail.starts_with("internal error"), "{}", api.detail);
    }
}
