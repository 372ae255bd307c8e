//! The grid worker's phone page (`/field`) and its routes: who I am and my grids, household
//! visits (入户走访) and leaders' household tags. The rules are in [`crate::field`], the SQL in
//! [`crate::store::visits`].
//!
//! - `GET /field`: the page (and `/field/…`, `/field-sw.js` as embedded files).
//! - `GET /api/field/me`: the caller's grids (where they are a leader or worker) with their people.
//! - `GET /api/field/today?day=&lon=&lat=`: my grids' patrols today and this month, my shares,
//!   the buildings I have not passed this month ([`crate::field::today`]).
//! - `POST /api/visits`: one visit or an array `{client_id, household, grid, visited_at?, lon?,
//!   lat?, found?, done?}`; the same worker re-sending a `client_id` stores nothing new.
//! - `GET /api/visits/due?grid=&lon=&lat=`: households of my grids (or `grid`) due, nearest first.
//! - `GET /api/visits/figures?month=YYYY-MM&village=`: visited share per grid and per worker,
//!   tagged households overdue.
//! - `POST /api/households/tags`: `{household, grid, tag}` (`help`/帮扶, `concern`/关注, `none`).
//!
//! Reads of visits are audited (see [`crate::accounts::policy::audited_read`]).

use super::geojson::people_json;
use super::static_files::{file, WEB};
use crate::accounts::{policy, Caller, Role};
use crate::field::{self, DoorsOf, Household, Tag, VisitFact};
use crate::serve::auth::{self, AuditNote, Who};
use crate::serve::error::{ApiError, ApiResult};
use crate::serve::state::{Service, State};
use crate::store::visits::VisitRow;
use crate::store::Store;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State as AxState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, FixedOffset, NaiveDate, TimeDelta, Utc};
use geo::BoundingRect;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

type Params = Result<Query<BTreeMap<String, String>>, QueryRejection>;

/// Largest body of `POST /api/visits` and `POST /api/households/tags` (bytes).
pub const MAX_BODY_BYTES: usize = 1 << 20;
/// Most visits in one `POST /api/visits`.
pub const MAX_VISITS: usize = 500;
/// Most households listed by `GET /api/visits/due`.
pub const MAX_DUE: usize = 300;
const MAX_TEXT: usize = 2000;

/// `GET /field`: the page.
pub async fn page() -> Response {
    file(&WEB, "field/index.html")
        .unwrap_or_else(|| ApiError::not_found("no field page is built in").into_response())
}

fn store(svc: &Service) -> ApiResult<&Store> {
    svc.accounts()
        .ok_or_else(|| ApiError::unavailable("this server keeps no visits (no store)"))
}

fn zone() -> FixedOffset {
    crate::patrol::default_zone()
}

/// The worker key of `caller`: their phone, else their name (as in patrol points).
fn key_of(caller: &Caller) -> &str {
    caller.phone.as_deref().unwrap_or(caller.name.as_str())
}

/// The grids (indexes) where `caller` is a leader or worker.
fn my_grids(st: &State, caller: &Caller) -> Vec<usize> {
    let key = key_of(caller);
    st.snapshot
        .grids
        .iter()
        .enumerate()
        .filter(|(_, g)| {
            g.people
                .iter()
                .any(|p| p.phone.as_deref() == Some(key) || p.name == caller.name)
        })
        .map(|(i, _)| i)
        .collect()
}

/// `GET /api/field/me`: who I am and my grids, each with all its people.
pub async fn me(AxState(svc): AxState<Arc<Service>>, who: Who) -> ApiResult<Response> {
    let caller = auth::need(&who)?;
    let st = svc.state();
    let grids: Vec<Value> = my_grids(&st, caller)
        .into_iter()
        .map(|i| {
            let g = &st.snapshot.grids[i];
            let v = st.snapshot.villages.get(g.village);
            json!({
                "code": g.code.as_str(),
                "name": crate::serve::layers::grid_name(v.map_or("", |v| v.name.as_str()), g.code.as_str()),
                "village_code": v.map(|v| v.code.as_str()),
                "village_name": v.map(|v| v.name.as_str()),
                "households": g.figures.households,
                "people": people_json(&g.people),
            })
        })
        .collect();
    Ok(Json(json!({
        "name": caller.name,
        "role": caller.role,
        "worker": key_of(caller),
        "grids": grids,
    }))
    .into_response())
}

