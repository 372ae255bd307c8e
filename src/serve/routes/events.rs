//! Event routes (网格事件): workers' phones and hotline staff report events, dispatchers and
//! leaders act on them, the screen and the map read figures and points. Handlers read the
//! request, call [`crate::events`], the store and the policy, and write the answer.
//!
//! - `POST /api/events`: one report or an array; `client_id` makes a re-sent report a duplicate
//!   (200 when all were), not a second event (201);
//! - `GET /api/events` (`state`, `grid`, `village`, `category`, `from`, `to`, `overdue`, `limit`),
//!   `GET /api/events/geojson` (the same as points), `GET /api/events/{id}` with its history
//!   and the actions its caller may take now (`actions`);
//! - `POST /api/events/{id}/actions`: `{"action", "expected_version", "note", "assignee",
//!   "reason", "rating", "photos"}`: 409 if someone acted first, 422 if the flow refuses it;
//! - `GET /api/events/categories`, `GET /api/events/figures` (per grid, worst first);
//! - `GET|PUT /api/events/categories`, `GET|PUT /api/events/limits`: the deployment's category
//!   tree and time limits (set by admins);
//! - `GET /tiles/events.json`, `GET /tiles/events/{z}/{x}/{y}.mvt`: the events as a point layer;
//! - `GET /events`: the dispatcher's console page (web/events/).

use super::tiles::{gzip, respond};
use crate::accounts::policy;
use crate::crs::Crs;
use crate::events::category::CategoryTree;
use crate::events::deadline::Limits;
use crate::events::flow::Request;
use crate::events::photo::{self, MAX_PHOTOS};
use crate::events::settings::Settings;
use crate::events::{self, figures, parse_time, Action, Event, EventError, NewEvent, Photo};
use crate::serve::auth::{self, AuditNote, Who};
use crate::serve::cache::{etag_of, Entry};
use crate::serve::error::{ApiError, ApiResult};
use crate::serve::state::Service;
use crate::store::events::{EventFilter, EventStoreError};
use crate::store::Store;
use crate::tiles::{TileId, BUFFER};
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State as AxState};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

type Params = Result<Query<BTreeMap<String, String>>, QueryRejection>;

/// Largest body of a report or an action (photos travel in it).
pub const MAX_BODY_BYTES: usize = 40 * 1024 * 1024;
/// Most reports in one batch.
pub const MAX_BATCH: usize = 500;
/// Most events one list answers.
pub const MAX_LIST: i64 = 5000;

fn store(svc: &Service) -> ApiResult<&Store> {
    svc.accounts().ok_or_else(|| {
        ApiError::unavailable("events need a store (serve from a store or --accounts)")
    })
}

/// The deployment's categories and limits.
async fn settings(svc: &Service) -> ApiResult<Settings> {
    store(svc)?.event_settings().await.map_err(status_of)
}

fn status_of(e: EventStoreError) -> ApiError {
    let status = match &e {
        EventStoreError::Conflict { .. } => StatusCode::CONFLICT,
        EventStoreError::Refused {
            error: events::flow::FlowError::Field { .. },
            ..
        } => StatusCode::BAD_REQUEST,
        EventStoreError::Refused { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        EventStoreError::NotFound(_) => StatusCode::NOT_FOUND,
        EventStoreError::CategoriesInUse(_) | EventStoreError::CategoriesInLimits(_) => {
            StatusCode::CONFLICT
        }
        EventStoreError::Invalid(_) => StatusCode::BAD_REQUEST,
        EventStoreError::Store(_) | EventStoreError::Setting { .. } => {
            StatusCode::SERVICE_UNAVAILABLE
        }
    };
    ApiError {
        status,
        message: e.to_string(),
    }
}

fn field(i: Option<usize>, e: EventError) -> ApiError {
    ApiError::bad_request(match i {
        Some(i) => format!("event #{i}: {e}"),
        None => e.to_string(),
    })
}

fn opt_str<'a>(v: &'a Value, k: &'static str) -> Result<Option<&'a str>, EventError> {
    match &v[k] {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.as_str())),
        _ => Err(EventError::Invalid {
            field: k,
            why: "must be a string".into(),
        }),
    }
}

fn text(v: &Value, k: &'static str) -> Result<String, EventError> {
    opt_str(v, k)?
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .ok_or(EventError::Missing(k))
}

