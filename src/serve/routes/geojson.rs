//! GeoJSON (RFC 7946) of villages, grids, micro-grids and buildings, filtered by village, bounding
//! box and plan version; one grid or micro-grid by its code; and the health check.
//!
//! Coordinates are lon/lat, exterior rings counter-clockwise and holes clockwise (the state
//! orients every polygon), and features carry only `type`, `id`, `geometry` and `properties`.

use crate::serve::auth::Who;
use crate::serve::error::{ApiError, ApiResult};
use crate::serve::layers::grid_name;
use crate::serve::source::BuildingFilter;
use crate::serve::state::{Service, State};
use crate::snapshot::{BuildingRecord, GridView, MicroView, Person};
use axum::body::{Body, Bytes};
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State as AxState};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use geo::orient::{Direction, Orient};
use geo::{BoundingRect, Intersects, LineString, MultiPolygon, Point, Rect};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

type Params = Result<Query<BTreeMap<String, String>>, QueryRejection>;

/// The filters of a collection request.
struct Filter {
    village: Option<usize>,
    bbox: Option<Rect<f64>>,
    plan: Option<i64>,
}

fn parse_filter(st: &State, q: &BTreeMap<String, String>) -> ApiResult<Filter> {
    let village = match q.get("village") {
        None => None,
        Some(v) => {
            crate::model::VillageCode::parse(v)
                .map_err(|e| ApiError::bad_request(format!("village: {e}")))?;
            Some(
                *st.village_by_code
                    .get(v)
                    .ok_or_else(|| ApiError::not_found(format!("no village with code {v}")))?,
            )
        }
    };
    let bbox = match q.get("bbox") {
        None => None,
        Some(b) => Some(parse_bbox(b)?),
    };
    let plan = match q.get("plan") {
        None => None,
        Some(p) => Some(p.parse::<i64>().map_err(|_| {
            ApiError::bad_request(format!("plan: `{p}` is not a plan version number"))
        })?),
    };
    Ok(Filter {
        village,
        bbox,
        plan,
    })
}

/// Parses `minLon,minLat,maxLon,maxLat`.
pub fn parse_bbox(b: &str) -> ApiResult<Rect<f64>> {
    let v: Vec<f64> = b
        .split(',')
        .map(|s| s.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| {
            ApiError::bad_request(format!(
                "bbox: `{b}` is not four numbers minLon,minLat,maxLon,maxLat"
            ))
        })?;
    let [x0, y0, x1, y1] = v.as_slice() else {
        return Err(ApiError::bad_request(format!(
            "bbox: `{b}` has {} numbers, want 4 (minLon,minLat,maxLon,maxLat)",
            v.len()
        )));
    };
    let lon_ok = |x: f64| (-180.0..=180.0).contains(&x);
    let lat_ok = |y: f64| (-90.0..=90.0).contains(&y);
    if !(lon_ok(*x0) && lon_ok(*x1) && lat_ok(*y0) && lat_ok(*y1)) {
        return Err(ApiError::bad_request(format!(
            "bbox: `{b}` is outside lon -180..180, lat -90..90"
        )));
    }
    if x0 > x1 || y0 > y1 {
        return Err(ApiError::bad_request(format!(
            "bbox: `{b}` has min above max (want minLon,minLat,maxLon,maxLat)"
        )));
    }
    Ok(Rect::new((*x0, *y0), (*x1, *y1)))
}

fn ring(ls: &LineString<f64>) -> Value {
    Value::Array(ls.0.iter().map(|c| json!([c.x, c.y])).collect())
}

/// A (Multi)Polygon as a GeoJSON geometry (a Polygon when it has one part).
pub fn polygon_json(mp: &MultiPolygon<f64>) -> Value {
    let poly = |p: &geo::Polygon<f64>| -> Value {
        Value::Array(
            std::iter::once(p.exterior())
                .chain(p.interiors())
                .map(ring)
                .collect(),
        )
    };
    if mp.0.len() == 1 {
        json!({"type": "Polygon", "coordinates": poly(&mp.0[0])})
    } else {
        json!({"type": "MultiPolygon", "coordinates": mp.0.iter().map(poly).collect::<Vec<_>>()})
    }
}