/// `GET /api/field/today?day=&lon=&lat=`: my grid today (see [`field::today`]): the points of
/// the month to the day are read around my grids, the figures computed off the async threads.
pub async fn today(
    AxState(svc): AxState<Arc<Service>>,
    who: Who,
    q: Params,
) -> ApiResult<Response> {
    let Query(q) = q?;
    let caller = auth::need(&who)?;
    let zone = zone();
    let day = match q.get("day") {
        None => Utc::now().with_timezone(&zone).date_naive(),
        Some(s) => NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
            .map_err(|_| ApiError::bad_request(format!("day: `{s}` is not a date YYYY-MM-DD")))?,
    };
    let from = match (coord(&q, "lon")?, coord(&q, "lat")?) {
        (Some(x), Some(y)) => Some((x, y)),
        _ => None,
    };
    let st = svc.state();
    let grids = my_grids(&st, caller);
    let mut points = Vec::new();
    let mut places = std::collections::HashMap::new();
    if let Some(bbox) = grids_box(&st, &grids) {
        let b = [bbox.min().x, bbox.min().y, bbox.max().x, bbox.max().y];
        for d in field::today::days_to_read(day) {
            let (from_ms, to_ms) = crate::patrol::Window::day(d, zone).ms();
            let tracks = svc
                .source
                .patrol_tracks(from_ms, to_ms, Some(b))
                .await
                .map_err(|e| ApiError::unavailable(e.to_string()))?;
            points.push(crate::store::patrol::accepted_points(&tracks));
        }
        let codes: Vec<&str> = grids
            .iter()
            .map(|&g| st.snapshot.grids[g].code.as_str())
            .collect();
        for b in svc
            .source
            .buildings_in(bbox)
            .await
            .map_err(|e| ApiError::unavailable(e.to_string()))?
        {
            if b.grid_code.as_deref().is_some_and(|c| codes.contains(&c)) {
                places.insert(b.id, (b.address, b.point.x(), b.point.y()));
            }
        }
    }
    let worker = key_of(caller).to_string();
    let answer = tokio::task::spawn_blocking(move || {
        let roster = crate::patrol::Roster::from_snapshot(&st.snapshot);
        let ask = field::today::Ask {
            index: st.coverage_index(),
            roster: &roster,
            worker: &worker,
            grids: &grids,
            day,
            zone,
            places: &places,
            from,
        };
        let mut days = points.into_iter();
        field::today::my_day(&ask, |_| {
            Ok::<_, std::convert::Infallible>(days.next().unwrap_or_default())
        })
    })
    .await
    .map_err(|e| ApiError::unavailable(format!("computing: {e}")))?;
    let answer = answer.unwrap_or_else(|never| match never {});
    Ok(Json(answer).into_response())
}

/// The box of `grids`, widened by 200 m: the tracks whose points may pass their buildings.
fn grids_box(st: &State, grids: &[usize]) -> Option<geo::Rect<f64>> {
    const MARGIN_DEG: f64 = 0.002;
    grids
        .iter()
        .filter_map(|&g| st.snapshot.grids.get(g)?.geometry.bounding_rect())
        .reduce(|a, b| {
            geo::Rect::new(
                geo::coord! {x: a.min().x.min(b.min().x), y: a.min().y.min(b.min().y)},
                geo::coord! {x: a.max().x.max(b.max().x), y: a.max().y.max(b.max().y)},
            )
        })
        .map(|r| {
            geo::Rect::new(
                geo::coord! {x: r.min().x - MARGIN_DEG, y: r.min().y - MARGIN_DEG},
                geo::coord! {x: r.max().x + MARGIN_DEG, y: r.max().y + MARGIN_DEG},
            )
        })
}

/// The buildings of grid `gi` with their households.
async fn doors_of(svc: &Service, st: &State, gi: usize) -> ApiResult<Vec<DoorsOf>> {
    let g = &st.snapshot.grids[gi];
    let Some(bbox) = g.geometry.bounding_rect() else {
        return Ok(Vec::new());
    };
    let bs = svc
        .source
        .buildings_in(bbox)
        .await
        .map_err(|e| ApiError::unavailable(e.to_string()))?;
    Ok(bs
        .into_iter()
        .filter(|b| b.grid_code.as_deref() == Some(g.code.as_str()) && b.households > 0)
        .map(|b| DoorsOf {
            building: b.id,
            grid: g.code.as_str().to_string(),
            households: b.households,
            point: (b.point.x(), b.point.y()),
            address: b.address,
        })
        .collect())
}

fn grid_index(st: &State, code: &str, field: &str) -> ApiResult<usize> {
    st.snapshot
        .grids
        .iter()
        .position(|g| g.code.as_str() == code)
        .ok_or_else(|| ApiError::not_found(format!("{field}: no grid with code {code}")))
}

