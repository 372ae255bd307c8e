//! `/tiles/…`: TileJSON per layer, vector tiles (gzipped once, cached until the map changes under
//! them, ETag from their bytes and 304), and the embedded style, glyphs and sprites under the
//! repository's `tiles/` folder.

use super::static_files::{file, TILES};
use crate::serve::cache::{etag_of, Entry};
use crate::serve::error::{ApiError, ApiResult};
use crate::serve::layers::{fields, min_zoom, LAYERS};
use crate::serve::state::{Service, State};
use crate::tiles::{TileId, BUFFER};
use axum::body::Bytes;
use axum::extract::{Path, State as AxState};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use std::io::{Read, Write};
use std::sync::Arc;

/// Content-Type of a vector tile.
pub const MVT_TYPE: &str = "application/vnd.mapbox-vector-tile";

/// `GET /tiles/{*path}`: `{layer}.json`, `{layer}/{z}/{x}/{y}.mvt` or an embedded file.
pub async fn dispatch(
    AxState(svc): AxState<Arc<Service>>,
    Path(path): Path<String>,
    headers: HeaderMap,
) -> Response {
    let parts: Vec<&str> = path.split('/').collect();
    let result = match parts.as_slice() {
        [one] if one.ends_with(".json") && LAYERS.contains(&one.trim_end_matches(".json")) => {
            Ok(tilejson(&svc, one.trim_end_matches(".json"), &headers))
        }
        [layer, z, x, y] if y.ends_with(".mvt") || y.parse::<u32>().is_ok() => {
            tile(&svc, layer, z, x, y.trim_end_matches(".mvt"), &headers).await
        }
        _ => file(&TILES, &path).ok_or_else(|| {
            ApiError::not_found(format!(
                "no tile route or file for /tiles/{path}; layers: {}",
                LAYERS.join(", ")
            ))
        }),
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

/// The request's Host, for absolute tile URLs; `localhost` when missing or not a plain host[:port].
pub(crate) fn request_host(headers: &HeaderMap) -> &str {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:[]_".contains(c))
        })
        .unwrap_or("localhost")
}

/// The TileJSON 3.0.0 of `layer`, with absolute tile URLs built from the request's Host.
fn tilejson(svc: &Service, layer: &str, headers: &HeaderMap) -> Response {
    let st = svc.state();
    let host = request_host(headers);
    let (bounds, center) = match st.bounds {
        Some(b) => (
            vec![b.min().x, b.min().y, b.max().x, b.max().y],
            vec![b.center().x, b.center().y, 13.0],
        ),
        None => (
            vec![-180.0, -85.051_129, 180.0, 85.051_129],
            vec![0.0, 0.0, 0.0],
        ),
    };
    let fields: serde_json::Map<String, serde_json::Value> = fields(layer)
        .iter()
        .map(|(k, t)| (k.to_string(), serde_json::Value::from(*t)))
        .collect();
    let doc = serde_json::json!({
        "tilejson": "3.0.0",
        "name": format!("wangge {layer}"),
        "version": "1.0.0",
        "scheme": "xyz",
        "tiles": [format!("http://{host}/tiles/{layer}/{{z}}/{{x}}/{{y}}.mvt")],
        "minzoom": svc.config.min_zoom,
        "maxzoom": svc.config.max_zoom,
        "bounds": bounds,
        "center": center,
        "vector_layers": [{
            "id": layer,
            "fields": fields,
            "minzoom": min_zoom(layer).max(svc.config.min_zoom),
            "maxzoom": svc.config.max_zoom,
        }],
    });
    ([(header::CACHE_CONTROL, "no-cache")], Json(doc)).into_response()
}

/// Whether the client takes gzip (`Accept-Encoding: gzip` or `*`, not with `q=0`).
pub fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut it = item.split(';');
            let name = it.next().unwrap_or("").trim().to_ascii_lowercase();
            let q_zero = it.any(|p| {
                let p = p.trim().replace(' ', "");
                p == "q=0" || p == "q=0.0" || p == "q=0.00" || p == "q=0.000"
            });
            (name == "gzip" || name == "*") && !q_zero
        })
}

pub(crate) fn gzip(raw: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut e = GzEncoder::new(
        Vec::with_capacity(raw.len() / 2 + 64),
        flate2::Compression::new(6),
    );
    e.write_all(raw)?;
    let mut out = e.finish()?;
    // the cache keeps it: no spare capacity
    out.shrink_to_fit();
    Ok(out)
}