/// The photos of a report or action: `[{"type": "image/jpeg", "data": "<base64>"}]`.
fn photos(v: &Value) -> Result<Vec<Photo>, EventError> {
    let list = match &v["photos"] {
        Value::Null => return Ok(Vec::new()),
        Value::Array(a) => a,
        _ => {
            return Err(EventError::Invalid {
                field: "photos",
                why: "must be an array".into(),
            })
        }
    };
    if list.len() > MAX_PHOTOS {
        return Err(EventError::Invalid {
            field: "photos",
            why: format!("{} photos, at most {MAX_PHOTOS}", list.len()),
        });
    }
    list.iter()
        .enumerate()
        .map(|(i, p)| {
            let data = p["data"].as_str().ok_or(EventError::Invalid {
                field: "photos",
                why: format!("photo #{i}: data (base64) missing"),
            })?;
            photo::check(i, p["type"].as_str(), &photo::decode_base64(data)?)
        })
        .collect()
}

fn coordinate(v: &Value, k: &'static str, range: f64) -> Result<f64, EventError> {
    let x = v[k].as_f64().ok_or(EventError::Missing(k))?;
    if !x.is_finite() || x.abs() > range {
        return Err(EventError::Invalid {
            field: k,
            why: format!("{x} is outside -{range}..{range}"),
        });
    }
    Ok(x)
}

/// Where a report is (WGS84), from lon/lat in its CRS or its address, located on the map.
async fn place(
    svc: &Service,
    v: &Value,
) -> ApiResult<(f64, f64, Option<String>, events::Location)> {
    let st = svc.state();
    let (lon, lat, crs, address) = if v["lon"].is_null() && v["lat"].is_null() {
        let addr = text(v, "address").map_err(|_| EventError::Invalid {
            field: "lon",
            why: "give lon and lat (with crs), or an address".into(),
        });
        let addr = addr.map_err(|e| field(None, e))?;
        let found = svc
            .source
            .find_address(&addr)
            .await
            .map_err(|e| ApiError::unavailable(e.to_string()))?;
        let (b, _) = found.candidates.first().ok_or_else(|| {
            field(
                None,
                EventError::Invalid {
                    field: "address",
                    why: format!("no building's address matches `{addr}`"),
                },
            )
        })?;
        (b.point.x(), b.point.y(), Crs::Wgs84, Some(addr))
    } else {
        let crs = match opt_str(v, "crs").map_err(|e| field(None, e))? {
            None => Crs::Wgs84,
            Some(c) => c.parse().map_err(|e: crate::crs::UnknownCrs| {
                field(
                    None,
                    EventError::Invalid {
                        field: "crs",
                        why: e.to_string(),
                    },
                )
            })?,
        };
        let lon = coordinate(v, "lon", 180.0).map_err(|e| field(None, e))?;
        let lat = coordinate(v, "lat", 90.0).map_err(|e| field(None, e))?;
        let (lon, lat) = crs.to_wgs84(lon, lat);
        let address = opt_str(v, "address").ok().flatten().map(str::to_string);
        (lon, lat, crs, address)
    };
    let located = st.locate(lon, lat, super::locate::tolerance_m(svc, crs));
    Ok((
        lon,
        lat,
        address,
        events::location_of(&st.snapshot, &located),
    ))
}

/// One report of a batch, checked and located.
async fn new_event(
    svc: &Service,
    caller: &crate::accounts::Caller,
    tree: &CategoryTree,
    v: &Value,
) -> ApiResult<NewEvent> {
    let f = |e| field(None, e);
    if !v.is_object() {
        return Err(ApiError::bad_request("a report must be a JSON object"));
    }
    let category = tree.check(&text(v, "category").map_err(f)?).map_err(f)?;
    let source = match opt_str(v, "source").map_err(f)? {
        Some(s) => s.parse().map_err(f)?,
        None if caller.role == crate::accounts::Role::Worker => events::Source::Worker,
        None => events::Source::Hotline,
    };
    let priority = match opt_str(v, "priority").map_err(f)? {
        Some(p) => p.parse().map_err(f)?,
        None => events::Priority::Normal,
    };
    let reported_at = match opt_str(v, "reported_at").map_err(f)? {
        Some(t) => parse_time("reported_at", t).map_err(f)?,
        None => Utc::now(),
    };
    let client_id = opt_str(v, "client_id").map_err(f)?.map(str::to_string);
    let title = text(v, "title").map_err(f)?;
    let description = opt_str(v, "description")
        .map_err(f)?
        .unwrap_or("")
        .to_string();
    let photos = photos(v).map_err(f)?;
    let (lon, lat, address, location) = place(svc, v).await?;
    Ok(NewEvent {
        client_id,
        reporter: caller.name.clone(),
        source,
        category,
        title,
        description,
        lon,
        lat,
        address,
        location,
        priority,
        photos,
        reported_at,
    })
}

