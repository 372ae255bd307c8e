//! The routes of the map service and the router that joins them.

pub mod edit;
// -- events (issue 15) --
pub mod events;
// -- end events --
pub mod field;
pub mod geojson;
pub mod locate;
pub mod metrics;
pub mod openapi;
pub mod patrol;
pub mod print;
pub mod screen;
pub mod session;
pub mod static_files;
pub mod tiles;
pub mod tls;

use super::state::Service;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use std::sync::Arc;
use tower_http::compression::predicate::{DefaultPredicate, Predicate, SizeAbove};
use tower_http::compression::CompressionLayer;

/// The documented routes (OpenAPI paths), each `GET` (`/api/patrol/points` and the editor's
/// `/api/villages/{code}/…` writes also `POST`). `/api/openapi.json` documents exactly these.
pub const ROUTES: &[&str] = &[
    "/",
    "/api/health",
    "/api/openapi.json",
    "/api/towns",
    "/api/villages",
    "/api/grids",
    "/api/grids/{code}",
    "/api/micro_grids",
    "/api/micro_grids/{code}",
    "/api/buildings",
    "/api/locate",
    "/api/patrol/points",
    "/api/patrol/coverage",
    "/api/patrol/report",
    "/api/heat",
    "/tiles/heat.json",
    "/tiles/heat/{z}/{x}/{y}.mvt",
    "/tiles/{layer}.json",
    "/tiles/{layer}/{z}/{x}/{y}.mvt",
    "/tiles/style.json",
    "/tiles/fonts/{fontstack}/{range}.pbf",
    "/planner",
    "/api/planner/villages",
    "/api/planner/layers",
    "/api/planner/geopackage",
    "/api/villages/{code}/edit",
    "/api/villages/{code}/plans",
    "/api/villages/{code}/rebalance",
    "/api/villages/{code}/diff",
    "/api/villages/{code}/activate",
    "/api/print",
    "/api/session",
    "/api/audit",
    // -- events (issue 15) --
    "/api/events",
    "/api/events/categories",
    "/api/events/limits",
    "/api/events/figures",
    "/api/events/geojson",
    "/api/events/{id}",
    "/api/events/{id}/actions",
    "/api/events/{id}/photos/{photo}",
    "/events",
    "/tiles/events.json",
    "/tiles/events/{z}/{x}/{y}.mvt",
    // -- end events --
    "/metrics",
    "/ca.pem",
    // -- screen (issue 16) --
    "/screen",
    "/api/screen/summary",
    "/api/screen/stream",
    // -- end screen --
    // -- field (issue 18)
    "/field",
    "/api/field/me",
    "/api/field/today",
    "/api/visits",
    "/api/visits/due",
    "/api/visits/figures",
    "/api/households/tags",
    // -- end field
];

/// Responses smaller than this are sent as they are: they fit one TCP segment either way, and
/// gzipping a 600-byte locate answer cost a quarter of the server's CPU under load.
pub const COMPRESS_ABOVE_BYTES: u64 = 1400;

