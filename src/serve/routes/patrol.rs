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
use crate::accounts::policy;
pub use crate::patrol::heat_tile::heat_of_counts;
use crate::patrol::heat_tile::{heat_tile_box, heat_tile_of_counts, tile_res};
use crate::patrol::report::{daily_report, to_csv, TownReport};
use crate::patrol::{
    check, coverage_by_day, default_zone, heat, heat_geojson, parse_zone, read_batch, CheckRules,
    Coverage, GridCoverage, HeatCell, PatrolPoint, Period, Roster, Window,
};
use crate::serve::auth::{self, Who};
use crate::serve::cache::{etag_of, Entry};
use crate::serve::error::{ApiError, ApiResult};
use crate::serve::state::{Service, State};
use crate::store::patrol::codec::CELL_RES;
use crate::store::patrol::{accepted_points, PatrolBatch};
use crate::tiles::TileId;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State as AxState};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, FixedOffset, NaiveDate, TimeDelta, Utc};
use geo::{BoundingRect, Contains, Point};
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

// ---------------------------------------------------------------- POST /api/patrol/points

/// `POST /api/patrol/points`.
pub async fn post_points(
    AxState(svc): AxState<Arc<Service>>,
    who: Who,
    body: Bytes,
) -> ApiResult<Response> {
    let points = read_batch(&body)
        .map_err(|errs| ApiError::bad_request(format!("nothing stored: {}", errs.join("; "))))?;
    let caller = auth::need(&who)?;
    policy::may_post_as(caller, points.iter().map(|p| &*p.worker)).map_err(auth::refused)?;
    let workers: std::collections::BTreeSet<&str> = points.iter().map(|p| &*p.worker).collect();
    let note = auth::AuditNote(format!(
        "{} points of worker(s) {}",
        points.len(),
        workers.into_iter().collect::<Vec<_>>().join(",")
    ));
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
    let mut resp = Json(serde_json::json!({
        "stored": ins.inserted,
        "flagged": flagged,
        "rejected": rejected,
        "duplicates": checked.duplicates + ins.duplicates,
        "duplicates_in_batch": checked.duplicates,
        "already_stored": ins.duplicates,
    }))
    .into_response();
    resp.extensions_mut().insert(note);
    Ok(resp)
}

/// `GET /api/patrol/points?from=&to=` (or `day=`, `week=`, `month=`): the stored points of a
/// window (default today, +08:00) as GeoJSON Point features with `worker`, `time`, `crs`,
/// `accuracy` and `flag` (null unless a check flagged the point). Admins read every point,
/// workers their own, planners and leaders the points lying in their towns and villages
/// ([`policy::track_scope`]).
pub async fn get_points(
    AxState(svc): AxState<Arc<Service>>,
    who: Who,
    q: Params,
) -> ApiResult<Response> {
    let Query(q) = q?;
    let caller = auth::need(&who)?;
    let scope = policy::track_scope(caller);
    let st = svc.state();
    let village_at = |lon: f64, lat: f64| {
        let v = st.locate(lon, lat, 0.0).village?;
        st.snapshot.villages.get(v).map(|v| v.code.as_str())
    };
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
        .filter(|r| match scope {
            policy::TrackScope::Area(_) => scope.allows(&r.worker, village_at(r.lon, r.lat)),
            _ => scope.allows(&r.worker, None),
        })
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
        Some(z) => parse_zone(z).map_err(|e| ApiError::bad_request(e.to_string())),
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
        let mut days = Vec::new();
        let total = coverage_by_day(
            st2.coverage_index(),
            &period,
            roster.as_ref(),
            |_| match rx.blocking_recv() {
                Some(msg) => msg.map(|(_, points)| points),
                None => Err("the reads stopped".to_string()),
            },
            |d, cov| days.push((d, cov)),
        )?;
        Ok((days, total))
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

/// `GET /api/patrol/coverage?day=|week=|month=|from=&to=[&village=][&zone=]`: each grid's and each
/// grid worker's figures over the period, as far as the caller may read them
/// ([`policy::coverage_scope`]: a worker their own row and grids, a leader their area).
pub async fn coverage(
    AxState(svc): AxState<Arc<Service>>,
    who: Who,
    q: Params,
) -> ApiResult<Response> {
    let Query(q) = q?;
    let period = period_of(&q)?;
    let village = village_of(&svc.state(), &q)?;
    let scope = policy::coverage_scope(who.0.as_ref());
    let f = period_figures(&svc, period, true).await?;
    let snap = &f.state.snapshot;
    let village_of_grid = |code: &str| {
        f.state
            .grid_by_code
            .get(code)
            .and_then(|g| snap.grids.get(g))
            .and_then(|g| snap.villages.get(g.village))
            .map(|v| v.code.as_str())
    };
    let village = village
        .and_then(|vi| snap.villages.get(vi))
        .map(|v| v.code.as_str());
    let policy::CoverageView { grids, workers } =
        policy::coverage_view(scope, &f.total, village_of_grid, village);
    let mut doc = period.to_json();
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
    let mut doc = period.to_json();
    doc.insert(
        "towns".into(),
        serde_json::to_value(rep).unwrap_or_default(),
    );
    Ok(Json(serde_json::Value::Object(doc)).into_response())
}