/// `POST /api/events`: one report or an array of them; all are stored or none.
pub async fn report(
    AxState(svc): AxState<Arc<Service>>,
    who: Who,
    body: Bytes,
) -> ApiResult<Response> {
    let v: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("the body is not JSON: {e}")))?;
    let caller = auth::need(&who)?;
    let (items, batch) = match v {
        Value::Array(a) => (a, true),
        o => (vec![o], false),
    };
    if items.is_empty() || items.len() > MAX_BATCH {
        return Err(ApiError::bad_request(format!(
            "{} reports: send 1 to {MAX_BATCH}",
            items.len()
        )));
    }
    let set = settings(&svc).await?;
    let mut batch_events = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let e = new_event(&svc, caller, &set.categories, item)
            .await
            .map_err(|mut e| {
                if batch {
                    e.message = format!("event #{i}: {}; nothing stored", e.message);
                }
                e
            })?;
        batch_events.push(e);
    }
    let stored = store(&svc)?
        .report_events(&batch_events, &set.limits)
        .await
        .map_err(status_of)?;
    let fresh: Vec<&str> = stored
        .iter()
        .filter(|r| !r.duplicate)
        .map(|r| r.number.as_str())
        .collect();
    let status = if fresh.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let note = AuditNote(format!(
        "events reported: {}; duplicates: {}",
        fresh.join(","),
        stored.len() - fresh.len()
    ));
    let mut resp = (status, Json(json!({ "events": stored }))).into_response();
    resp.extensions_mut().insert(note);
    Ok(resp)
}

/// An instant of a query: a date (China time; `end` moves it to the next day's start) or RFC 3339.
fn instant(k: &'static str, s: &str, end: bool) -> ApiResult<DateTime<Utc>> {
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let d = if end { d.succ_opt().unwrap_or(d) } else { d };
        let t = d
            .and_hms_opt(0, 0, 0)
            .and_then(|t| t.and_local_timezone(events::china()).single())
            .ok_or_else(|| ApiError::bad_request(format!("{k}: `{s}` is not a date")))?;
        return Ok(t.with_timezone(&Utc));
    }
    parse_time(k, s).map_err(|e| ApiError::bad_request(format!("{e}; or give a date YYYY-MM-DD")))
}

/// The filter of a query, within what the caller may see.
fn filter(
    q: &BTreeMap<String, String>,
    caller: &crate::accounts::Caller,
    tree: &CategoryTree,
) -> ApiResult<EventFilter> {
    let f = |e| field(None, e);
    let bad = |k: &str, e: crate::model::CodeError| ApiError::bad_request(format!("{k}: {e}"));
    let (area, holder) = policy::event_view(caller);
    let mut out = EventFilter {
        area,
        holder,
        limit: Some(500),
        ..EventFilter::default()
    };
    for (k, v) in q {
        match k.as_str() {
            "state" => {
                out.states = v
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::parse)
                    .collect::<Result<_, _>>()
                    .map_err(f)?
            }
            "grid" => {
                out.grid = Some(crate::model::GridCode::parse(v).map_err(|e| bad("grid", e))?)
            }
            "village" => {
                out.village =
                    Some(crate::model::VillageCode::parse(v).map_err(|e| bad("village", e))?)
            }
            "category" => out.category = Some(tree.check(v).map_err(f)?),
            "from" => out.from = Some(instant("from", v, false)?),
            "to" => out.to = Some(instant("to", v, true)?),
            "overdue" => {
                out.overdue_at = match v.as_str() {
                    "true" | "1" => Some(Utc::now()),
                    "false" | "0" => None,
                    _ => {
                        return Err(ApiError::bad_request(format!(
                            "overdue: `{v}`: true or false"
                        )))
                    }
                }
            }
            "limit" => {
                let n: i64 = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_LIST).contains(n))
                    .ok_or_else(|| {
                        ApiError::bad_request(format!("limit: `{v}`: 1 to {MAX_LIST}"))
                    })?;
                out.limit = Some(n);
            }
            _ => {
                return Err(ApiError::bad_request(format!(
                "unknown parameter `{k}` (state, grid, village, category, from, to, overdue, limit)"
            )))
            }
        }
    }
    Ok(out)
}