fn point_json(p: &Point<f64>) -> Value {
    json!({"type": "Point", "coordinates": [p.x(), p.y()]})
}

fn feature(id: &str, geometry: Value, properties: Map<String, Value>) -> Value {
    json!({"type": "Feature", "id": id, "geometry": geometry, "properties": properties})
}

fn collection(features: Vec<Value>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/geo+json"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        json!({"type": "FeatureCollection", "features": features}).to_string(),
    )
        .into_response()
}

fn one(f: Value) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/geo+json"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        f.to_string(),
    )
        .into_response()
}

fn round(x: f64, places: i32) -> f64 {
    let k = 10f64.powi(places);
    (x * k).round() / k
}

/// The people of a grid as JSON.
pub fn people_json(people: &[Person]) -> Value {
    Value::Array(
        people
            .iter()
            .map(|p| json!({"role": p.role.as_str(), "name": p.name, "phone": p.phone}))
            .collect(),
    )
}

/// Keeps only the grid leaders of a `people` array unless `all`: what anyone may see of a grid's
/// people is what its notice board shows (see [`crate::accounts::policy::sees_people`]).
pub fn keep_people(people: &mut Value, all: bool) {
    if let (false, Value::Array(a)) = (all, people) {
        a.retain(|p| p["role"] == "grid_leader");
    }
}

/// Properties of a grid (every person when `all_people`, else its leaders).
pub fn grid_props(
    st: &State,
    g: &GridView,
    plan_version: Option<i64>,
    all_people: bool,
) -> Map<String, Value> {
    let v = st.snapshot.villages.get(g.village);
    let vname = v.map(|v| v.name.as_str()).unwrap_or("");
    let f = &g.figures;
    let mut m = Map::new();
    m.insert("code".into(), g.code.as_str().into());
    m.insert("name".into(), grid_name(vname, g.code.as_str()).into());
    m.insert(
        "village_code".into(),
        v.map(|v| v.code.as_str()).unwrap_or("").into(),
    );
    m.insert("village_name".into(), vname.into());
    m.insert(
        "plan_version".into(),
        plan_version
            .or(v.and_then(|v| v.plan_version))
            .map_or(Value::Null, Value::from),
    );
    m.insert("households".into(), f.households.into());
    m.insert("residents".into(), f.residents.into());
    m.insert("weight".into(), f.weight.into());
    m.insert("area_m2".into(), round(f.area_m2, 1).into());
    m.insert("perimeter_m".into(), round(f.perimeter_m, 1).into());
    m.insert("polsby_popper".into(), round(f.polsby_popper, 4).into());
    m.insert("buildings".into(), f.buildings.into());
    m.insert("label".into(), json!([g.label.x(), g.label.y()]));
    let mut people = people_json(&g.people);
    keep_people(&mut people, all_people);
    m.insert("people".into(), people);
    m.insert("color".into(), g.color.map_or(Value::Null, Value::from));
    m
}

fn micro_props(st: &State, m: &MicroView, grids: &[GridView]) -> Map<String, Value> {
    let g = grids.get(m.grid);
    let v = g.and_then(|g| st.snapshot.villages.get(g.village));
    let f = &m.figures;
    let mut p = Map::new();
    p.insert("code".into(), m.code.as_str().into());
    p.insert(
        "grid_code".into(),
        g.map(|g| g.code.as_str()).unwrap_or("").into(),
    );
    p.insert(
        "village_code".into(),
        v.map(|v| v.code.as_str()).unwrap_or("").into(),
    );
    p.insert("kind".into(), m.kind.as_str().into());
    p.insert("households".into(), f.households.into());
    p.insert("residents".into(), f.residents.into());
    p.insert("area_m2".into(), round(f.area_m2, 1).into());
    p.insert("polsby_popper".into(), round(f.polsby_popper, 4).into());
    p.insert("buildings".into(), f.buildings.into());
    p.insert("label".into(), json!([m.label.x(), m.label.y()]));
    p.insert(
        "stack".into(),
        serde_json::to_value(&m.stack).unwrap_or(Value::Null),
    );
    p.insert("color".into(), m.color.map_or(Value::Null, Value::from));
    p
}

