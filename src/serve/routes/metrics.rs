//! `GET /metrics`: the server's figures in Prometheus text format (see [`crate::serve::metrics`]).
//! Loopback callers may always read it (a scraper or `curl` on the machine itself); others need
//! `Authorization: Bearer <token>` with the config file's `[metrics] token`, else 403. It needs
//! no session, so the route's rule is [`Access::Asset`](crate::accounts::policy::Access::Asset).

use super::super::{auth, error::ApiError, state::Service};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::sync::Arc;

/// The content type of the Prometheus text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `GET /metrics`.
pub async fn metrics(State(svc): State<Arc<Service>>, req: Request) -> Response {
    let loopback = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|ConnectInfo(a)| a.ip().is_loopback());
    let token_ok = match (&svc.config.metrics_token, auth::bearer(req.headers())) {
        (Some(want), Some(got)) => constant_time_eq(want.as_bytes(), got.as_bytes()),
        _ => false,
    };
    if !loopback && !token_ok {
        return ApiError {
            status: axum::http::StatusCode::FORBIDDEN,
            message: "/metrics: only from this machine (loopback), or with the bearer token of \
                      the config file's [metrics] token"
                .into(),
        }
        .into_response();
    }
    let body = crate::serve::metrics::render(&svc).await;
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], body).into_response()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}
