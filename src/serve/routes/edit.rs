//! The planner's editor over HTTP (`/planner` and its API): open a village for editing, save a
//! draft as a new plan version, propose a rebalance, list versions, diff two, activate one.
//! Handlers read the request, call the store ([`crate::store::edit`]) and write the answer.
//!
//! Who may write is decided in one place, `editor`.

use super::super::error::ApiError;
use super::super::state::Service;
use crate::model::VillageCode;
use crate::serve::auth::Who;
use crate::store::edit::{DraftRequest, EditError};
use crate::store::{Store, StoreError};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State as AxState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The largest body a write route reads (a draft of a 20,000-building village is ~700 KB).
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// The store behind the service, or 503 when it serves something else (a static snapshot).
fn store(svc: &Service) -> Result<&Store, ApiError> {
    svc.source
        .store()
        .ok_or_else(|| ApiError::unavailable("this server has no store to edit plans in"))
}

fn village(code: &str) -> Result<VillageCode, ApiError> {
    VillageCode::parse(code).map_err(|e| ApiError::bad_request(format!("village code: {e}")))
}

/// Who is writing to `village`: the caller the guard let through (their role and area were
/// checked there, see [`crate::accounts::policy`]).
fn editor(who: &Who, _village: &VillageCode) -> Result<String, ApiError> {
    crate::serve::auth::need(who).map(|c| c.name.clone())
}

/// A store error as an answer: a conflict 409, an unknown thing 404, a refused record 422.
fn store_error(e: StoreError) -> Response {
    let status = match &e {
        StoreError::Conflict { .. } => StatusCode::CONFLICT,
        StoreError::NotFound(_) => StatusCode::NOT_FOUND,
        StoreError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        StoreError::Db { .. } | StoreError::Io { .. } => StatusCode::SERVICE_UNAVAILABLE,
    };
    let mut body = json!({ "error": e.to_string() });
    if let StoreError::Conflict { found, .. } = &e {
        body["conflict"] = json!({ "found": found });
    }
    (status, Json(body)).into_response()
}

fn edit_error(e: EditError) -> Response {
    match e {
        EditError::Store(e) => store_error(e),
        EditError::Problems(p) => {
            let message = p
                .iter()
                .map(|p| p.message.as_str())
                .collect::<Vec<_>>()
                .join("; ");
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(json!({ "error": format!("nothing saved: {message}"), "problems": p })),
            )
                .into_response()
        }
    }
}

/// The body's bytes: 413 when too big, 400 when it could not be read.
fn bytes(b: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    b.map_err(|r| ApiError {
        status: r.status(),
        message: r.body_text(),
    })
}

/// A JSON body of the expected shape, else 400 (413 when too big).
fn json_body<T: DeserializeOwned>(b: Result<Bytes, BytesRejection>) -> Result<T, ApiError> {
    serde_json::from_slice(&bytes(b)?)
        .map_err(|e| ApiError::bad_request(format!("bad JSON body: {e}")))
}

/// A JSON body of a write: as [`json_body`], its refusal saying that nothing was saved.
fn body<T: DeserializeOwned>(b: Result<Bytes, BytesRejection>) -> Result<T, ApiError> {
    json_body(b).map_err(|e| ApiError {
        message: format!("nothing saved: {}", e.message),
        ..e
    })
}

