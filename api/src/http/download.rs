//! Downloading a version: streamed from storage as its checksum is checked.

use super::error::{ApiError, ApiQuery, Problem};
use super::{Caller, State};
use axum::body::Body;
use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use backline_domain::Role;
use serde::Deserialize;
use utoipa::IntoParams;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DownloadParams {
    /// Send the age plaintext (`.pgdump.zst` / `.sql.zst`) of an encrypted version, decrypted
    /// with this server's key: admins only, and only where the key is present.
    #[serde(default)]
    pub decrypt: bool,
    /// Read the copy on this named storage (default: the first healthy copy).
    pub storage: Option<String>,
}

/// Download a version: the stored object as it is (compressed, and encrypted when it was),
/// streamed while its sha256 is checked. A tampered object is refused (422) when its size
/// differs or it fits in one 8 MiB chunk; otherwise its last chunk is held back and the
/// transfer fails instead of completing. `sha256sum` of a completed download equals the
/// version's `sha256` (also sent as `X-Backline-Sha256`).
#[utoipa::path(get, operation_id = "downloadBackup", path = "/api/v1/backups/{id}/download", tag = "backups",
    params(("id" = String, Path, description = "backup id"), DownloadParams),
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>, description = "The object's bytes"),
        (status = 403, body = Problem, description = "`decrypt` by a principal below admin"),
        (status = 404, body = Problem), (status = 409, body = Problem, description = "The backup is not a completed version"),
        (status = 422, body = Problem, description = "`decrypt` for a version that is not encrypted; a parallel backup's version (several parts: not one file); the stored object does not match its checksum or size, cannot be read, or cannot be decrypted here")))]
pub async fn download(
    state: State,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<DownloadParams>,
) -> Result<Response, ApiError> {
    if q.decrypt && caller.0.role < Role::Admin {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "decrypting a download (decrypt=true) is for admins; download the version as stored and decrypt it with your age key",
        ));
    }
    let d = state
        .app
        .backups()
        .download(&id, q.decrypt, q.storage.as_deref())
        .await?;
    let mut response = Body::from_stream(d.stream).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    // The file name is `<uuid>.<ext>`: nothing to escape.
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{}\"", d.file_name)) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Some(n) = d.length {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
    }
    if let Some(sha) = d.sha256.and_then(|s| HeaderValue::from_str(&s).ok()) {
        headers.insert("x-backline-sha256", sha);
    }
    Ok(response)
}
