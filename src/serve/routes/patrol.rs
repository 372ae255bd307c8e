//! Patrol routes (巡查): handheld terminals post GPS points; the map shows where workers went
//! (H3 heat as GeoJSON and vector tiles) and how well each grid and each grid worker covered their
//! ground over a day, a week or a month.
//!
//! - `POST /api/patrol/points`: a batch (JSON array of `{worker, time, lon, lat, crs?,
//!   accuracy?}` or a GeoJSON FeatureCollection); all of it is read or none is stored; checked
//!   points (accepted and flagged) are stored once, rejected ones answered with their reason.
//! - `GET /api/heat`, `GET /tiles/heat/{z}/{x}/{y}.mvt`, `GET /tiles/heat.json`: heat cells of a
//!   window (`from`/`to` instants, or `day`, `week`, `month`), from the store's per worker-day cell
//!   counts: a tile reads only the worker-days whose track box meets it.
//! - `GET /api/patrol/coverage`, `GET /api/patrol/report`: the figures per grid and per worker of
//!   a period (`day`, `week`, `month` or `from`/`to` dates), and the daily report of each of its
//!   days. Periods are read one day at a time, so a month never is in memory at once.
//!
//! Windows are bounded ([`MAX_WINDOW_DAYS`]) so one request reads a bounded set of points.

use super::tiles::{gzip, respond};
use crate::patrol::report::{daily_report, to_csv, TownReport};
use crate::patrol::{
    check, heat, heat_geojson, CheckRules, Coverage, GridCoverage, HeatCell, HeatMap, PatrolPoint,
    Period, Roster, Window,
};
use crate::serve::cache::{etag_of, Entry};
use crate::serve::error::{ApiError, ApiResult};
use crate::serve::state::{Service, State};
use crate::store::patrol::codec::CELL_RES;
use crate::store::patrol::{accepted_points, Bbox, PatrolBatch, TrackCells};
use crate::tiles::{Feature, Layer, PropValue, TileId};
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State as AxState};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, FixedOffset, NaiveDate, TimeDelta, Utc};
use geo::{BoundingRect, Contains, Coord, MultiPolygon, Point, Polygon};
use h3o::Resolution;
use std::collections::BTreeMap;
use std::sync::Arc;

type Params = Result<Query<BTreeMap<String, String>>, QueryRejection>;

/// Largest body of `POST /api/patrol/points` (bytes); larger → 413.
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;
/// Longest time window of a request (days).
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
    let batch = PatrolBatch::from_checked(&checked)
        .map_err(|e| ApiError::bad_request(format!("nothing stored: {e}")))?;
    let ins = svc
        .source
        .insert_patrol(batch)
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

/// `GET /api/patrol/points?from=&to=` (or `day=`, `week=`, `month=`): the stored points of a
/// window (default today, +08:00) as GeoJSON Point features with `worker`, `time`, `crs`,
/// `accuracy` and `flag` (null unless a check flagged the point).
pub async fn get_points(AxState(svc): AxState<Arc<Service>>, q: Params) -> ApiResult<Response> {
    let Query(q) = q?;
    let w = window_of(&q)?;
    let (from, to) = w.ms();
    let tracks = svc
        .source
        .patrol_tracks(from, to, None)
        .await
        .map_err(|e| ApiError::unavailable(e.to_string()))?;
    let features: Vec<serde_json::Value> = tracks
        .iter()
        .flat_map(|t| t.rows())
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

// ---------------------------------------------------------------- windows and periods

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

fn today(zone: FixedOffset) -> NaiveDate {
    Utc::now().with_timezone(&zone).date_naive()
}

fn get<'a>(q: &'a BTreeMap<String, String>, k: &str) -> Option<&'a str> {
    q.get(k).map(String::as_str)
}

/// The period of `day=`, `week=`, `month=` or `from=`/`to=` (dates, both included); today when
/// none is given; at most [`MAX_WINDOW_DAYS`] days.
fn period_of(q: &BTreeMap<String, String>) -> ApiResult<Period> {
    let zone = zone_of(q)?;
    let p = Period::choose(
        get(q, "day"),
        get(q, "week"),
        get(q, "month"),
        get(q, "from"),
        get(q, "to"),
        zone,
        today(zone),
    )
    .map_err(ApiError::bad_request)?;
    if p.days as i64 > MAX_WINDOW_DAYS {
        return Err(ApiError::bad_request(format!(
            "the period {} is longer than {MAX_WINDOW_DAYS} days",
            p.label()
        )));
    }
    Ok(p)
}