/// Whether `caller` may visit (or see the due list of) grid `gi`: admins anywhere, leaders in
/// their area, workers in their own grids.
fn may_visit(st: &State, caller: &Caller, gi: usize) -> ApiResult<()> {
    let g = &st.snapshot.grids[gi];
    let village = st
        .snapshot
        .villages
        .get(g.village)
        .map_or("", |v| v.code.as_str());
    let ok = match caller.role {
        Role::Admin => true,
        Role::Leader | Role::Planner => caller.scope.covers(village),
        _ => my_grids(st, caller).contains(&gi),
    };
    ok.then_some(()).ok_or_else(|| ApiError {
        status: StatusCode::FORBIDDEN,
        message: format!(
            "{} is not a worker of grid {}",
            caller.name,
            g.code.as_str()
        ),
    })
}

fn coord(q: &BTreeMap<String, String>, k: &str) -> ApiResult<Option<f64>> {
    q.get(k)
        .map(|s| {
            s.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| ApiError::bad_request(format!("{k}: `{s}` is not a number")))
        })
        .transpose()
}

/// `GET /api/visits/due`: households of my grids (or `grid=`) due this week or month.
pub async fn due(AxState(svc): AxState<Arc<Service>>, who: Who, q: Params) -> ApiResult<Response> {
    let Query(q) = q?;
    let caller = auth::need(&who)?;
    let store = store(&svc)?;
    let st = svc.state();
    let grids = match q.get("grid") {
        Some(code) => vec![grid_index(&st, code, "grid")?],
        None => my_grids(&st, caller),
    };
    for &gi in &grids {
        may_visit(&st, caller, gi)?;
    }
    let from = match (coord(&q, "lon")?, coord(&q, "lat")?) {
        (Some(x), Some(y)) => Some((x, y)),
        _ => None,
    };
    let codes: Vec<String> = grids
        .iter()
        .map(|&i| st.snapshot.grids[i].code.as_str().to_string())
        .collect();
    let mut buildings = Vec::new();
    for &gi in &grids {
        buildings.extend(doors_of(&svc, &st, gi).await?);
    }
    let db = |e: crate::store::StoreError| ApiError::unavailable(e.to_string());
    let tags: BTreeMap<String, Tag> = store
        .tags_in(&codes)
        .await
        .map_err(db)?
        .into_iter()
        .map(|t| (t.household, t.tag))
        .collect();
    let last: BTreeMap<String, i64> = store
        .last_visits(&codes)
        .await
        .map_err(db)?
        .into_iter()
        .collect();
    let now = Utc::now().with_timezone(&zone());
    let list = field::due_list(&buildings, &tags, &last, now, from);
    let households: u64 = buildings.iter().map(|b| b.households).sum();
    let mut resp = Json(json!({
        "grids": codes,
        "households": households,
        "due": list.len(),
        "overdue": list.iter().filter(|d| d.overdue).count(),
        "list": list.iter().take(MAX_DUE).collect::<Vec<_>>(),
    }))
    .into_response();
    resp.extensions_mut()
        .insert(AuditNote(format!("due list of grids {}", codes.join(","))));
    Ok(resp)
}

/// One visit as posted.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct VisitIn {
    client_id: String,
    household: String,
    grid: String,
    visited_at: Option<String>,
    lon: Option<f64>,
    lat: Option<f64>,
    #[serde(default)]
    found: String,
    #[serde(default)]
    done: String,
}

fn read_visits(body: &[u8]) -> ApiResult<Vec<VisitIn>> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("body: not JSON ({e})")))?;
    let items = match v {
        Value::Array(a) => a,
        o => vec![o],
    };
    if items.is_empty() || items.len() > MAX_VISITS {
        return Err(ApiError::bad_request(format!(
            "body: 1 to {MAX_VISITS} visits, got {}",
            items.len()
        )));
    }
    items
        .into_iter()
        .enumerate()
        .map(|(i, it)| {
            serde_json::from_value::<VisitIn>(it)
                .map_err(|e| ApiError::bad_request(format!("visit #{i}: {e}; nothing stored")))
        })
        .collect()
}