fn in_bbox(bbox: Option<Rect<f64>>, mp: &MultiPolygon<f64>) -> bool {
    match (bbox, mp.bounding_rect()) {
        (None, _) => true,
        (Some(b), Some(r)) => b.intersects(&r),
        (Some(_), None) => false,
    }
}

/// `GET /api/health`.
pub async fn health(AxState(svc): AxState<Arc<Service>>) -> Response {
    let st = svc.state();
    let s = &st.snapshot;
    let (tiles, bytes) = svc.cache.usage();
    axum::Json(json!({
        "status": "ok",
        "revision": s.revision,
        "villages": s.villages.len(),
        "grids": s.grids.len(),
        "micro_grids": s.micro_grids.len(),
        "buildings": st.buildings,
        "tile_cache": {"tiles": tiles, "bytes": bytes},
        "memory": {
            "rss_bytes": crate::serve::memory::rss_bytes(),
            "peak_bytes": crate::serve::memory::peak_bytes(),
            "tile_shapes_bytes": st.tile_bytes(),
        },
    }))
    .into_response()
}

/// Grid count, households and residents of an area's grids, as properties.
fn grid_totals(p: &mut Map<String, Value>, grids: &[&GridView]) {
    let sum = |f: fn(&GridView) -> f64| grids.iter().map(|g| f(g)).sum::<f64>() + 0.0;
    p.insert("grids".into(), grids.len().into());
    p.insert("households".into(), sum(|g| g.figures.households).into());
    p.insert("residents".into(), sum(|g| g.figures.residents).into());
}

/// `GET /api/towns`: towns and subdistricts (镇/街道), each the union of its villages (grouped by the
/// first 9 digits of their codes), with counts and totals.
pub async fn towns(AxState(svc): AxState<Arc<Service>>) -> ApiResult<Response> {
    let st = svc.state();
    let snap = &st.snapshot;
    let mut by_town: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, v) in snap.villages.iter().enumerate() {
        by_town.entry(&v.code.as_str()[..9]).or_default().push(i);
    }
    let mut out = Vec::new();
    for (code, vs) in by_town {
        let parts: Vec<geo::Polygon<f64>> = vs
            .iter()
            .flat_map(|&i| snap.villages[i].boundary.0.iter())
            .map(|p| p.orient(Direction::Default))
            .collect();
        let outline = geo::unary_union(&parts);
        let grids: Vec<&GridView> = snap
            .grids
            .iter()
            .filter(|g| vs.contains(&g.village))
            .collect();
        let mut p = Map::new();
        p.insert("code".into(), code.into());
        p.insert("villages".into(), vs.len().into());
        grid_totals(&mut p, &grids);
        out.push(feature(code, polygon_json(&outline), p));
    }
    Ok(collection(out))
}

/// `GET /api/villages`.
pub async fn villages(AxState(svc): AxState<Arc<Service>>, q: Params) -> ApiResult<Response> {
    let Query(q) = q?;
    let st = svc.state();
    let f = parse_filter(&st, &q)?;
    if f.plan.is_some() {
        return Err(ApiError::bad_request(
            "plan= filters grids and micro-grids, not villages",
        ));
    }
    let mut out = Vec::new();
    for (i, v) in st.snapshot.villages.iter().enumerate() {
        if f.village.is_some_and(|fv| fv != i) || !in_bbox(f.bbox, &v.boundary) {
            continue;
        }
        let grids: Vec<&GridView> = st
            .snapshot
            .grids
            .iter()
            .filter(|g| g.village == i)
            .collect();
        let mut p = Map::new();
        p.insert("code".into(), v.code.as_str().into());
        p.insert("name".into(), v.name.as_str().into());
        p.insert("mode".into(), v.mode.as_str().into());
        p.insert(
            "plan_version".into(),
            v.plan_version.map_or(Value::Null, Value::from),
        );
        grid_totals(&mut p, &grids);
        out.push(feature(v.code.as_str(), polygon_json(&v.boundary), p));
    }
    Ok(collection(out))
}