/// The router of every route, answering from `service`. Responses of [`COMPRESS_ABOVE_BYTES`] or
/// more (or of unknown length) are gzipped when the client accepts it, except tiles, which are
/// stored gzipped and sent with their own `Content-Encoding`.
pub fn router(service: Arc<Service>) -> Router {
    Router::new()
        .route("/api/health", get(geojson::health))
        .route("/api/openapi.json", get(openapi::document))
        .route("/api/towns", get(geojson::towns))
        .route("/api/villages", get(geojson::villages))
        .route("/api/grids", get(geojson::grids))
        .route("/api/grids/{code}", get(geojson::grid))
        .route("/api/micro_grids", get(geojson::micro_grids))
        .route("/api/micro_grids/{code}", get(geojson::micro_grid))
        .route("/api/buildings", get(geojson::buildings))
        .route("/api/locate", get(locate::locate))
        .route(
            "/api/patrol/points",
            get(patrol::get_points)
                .post(patrol::post_points)
                .layer(DefaultBodyLimit::max(patrol::MAX_BODY_BYTES)),
        )
        .route("/api/patrol/coverage", get(patrol::coverage))
        .route("/api/patrol/report", get(patrol::report))
        .route("/api/heat", get(patrol::heat_geojson_route))
        .route("/tiles/heat.json", get(patrol::heat_tilejson))
        .route("/tiles/heat/{z}/{x}/{y}", get(patrol::heat_tile))
        .route("/tiles/{*path}", get(tiles::dispatch))
        .route("/planner", get(edit::page))
        .route("/api/planner/villages", get(edit::villages))
        .route(
            "/api/planner/layers",
            post(edit::read_layer).layer(DefaultBodyLimit::max(edit::MAX_LAYER_BYTES)),
        )
        .route(
            "/api/planner/geopackage",
            post(edit::geopackage).layer(DefaultBodyLimit::max(edit::MAX_LAYER_BYTES)),
        )
        .route("/api/villages/{code}/edit", get(edit::open))
        .route(
            "/api/villages/{code}/plans",
            get(edit::plans)
                .post(edit::save)
                .layer(DefaultBodyLimit::max(edit::MAX_BODY_BYTES)),
        )
        .route(
            "/api/villages/{code}/rebalance",
            post(edit::rebalance).layer(DefaultBodyLimit::max(edit::MAX_BODY_BYTES)),
        )
        .route("/api/villages/{code}/diff", get(edit::diff))
        .route(
            "/api/villages/{code}/activate",
            post(edit::activate).layer(DefaultBodyLimit::max(edit::MAX_BODY_BYTES)),
        )
        .route("/api/print", get(print::print))
        .route(
            "/api/session",
            get(session::show)
                .post(session::create)
                .delete(session::delete),
        )
        .route("/api/audit", get(session::audit))
        // -- events (issue 15) --
        .route(
            "/api/events",
            get(events::list)
                .post(events::report)
                .layer(DefaultBodyLimit::max(events::MAX_BODY_BYTES)),
        )
        .route(
            "/api/events/categories",
            get(events::categories).put(events::set_categories),
        )
        .route(
            "/api/events/limits",
            get(events::limits).put(events::set_limits),
        )
        .route("/api/events/figures", get(events::figures_route))
        .route("/api/events/geojson", get(events::geojson))
        .route("/api/events/{id}", get(events::show))
        .route(
            "/api/events/{id}/actions",
            post(events::act).layer(DefaultBodyLimit::max(events::MAX_BODY_BYTES)),
        )
        .route("/api/events/{id}/photos/{photo}", get(events::photo))
        .route("/events", get(events::page))
        .route("/tiles/events.json", get(events::tilejson))
        .route("/tiles/events/{z}/{x}/{y}", get(events::tile))
        // -- end events --
        // -- screen (issue 16) --
        .route("/screen", get(screen::page))
        .route("/api/screen/summary", get(screen::summary))
        .route("/api/screen/stream", get(screen::stream))
        // -- end screen --
        // -- field (issue 18)
        .route("/field", get(field::page))
        .route("/api/field/me", get(field::me))
        .route("/api/field/today", get(field::today))
        .route(
            "/api/visits",
            post(field::post_visits).layer(DefaultBodyLimit::max(field::MAX_BODY_BYTES)),
        )
        .route("/api/visits/due", get(field::due))
        .route("/api/visits/figures", get(field::figures))
        .route(
            "/api/households/tags",
            post(field::tag).layer(DefaultBodyLimit::max(field::MAX_BODY_BYTES)),
        )
        // -- end field
        .route("/", get(static_files::index))
        .route("/metrics", get(metrics::metrics)) // ops (issue 20)
        .route("/ca.pem", get(tls::ca_pem))
        .route_layer(axum::middleware::from_fn_with_state(
            service.clone(),
            super::auth::guard,
        ))
        // ops (issue 20): the request log and counters, outside the guard (refusals count too)
        .route_layer(axum::middleware::from_fn_with_state(
            service.clone(),
            super::metrics::observe,
        ))
        .fallback(static_files::web_file)
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            service.config.request_timeout,
        ))
        .layer(
            CompressionLayer::new()
                .compress_when(DefaultPredicate::new().and(SizeAbove::new(COMPRESS_ABOVE_BYTES))),
        )
        .with_state(service)
}

/// 400 naming the first query parameter that is not one of `known` (a typo in a script's query
/// is refused, not ignored).
pub(super) fn known_keys(
    q: &std::collections::BTreeMap<String, String>,
    known: &[&str],
) -> Result<(), super::error::ApiError> {
    match q.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(super::error::ApiError::bad_request(format!(
            "unknown parameter `{k}` ({})",
            known.join(", ")
        ))),
        None => Ok(()),
    }
}
