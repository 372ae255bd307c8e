//! Patrol routes (巡查): handheld terminals post GPS points; the map shows where workers went
//! (H3 heat as GeoJSON and vector tiles) and how well each grid was covered on a day.
//!
//! - `POST /api/patrol/points`: a batch (JSON array of `{worker, time, lon, lat, crs?,
//!   accuracy?}` or a GeoJSON FeatureCollection); all of it is read or none is stored; checked
//!   points (accepted and flagged) are stored once, rejected ones answered with their reason.
//! - `GET /api/heat`, `GET /tiles/heat/{z}/{x}/{y}.mvt`, `GET /tiles/heat.json`: heat cells.
//! - `GET /api/patrol/coverage`, `GET /api/patrol/report`: one local day's figures per grid and
//!   the daily report of grids that missed a patrol.
//!
//! Time windows are bounded ([`MAX_WINDOW_DAYS`]) so one request reads a bounded set of points.

use super::tiles::{accepts_gzip, MVT_TYPE};
use crate::patrol::report::{daily_report, to_csv, TownReport};
use crate::patrol::{
    check, heat, heat_geojson, CheckRules, CoverageIndex, GridCoverage, PatrolPoint, Window,
};
use crate::serve::error::{ApiError, ApiResult};
use crate::serve::state::{Service, State};
use crate::store::patrol::{rows_to_points, PatrolRow};
use crate::tiles::{Feature, Layer, PropValue, TileId};
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State as AxState};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, FixedOffset, NaiveDate, TimeDelta, Utc};
use geo::{BoundingRect, Contains, Coord, MultiPolygon, Point, Polygon, Rect};
use h3o::Resolution;
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

type Params = Result<Query<BTreeMap<String, String>>, QueryRejection>;

/// Largest body of `POST /api/patrol/points` (bytes); larger → 413.
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;
/// Longest time window of a heat request (days).
pub const MAX_WINDOW_DAYS: i64 = 31;
/// Heat resolution when `res=` is not given.
pub const DEFAULT_HEAT_RES: u8 = 10;

/// The zone of local days when a request does not name one: China Standard Time.
pub fn default_zone() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("+08:00 is a valid offset")
}

/// Parses a zone like `+08:00`, `-05:30` or `Z`.
pub fn parse_zone(s: &str) -> Result<FixedOffset, String> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("z") || t == "UTC" {
        return Ok(FixedOffset::east_opt(0).expect("UTC is a valid offset"));
    }
    t.parse::<FixedOffset>()
        .map_err(|_| format!("zone `{s}` is not an offset like +08:00"))
}

/// Coverage of the local `day` in `zone` for every grid of `index`, from stored rows (flagged
/// rows are left out, as the checks say).
pub fn day_coverage(
    index: &CoverageIndex,
    rows: &[PatrolRow],
    day: NaiveDate,
    zone: FixedOffset,
) -> Vec<GridCoverage> {
    let points = rows_to_points(rows.iter().filter(|r| !r.is_flagged()));
    index.coverage(&points, &Window::day(day, zone))
}

/// The UTC-millisecond range `[from, to)` of a window.
pub fn window_ms(w: &Window) -> (i64, i64) {
    (w.from.timestamp_millis(), w.to.timestamp_millis())
}

// ---------------------------------------------------------------- POST /api/patrol/points

/// One point of a batch that could not be read: which record, which field, what.
fn field_err(index: usize, field: &str, what: &str) -> String {
    format!("record {index}: field `{field}`: {what}")
}

