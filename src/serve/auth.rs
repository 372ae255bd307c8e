//! Who is calling (身份): the session cookie or `Authorization: Bearer` token of each request is
//! looked up in the store, the route's rule ([`crate::accounts::policy`]) is applied, and every
//! write is appended to the audit log with its result. Handlers read the caller with the [`Who`]
//! extractor; the rules themselves live in the policy, not here.

use super::error::ApiError;
use super::state::Service;
use crate::accounts::policy::{self, Access, Denied};
use crate::accounts::{login, Caller, Via};
use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

/// The session cookie's name.
pub const COOKIE: &str = "wangge_session";

/// The caller of a request (`None`: nobody logged in), as the guard found them.
#[derive(Clone, Debug, Default)]
pub struct Who(pub Option<Caller>);

impl<S: Send + Sync> FromRequestParts<S> for Who {
    type Rejection = Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Who, Infallible> {
        Ok(parts.extensions.get::<Who>().cloned().unwrap_or_default())
    }
}

/// What a write handler adds to the audit entry of its request (the objects it wrote), as a
/// response extension.
#[derive(Clone, Debug)]
pub struct AuditNote(pub String);

/// The session id in a request's cookies.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
}

/// The bearer token of a request.
pub fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_string())
}

/// The caller's address (`-` if the server was not started with connect info).
pub fn address(req_ext: &axum::http::Extensions) -> String {
    req_ext
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "-".to_string(), |c| c.0.ip().to_string())
}

/// Whether an `Origin` header names another host than the request's `Host`.
fn cross_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let origin_host = origin.split_once("://").map_or(origin, |(_, h)| h);
    origin == "null" || !origin_host.trim_end_matches('/').eq_ignore_ascii_case(host)
}