/// The window of `from=`/`to=` (RFC 3339 instants) or of `day=`, `week=` or `month=`; today in
/// the request's zone (default +08:00) when none is given.
fn window_of(q: &BTreeMap<String, String>) -> ApiResult<Window> {
    let zone = zone_of(q)?;
    let named = ["day", "week", "month"].iter().any(|k| q.contains_key(*k));
    let w = if named {
        if q.contains_key("from") || q.contains_key("to") {
            return Err(ApiError::bad_request(
                "give from/to (instants) or one of day, week, month",
            ));
        }
        period_of(q)?.window()
    } else {
        match (parse_time(q, "from")?, parse_time(q, "to")?) {
            (None, None) => Window::day(today(zone), zone),
            (Some(from), None) => Window {
                from,
                to: from + TimeDelta::days(1),
            },
            (None, Some(to)) => Window {
                from: to - TimeDelta::days(1),
                to,
            },
            (Some(from), Some(to)) => Window { from, to },
        }
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

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::unavailable(format!("computing: {e}")))
}

// ---------------------------------------------------------------- heat

fn heat_res(q: &BTreeMap<String, String>) -> ApiResult<Resolution> {
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
    Resolution::try_from(res).map_err(|e| ApiError::bad_request(format!("`res`: {e}")))
}

/// The heat map of per worker-day cell counts at `res` (at most 10).
pub fn heat_of_counts(tracks: &[TrackCells], res: Resolution) -> HeatMap {
    HeatMap::from_counts(
        tracks
            .iter()
            .flat_map(|t| t.cells.iter().map(|&(c, n)| (c, &*t.worker, n as u64))),
        res,
    )
}

/// `GET /api/heat?from=&to=&res=&village=` (or `day=`, `week=`, `month=` for the window): one
/// Feature per H3 cell with points.
pub async fn heat_geojson_route(
    AxState(svc): AxState<Arc<Service>>,
    q: Params,
) -> ApiResult<Response> {
    let Query(q) = q?;
    let w = window_of(&q)?;
    let (from, to) = w.ms();
    let res = heat_res(&q)?;
    let st = svc.state();
    let village = village_of(&st, &q)?;
    let cells: Vec<HeatCell> = match village.and_then(|vi| st.snapshot.villages.get(vi)) {
        // A village: its points, each tested against its boundary.
        Some(v) => {
            let bbox = v.boundary.bounding_rect();
            let b = bbox.map(|r| [r.min().x, r.min().y, r.max().x, r.max().y]);
            let tracks = svc
                .source
                .patrol_tracks(from, to, b)
                .await
                .map_err(|e| ApiError::unavailable(e.to_string()))?;
            let st2 = st.clone();
            blocking(move || {
                let Some(v) = village.and_then(|vi| st2.snapshot.villages.get(vi)) else {
                    return Vec::new();
                };
                let points: Vec<PatrolPoint> = accepted_points(&tracks)
                    .into_iter()
                    .filter(|p| v.boundary.contains(&Point::new(p.lon, p.lat)))
                    .collect();
                heat(points.iter(), res)
            })
            .await?
        }
        // Resolution 10 or coarser: the stored counts.
        None if res <= CELL_RES => {
            let tracks = svc
                .source
                .patrol_cells(from, to, None, res)
                .await
                .map_err(|e| ApiError::unavailable(e.to_string()))?;
            blocking(move || heat_of_counts(&tracks, res).cells()).await?
        }
        // Finer: the points.
        None => {
            let tracks = svc
                .source
                .patrol_tracks(from, to, None)
                .await
                .map_err(|e| ApiError::unavailable(e.to_string()))?;
            blocking(move || heat(accepted_points(&tracks).iter(), res)).await?
        }
    };
    Ok((
        [(header::CONTENT_TYPE, "application/geo+json")],
        heat_geojson(&cells).to_string(),
    )
        .into_response())
}

/// The heat resolution drawn at zoom `z`: coarser when zoomed out.
pub fn tile_res(z: u8) -> u8 {
    (z as i32 - 5).clamp(4, 10) as u8
}

/// The box of worker-days whose points may fall in a heat cell reaching into tile `id`: the
/// tile grown by two and a half cell edges of its resolution (a cell is about two edges across;
/// a point's resolution-10 cell reaches out of its ancestor by less than half an edge).
pub fn heat_tile_box(id: TileId) -> Bbox {
    let b = id.bounds();
    let res = Resolution::try_from(tile_res(id.z)).unwrap_or(Resolution::Ten);
    let km = 2.5 * res.edge_length_km();
    let lat = b.max().y.abs().max(b.min().y.abs()).min(85.0);
    let dy = km / 111.2;
    let dx = km / (111.2 * lat.to_radians().cos());
    [
        b.min().x - dx,
        b.min().y - dy,
        b.max().x + dx,
        b.max().y + dy,
    ]
}

