//! `GET /api/openapi.json`: the OpenAPI 3.1 description of every route, hand-written and embedded.

use axum::http::header;
use axum::response::IntoResponse;

/// The document.
pub const OPENAPI: &str = include_str!("openapi.json");

/// `GET /api/openapi.json`.
pub async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_exactly_the_routes() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI).expect("valid JSON");
        assert!(doc["openapi"].as_str().unwrap_or("").starts_with("3.1"));
        let paths = doc["paths"].as_object().expect("paths");
        for r in super::super::ROUTES {
            assert!(paths.contains_key(*r), "{r} is not documented");
            assert!(
                paths[*r]["get"].is_object() || paths[*r]["post"].is_object(),
                "{r} has neither GET nor POST"
            );
        }
        for p in paths.keys() {
            assert!(
                super::super::ROUTES.contains(&p.as_str()),
                "{p} is documented but not routed"
            );
        }
    }
}
