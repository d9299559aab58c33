//! The web UI, embedded from `ui/dist` at build time. When the UI was not built, `/` says how
//! to build it instead (building the binary never requires Node).

use axum::http::{header, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};

#[derive(rust_embed::RustEmbed)]
#[folder = "../ui/dist"]
#[allow_missing = true]
struct Assets;

const NOT_BUILT: &str = r#"<!doctype html><html><head><meta charset="utf-8"><title>Backline</title></head>
<body style="font-family:sans-serif;max-width:40rem;margin:3rem auto">
<h1>Backline</h1><p>The API is running (see <a href="/docs">/docs</a>), but this binary was built without the web UI.</p>
<p>Build it with <code>cd ui &amp;&amp; npm ci &amp;&amp; npm run build</code>, then rebuild Backline
(<code>cargo build --release</code>), or use <code>./scripts/run.sh</code>, which does both.</p></body></html>"#;

fn file(path: &str) -> Option<Response> {
    let f = Assets::get(path)?;
    let mime = f.metadata.mimetype().to_string();
    let cache = if path.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    Some(
        (
            [
                (header::CONTENT_TYPE, mime),
                (header::CACHE_CONTROL, cache.to_string()),
            ],
            f.data.into_owned(),
        )
            .into_response(),
    )
}

/// Serves an asset, or the SPA's index.html for client-side routes.
pub async fn serve(uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    if path.starts_with("api/") {
        return super::error::ApiError::new(StatusCode::NOT_FOUND, "no such route").into_response();
    }
    if !path.is_empty() {
        if let Some(r) = file(path) {
            return r;
        }
    }
    file("index.html").unwrap_or_else(|| Html(NOT_BUILT).into_response())
}