/// The heat layer of `cells` on tile `id` (uncompressed MVT), `None` when empty. Cells are drawn
/// as given (no shared-border topology: a heat map needs none).
pub fn render_heat_tile(cells: &[HeatCell], id: TileId) -> Option<Vec<u8>> {
    let b = id.bounds();
    let features: Vec<Feature<MultiPolygon<f64>>> = cells
        .iter()
        .filter_map(|h| {
            let mut ring: Vec<Coord> = h
                .cell
                .boundary()
                .iter()
                .map(|ll| Coord {
                    x: ll.lng(),
                    y: ll.lat(),
                })
                .collect();
            let (x0, x1) = ring
                .iter()
                .fold((f64::MAX, f64::MIN), |a, c| (a.0.min(c.x), a.1.max(c.x)));
            let (y0, y1) = ring
                .iter()
                .fold((f64::MAX, f64::MIN), |a, c| (a.0.min(c.y), a.1.max(c.y)));
            if x1 < b.min().x || x0 > b.max().x || y1 < b.min().y || y0 > b.max().y {
                return None;
            }
            if let Some(first) = ring.first().copied() {
                ring.push(first);
            }
            Some(Feature {
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
            })
        })
        .collect();
    if features.is_empty() {
        return None;
    }
    Layer::footprints("heat", features)
        .render(id)
        .filter(|t| !t.is_empty())
}

/// The heat tile `id` from per worker-day cell counts (read for [`heat_tile_box`]).
pub fn heat_tile_of_counts(tracks: &[TrackCells], id: TileId) -> Option<Vec<u8>> {
    let res = Resolution::try_from(tile_res(id.z)).ok()?;
    render_heat_tile(&heat_of_counts(tracks, res).cells(), id)
}

/// `GET /tiles/heat/{z}/{x}/{y}.mvt?from=&to=` (or `day=`, `week=`, `month=`): heat cells as
/// polygons (layer `heat`). Kept per window and tile until patrol points are stored (by this
/// server or any other writer of the store), with an ETag from their bytes (304 when unchanged).
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
    let (from, to) = w.ms();
    let res = Resolution::try_from(tile_res(id.z))
        .map_err(|e| ApiError::bad_request(format!("zoom {}: {e}", id.z)))?;
    let unavailable = |e: crate::serve::source::SourceError| ApiError::unavailable(e.to_string());
    // The revision is read before the points: a tile is never kept under a newer one than its
    // points.
    let revision = svc.source.patrol_revision().await.map_err(unavailable)?;
    let key = (from, to, id);
    let entry = match svc.heat_cache.get(revision, &key) {
        Some(e) => e,
        None => {
            let tracks = svc
                .source
                .patrol_cells(from, to, Some(heat_tile_box(id)), res)
                .await
                .map_err(unavailable)?;
            let value = blocking(move || -> std::io::Result<Option<Bytes>> {
                match heat_tile_of_counts(&tracks, id) {
                    Some(raw) => Ok(Some(Bytes::from(gzip(&raw)?))),
                    None => Ok(None),
                }
            })
            .await?
            .map_err(|e| ApiError::unavailable(format!("compressing tile: {e}")))?;
            let e = Entry {
                etag: etag_of(&value),
                value,
            };
            svc.heat_cache.put(revision, key, e.clone());
            e
        }
    };
    let etag = format!(
        "W/\"heat-{}-{}-{}-{from}-{to}-{:016x}\"",
        id.z, id.x, id.y, entry.etag
    );
    respond(entry, &etag, &headers)
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
        "description": "patrol points per H3 cell; ?from=&to= (RFC 3339) or ?day=, ?week=, ?month= choose the window, default today (+08:00)",
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

/// The figures of a period: each day's per grid (for the daily reports) and the whole period's
/// per grid and per worker.
pub struct PeriodFigures {
    /// The state they were computed on.
    pub state: Arc<State>,
    /// Each day of the period and its figures per grid.
    pub days: Vec<(NaiveDate, Vec<GridCoverage>)>,
    /// The whole period.
    pub total: Coverage,
}

