//! Keyset pagination shared by the list routes: `limit` and `cursor` in, `next` out. A cursor
//! is the history position the next page starts before, so a page is one index range however
//! deep it is, and an item appended meanwhile never shifts one onto two pages.

use super::error::{ApiError, FieldError};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;

/// The largest page any list route gives.
pub(super) const MAX_LIMIT: i64 = 1000;

/// `limit` and `cursor` of a list route that has no other parameter.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// The `next` of the previous page; absent for the first page.
    pub cursor: Option<String>,
    /// Items per page: 1–1000, default 100.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

/// Where a page starts and how long it is.
#[derive(Debug, Clone, Copy)]
pub(super) struct PageRequest {
    pub before: Option<i64>,
    pub limit: i64,
}

/// Checks `cursor` (400 when it is not one this server gives) and `limit` (422 outside
/// 1..=1000; 100 when absent).
pub(super) fn request(cursor: Option<&str>, limit: Option<i64>) -> Result<PageRequest, ApiError> {
    let limit = match limit {
        None => 100,
        Some(n) if (1..=MAX_LIMIT).contains(&n) => n,
        Some(n) => {
            return Err(ApiError::invalid(
                "limit",
                format!("limit must be between 1 and {MAX_LIMIT}, not {n}"),
            ))
        }
    };
    let before = match cursor {
        None => None,
        Some(c) => Some(parse(c).ok_or_else(|| bad_cursor(c))?),
    };
    Ok(PageRequest { before, limit })
}

fn parse(c: &str) -> Option<i64> {
    if c.is_empty() || c.len() > 19 || !c.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    c.parse::<i64>().ok().filter(|n| *n > 0)
}

fn bad_cursor(c: &str) -> ApiError {
    let shown: String = c.chars().take(40).collect();
    let message = format!(
        "cursor {shown:?} is not one this server gives: pass the `next` of the previous page, or no cursor for the first page"
    );
    ApiError {
        status: StatusCode::BAD_REQUEST,
        errors: vec![FieldError {
            field: "cursor".into(),
            message: message.clone(),
        }],
        detail: message,
    }
}

/// The `next` to answer for a page whose following page starts before `n`.
pub(super) fn next(n: Option<i64>) -> Option<String> {
    n.map(|n| n.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_are_positive_positions_and_anything_else_is_a_400() {
        assert_eq!(
            request(Some("42"), None).map(|r| r.before).ok(),
            Some(Some(42))
        );
        for bad in ["", "0", "-1", "abc", "1e3", "99999999999999999999", " 1"] {
            let e = request(Some(bad), None).expect_err(bad);
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{bad}");
        }
        assert_eq!(
            request(None, Some(0)).expect_err("0").status,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(request(None, None).map(|r| r.limit).ok(), Some(100));
    }
}