/// Checks visit `i` and makes its row: the household's building must be in the grid with that
/// door, the caller a worker there, the time not ahead of now.
async fn visit_row(
    svc: &Service,
    st: &State,
    caller: &Caller,
    i: usize,
    v: VisitIn,
    now: DateTime<FixedOffset>,
) -> ApiResult<VisitRow> {
    let bad = |field: &str, why: String| {
        ApiError::bad_request(format!("visit #{i}: {field}: {why}; nothing stored"))
    };
    if v.client_id.trim().is_empty() || v.client_id.len() > 100 {
        return Err(bad("client_id", "1 to 100 characters".into()));
    }
    if v.found.len() > MAX_TEXT || v.done.len() > MAX_TEXT {
        return Err(bad(
            "found",
            format!("found and done are at most {MAX_TEXT} bytes"),
        ));
    }
    let h: Household = v
        .household
        .parse()
        .map_err(|e: field::VisitError| bad("household", e.to_string()))?;
    let gi = grid_index(st, &v.grid, &format!("visit #{i}: grid"))?;
    may_visit(st, caller, gi)?;
    let doors = doors_of(svc, st, gi).await?;
    let b = doors
        .iter()
        .find(|b| b.building == h.building)
        .ok_or_else(|| {
            bad(
                "household",
                format!("no building {} in grid {}", h.building, v.grid),
            )
        })?;
    if u64::from(h.door) > b.households {
        return Err(bad(
            "household",
            format!("building {} has {} households", h.building, b.households),
        ));
    }
    let at = match &v.visited_at {
        None => now,
        Some(s) => DateTime::parse_from_rfc3339(s)
            .map_err(|e| bad("visited_at", format!("`{s}` is not RFC 3339 ({e})")))?,
    };
    if at - now > TimeDelta::minutes(5) {
        return Err(bad("visited_at", format!("{at} is in the future")));
    }
    if let (Some(x), Some(y)) = (v.lon, v.lat) {
        if !(-180.0..=180.0).contains(&x) || !(-90.0..=90.0).contains(&y) {
            return Err(bad("lon", "lon/lat out of range".into()));
        }
    }
    Ok(VisitRow {
        client_id: v.client_id,
        worker: key_of(caller).to_string(),
        household: h.key(),
        grid_code: v.grid,
        visited_at: at.to_rfc3339(),
        epoch_ms: at.timestamp_millis(),
        lon: v.lon,
        lat: v.lat,
        found: v.found,
        done: v.done,
    })
}