/// The grids and micro-grids a request asks for: the active plans, or plan `version` of the
/// villages in scope that have it.
async fn plan_scope(
    svc: &Service,
    st: &State,
    f: &Filter,
) -> ApiResult<Option<(Vec<GridView>, Vec<MicroView>)>> {
    let Some(version) = f.plan else {
        return Ok(None);
    };
    let mut grids = Vec::new();
    let mut micro = Vec::new();
    for (i, v) in st.snapshot.villages.iter().enumerate() {
        if f.village.is_some_and(|fv| fv != i) {
            continue;
        }
        let pg = svc
            .source
            .plan_grids(&v.code, i, version)
            .await
            .map_err(|e| ApiError::unavailable(e.to_string()))?;
        if let Some(pg) = pg {
            let g0 = grids.len();
            grids.extend(pg.grids);
            micro.extend(pg.micro_grids.into_iter().map(|mut m| {
                m.grid += g0;
                m
            }));
        }
    }
    if grids.is_empty() {
        return Err(ApiError::not_found(match f.village {
            Some(vi) => format!(
                "village {} has no plan version {version}",
                st.snapshot.villages[vi].code
            ),
            None => format!("no village has a plan version {version}"),
        }));
    }
    for g in &mut grids {
        g.geometry = g.geometry.orient(Direction::Default);
    }
    for m in &mut micro {
        m.geometry = m.geometry.orient(Direction::Default);
    }
    Ok(Some((grids, micro)))
}

/// Features per chunk of a streamed collection.
const CHUNK: usize = 64;

/// A FeatureCollection whose features (already joined by commas) come from `features`, sent as
/// they are made.
fn feature_stream(
    features: impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
) -> Response {
    use futures_util::StreamExt;
    let close = futures_util::stream::once(async {
        Ok::<Bytes, std::io::Error>(Bytes::from_static(b"]}"))
    });
    collection_stream(features.chain(close))
}

