//! `GET /ca.pem`: the private CA at the end of the served certificate chain (made by
//! `wangge cert`), for a phone or PC to download and install as trusted once; 404 when the
//! server is not on HTTPS or its chain ends below a CA the devices already know.

use super::super::{error::ApiError, state::Service};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// `GET /ca.pem`.
pub async fn ca_pem(State(svc): State<Arc<Service>>) -> Response {
    match &svc.config.ca_pem {
        Some(pem) => (
            [
                // the type Android and iOS offer to install as a CA certificate
                (header::CONTENT_TYPE, "application/x-x509-ca-cert"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"wangge-ca.pem\"",
                ),
            ],
            pem.clone(),
        )
            .into_response(),
        None => ApiError {
            status: StatusCode::NOT_FOUND,
            message: "this server has no private CA to install: it is not serving HTTPS, or its \
                      certificate comes from a CA the devices already trust"
                .into(),
        }
        .into_response(),
    }
}