/// Computes a period's figures, reading its points one day at a time (a bounded channel between
/// the reads and the computation, which runs off the async threads); per-worker figures only
/// with `with_workers` (a grid report needs none).
pub async fn period_figures(
    svc: &Service,
    period: Period,
    with_workers: bool,
) -> ApiResult<PeriodFigures> {
    let st = svc.state();
    let (tx, mut rx) =
        tokio::sync::mpsc::channel::<Result<(NaiveDate, Vec<PatrolPoint>), String>>(1);
    let source = svc.source.clone();
    let st2 = st.clone();
    let compute = tokio::task::spawn_blocking(move || -> Result<_, String> {
        let roster = with_workers.then(|| Roster::from_snapshot(&st2.snapshot));
        let mut run = st2.coverage_index().run(period.window(), roster.as_ref());
        let mut days = Vec::new();
        while let Some(msg) = rx.blocking_recv() {
            let (d, points) = msg?;
            days.push((d, run.add(&points)));
        }
        Ok((days, run.finish()))
    });
    for d in period.dates() {
        let (from, to) = period.day_window(d).ms();
        let r = source
            .patrol_tracks(from, to, None)
            .await
            .map(|t| (d, accepted_points(&t)))
            .map_err(|e| e.to_string());
        let failed = r.is_err();
        if tx.send(r).await.is_err() || failed {
            break;
        }
    }
    drop(tx);
    let (days, total) = compute
        .await
        .map_err(|e| ApiError::unavailable(format!("computing: {e}")))?
        .map_err(ApiError::unavailable)?;
    Ok(PeriodFigures {
        state: st,
        days,
        total,
    })
}

/// `from`, `to`, `days`, `zone` (and `day` for a single day) of a period, for responses.
fn period_json(p: &Period) -> serde_json::Map<String, serde_json::Value> {
    let mut m = serde_json::Map::new();
    if p.days == 1 {
        m.insert("day".into(), p.first.to_string().into());
    }
    m.insert("period".into(), p.label().into());
    m.insert("from".into(), p.first.to_string().into());
    m.insert("to".into(), p.last().to_string().into());
    m.insert("days".into(), p.days.into());
    m.insert("zone".into(), p.zone.to_string().into());
    m
}

/// `GET /api/patrol/coverage?day=|week=|month=|from=&to=[&village=][&zone=]`: each grid's and each
/// grid worker's figures over the period.
pub async fn coverage(AxState(svc): AxState<Arc<Service>>, q: Params) -> ApiResult<Response> {
    let Query(q) = q?;
    let period = period_of(&q)?;
    let village = village_of(&svc.state(), &q)?;
    let f = period_figures(&svc, period, true).await?;
    let snap = &f.state.snapshot;
    let in_village = |code: &str| {
        village.is_none_or(|vi| {
            f.state
                .grid_by_code
                .get(code)
                .and_then(|g| snap.grids.get(g))
                .is_some_and(|g| g.village == vi)
        })
    };
    let grids: Vec<&GridCoverage> = f
        .total
        .grids
        .iter()
        .filter(|c| in_village(c.code.as_str()))
        .collect();
    let workers: Vec<&crate::patrol::WorkerCoverage> = f
        .total
        .workers
        .iter()
        .filter(|w| village.is_none() || w.grids.iter().any(|g| in_village(g.as_str())))
        .collect();
    let mut doc = period_json(&period);
    doc.insert(
        "grids".into(),
        serde_json::to_value(grids).unwrap_or_default(),
    );
    doc.insert(
        "workers".into(),
        serde_json::to_value(workers).unwrap_or_default(),
    );
    Ok(Json(serde_json::Value::Object(doc)).into_response())
}

/// `GET /api/patrol/report?day=|week=|month=|from=&to=[&format=csv][&zone=]`: for each day of the
/// period and each town, the grids that missed a patrol or the second one, worst first.
pub async fn report(AxState(svc): AxState<Arc<Service>>, q: Params) -> ApiResult<Response> {
    let Query(q) = q?;
    let period = period_of(&q)?;
    let csv = match q.get("format").map(String::as_str) {
        None | Some("json") => false,
        Some("csv") => true,
        Some(f) => {
            return Err(ApiError::bad_request(format!(
                "`format={f}`: use json or csv"
            )))
        }
    };
    // the report ranks grids: no per-worker figures
    let f = period_figures(&svc, period, false).await?;
    let rep: Vec<TownReport> = f
        .days
        .iter()
        .flat_map(|(d, cov)| daily_report(&f.state.snapshot, cov, *d))
        .collect();
    if csv {
        return Ok((
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            to_csv(&rep),
        )
            .into_response());
    }
    let mut doc = period_json(&period);
    doc.insert(
        "towns".into(),
        serde_json::to_value(rep).unwrap_or_default(),
    );
    Ok(Json(serde_json::Value::Object(doc)).into_response())
}