/// Renders one tile of layer `li` from state `st` (buildings: from the buildings the source
/// returns for the tile), gzipped; `None` when empty.
async fn render(svc: &Service, st: &Arc<State>, li: usize, id: TileId) -> ApiResult<Option<Bytes>> {
    let records = if LAYERS[li] == "buildings" {
        Some(
            svc.source
                .buildings_in(id.buffered_bounds(BUFFER))
                .await
                .map_err(|e| ApiError::unavailable(e.to_string()))?,
        )
    } else {
        None
    };
    let st = st.clone();
    tokio::task::spawn_blocking(move || -> std::io::Result<Option<Bytes>> {
        let raw = match records {
            Some(r) => crate::serve::layers::buildings(&r).render(id),
            None => st.render(li, id),
        };
        match raw {
            Some(raw) if !raw.is_empty() => Ok(Some(Bytes::from(gzip(&raw)?))),
            _ => Ok(None),
        }
    })
    .await
    .map_err(|e| ApiError::unavailable(format!("rendering tile: {e}")))?
    .map_err(|e| ApiError::unavailable(format!("compressing tile: {e}")))
}

/// Renders (or takes from the cache) one tile of `layer` and answers it. Its ETag is a hash of
/// its bytes, so a tile the new revision did not change keeps its ETag (and its 304).
async fn tile(
    svc: &Arc<Service>,
    layer: &str,
    z: &str,
    x: &str,
    y: &str,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    let li = State::layer_index(layer).ok_or_else(|| {
        ApiError::not_found(format!(
            "unknown layer `{layer}`; layers: {}",
            LAYERS.join(", ")
        ))
    })?;
    let num = |what: &str, s: &str| -> ApiResult<u32> {
        s.parse::<u32>()
            .map_err(|_| ApiError::bad_request(format!("{what} `{s}` is not a whole number ≥ 0")))
    };
    let id = TileId::new(num("z", z)?, num("x", x)?, num("y", y)?)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let st = svc.state();
    // Below a layer's first zoom (buildings: a million footprints) there is nothing to draw.
    let below = id.z < min_zoom(layer).max(svc.config.min_zoom);
    let entry = if below {
        let value = None;
        Entry {
            etag: etag_of(&value),
            value,
        }
    } else {
        match svc.cache.get(li as u8, id) {
            Some(e) => e,
            None => {
                let value = render(svc, &st, li, id).await?;
                let e = Entry {
                    etag: etag_of(&value),
                    value,
                };
                svc.cache.put(st.revision(), li as u8, id, e.clone());
                e
            }
        }
    };
    let etag = format!(
        "W/\"{layer}-{}-{}-{}-{:016x}\"",
        id.z, id.x, id.y, entry.etag
    );
    respond(entry, &etag, headers)
}

/// The answer for a tile whose cache entry is `entry` and ETag `etag`: 304 when the client holds
/// it, 204 when empty, else the MVT, gzipped if the client accepts it.
pub(crate) fn respond(entry: Entry, etag: &str, headers: &HeaderMap) -> ApiResult<Response> {
    let etag_value = HeaderValue::from_str(etag)
        .map_err(|_| ApiError::bad_request("tile address does not fit a header"))?;
    let common = |mut r: Response| {
        let h = r.headers_mut();
        h.insert(header::ETAG, etag_value.clone());
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
        h.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        r
    };
    let matches = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| {
            let t = t.trim();
            t == "*" || t.trim_start_matches("W/") == etag.trim_start_matches("W/")
        });
    if matches {
        return Ok(common(StatusCode::NOT_MODIFIED.into_response()));
    }
    let Some(gz) = entry.value else {
        return Ok(common(StatusCode::NO_CONTENT.into_response()));
    };
    if accepts_gzip(headers) {
        return Ok(common(
            (
                [
                    (header::CONTENT_TYPE, MVT_TYPE),
                    (header::CONTENT_ENCODING, "gzip"),
                ],
                gz,
            )
                .into_response(),
        ));
    }
    let mut raw = Vec::with_capacity(gz.len() * 3);
    GzDecoder::new(&gz[..])
        .read_to_end(&mut raw)
        .map_err(|e| ApiError::unavailable(format!("decompressing cached tile: {e}")))?;
    Ok(common(
        ([(header::CONTENT_TYPE, MVT_TYPE)], raw).into_response(),
    ))
}
