//! Logging in and out (`/api/session`) and the audit log (`GET /api/audit`, admins); the rules
//! are in [`crate::accounts`], the caller comes from [`crate::serve::auth`].

use crate::accounts::login::{self, LoginError};
use crate::serve::auth::{self, Who};
use crate::serve::error::ApiError;
use crate::serve::state::Service;
use crate::store::accounts::AuditFilter;
use crate::store::Store;
use axum::body::Bytes;
use axum::extract::{Query, Request, State as AxState};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::sync::Arc;

/// The body of `POST /api/session`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// User name.
    pub name: String,
    /// Password.
    pub password: String,
}

/// The largest body of `POST /api/session`.
pub const MAX_BODY_BYTES: usize = 4 << 10;

fn accounts(svc: &Service) -> Result<&Store, ApiError> {
    svc.accounts()
        .ok_or_else(|| ApiError::unavailable("this server keeps no accounts (no store)"))
}

/// `POST /api/session`: logs in; sets the session cookie and says who you are.
pub async fn create(AxState(svc): AxState<Arc<Service>>, req: Request) -> Response {
    let addr = auth::address(req.extensions());
    let body = match axum::body::to_bytes(req.into_body(), MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => {
            return ApiError {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                message: format!("a login body is at most {MAX_BODY_BYTES} bytes"),
            }
            .into_response()
        }
    };
    match login_with(&svc, &body, &addr).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn login_with(svc: &Service, body: &Bytes, addr: &str) -> Result<Response, ApiError> {
    let store = accounts(svc)?;
    let lr: LoginRequest = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!("body: {e} (want {{\"name\", \"password\"}})"))
    })?;
    match login::login(store, &lr.name, &lr.password, addr).await {
        Ok((secret, caller)) => Ok((
            [(
                header::SET_COOKIE,
                auth::set_cookie(secret.as_str(), svc.config.secure_cookies),
            )],
            Json(caller),
        )
            .into_response()),
        Err(e @ LoginError::Throttled { retry_after_s }) => Ok((
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, retry_after_s.to_string())],
            Json(serde_json::json!({ "error": e.to_string() })),
        )
            .into_response()),
        Err(e @ LoginError::Refused) => Err(ApiError {
            status: StatusCode::UNAUTHORIZED,
            message: e.to_string(),
        }),
        Err(e) => Err(ApiError::unavailable(e.to_string())),
    }
}

/// `GET /api/session`: who you are (401 if nobody).
pub async fn show(who: Who) -> Response {
    match auth::need(&who) {
        Ok(c) => Json(c).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `DELETE /api/session`: logs out (ends the session of the cookie, clears the cookie).
pub async fn delete(AxState(svc): AxState<Arc<Service>>, who: Who, req: Request) -> Response {
    let addr = auth::address(req.extensions());
    let cookie = auth::session_cookie(req.headers());
    if let (Some(store), Some(id)) = (svc.accounts(), cookie) {
        let name = who.0.as_ref().map_or("-", |c| c.name.as_str());
        let hash = crate::accounts::Secret::from_text(&id).hash();
        // an unknown or ended session is logged out already
        let _ = store
            .session_end(&hash, login::entry(name, &addr, "logout", "session", "ok"))
            .await;
    }
    (
        StatusCode::NO_CONTENT,
        [(
            header::SET_COOKIE,
            auth::set_cookie("", svc.config.secure_cookies),
        )],
    )
        .into_response()
}

/// The query of `GET /api/audit`.
#[derive(serde::Deserialize)]
pub struct AuditQuery {
    /// From this instant or date on.
    pub since: Option<String>,
    /// Only this caller's entries.
    pub who: Option<String>,
    /// At most this many (the newest), default 1000.
    pub limit: Option<i64>,
}

/// `GET /api/audit`: the audit log, oldest first (admins).
pub async fn audit(
    AxState(svc): AxState<Arc<Service>>,
    q: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let run = async {
        let store = accounts(&svc)?;
        let Query(q) = q?;
        let f = AuditFilter {
            since: q.since,
            who: q.who,
            limit: Some(q.limit.unwrap_or(1000).clamp(1, 100_000)),
        };
        store
            .audit_list(&f)
            .await
            .map_err(|e| ApiError::unavailable(e.to_string()))
    };
    match run.await {
        Ok(entries) => Json(serde_json::json!({ "entries": entries })).into_response(),
        Err(e) => e.into_response(),
    }
}