/// An event as the API shows it: its fields, its category's name and its deadline status.
pub fn event_json(e: &Event, tree: &CategoryTree, now: DateTime<Utc>) -> Value {
    let mut v = serde_json::to_value(e).unwrap_or(Value::Null);
    let l = &e.location;
    v["village"] = json!(l.village);
    v["grid"] = json!(l.grid);
    v["micro_grid"] = json!(l.micro_grid);
    v["category_name"] = json!(tree.name(&e.category));
    v["state_label"] = json!(e.state.label());
    v["due"] = json!(e.due_status(now).as_str());
    v
}

/// `GET /api/events`.
pub async fn list(AxState(svc): AxState<Arc<Service>>, who: Who, q: Params) -> ApiResult<Response> {
    let Query(q) = q?;
    let caller = auth::need(&who)?;
    let tree = settings(&svc).await?.categories;
    let f = filter(&q, caller, &tree)?;
    let evs = store(&svc)?.list_events(&f).await.map_err(status_of)?;
    let now = Utc::now();
    let list: Vec<Value> = evs.iter().map(|e| event_json(e, &tree, now)).collect();
    Ok(Json(json!({ "events": list })).into_response())
}

/// `GET /api/events/geojson`: the events of the filter as points (state, category, due).
pub async fn geojson(
    AxState(svc): AxState<Arc<Service>>,
    who: Who,
    q: Params,
) -> ApiResult<Response> {
    let Query(q) = q?;
    let caller = auth::need(&who)?;
    let tree = settings(&svc).await?.categories;
    let f = filter(&q, caller, &tree)?;
    let evs = store(&svc)?.list_events(&f).await.map_err(status_of)?;
    let now = Utc::now();
    let features: Vec<Value> = evs
        .iter()
        .map(|e| {
            json!({
                "type": "Feature",
                "id": e.id,
                "geometry": {"type": "Point", "coordinates": [e.lon, e.lat]},
                "properties": {
                    "id": e.id, "number": e.number, "title": e.title, "state": e.state.as_str(),
                    "category": e.category, "top": tree.top(&e.category), "priority": e.priority.as_str(),
                    "due": e.due_status(now).as_str(), "grid": e.location.grid,
                },
            })
        })
        .collect();
    Ok(Json(json!({"type": "FeatureCollection", "features": features})).into_response())
}

fn event_id(id: &str) -> ApiResult<i64> {
    id.parse()
        .map_err(|_| ApiError::bad_request(format!("event id `{id}` is not a number")))
}

/// `GET /api/events/{id}`: the event and its history.
pub async fn show(
    AxState(svc): AxState<Arc<Service>>,
    who: Who,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = event_id(&id)?;
    let caller = auth::need(&who)?;
    let s = store(&svc)?;
    let e = s.event(id).await.map_err(status_of)?;
    policy::may_see_event(caller, &e).map_err(auth::refused)?;
    let history = s.event_history(id).await.map_err(status_of)?;
    let tree = settings(&svc).await?.categories;
    let mut v = event_json(&e, &tree, Utc::now());
    v["history"] = json!(history);
    v["actions"] = json!(policy::event_offers(caller, &e));
    Ok(Json(v).into_response())
}

/// `GET /api/events/{id}/photos/{photo}`: a photo's bytes.
pub async fn photo(
    AxState(svc): AxState<Arc<Service>>,
    who: Who,
    Path((id, p)): Path<(String, String)>,
) -> ApiResult<Response> {
    let id = event_id(&id)?;
    let p: i64 = p
        .parse()
        .map_err(|_| ApiError::bad_request(format!("photo id `{p}` is not a number")))?;
    let caller = auth::need(&who)?;
    let s = store(&svc)?;
    let e = s.event(id).await.map_err(status_of)?;
    policy::may_see_event(caller, &e).map_err(auth::refused)?;
    let (kind, data) = s.event_photo(id, p).await.map_err(status_of)?;
    Ok(([(header::CONTENT_TYPE, kind.as_str())], data).into_response())
}

/// The action of a request body.
fn request(v: &Value) -> Result<Request, EventError> {
    let action: Action = text(v, "action")?.parse()?;
    let expected_version = v["expected_version"]
        .as_i64()
        .ok_or(EventError::Missing("expected_version"))?;
    let rating = match &v["rating"] {
        Value::Null => None,
        r => Some(r.as_i64().ok_or(EventError::Invalid {
            field: "rating",
            why: "must be a whole number 1 to 5".into(),
        })?),
    };
    Ok(Request {
        action,
        expected_version,
        note: opt_str(v, "note")?.unwrap_or("").to_string(),
        assignee: opt_str(v, "assignee")?.map(str::to_string),
        reason: opt_str(v, "reason")?.map(str::to_string),
        rating,
        photos: photos(v)?,
    })
}