/// Reads a JSON array of point objects; every unreadable record is listed.
fn read_array(items: &[serde_json::Value]) -> Result<Vec<PatrolPoint>, Vec<String>> {
    use serde_json::Value;
    let mut workers: BTreeMap<String, Arc<str>> = BTreeMap::new();
    let mut points = Vec::with_capacity(items.len());
    let mut errors = Vec::new();
    for (i, v) in items.iter().enumerate() {
        let Some(o) = v.as_object() else {
            errors.push(format!("record {i}: is not an object"));
            continue;
        };
        let text = |f: &str| -> Result<&str, String> {
            match o.get(f) {
                None | Some(Value::Null) => Err(field_err(i, f, "missing")),
                Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.as_str()),
                Some(_) => Err(field_err(i, f, "is not a non-empty string")),
            }
        };
        let num = |f: &str| -> Result<f64, String> {
            match o.get(f) {
                None | Some(Value::Null) => Err(field_err(i, f, "missing")),
                Some(Value::Number(n)) => {
                    n.as_f64().ok_or_else(|| field_err(i, f, "is not a number"))
                }
                Some(Value::String(s)) => s
                    .trim()
                    .parse::<f64>()
                    .map_err(|_| field_err(i, f, "is not a number")),
                Some(_) => Err(field_err(i, f, "is not a number")),
            }
        };
        let worker = text("worker");
        let time = text("time").and_then(|s| {
            DateTime::parse_from_rfc3339(s.trim())
                .map_err(|e| field_err(i, "time", &format!("`{s}` is not RFC 3339 ({e})")))
        });
        let lon = num("lon");
        let lat = num("lat");
        let crs = match o.get("crs") {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(field_err(i, "crs", "is not a string")),
        };
        let accuracy = match o.get("accuracy") {
            None | Some(Value::Null) => Ok(None),
            Some(_) => num("accuracy").map(Some),
        };
        match (worker, time, lon, lat, crs, accuracy) {
            (Ok(w), Ok(t), Ok(lon), Ok(lat), Ok(crs), Ok(acc)) => {
                let w = workers
                    .entry(w.to_string())
                    .or_insert_with(|| Arc::from(w))
                    .clone();
                let crs = match crs.map(str::trim) {
                    None | Some("") => Ok(crate::crs::Crs::Wgs84),
                    Some(c) => c.parse(),
                };
                points.push(PatrolPoint::new(w, t, lon, lat, crs, acc));
            }
            (w, t, lon, lat, crs, acc) => {
                errors.extend(w.err());
                errors.extend(t.err());
                errors.extend(lon.err());
                errors.extend(lat.err());
                errors.extend(crs.err());
                errors.extend(acc.err());
            }
        }
    }
    if errors.is_empty() {
        Ok(points)
    } else {
        Err(errors)
    }
}

/// Reads a batch: a JSON array of points or a GeoJSON FeatureCollection.
pub fn read_batch(body: &[u8]) -> Result<Vec<PatrolPoint>, Vec<String>> {
    let text = std::str::from_utf8(body).map_err(|e| vec![format!("body is not UTF-8: {e}")])?;
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| vec![format!("body is not JSON: {e}")])?;
    match &v {
        serde_json::Value::Array(items) => read_array(items),
        serde_json::Value::Object(o) if o.get("type").and_then(|t| t.as_str()).is_some() => {
            let r = crate::patrol::read_geojson("body", text, &Default::default())
                .map_err(|e| vec![e.to_string()])?;
            if r.errors.is_empty() {
                Ok(r.points)
            } else {
                Err(r.errors.iter().map(ToString::to_string).collect())
            }
        }
        _ => Err(vec![
            "body is neither a JSON array of points nor a GeoJSON FeatureCollection".into(),
        ]),
    }
}

/// `POST /api/patrol/points`.
pub async fn post_points(AxState(svc): AxState<Arc<Service>>, body: Bytes) -> ApiResult<Response> {
    let points = read_batch(&body)
        .map_err(|errs| ApiError::bad_request(format!("nothing stored: {}", errs.join("; "))))?;
    // Of duplicates the first received is kept: its index is the one answered.
    let mut index_of = BTreeMap::new();
    for (i, p) in points.iter().enumerate() {
        index_of.entry(p.dedupe_key()).or_insert(i);
    }
    let checked = check(points, &CheckRules::new(Utc::now().fixed_offset()));
    let listed = |issues: &[crate::patrol::Issue]| -> Vec<serde_json::Value> {
        let mut v: Vec<(usize, serde_json::Value)> = issues
            .iter()
            .map(|is| {
                let i = index_of.get(&is.point.dedupe_key()).copied().unwrap_or(0);
                (
                    i,
                    serde_json::json!({
                        "index": i,
                        "code": is.reason.code(),
                        "reason": is.reason.to_string(),
                    }),
                )
            })
            .collect();
        v.sort_by_key(|(i, _)| *i);
        v.into_iter().map(|(_, j)| j).collect()
    };
    let flagged = listed(&checked.flagged);
    let rejected = listed(&checked.rejected);
    let rows = PatrolRow::from_checked(&checked);
    let ins = svc
        .source
        .insert_patrol(rows)
        .await
        .map_err(|e| ApiError::unavailable(e.to_string()))?;
    Ok(Json(serde_json::json!({
        "stored": ins.inserted,
        "flagged": flagged,
        "rejected": rejected,
        "duplicates": checked.duplicates + ins.duplicates,
        "duplicates_in_batch": checked.duplicates,
        "already_stored": ins.duplicates,
    }))
    .into_response())
}