fn is_write(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn denied(d: Denied) -> ApiError {
    let status = match d {
        Denied::NeedLogin(_) => StatusCode::UNAUTHORIZED,
        Denied::Forbidden(_) => StatusCode::FORBIDDEN,
    };
    ApiError {
        status,
        message: d.to_string(),
    }
}

/// The documented route a request was routed to.
pub(crate) fn route_of(req: &Request) -> String {
    let matched = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("", MatchedPath::as_str);
    match matched {
        "/tiles/{*path}" => policy::tiles_route(req.uri().path()).to_string(),
        "/tiles/heat/{z}/{x}/{y}" => "/tiles/heat/{z}/{x}/{y}.mvt".to_string(),
        "/tiles/events/{z}/{x}/{y}" => "/tiles/events/{z}/{x}/{y}.mvt".to_string(),
        m => m.to_string(),
    }
}

/// The middleware of every route: finds the caller, applies the route's rule, the CSRF rule and
/// a planner's area, and audits every write (except logging in and out, which audit themselves).
pub async fn guard(State(svc): State<Arc<Service>>, mut req: Request, next: Next) -> Response {
    let route = route_of(&req);
    if route == "/metrics" {
        // ops (issue 20): no session; loopback or the metrics token, checked by the route
        return next.run(req).await;
    }
    let method = req.method().clone();
    let addr = address(req.extensions());
    let write = is_write(&method);
    let kind = format!("{method} {route}");
    let objects = objects_of(&route, req.uri().path());
    let caller = match find_caller(&svc, req.headers()).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let audited = (write && route != "/api/session") || policy::audited_read(&route);
    let who = caller.as_ref().map_or("-", |c| c.name.as_str()).to_string();
    if let Err(e) = check(
        &svc,
        &method,
        &route,
        caller.as_ref(),
        req.headers(),
        req.uri().path(),
    ) {
        if audited {
            audit(
                &svc,
                &who,
                &addr,
                &kind,
                &objects,
                &format!("{} refused", e.status.as_u16()),
            )
            .await;
        }
        return e.into_response();
    }
    req.extensions_mut().insert(Who(caller));
    let mut resp = next.run(req).await;
    resp.extensions_mut()
        .insert(super::metrics::User(who.clone()));
    if audited {
        let note = resp.extensions().get::<AuditNote>().map(|n| n.0.clone());
        let objects = match note {
            Some(n) if objects.is_empty() => n,
            Some(n) => format!("{objects}; {n}"),
            None => objects,
        };
        let status = resp.status();
        let result = if status.is_success() {
            format!("{} ok", status.as_u16())
        } else if status.is_client_error() {
            format!("{} refused", status.as_u16())
        } else {
            format!("{} failed", status.as_u16())
        };
        audit(&svc, &who, &addr, &kind, &objects, &result).await;
    }
    resp
}

/// The objects a route's path names (a village code).
fn objects_of(route: &str, path: &str) -> String {
    if route.starts_with("/api/villages/{code}/") {
        path.split('/')
            .nth(3)
            .map(|c| format!("village {c}"))
            .unwrap_or_default()
    } else {
        String::new()
    }
}

/// The caller of a request's credentials: a bearer token that is unknown, expired or revoked is
/// a 401 (it was meant to work), a stale cookie is nobody.
async fn find_caller(svc: &Service, headers: &HeaderMap) -> Result<Option<Caller>, ApiError> {
    let token = bearer(headers);
    let session = session_cookie(headers);
    if token.is_none() && session.is_none() {
        return Ok(None);
    }
    let Some(store) = svc.accounts() else {
        return Ok(None);
    };
    let c = login::caller(store, session.as_deref(), token.as_deref())
        .await
        .map_err(|e| ApiError::unavailable(format!("accounts: {e}")))?;
    if token.is_some() && c.is_none() {
        return Err(ApiError {
            status: StatusCode::UNAUTHORIZED,
            message: "the bearer token is unknown, expired or revoked".into(),
        });
    }
    Ok(c)
}

fn check(
    svc: &Service,
    method: &Method,
    route: &str,
    caller: Option<&Caller>,
    headers: &HeaderMap,
    path: &str,
) -> Result<(), ApiError> {
    // Routes without a rule (a method the route lacks, the page files) are the router's to answer.
    let access = policy::rule(method.as_str(), route).unwrap_or(Access::Asset);
    policy::allow(
        access,
        caller,
        svc.config.private,
        &format!("{method} {route}"),
    )
    .map_err(denied)?;
    if let Some(c) = caller {
        if is_write(method) && c.via == Via::Session && cross_origin(headers) {
            return Err(ApiError {
                status: StatusCode::FORBIDDEN,
                message: "a write with the session cookie from another origin is refused (CSRF)"
                    .into(),
            });
        }
        if is_write(method) && route.starts_with("/api/villages/{code}/") {
            let code = path.split('/').nth(3).unwrap_or("");
            policy::may_edit_village(c, code).map_err(denied)?;
        }
    }
    Ok(())
}

async fn audit(svc: &Service, who: &str, addr: &str, kind: &str, objects: &str, result: &str) {
    if let Some(store) = svc.accounts() {
        if let Err(e) = store
            .audit(login::entry(who, addr, kind, objects, result))
            .await
        {
            tracing::error!("audit log: {e}");
        }
    }
}

/// A `Set-Cookie` value for a session id (or one that ends it when `id` is empty).
pub fn set_cookie(id: &str, secure: bool) -> String {
    let age = if id.is_empty() {
        0
    } else {
        login::SESSION_HOURS * 3600
    };
    set_cookie_for(id, secure, age)
}

/// A `Set-Cookie` value for a session id that lives `age` seconds (a wall screen's: as long as
/// its token).
pub fn set_cookie_for(id: &str, secure: bool, age: i64) -> String {
    format!(
        "{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={age}{}",
        if secure { "; Secure" } else { "" }
    )
}

/// The caller, or 401.
pub fn need(who: &Who) -> Result<&Caller, ApiError> {
    who.0.as_ref().ok_or(ApiError {
        status: StatusCode::UNAUTHORIZED,
        message: "log in first".into(),
    })
}

/// A policy refusal as an answer.
pub fn refused(d: Denied) -> ApiError {
    denied(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_and_origins() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "a=1; wangge_session=abc; b=2".parse().unwrap(),
        );
        h.insert(header::HOST, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(session_cookie(&h).as_deref(), Some("abc"));
        assert!(!cross_origin(&h));
        h.insert(header::ORIGIN, "http://127.0.0.1:8080".parse().unwrap());
        assert!(!cross_origin(&h));
        h.insert(header::ORIGIN, "http://evil.example".parse().unwrap());
        assert!(cross_origin(&h));
    }
}