/// `POST /api/events/{id}/actions`.
pub async fn act(
    AxState(svc): AxState<Arc<Service>>,
    who: Who,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let id = event_id(&id)?;
    let v: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("the body is not JSON: {e}")))?;
    let rq = request(&v).map_err(|e| field(None, e))?;
    let caller = auth::need(&who)?;
    let s = store(&svc)?;
    let e = s.event(id).await.map_err(status_of)?;
    policy::may_act_on_event(caller, rq.action, &e).map_err(auth::refused)?;
    let set = settings(&svc).await?;
    let after = s
        .act_on_event(id, &rq, &caller.name, &set.limits, Utc::now())
        .await
        .map_err(status_of)?;
    let note = AuditNote(format!(
        "event {} {} ({} → {}, version {})",
        after.number, rq.action, e.state, after.state, after.version
    ));
    let mut resp = Json(event_json(&after, &set.categories, Utc::now())).into_response();
    resp.extensions_mut().insert(note);
    Ok(resp)
}

/// `GET /events`: the dispatcher's console page (调度台).
pub async fn page() -> Response {
    super::static_files::file(&super::static_files::WEB, "events/index.html")
        .unwrap_or_else(|| ApiError::not_found("no events console is built in").into_response())
}

/// `GET /tiles/events/{z}/{x}/{y}.mvt`: the events of the filter (the parameters of
/// `GET /api/events`, within what the caller may see, without a limit) falling in the tile, as
/// one point layer `events` (state, category, top, priority, due, grid); 204 when none.
pub async fn tile(
    AxState(svc): AxState<Arc<Service>>,
    who: Who,
    Path((z, x, y)): Path<(String, String, String)>,
    q: Params,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let Query(q) = q?;
    let caller = auth::need(&who)?;
    let num = |what: &str, s: &str| -> ApiResult<u32> {
        s.parse::<u32>()
            .map_err(|_| ApiError::bad_request(format!("{what} `{s}` is not a whole number ≥ 0")))
    };
    let y = y.strip_suffix(".mvt").unwrap_or(&y);
    let id = TileId::new(num("z", &z)?, num("x", &x)?, num("y", y)?)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let tree = settings(&svc).await?.categories;
    let mut f = filter(&q, caller, &tree)?;
    f.limit = None;
    let b = id.buffered_bounds(BUFFER);
    f.bbox = Some([b.min().x, b.min().y, b.max().x, b.max().y]);
    let evs = store(&svc)?.event_points(&f).await.map_err(status_of)?;
    let value = tokio::task::spawn_blocking(move || -> std::io::Result<Option<Bytes>> {
        match events::tile::render(&evs, &tree, Utc::now(), id) {
            Some(raw) => Ok(Some(Bytes::from(gzip(&raw)?))),
            None => Ok(None),
        }
    })
    .await
    .map_err(|e| ApiError::unavailable(format!("rendering tile: {e}")))?
    .map_err(|e| ApiError::unavailable(format!("compressing tile: {e}")))?;
    let entry = Entry {
        etag: etag_of(&value),
        value,
    };
    let etag = format!(
        "W/\"events-{}-{}-{}-{:016x}\"",
        id.z, id.x, id.y, entry.etag
    );
    respond(entry, &etag, &headers)
}

/// `GET /tiles/events.json`: TileJSON of the events layer.
pub async fn tilejson(AxState(svc): AxState<Arc<Service>>, headers: HeaderMap) -> Response {
    let st = svc.state();
    let host = super::tiles::request_host(&headers);
    let bounds = match st.bounds {
        Some(b) => vec![b.min().x, b.min().y, b.max().x, b.max().y],
        None => vec![-180.0, -85.051_129, 180.0, 85.051_129],
    };
    let fields: serde_json::Map<String, Value> = events::tile::FIELDS
        .iter()
        .map(|(k, t)| (k.to_string(), Value::from(*t)))
        .collect();
    Json(json!({
        "tilejson": "3.0.0",
        "name": "wangge events",
        "description": "events as points; the parameters of GET /api/events filter them (state, grid, village, category, from, to, overdue)",
        "scheme": "xyz",
        "tiles": [format!("http://{host}/tiles/events/{{z}}/{{x}}/{{y}}.mvt")],
        "minzoom": svc.config.min_zoom,
        "maxzoom": svc.config.max_zoom,
        "bounds": bounds,
        "vector_layers": [{"id": events::tile::LAYER, "fields": fields}],
    }))
    .into_response()
}