/// `GET /api/villages/{code}/edit`: the village as the editor opens it.
pub async fn open(AxState(svc): AxState<Arc<Service>>, Path(code): Path<String>) -> Response {
    let run = async {
        let v = village(&code)?;
        Ok::<_, ApiError>((store(&svc)?.clone(), v))
    };
    let (st, v) = match run.await {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    match st.edit_view(v.as_str()).await {
        Ok(view) => Json(view).into_response(),
        Err(e) => store_error(e),
    }
}

/// `POST /api/villages/{code}/plans`: a draft saved as a new plan version.
pub async fn save(
    AxState(svc): AxState<Arc<Service>>,
    Path(code): Path<String>,
    who: Who,
    b: Result<Bytes, BytesRejection>,
) -> Response {
    let prep = || -> Result<(Store, VillageCode, String, DraftRequest), ApiError> {
        let v = village(&code)?;
        let who = editor(&who, &v)?;
        let req: DraftRequest = body(b)?;
        Ok((store(&svc)?.clone(), v, who, req))
    };
    let (st, v, who, req) = match prep() {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    match st.save_draft(v.as_str(), &req, &who).await {
        Ok(saved) => {
            // Show the new version at once if it was activated (the poll would, within 500 ms).
            if req.activate {
                let _ = svc.refresh().await;
            }
            (StatusCode::CREATED, Json(saved)).into_response()
        }
        Err(e) => edit_error(e),
    }
}

/// The body of `POST /api/villages/{code}/rebalance`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RebalanceRequest {
    /// The draft: building (unit) id → grid code or `new:K`.
    pub assignment: BTreeMap<String, String>,
    /// Grid codes that must not change.
    #[serde(default)]
    pub locked: Vec<String>,
}

/// `POST /api/villages/{code}/rebalance`: a proposal, nothing saved.
pub async fn rebalance(
    AxState(svc): AxState<Arc<Service>>,
    Path(code): Path<String>,
    b: Result<Bytes, BytesRejection>,
) -> Response {
    let prep = || -> Result<(Store, VillageCode, RebalanceRequest), ApiError> {
        let v = village(&code)?;
        Ok((store(&svc)?.clone(), v, body(b)?))
    };
    let (st, v, req) = match prep() {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    match st
        .rebalance_draft(v.as_str(), &req.assignment, &req.locked)
        .await
    {
        Ok(p) => Json(p).into_response(),
        Err(e) => edit_error(e),
    }
}

/// `GET /api/villages/{code}/plans`: the village's versions, oldest first.
pub async fn plans(AxState(svc): AxState<Arc<Service>>, Path(code): Path<String>) -> Response {
    let st = match village(&code).and_then(|_| store(&svc)) {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    match st.plans(Some(&code)).await {
        Ok(p) => Json(json!({ "village": code, "plans": p })).into_response(),
        Err(e) => store_error(e),
    }
}

/// The query of `GET /api/villages/{code}/diff`.
#[derive(serde::Deserialize)]
pub struct DiffQuery {
    /// The first version.
    pub from: i64,
    /// The second version.
    pub to: i64,
}

/// `GET /api/villages/{code}/diff?from=A&to=B`: what changed from version A to B.
pub async fn diff(
    AxState(svc): AxState<Arc<Service>>,
    Path(code): Path<String>,
    q: Result<Query<DiffQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let prep = || -> Result<(&Store, DiffQuery), ApiError> {
        village(&code)?;
        Ok((store(&svc)?, q?.0))
    };
    let (st, q) = match prep() {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    match st.diff(&code, q.from, q.to).await {
        Ok(d) => Json(d).into_response(),
        Err(e) => store_error(e),
    }
}

/// The body of `POST /api/villages/{code}/activate`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivateRequest {
    /// The version to make active.
    pub version: i64,
    /// The version the caller saw active (`null`: none); a conflict if it changed.
    pub expect: Option<i64>,
}

/// `POST /api/villages/{code}/activate`: roll back (or forward) to a version.
pub async fn activate(
    AxState(svc): AxState<Arc<Service>>,
    Path(code): Path<String>,
    who: Who,
    b: Result<Bytes, BytesRejection>,
) -> Response {
    let prep = || -> Result<(Store, String, ActivateRequest), ApiError> {
        let v = village(&code)?;
        let who = editor(&who, &v)?;
        Ok((store(&svc)?.clone(), who, body(b)?))
    };
    let (st, who, req) = match prep() {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    match st.activate(&code, req.version, Some(req.expect)).await {
        Ok(()) => {
            tracing::info!(village = %code, version = req.version, by = %who, "plan activated");
            let _ = svc.refresh().await;
            Json(json!({ "village": code, "active": req.version, "by": who })).into_response()
        }
        Err(e) => store_error(e),
    }
}

/// `GET /api/planner/villages`: every village with its active version, how many of its grids are
/// outside the band, and who saved it last, when.
pub async fn villages(AxState(svc): AxState<Arc<Service>>) -> Response {
    let st = match store(&svc) {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let plans = match st.plans(None).await {
        Ok(p) => p,
        Err(e) => return store_error(e),
    };
    let state = svc.state();
    let s = &state.snapshot;
    let mut last: BTreeMap<&str, &crate::store::PlanInfo> = BTreeMap::new();
    let mut band: BTreeMap<&str, crate::partition::Band> = BTreeMap::new();
    for p in &plans {
        last.insert(&p.village, p);
        if p.active {
            band.insert(
                &p.village,
                crate::partition::Options::from_params(&p.params).band,
            );
        }
    }
    let mut out_of_band = vec![0usize; s.villages.len()];
    let mut grids = vec![0usize; s.villages.len()];
    for g in &s.grids {
        grids[g.village] += 1;
        let b = band
            .get(s.villages[g.village].code.as_str())
            .copied()
            .unwrap_or(crate::partition::Options::default().band);
        if b.violation(g.figures.weight) > 0.0 {
            out_of_band[g.village] += 1;
        }
    }
    let list: Vec<serde_json::Value> = s
        .villages
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let l = last.get(v.code.as_str());
            json!({
                "code": v.code.as_str(),
                "name": v.name,
                "active": v.plan_version,
                "grids": grids[i],
                "out_of_band": out_of_band[i],
                "last_saved_by": l.map(|p| p.author.clone()),
                "last_saved_at": l.map(|p| p.created_at.clone()),
                "last_version": l.map(|p| p.version),
            })
        })
        .collect();
    Json(json!({ "villages": list })).into_response()
}

/// `GET /planner`: the editor page (`web/planner/index.html`).
pub async fn page() -> Response {
    super::static_files::file(&super::static_files::WEB, "planner/index.html")
        .unwrap_or_else(|| ApiError::not_found("no planner page is built in").into_response())
}

/// The largest layer file `POST /api/planner/layers` reads (a zipped Shapefile of a town's grids
/// is a few MB).
pub const MAX_LAYER_BYTES: usize = 64 * 1024 * 1024;

/// `POST /api/planner/layers?file=NAME[&crs=CRS]`: a grid layer drawn elsewhere (the file as the
/// body: GeoJSON, a zipped Shapefile, a GeoPackage with one table, KML), read as `wangge partition`
/// reads a town's layers (coordinate system from the file or `crs`, GBK attributes) and answered
/// as a GeoJSON FeatureCollection in lon/lat; 400 naming the file, feature and field otherwise.
pub async fn read_layer(
    q: Result<Query<BTreeMap<String, String>>, axum::extract::rejection::QueryRejection>,
    b: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q?;
    super::known_keys(&q, &["file", "crs"])?;
    let file = q.get("file").cloned().ok_or_else(|| {
        ApiError::bad_request("`file`: the file's name is needed (its extension says its format)")
    })?;
    let crs = q
        .get("crs")
        .filter(|c| !c.trim().is_empty())
        .map(|c| c.parse::<crate::crs::source::SourceCrs>())
        .transpose()
        .map_err(|e| ApiError::bad_request(format!("`crs`: {e}")))?;
    let bytes = bytes(b)?;
    let read = tokio::task::spawn_blocking(move || {
        crate::ingest::read_layer_upload(&file, &bytes, crs.as_ref())
    })
    .await
    .map_err(|e| ApiError::unavailable(format!("reading the layer stopped: {e}")))?;
    let features = read.map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(Json(geojson::FeatureCollection {
        bbox: None,
        features,
        foreign_members: None,
    })
    .into_response())
}

/// One layer of `POST /api/planner/geopackage`.
#[derive(serde::Deserialize)]
struct LayerBody {
    name: String,
    #[serde(default)]
    description: String,
    features: Vec<geojson::Feature>,
}

/// The body of `POST /api/planner/geopackage`.
#[derive(serde::Deserialize)]
struct GeopackageBody {
    layers: Vec<LayerBody>,
}

/// `POST /api/planner/geopackage?file=NAME`: layers of GeoJSON features in lon/lat (`{"layers":
/// [{"name", "description", "features"}]}`, the editor's draft grids and buildings) written as one
/// GeoPackage and sent back as a download named `file`. Nothing is stored.
pub async fn geopackage(
    q: Result<Query<BTreeMap<String, String>>, axum::extract::rejection::QueryRejection>,
    b: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q?;
    super::known_keys(&q, &["file"])?;
    let file = q.get("file").map_or("layers.gpkg", String::as_str);
    if !file.ends_with(".gpkg") || file.contains(['/', '\\', '"']) {
        return Err(ApiError::bad_request("`file`: a file name ending in .gpkg"));
    }
    let body: GeopackageBody = json_body(b)?;
    let layers: Vec<crate::store::layer_file::FeatureLayer<'_>> = body
        .layers
        .iter()
        .map(|l| crate::store::layer_file::FeatureLayer {
            name: &l.name,
            description: &l.description,
            features: &l.features,
        })
        .collect();
    let bytes = crate::store::layer_file::feature_gpkg_bytes(&layers)
        .await
        .map_err(|e| match e {
            StoreError::Invalid { .. } => ApiError::bad_request(e.to_string()),
            _ => ApiError::unavailable(e.to_string()),
        })?;
    let disposition = format!("attachment; filename=\"{file}\"");
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "application/geopackage+sqlite3".to_string(),
            ),
            (axum::http::header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}
