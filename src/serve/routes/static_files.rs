//! The embedded files: the viewer under `web/` and the style, glyphs and sprites under `tiles/`,
//! compiled into the binary (no CDN, no files beside it).

use crate::serve::error::ApiError;
use axum::http::{header, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use include_dir::{include_dir, Dir};

/// The viewer (MapLibre page, scripts, styles).
pub static WEB: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/web");
/// The basemap style, glyphs and sprites.
pub static TILES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/tiles");

/// The Content-Type of a file by its extension.
pub fn content_type(path: &str) -> &'static str {
    let ext = path.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    match ext.to_ascii_lowercase().as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "pbf" => "application/x-protobuf",
        "mvt" => "application/vnd.mapbox-vector-tile",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "svg" => "image/svg+xml",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "wasm" => "application/wasm",
        "txt" | "md" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// The embedded file `path` of `dir` as a response, or `None`.
pub fn file(dir: &'static Dir<'static>, path: &str) -> Option<Response> {
    let path = path.trim_start_matches('/');
    if path.split('/').any(|s| s == ".." || s == ".") {
        return None;
    }
    let path = if path.is_empty() || path.ends_with('/') {
        format!("{path}index.html")
    } else {
        path.to_string()
    };
    let f = dir.get_file(&path)?;
    Some(
        (
            [
                (header::CONTENT_TYPE, content_type(&path)),
                (header::CACHE_CONTROL, "public, max-age=300"),
            ],
            f.contents(),
        )
            .into_response(),
    )
}

/// `GET /`: the viewer.
pub async fn index() -> Response {
    file(&WEB, "index.html")
        .unwrap_or_else(|| ApiError::not_found("no viewer page is built in").into_response())
}

/// Any other path: a file under `web/`, else a JSON 404.
pub async fn web_file(method: Method, uri: Uri) -> Response {
    if method == Method::GET || method == Method::HEAD {
        if let Some(r) = file(&WEB, uri.path()) {
            return r;
        }
        return ApiError::not_found(format!("no route or file for GET {}", uri.path()))
            .into_response();
    }
    ApiError {
        status: StatusCode::METHOD_NOT_ALLOWED,
        message: format!("{method} is not allowed: the map service only answers GET"),
    }
    .into_response()
}