/// A setting's body as text, or 400 naming the setting.
fn utf8<'a>(body: &'a Bytes, what: &str) -> ApiResult<&'a str> {
    std::str::from_utf8(body)
        .map_err(|_| ApiError::bad_request(format!("{what}: the body is not UTF-8")))
}

/// `GET /api/events/categories`: the deployment's category tree.
pub async fn categories(AxState(svc): AxState<Arc<Service>>) -> ApiResult<Json<CategoryTree>> {
    Ok(Json(settings(&svc).await?.categories))
}

/// `PUT /api/events/categories` (admins): replaces the category tree; 409 when it leaves out a
/// category stored events are in.
pub async fn set_categories(
    AxState(svc): AxState<Arc<Service>>,
    who: Who,
    body: Bytes,
) -> ApiResult<Response> {
    let caller = auth::need(&who)?;
    let tree = CategoryTree::from_json(utf8(&body, "categories")?).map_err(|e| field(None, e))?;
    store(&svc)?
        .set_event_categories(&tree, &caller.name)
        .await
        .map_err(status_of)?;
    let note = AuditNote(format!(
        "event categories set: {} codes",
        tree.codes().len()
    ));
    let mut resp = Json(tree).into_response();
    resp.extensions_mut().insert(note);
    Ok(resp)
}

/// `GET /api/events/limits?category=`: the time limits (`defaults` per priority × step in hours,
/// and the deployment's `overrides` by category); with `category`, also the `effective` limits of
/// that category, overrides applied.
pub async fn limits(AxState(svc): AxState<Arc<Service>>, q: Params) -> ApiResult<Response> {
    let Query(q) = q?;
    super::known_keys(&q, &["category"])?;
    let set = settings(&svc).await?;
    let mut table = set.limits.table_json();
    if let Some(c) = q.get("category") {
        let code = set.categories.check(c).map_err(|e| field(None, e))?;
        table["category"] = json!(code);
        table["effective"] = set.limits.effective_json(&code);
    }
    Ok(Json(table).into_response())
}

/// `PUT /api/events/limits` (admins): replaces the overrides (`[{category, priority?, step?,
/// hours | factor}]`); steps already running keep their deadlines.
pub async fn set_limits(
    AxState(svc): AxState<Arc<Service>>,
    who: Who,
    body: Bytes,
) -> ApiResult<Response> {
    let caller = auth::need(&who)?;
    let limits = Limits::from_json(utf8(&body, "limits")?).map_err(|e| field(None, e))?;
    store(&svc)?
        .set_event_limits(&limits, &caller.name)
        .await
        .map_err(status_of)?;
    let note = AuditNote(format!(
        "event limits set: {} overrides",
        limits.overrides.len()
    ));
    let mut resp = Json(limits.table_json()).into_response();
    resp.extensions_mut().insert(note);
    Ok(resp)
}

/// `GET /api/events/figures?village=&grid=&from=&to=`: counts per grid (worst first), village,
/// category and source, and their totals; the period defaults to this month (China time).
pub async fn figures_route(
    AxState(svc): AxState<Arc<Service>>,
    who: Who,
    q: Params,
) -> ApiResult<Response> {
    let Query(q) = q?;
    let caller = auth::need(&who)?;
    super::known_keys(&q, &["village", "grid", "from", "to"])?;
    let tree = settings(&svc).await?.categories;
    let mut f = filter(&q, caller, &tree)?;
    // figures are counts: everyone sees them for the whole area they ask for
    f.holder = None;
    f.limit = None;
    let now = Utc::now();
    if f.from.is_none() {
        let today = now.with_timezone(&events::china()).date_naive();
        let first = today.format("%Y-%m-01").to_string();
        f.from = Some(instant("from", &first, false)?);
    }
    let evs = store(&svc)?.list_events(&f).await.map_err(status_of)?;
    let top = |c: &str| tree.top(c).unwrap_or("other").to_string();
    let fig = figures::figures(&evs, &top, now);
    let mut v = json!(fig);
    v["from"] = json!(f.from.map(events::time_text));
    v["to"] = json!(f.to.map(events::time_text));
    Ok(Json(v).into_response())
}