/// A GeoJSON FeatureCollection response: its opening, then `rest` (the features, `]` and any
/// members after them, and `}`).
fn collection_stream(
    rest: impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
) -> Response {
    use futures_util::StreamExt;
    let open = futures_util::stream::once(async {
        Ok::<Bytes, std::io::Error>(Bytes::from_static(
            b"{\"type\":\"FeatureCollection\",\"features\":[",
        ))
    });
    (
        [
            (header::CONTENT_TYPE, "application/geo+json"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(open.chain(rest)),
    )
        .into_response()
}

/// A FeatureCollection of `make(i)` for `i` in `0..n` (`None` leaves it out), made chunk by chunk
/// as the client reads: a district's micro-grids (tens of megabytes of JSON) never sit in memory
/// at once.
fn streamed(n: usize, mut make: impl FnMut(usize) -> Option<Value> + Send + 'static) -> Response {
    use futures_util::StreamExt;
    let mut first = true;
    feature_stream(
        futures_util::stream::iter((0..n).step_by(CHUNK)).map(move |start| {
            let mut out = String::new();
            for i in start..(start + CHUNK).min(n) {
                if let Some(f) = make(i) {
                    if !first {
                        out.push(',');
                    }
                    first = false;
                    out.push_str(&f.to_string());
                }
            }
            Ok(Bytes::from(out))
        }),
    )
}

/// `GET /api/grids`.
pub async fn grids(
    AxState(svc): AxState<Arc<Service>>,
    who: Who,
    q: Params,
) -> ApiResult<Response> {
    let Query(q) = q?;
    let all = crate::accounts::policy::sees_people(who.0.as_ref());
    let st = svc.state();
    let f = parse_filter(&st, &q)?;
    let scoped = plan_scope(&svc, &st, &f).await?.map(|(g, _)| g);
    let n = scoped.as_ref().map_or(st.snapshot.grids.len(), Vec::len);
    Ok(streamed(n, move |i| {
        let g = match &scoped {
            Some(g) => &g[i],
            None => &st.snapshot.grids[i],
        };
        (f.village.is_none_or(|v| v == g.village) && in_bbox(f.bbox, &g.geometry)).then(|| {
            feature(
                g.code.as_str(),
                polygon_json(&g.geometry),
                grid_props(&st, g, f.plan, all),
            )
        })
    }))
}

/// `GET /api/micro_grids`.
pub async fn micro_grids(AxState(svc): AxState<Arc<Service>>, q: Params) -> ApiResult<Response> {
    let Query(q) = q?;
    let st = svc.state();
    let f = parse_filter(&st, &q)?;
    let scoped = plan_scope(&svc, &st, &f).await?;
    let n = scoped
        .as_ref()
        .map_or(st.snapshot.micro_grids.len(), |s| s.1.len());
    Ok(streamed(n, move |i| {
        let (grids, m): (&[GridView], &MicroView) = match &scoped {
            Some((g, m)) => (g, &m[i]),
            None => (&st.snapshot.grids, &st.snapshot.micro_grids[i]),
        };
        (f.village
            .is_none_or(|v| grids.get(m.grid).is_some_and(|g| g.village == v))
            && in_bbox(f.bbox, &m.geometry))
        .then(|| {
            feature(
                m.code.as_str(),
                polygon_json(&m.geometry),
                micro_props(&st, m, grids),
            )
        })
    }))
}

/// A building as a GeoJSON feature.
fn building_feature(b: &BuildingRecord) -> Value {
    let geometry = match &b.footprint {
        Some(fp) => polygon_json(&fp.orient(Direction::Default)),
        None => point_json(&b.point),
    };
    let mut p = Map::new();
    p.insert("id".into(), b.id.as_str().into());
    p.insert("kind".into(), b.kind.as_str().into());
    p.insert("households".into(), b.households.into());
    p.insert("residents".into(), b.residents.into());
    p.insert(
        "address".into(),
        b.address.as_deref().map_or(Value::Null, Value::from),
    );
    p.insert(
        "group".into(),
        b.group.as_deref().map_or(Value::Null, Value::from),
    );
    p.insert("staff".into(), b.staff.map_or(Value::Null, Value::from));
    p.insert(
        "workshops".into(),
        b.workshops.map_or(Value::Null, Value::from),
    );
    p.insert("village_code".into(), b.village_code.as_str().into());
    p.insert(
        "grid_code".into(),
        b.grid_code.as_deref().map_or(Value::Null, Value::from),
    );
    p.insert(
        "micro_grid_codes".into(),
        Value::Array(b.micro_codes.iter().map(|m| m.as_str().into()).collect()),
    );
    feature(b.id.as_str(), geometry, p)
}

/// Buildings a page of `/api/buildings` holds when the request does not say (`limit=`).
pub const BUILDINGS_PAGE: usize = 10_000;

/// The most a page of `/api/buildings` may hold.
pub const BUILDINGS_PAGE_MAX: usize = 50_000;

/// The `limit=` and `after=` of a paged request.
fn page(q: &BTreeMap<String, String>) -> ApiResult<(usize, Option<u64>)> {
    let limit = match q.get("limit") {
        None => BUILDINGS_PAGE,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=BUILDINGS_PAGE_MAX).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "limit: `{l}` is not a whole number from 1 to {BUILDINGS_PAGE_MAX}"
                ))
            })?,
    };
    let after = match q.get("after") {
        None => None,
        Some(a) => Some(a.parse::<u64>().map_err(|_| {
            ApiError::bad_request(format!(
                "after: `{a}` is not a cursor (the `next` of the page before)"
            ))
        })?),
    };
    Ok((limit, after))
}