/// `GET /api/patrol/points?from=&to=`: the stored points of a window (default today, +08:00) as
/// GeoJSON Point features with `worker`, `time`, `crs`, `accuracy` and `flag` (null unless a
/// check flagged the point).
pub async fn get_points(AxState(svc): AxState<Arc<Service>>, q: Params) -> ApiResult<Response> {
    let Query(q) = q?;
    let w = window_of(&q)?;
    let (from, to) = window_ms(&w);
    let rows = svc
        .source
        .patrol_points(from, to)
        .await
        .map_err(|e| ApiError::unavailable(e.to_string()))?;
    let features: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [r.lon, r.lat]},
                "properties": {
                    "worker": r.worker,
                    "time": r.time,
                    "crs": r.crs,
                    "accuracy": r.accuracy_m,
                    "flag": r.flag,
                },
            })
        })
        .collect();
    Ok((
        [(header::CONTENT_TYPE, "application/geo+json")],
        serde_json::json!({"type": "FeatureCollection", "features": features}).to_string(),
    )
        .into_response())
}

// ---------------------------------------------------------------- windows and days

fn parse_time(q: &BTreeMap<String, String>, key: &str) -> ApiResult<Option<DateTime<FixedOffset>>> {
    q.get(key)
        .map(|s| {
            DateTime::parse_from_rfc3339(s.trim()).map_err(|e| {
                ApiError::bad_request(format!(
                    "`{key}={s}` is not an RFC 3339 time like 2024-05-01T08:00:00+08:00 ({e})"
                ))
            })
        })
        .transpose()
}

fn zone_of(q: &BTreeMap<String, String>) -> ApiResult<FixedOffset> {
    match q.get("zone") {
        None => Ok(default_zone()),
        Some(z) => parse_zone(z).map_err(ApiError::bad_request),
    }
}

/// `from=`/`to=` of a request; today in +08:00 when both are missing.
fn window_of(q: &BTreeMap<String, String>) -> ApiResult<Window> {
    let zone = zone_of(q)?;
    let today = Window::day(Utc::now().with_timezone(&zone).date_naive(), zone);
    let w = match (parse_time(q, "from")?, parse_time(q, "to")?) {
        (None, None) => today,
        (Some(from), None) => Window {
            from,
            to: from + TimeDelta::days(1),
        },
        (None, Some(to)) => Window {
            from: to - TimeDelta::days(1),
            to,
        },
        (Some(from), Some(to)) => Window { from, to },
    };
    if w.to <= w.from {
        return Err(ApiError::bad_request("`to` must be after `from`"));
    }
    if w.to - w.from > TimeDelta::days(MAX_WINDOW_DAYS) {
        return Err(ApiError::bad_request(format!(
            "the window from `from` to `to` is longer than {MAX_WINDOW_DAYS} days"
        )));
    }
    Ok(w)
}

/// `day=` of a request; today in the request's zone when missing.
fn day_of(q: &BTreeMap<String, String>, zone: FixedOffset) -> ApiResult<NaiveDate> {
    let Some(s) = q.get("day") else {
        return Ok(Utc::now().with_timezone(&zone).date_naive());
    };
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| ApiError::bad_request(format!("`day={s}` is not a date like 2024-05-01")))
}

fn village_of(st: &State, q: &BTreeMap<String, String>) -> ApiResult<Option<usize>> {
    q.get("village")
        .map(|v| {
            st.village_by_code
                .get(v.trim())
                .copied()
                .ok_or_else(|| ApiError::not_found(format!("no village with code `{v}`")))
        })
        .transpose()
}

/// Accepted (unflagged) points of the window, as points.
async fn window_points(svc: &Service, w: &Window) -> ApiResult<Vec<PatrolPoint>> {
    let (from, to) = window_ms(w);
    let rows = svc
        .source
        .patrol_points(from, to)
        .await
        .map_err(|e| ApiError::unavailable(e.to_string()))?;
    Ok(rows_to_points(rows.iter().filter(|r| !r.is_flagged())))
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::unavailable(format!("computing: {e}")))
}

// ---------------------------------------------------------------- heat

fn inside(area: &MultiPolygon<f64>, bbox: Option<Rect<f64>>, p: &PatrolPoint) -> bool {
    let c = Coord { x: p.lon, y: p.lat };
    bbox.is_some_and(|b| {
        c.x >= b.min().x && c.x <= b.max().x && c.y >= b.min().y && c.y <= b.max().y
    }) && area.contains(&Point::from(c))
}

