//! `GET /api/locate`: which village, grid and micro-grid a point (WGS84, GCJ-02 or BD-09) or an
//! address is in, who is responsible, how far the grid's border is, and whether a border is close
//! enough for the answer to be ambiguous.

use super::geojson::{keep_people, people_json};
use crate::crs::Crs;
use crate::serve::auth::Who;
use crate::serve::error::{ApiError, ApiResult};
use crate::serve::layers::grid_name;
use crate::serve::locator::Located;
use crate::serve::state::{Service, State};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State as AxState};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

fn coord(q: &BTreeMap<String, String>, k: &str, range: f64) -> ApiResult<f64> {
    let s = q.get(k).ok_or_else(|| {
        ApiError::bad_request(format!(
            "missing {k}: give lon= and lat= (and crs=wgs84|gcj02|bd09), or address="
        ))
    })?;
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| ApiError::bad_request(format!("{k}: `{s}` is not a number")))?;
    if !v.is_finite() || v.abs() > range {
        return Err(ApiError::bad_request(format!(
            "{k}: {s} is outside -{range}..{range}"
        )));
    }
    Ok(v)
}

/// How close (m) a border must be for the answer to be ambiguous, for input in `crs`.
pub fn tolerance_m(svc: &Service, crs: Crs) -> f64 {
    crs.uncertainty_m()
        + if crs == Crs::Wgs84 {
            svc.config.wgs84_margin_m
        } else {
            svc.config.gps_margin_m
        }
}

/// `GET /api/locate?lon=&lat=&crs=` or `GET /api/locate?address=`.
pub async fn locate(
    AxState(svc): AxState<Arc<Service>>,
    who: Who,
    q: Result<Query<BTreeMap<String, String>>, QueryRejection>,
) -> ApiResult<Response> {
    let Query(q) = q?;
    let st = svc.state();
    let all = crate::accounts::policy::sees_people(who.0.as_ref());
    if let Some(addr) = q.get("address") {
        return by_address(&svc, &st, addr, all).await;
    }
    let lon = coord(&q, "lon", 180.0)?;
    let lat = coord(&q, "lat", 90.0)?;
    let crs: Crs = match q.get("crs") {
        None => Crs::Wgs84,
        Some(c) => c
            .parse()
            .map_err(|e: crate::crs::UnknownCrs| ApiError::bad_request(e.to_string()))?,
    };
    let (wlon, wlat) = crs.to_wgs84(lon, lat);
    let found = st.locate(wlon, wlat, tolerance_m(&svc, crs));
    let mut body = answer(&st, &found);
    keep_people(&mut body["people"], all);
    body["query"] = json!({"lon": lon, "lat": lat, "crs": crs.to_string()});
    Ok(Json(body).into_response())
}

async fn by_address(svc: &Service, st: &State, addr: &str, all: bool) -> ApiResult<Response> {
    if addr.trim().is_empty() {
        return Err(ApiError::bad_request("address is empty"));
    }
    let normalized = crate::address::normalize(addr);
    let m = svc
        .source
        .find_address(addr)
        .await
        .map_err(|e| ApiError::unavailable(e.to_string()))?;
    let Some((b, score)) = m.candidates.first() else {
        return Err(ApiError::not_found(format!(
            "no building's address matches `{addr}` (normalised: `{normalized}`)"
        )));
    };
    let p = b.point;
    let found = st.locate(p.x(), p.y(), tolerance_m(svc, Crs::Wgs84));
    let mut body = answer(st, &found);
    keep_people(&mut body["people"], all);
    let candidates: Vec<Value> = m
        .candidates
        .iter()
        .map(|(c, score)| {
            json!({
                "building": c.id,
                "address": c.address,
                "score": score,
                "lon": c.point.x(),
                "lat": c.point.y(),
                "grid_code": c.grid_code,
            })
        })
        .collect();
    body["query"] = json!({"address": addr, "normalized": normalized});
    body["building"] = json!({
        "id": b.id,
        "address": b.address,
        "score": score,
    });
    body["sure"] = Value::Bool(m.sure);
    body["candidates"] = Value::Array(candidates);
    Ok(Json(body).into_response())
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// The JSON answer for a located point.
pub fn answer(st: &State, l: &Located) -> Value {
    let s = &st.snapshot;
    let village = l.village.and_then(|v| s.villages.get(v));
    let grid = l.grid.and_then(|g| s.grids.get(g));
    let vname = |vi: usize| s.villages.get(vi).map(|v| v.name.as_str()).unwrap_or("");
    let near: Vec<Value> = l
        .near
        .iter()
        .filter_map(|&(g, d)| {
            let g = s.grids.get(g)?;
            Some(json!({
                "code": g.code.as_str(),
                "name": grid_name(vname(g.village), g.code.as_str()),
                "village_code": s.villages.get(g.village).map(|v| v.code.as_str()),
                "distance_m": round1(d),
            }))
        })
        .collect();
    let message = match (grid, l.ambiguous) {
        (Some(g), false) => format!("inside grid {}", g.code),
        (Some(g), true) => format!(
            "inside grid {} but within {:.1} m of its border: the point may be in {}",
            g.code,
            l.tolerance_m,
            if l.near.len() > 1 {
                "a neighbouring grid"
            } else {
                "no grid at all"
            }
        ),
        (None, true) => format!(
            "outside every grid, but within {:.1} m of a grid's border",
            l.tolerance_m
        ),
        (None, false) => match village {
            Some(v) => format!("inside village {} but in none of its grids", v.code),
            None => "outside every village".to_string(),
        },
    };
    json!({
        "wgs84": [l.lon, l.lat],
        "inside": grid.is_some(),
        "village": village.map(|v| json!({"code": v.code.as_str(), "name": v.name})),
        "grid": grid.map(|g| json!({
            "code": g.code.as_str(),
            "name": grid_name(vname(g.village), g.code.as_str()),
            "households": g.figures.households,
            "residents": g.figures.residents,
        })),
        "micro_grids": l.micro_grids.iter().filter_map(|&m| s.micro_grids.get(m)).map(|m| json!({
            "code": m.code.as_str(),
            "kind": m.kind.as_str(),
        })).collect::<Vec<_>>(),
        "people": grid.map_or(Value::Array(vec![]), |g| people_json(&g.people)),
        "border_distance_m": l.border_m.map(round1),
        "ambiguous": l.ambiguous,
        "tolerance_m": l.tolerance_m,
        "grids": near,
        "message": message,
    })
}