/// `GET /api/buildings`: a page of up to `limit` buildings (default [`BUILDINGS_PAGE`]) in store
/// order, streamed from the source as it reads them, in chunks of up to 256 features. When more
/// follow, the collection ends with `"next"`: the `after=` of the next page.
pub async fn buildings(AxState(svc): AxState<Arc<Service>>, q: Params) -> ApiResult<Response> {
    use futures_util::StreamExt;
    let Query(q) = q?;
    let st = svc.state();
    let f = parse_filter(&st, &q)?;
    if f.plan.is_some() {
        return Err(ApiError::bad_request(
            "plan= filters grids and micro-grids; buildings follow the active plan",
        ));
    }
    let (limit, after) = page(&q)?;
    let filter = BuildingFilter {
        village: f.village.map(|v| st.snapshot.villages[v].code.to_string()),
        bbox: f.bbox,
        after,
    };
    // the last building sent, and whether another one followed it
    let tail = Arc::new(std::sync::Mutex::new((None::<u64>, false)));
    let seen = tail.clone();
    let mut sent = 0usize;
    let features = svc
        .source
        .building_stream(filter)
        .take(limit + 1)
        .ready_chunks(256)
        .map(move |chunk| {
            let mut out = String::new();
            for r in chunk {
                let b = r.map_err(|e| {
                    tracing::warn!("streaming buildings: {e}");
                    std::io::Error::other(e.to_string())
                })?;
                let mut t = seen.lock().unwrap_or_else(|p| p.into_inner());
                if sent == limit {
                    t.1 = true;
                    break;
                }
                if sent > 0 {
                    out.push(',');
                }
                sent += 1;
                t.0 = Some(b.fid);
                out.push_str(&building_feature(&b).to_string());
            }
            Ok::<Bytes, std::io::Error>(Bytes::from(out))
        });
    let close = futures_util::stream::once(async move {
        let t = *tail.lock().unwrap_or_else(|p| p.into_inner());
        let end = match t {
            (Some(last), true) => format!("],\"next\":\"{last}\"}}"),
            _ => "]}".to_string(),
        };
        Ok::<Bytes, std::io::Error>(Bytes::from(end))
    });
    Ok(collection_stream(features.chain(close)))
}

fn check_code(code: &str, digits: usize, what: &str) -> ApiResult<()> {
    if code.len() == digits && code.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "`{code}` is not a {what} code ({digits} digits)"
        )))
    }
}

/// `GET /api/grids/{code}`.
pub async fn grid(
    AxState(svc): AxState<Arc<Service>>,
    who: Who,
    code: Result<Path<String>, PathRejection>,
) -> ApiResult<Response> {
    let Path(code) = code?;
    let all = crate::accounts::policy::sees_people(who.0.as_ref());
    check_code(&code, 15, "grid")?;
    let st = svc.state();
    let gi = st.grid_by_code.get(&code).ok_or_else(|| {
        ApiError::not_found(format!("no grid with code {code} in the active plans"))
    })?;
    let g = &st.snapshot.grids[gi];
    Ok(one(feature(
        g.code.as_str(),
        polygon_json(&g.geometry),
        grid_props(&st, g, None, all),
    )))
}

/// `GET /api/micro_grids/{code}`.
pub async fn micro_grid(
    AxState(svc): AxState<Arc<Service>>,
    code: Result<Path<String>, PathRejection>,
) -> ApiResult<Response> {
    let Path(code) = code?;
    check_code(&code, 18, "micro-grid")?;
    let st = svc.state();
    let mi = st.micro_by_code.get(&code).ok_or_else(|| {
        ApiError::not_found(format!(
            "no micro-grid with code {code} in the active plans"
        ))
    })?;
    let m = &st.snapshot.micro_grids[mi];
    Ok(one(feature(
        m.code.as_str(),
        polygon_json(&m.geometry),
        micro_props(&st, m, &st.snapshot.grids),
    )))
}