/// `GET /api/heat?from=&to=&res=&village=`: one Feature per H3 cell with points.
pub async fn heat_geojson_route(
    AxState(svc): AxState<Arc<Service>>,
    q: Params,
) -> ApiResult<Response> {
    let Query(q) = q?;
    let w = window_of(&q)?;
    let res = match q.get("res") {
        None => DEFAULT_HEAT_RES,
        Some(s) => s
            .trim()
            .parse::<u8>()
            .ok()
            .filter(|r| *r <= 15)
            .ok_or_else(|| {
                ApiError::bad_request(format!("`res={s}` is not an H3 resolution 0..=15"))
            })?,
    };
    let res =
        Resolution::try_from(res).map_err(|e| ApiError::bad_request(format!("`res`: {e}")))?;
    let st = svc.state();
    let village = village_of(&st, &q)?;
    let mut points = window_points(&svc, &w).await?;
    let fc = blocking(move || {
        if let Some(vi) = village {
            if let Some(v) = st.snapshot.villages.get(vi) {
                let bbox = v.boundary.bounding_rect();
                points.retain(|p| inside(&v.boundary, bbox, p));
            }
        }
        heat_geojson(&heat(points.iter(), res))
    })
    .await?;
    Ok((
        [(header::CONTENT_TYPE, "application/geo+json")],
        fc.to_string(),
    )
        .into_response())
}

/// The heat resolution drawn at zoom `z`: coarser when zoomed out.
pub fn tile_res(z: u8) -> u8 {
    (z as i32 - 5).clamp(4, 10) as u8
}

/// The heat layer of `points` on tile `id` (uncompressed MVT), `None` when empty.
pub fn render_heat_tile(points: &[PatrolPoint], id: TileId) -> Option<Vec<u8>> {
    let res = Resolution::try_from(tile_res(id.z)).ok()?;
    let b = id.bounds();
    // Cells reaching into the tile may have their points outside it: take a tile's width around.
    let (dx, dy) = (b.width(), b.height());
    let near: Vec<&PatrolPoint> = points
        .iter()
        .filter(|p| {
            p.lon >= b.min().x - dx
                && p.lon <= b.max().x + dx
                && p.lat >= b.min().y - dy
                && p.lat <= b.max().y + dy
        })
        .collect();
    if near.is_empty() {
        return None;
    }
    let features = heat(near, res)
        .into_iter()
        .map(|h| {
            let mut ring: Vec<Coord> = h
                .cell
                .boundary()
                .iter()
                .map(|ll| Coord {
                    x: ll.lng(),
                    y: ll.lat(),
                })
                .collect();
            if let Some(first) = ring.first().copied() {
                ring.push(first);
            }
            Feature {
                id: u64::from(h.cell),
                geometry: MultiPolygon(vec![Polygon::new(ring.into(), vec![])]),
                props: vec![
                    ("h3".into(), PropValue::Str(h.cell.to_string())),
                    (
                        "res".into(),
                        PropValue::Int(u8::from(h.cell.resolution()) as i64),
                    ),
                    ("points".into(), PropValue::Int(h.points as i64)),
                    ("workers".into(), PropValue::Int(h.workers as i64)),
                ],
            }
        })
        .collect();
    Layer::polygons("heat", features)
        .render(id)
        .filter(|t| !t.is_empty())
}

/// `GET /tiles/heat/{z}/{x}/{y}.mvt?from=&to=`: heat cells as polygons (layer `heat`), not cached.
pub async fn heat_tile(
    AxState(svc): AxState<Arc<Service>>,
    Path((z, x, y)): Path<(String, String, String)>,
    q: Params,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let Query(q) = q?;
    let num = |what: &str, s: &str| -> ApiResult<u32> {
        s.parse::<u32>()
            .map_err(|_| ApiError::bad_request(format!("{what} `{s}` is not a whole number ≥ 0")))
    };
    let y = y.strip_suffix(".mvt").unwrap_or(&y);
    let id = TileId::new(num("z", &z)?, num("x", &x)?, num("y", y)?)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let w = window_of(&q)?;
    let points = window_points(&svc, &w).await?;
    let gz = accepts_gzip(&headers);
    let body = blocking(move || -> std::io::Result<Option<Vec<u8>>> {
        let Some(raw) = render_heat_tile(&points, id) else {
            return Ok(None);
        };
        if !gz {
            return Ok(Some(raw));
        }
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        e.write_all(&raw)?;
        e.finish().map(Some)
    })
    .await?
    .map_err(|e| ApiError::unavailable(format!("compressing tile: {e}")))?;
    let Some(body) = body else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let mut r = ([(header::CONTENT_TYPE, MVT_TYPE)], body).into_response();
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, "no-cache".parse().expect("static"));
    h.insert(header::VARY, "Accept-Encoding".parse().expect("static"));
    if gz {
        h.insert(header::CONTENT_ENCODING, "gzip".parse().expect("static"));
    }
    Ok(r)
}