/// `POST /api/visits`: all stored or none; 201 if any was new, else 200.
pub async fn post_visits(
    AxState(svc): AxState<Arc<Service>>,
    who: Who,
    body: Bytes,
) -> ApiResult<Response> {
    let caller = auth::need(&who)?;
    let store = store(&svc)?;
    let items = read_visits(&body)?;
    let st = svc.state();
    let now = Utc::now().with_timezone(&zone());
    let mut rows = Vec::with_capacity(items.len());
    for (i, v) in items.into_iter().enumerate() {
        rows.push(visit_row(&svc, &st, caller, i, v, now).await?);
    }
    let new = store
        .insert_visits(&rows)
        .await
        .map_err(|e| ApiError::unavailable(e.to_string()))?;
    let visits: Vec<Value> = rows
        .iter()
        .zip(&new)
        .map(|(r, n)| json!({"client_id": r.client_id, "household": r.household, "grid": r.grid_code, "duplicate": !n}))
        .collect();
    let status = if new.iter().any(|n| *n) {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut resp = (
        status,
        Json(json!({"stored": new.iter().filter(|n| **n).count(), "visits": visits})),
    )
        .into_response();
    resp.extensions_mut()
        .insert(AuditNote(format!("{} visits", rows.len())));
    Ok(resp)
}

/// The month of `month=YYYY-MM` (default this month): its first instant and the next month's.
fn month_of(
    q: &BTreeMap<String, String>,
) -> ApiResult<(DateTime<FixedOffset>, DateTime<FixedOffset>)> {
    let now = Utc::now().with_timezone(&zone());
    let start = match q.get("month") {
        None => field::month_start(now),
        Some(m) => {
            let d = NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d")
                .map_err(|_| ApiError::bad_request(format!("month: `{m}` is not YYYY-MM")))?;
            field::month_start(
                d.and_hms_opt(12, 0, 0)
                    .and_then(|t| t.and_local_timezone(zone()).single())
                    .unwrap_or(now),
            )
        }
    };
    Ok((start, field::next_month(start)))
}

/// `GET /api/visits/figures`: the month's visited share per grid and per worker, and the
/// tagged households overdue now.
pub async fn figures(AxState(svc): AxState<Arc<Service>>, q: Params) -> ApiResult<Response> {
    let Query(q) = q?;
    let store = store(&svc)?;
    let st = svc.state();
    let village =
        match q.get("village") {
            Some(v) => Some(*st.village_by_code.get(v).ok_or_else(|| {
                ApiError::not_found(format!("village: no village with code {v}"))
            })?),
            None => None,
        };
    let (from, to) = month_of(&q)?;
    let mut grids = BTreeMap::new();
    let mut workers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for g in st
        .snapshot
        .grids
        .iter()
        .filter(|g| village.is_none_or(|v| v == g.village))
    {
        grids.insert(
            g.code.as_str().to_string(),
            g.figures.households.round() as u64,
        );
        for p in g
            .people
            .iter()
            .filter(|p| p.role == crate::snapshot::Role::GridWorker)
        {
            let k = p.phone.clone().unwrap_or_else(|| p.name.clone());
            workers
                .entry(k)
                .or_default()
                .push(g.code.as_str().to_string());
        }
    }
    let codes: Vec<String> = grids.keys().cloned().collect();
    let db = |e: crate::store::StoreError| ApiError::unavailable(e.to_string());
    let visits = store
        .visits_in(&codes, from.timestamp_millis(), to.timestamp_millis())
        .await
        .map_err(db)?;
    let facts: Vec<VisitFact> = visits
        .iter()
        .map(|v| VisitFact {
            worker: v.worker.clone(),
            household: v.household.clone(),
            grid: v.grid_code.clone(),
        })
        .collect();
    let (by_grid, by_worker) = field::shares(&grids, &workers, &facts);
    let last: BTreeMap<String, i64> = store
        .last_visits(&codes)
        .await
        .map_err(db)?
        .into_iter()
        .collect();
    let now = Utc::now().with_timezone(&zone());
    let overdue: Vec<Value> = store
        .tags_in(&codes)
        .await
        .map_err(db)?
        .into_iter()
        .filter_map(|t| {
            let lv = last.get(&t.household).and_then(|ms| DateTime::from_timestamp_millis(*ms)).map(|d| d.with_timezone(&zone()));
            field::is_overdue(t.tag, lv, now).then(|| {
                json!({"household": t.household, "grid": t.grid_code, "tag": t.tag, "tag_zh": t.tag.zh(),
                       "last_visit": lv.map(|d| d.to_rfc3339())})
            })
        })
        .collect();
    let mut resp = Json(json!({
        "month": from.format("%Y-%m").to_string(),
        "grids": by_grid.into_iter().map(|(g, s)| json!({"grid": g, "households": s.households, "visited": s.visited, "visits": s.visits, "share": s.share})).collect::<Vec<_>>(),
        "workers": by_worker.into_iter().map(|(w, s)| json!({"worker": w, "households": s.households, "visited": s.visited, "visits": s.visits, "share": s.share})).collect::<Vec<_>>(),
        "overdue": overdue,
    }))
    .into_response();
    resp.extensions_mut()
        .insert(AuditNote(format!("visit figures of {} grids", codes.len())));
    Ok(resp)
}

/// The body of `POST /api/households/tags`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TagIn {
    household: String,
    grid: String,
    tag: String,
}

/// `POST /api/households/tags`: a leader tags a household of a grid in their area.
pub async fn tag(
    AxState(svc): AxState<Arc<Service>>,
    who: Who,
    body: Bytes,
) -> ApiResult<Response> {
    let caller = auth::need(&who)?;
    let store = store(&svc)?;
    let t: TagIn = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "body: {e} (want {{\"household\", \"grid\", \"tag\"}})"
        ))
    })?;
    let h: Household = t
        .household
        .parse()
        .map_err(|e: field::VisitError| ApiError::bad_request(format!("household: {e}")))?;
    let tag = Tag::parse_opt(&t.tag).map_err(|e| ApiError::bad_request(format!("tag: {e}")))?;
    let st = svc.state();
    let gi = grid_index(&st, &t.grid, "grid")?;
    let village = st
        .snapshot
        .villages
        .get(st.snapshot.grids[gi].village)
        .map_or("", |v| v.code.as_str());
    policy::may_tag_households(caller, village).map_err(auth::refused)?;
    let doors = doors_of(&svc, &st, gi).await?;
    if !doors
        .iter()
        .any(|b| b.building == h.building && u64::from(h.door) <= b.households)
    {
        return Err(ApiError::bad_request(format!(
            "household: no household {h} in grid {}",
            t.grid
        )));
    }
    store
        .set_tag(&h.key(), &t.grid, tag, &caller.name)
        .await
        .map_err(|e| ApiError::unavailable(e.to_string()))?;
    let mut resp = Json(json!({"household": h.key(), "grid": t.grid, "tag": tag})).into_response();
    resp.extensions_mut().insert(AuditNote(format!(
        "household {h} tag {}",
        tag.map_or("none", Tag::as_str)
    )));
    Ok(resp)
}