/// `GET /tiles/heat.json`: TileJSON of the heat layer.
pub async fn heat_tilejson(AxState(svc): AxState<Arc<Service>>, headers: HeaderMap) -> Response {
    let st = svc.state();
    let host = super::tiles::request_host(&headers);
    let bounds = match st.bounds {
        Some(b) => vec![b.min().x, b.min().y, b.max().x, b.max().y],
        None => vec![-180.0, -85.051_129, 180.0, 85.051_129],
    };
    Json(serde_json::json!({
        "tilejson": "3.0.0",
        "name": "wangge heat",
        "description": "patrol points per H3 cell; ?from=&to= (RFC 3339) choose the window, default today (+08:00)",
        "scheme": "xyz",
        "tiles": [format!("http://{host}/tiles/heat/{{z}}/{{x}}/{{y}}.mvt")],
        "minzoom": svc.config.min_zoom,
        "maxzoom": svc.config.max_zoom,
        "bounds": bounds,
        "vector_layers": [{
            "id": "heat",
            "fields": {"h3": "String", "res": "Number", "points": "Number", "workers": "Number"},
        }],
    }))
    .into_response()
}

// ---------------------------------------------------------------- coverage and report

/// Coverage of `day` and its report, computed off the async threads.
async fn day_figures(
    svc: &Service,
    day: NaiveDate,
    zone: FixedOffset,
) -> ApiResult<(Arc<State>, Vec<GridCoverage>, Vec<TownReport>)> {
    let st = svc.state();
    let w = Window::day(day, zone);
    let points = window_points(svc, &w).await?;
    let st2 = st.clone();
    let (cov, rep) = blocking(move || {
        let cov = st2.coverage_index().coverage(&points, &w);
        let rep = daily_report(&st2.snapshot, &cov, day);
        (cov, rep)
    })
    .await?;
    Ok((st, cov, rep))
}

/// `GET /api/patrol/coverage?day=YYYY-MM-DD[&village=][&zone=]`: each grid's figures that day.
pub async fn coverage(AxState(svc): AxState<Arc<Service>>, q: Params) -> ApiResult<Response> {
    let Query(q) = q?;
    let zone = zone_of(&q)?;
    let day = day_of(&q, zone)?;
    let village = village_of(&svc.state(), &q)?;
    let (st, cov, _) = day_figures(&svc, day, zone).await?;
    let grids: Vec<&GridCoverage> = cov
        .iter()
        .filter(|c| {
            village.is_none_or(|vi| {
                st.snapshot
                    .grids
                    .get(c.grid)
                    .is_some_and(|g| g.village == vi)
            })
        })
        .collect();
    Ok(Json(serde_json::json!({
        "day": day.to_string(),
        "zone": zone.to_string(),
        "grids": grids,
    }))
    .into_response())
}

/// `GET /api/patrol/report?day=YYYY-MM-DD[&format=csv][&zone=]`: per town, the grids that missed
/// a patrol or the second one, worst first.
pub async fn report(AxState(svc): AxState<Arc<Service>>, q: Params) -> ApiResult<Response> {
    let Query(q) = q?;
    let zone = zone_of(&q)?;
    let day = day_of(&q, zone)?;
    let csv = match q.get("format").map(String::as_str) {
        None | Some("json") => false,
        Some("csv") => true,
        Some(f) => {
            return Err(ApiError::bad_request(format!(
                "`format={f}`: use json or csv"
            )))
        }
    };
    let (_, _, rep) = day_figures(&svc, day, zone).await?;
    if csv {
        return Ok((
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            to_csv(&rep),
        )
            .into_response());
    }
    Ok(Json(serde_json::json!({
        "day": day.to_string(),
        "zone": zone.to_string(),
        "towns": rep,
    }))
    .into_response())
}
