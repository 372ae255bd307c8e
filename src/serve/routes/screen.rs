//! The command room's big screen (指挥中心大屏): the page, its summary and its stream. The figures
//! are [`crate::screen::summary`]'s; this module reads the request and today's points and writes
//! the answer.
//!
//! - `GET /screen[?town=|village=]`: the page. `GET /screen?token=…` with a `screen` token opens
//!   a session (a cookie living as long as the token) and redirects to the same address without
//!   the token, so a wall screen is set up once with no keyboard.
//! - `GET /api/screen/summary[?town=|village=][&zone=][&day=]`: the summary as JSON (today's,
//!   or `day=`'s).
//! - `GET /api/screen/stream` (same parameters): server-sent events, one `summary` event at once
//!   and one whenever the store's patrol revision, the map or the day changes (checked every
//!   [`POLL`], so a new patrol batch shows within a few seconds), with keep-alive comments. The
//!   caller is checked again every [`RECHECK`]: a revoked token ends the stream.

use crate::accounts::{login, policy};
use crate::patrol::{default_zone, parse_zone, Roster, Window};
use crate::screen::{summary as compute_summary, Area, Input};
use crate::serve::auth;
use crate::serve::error::{ApiError, ApiResult};
use crate::serve::state::Service;
use crate::store::patrol::accepted_points;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, Request, State as AxState};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use chrono::{FixedOffset, NaiveDate, Utc};
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

type Params = Result<Query<BTreeMap<String, String>>, QueryRejection>;

/// How often a stream looks for new patrol points, a new map or a new day.
pub const POLL: Duration = Duration::from_secs(2);
/// How often a stream checks that its caller may still see the screen.
pub const RECHECK: Duration = Duration::from_secs(60);
/// Keep-alive comments on an idle stream.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Grids in the worst-first list.
pub const LIST_LEN: usize = 10;

/// The area and zone of a request.
fn area_zone(q: &BTreeMap<String, String>) -> ApiResult<(Area, FixedOffset)> {
    let area = Area::parse(
        q.get("town").map(String::as_str),
        q.get("village").map(String::as_str),
    )
    .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let zone = match q.get("zone") {
        None => default_zone(),
        Some(z) => parse_zone(z).map_err(|e| ApiError::bad_request(format!("`zone`: {e}")))?,
    };
    Ok((area, zone))
}

/// `day=` (a local date), if given.
fn day_of(q: &BTreeMap<String, String>) -> ApiResult<Option<NaiveDate>> {
    q.get("day")
        .map(|d| {
            NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").map_err(|_| {
                ApiError::bad_request(format!("`day={d}` is not a date like 2026-12-06"))
            })
        })
        .transpose()
}

/// The summary JSON of `area` on `day` (default today): kept while the patrol revision, the map,
/// the events and the day stay, and at most a minute (events fall overdue as time passes).
async fn current(
    svc: &Arc<Service>,
    area: &Area,
    zone: FixedOffset,
    day: Option<NaiveDate>,
) -> ApiResult<Arc<String>> {
    let unavailable = |e: crate::serve::source::SourceError| ApiError::unavailable(e.to_string());
    let revision = svc.source.patrol_revision().await.map_err(unavailable)?;
    let st = svc.state();
    let now = Utc::now().with_timezone(&zone);
    let day = day.unwrap_or_else(|| now.date_naive());
    let events_revision = match svc.source.store() {
        Some(store) => store
            .events_revision()
            .await
            .map_err(|e| ApiError::unavailable(e.to_string()))?,
        None => None,
    };
    let key = (
        area.clone(),
        zone.local_minus_utc(),
        day,
        revision,
        st.revision(),
        events_revision.unwrap_or_default(),
        now.timestamp() / 60,
    );
    let make = async {
        let window = Window::day(day, zone);
        let (from, to) = window.ms();
        let tracks = svc
            .source
            .patrol_tracks(from, to, None)
            .await
            .map_err(unavailable)?;
        let events = match svc.source.store() {
            Some(store) => store
                .screen_event_list(window.from.with_timezone(&Utc))
                .await
                .map_err(|e| ApiError::unavailable(e.to_string()))?,
            None => None,
        };
        let area = area.clone();
        tokio::task::spawn_blocking(move || {
            let points = accepted_points(&tracks);
            let roster = Roster::from_snapshot(&st.snapshot);
            let s = compute_summary(&Input {
                snapshot: &st.snapshot,
                index: st.coverage_index(),
                roster: &roster,
                points: &points,
                day,
                zone,
                area: &area,
                now,
                patrol_revision: revision,
                events: events.as_deref(),
                list_len: LIST_LEN,
            });
            serde_json::to_string(&s).unwrap_or_default()
        })
        .await
        .map_err(|e| ApiError::unavailable(format!("computing: {e}")))
    };
    svc.screen_cache.get_or(key, make).await
}

/// `GET /api/screen/summary` (`day=` for another day than today).
pub async fn summary(AxState(svc): AxState<Arc<Service>>, q: Params) -> ApiResult<Response> {
    let Query(q) = q?;
    let (area, zone) = area_zone(&q)?;
    let json = current(&svc, &area, zone, day_of(&q)?).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        json.as_str().to_string(),
    )
        .into_response())
}

/// A stream's place.
struct Feed {
    svc: Arc<Service>,
    area: Area,
    zone: FixedOffset,
    headers: HeaderMap,
    /// The summary to send next.
    pending: Option<Arc<String>>,
    /// The last one sent.
    sent: Option<Arc<String>>,
    /// Polls since the caller was last checked.
    polls: u32,
}

impl Feed {
    /// Whether the caller of the stream's credentials may still see the screen.
    async fn still_allowed(&self) -> bool {
        let Some(store) = self.svc.accounts() else {
            return true;
        };
        let token = auth::bearer(&self.headers);
        let session = auth::session_cookie(&self.headers);
        let Ok(caller) = login::caller(store, session.as_deref(), token.as_deref()).await else {
            // the store did not answer: keep the wall up, check again later
            return true;
        };
        let access = policy::rule("GET", "/api/screen/stream");
        access.is_none_or(|a| {
            policy::allow(a, caller.as_ref(), self.svc.config.private, "the screen").is_ok()
        })
    }

    /// The next event, or `None` to end the stream.
    async fn next(mut self) -> Option<(Result<Event, Infallible>, Feed)> {
        loop {
            if let Some(json) = self.pending.take() {
                let ev = Event::default()
                    .event("summary")
                    .retry(Duration::from_secs(3))
                    .data(json.as_str());
                self.sent = Some(json);
                return Some((Ok(ev), self));
            }
            tokio::time::sleep(POLL).await;
            self.polls += 1;
            if self.polls * POLL.as_secs() as u32 >= RECHECK.as_secs() as u32 {
                self.polls = 0;
                if !self.still_allowed().await {
                    return None;
                }
            }
            match current(&self.svc, &self.area, self.zone, None).await {
                Ok(json) if self.sent.as_ref().is_none_or(|s| !Arc::ptr_eq(s, &json)) => {
                    self.pending = Some(json)
                }
                Ok(_) => {}
                Err(e) => tracing::warn!("screen stream: {}", e.message),
            }
        }
    }
}

/// `GET /api/screen/stream`: server-sent events (see the [module docs](self)).
pub async fn stream(
    AxState(svc): AxState<Arc<Service>>,
    q: Params,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let Query(q) = q?;
    let (area, zone) = area_zone(&q)?;
    let first = current(&svc, &area, zone, None).await?;
    let feed = Feed {
        svc,
        area,
        zone,
        headers,
        pending: Some(first),
        sent: None,
        polls: 0,
    };
    let events = futures_util::stream::unfold(feed, Feed::next);
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response())
}

/// `GET /screen[?token=…]`: the page, or (with a token) a session cookie and a redirect.
pub async fn page(AxState(svc): AxState<Arc<Service>>, q: Params, req: Request) -> Response {
    let q = match q {
        Ok(Query(q)) => q,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let Some(token) = q.get("token") else {
        return super::static_files::file(&super::static_files::WEB, "screen/index.html")
            .unwrap_or_else(|| ApiError::not_found("no screen page is built in").into_response());
    };
    let addr = auth::address(req.extensions());
    let Some(store) = svc.accounts() else {
        return ApiError::unavailable("this server keeps no accounts (no store)").into_response();
    };
    match login::open_screen(store, token, &addr).await {
        Ok(Some((secret, _, expires))) => {
            let age = chrono::DateTime::parse_from_rfc3339(&expires)
                .map(|t| (t.with_timezone(&Utc) - Utc::now()).num_seconds().max(60))
                .unwrap_or(login::SESSION_HOURS * 3600);
            let rest: Vec<String> = q
                .iter()
                .filter(|(k, _)| *k != "token")
                .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
                .collect();
            let to = if rest.is_empty() {
                "/screen".to_string()
            } else {
                format!("/screen?{}", rest.join("&"))
            };
            (
                StatusCode::SEE_OTHER,
                [
                    (
                        header::SET_COOKIE,
                        auth::set_cookie_for(secret.as_str(), svc.config.secure_cookies, age),
                    ),
                    (header::LOCATION, to),
                    (header::CACHE_CONTROL, "no-store".to_string()),
                ],
            )
                .into_response()
        }
        Ok(None) => (
            StatusCode::UNAUTHORIZED,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            "<!doctype html><meta charset=utf-8><title>大屏</title>\
             <body style=\"background:#04101f;color:#c8d6e5;font:32px sans-serif;padding:2em\">\
             <p>屏幕令牌无效、已过期或已撤销。请管理员用 <code>wangge token add --role screen</code> \
             发放新令牌后再打开 /screen?token=…</p>",
        )
            .into_response(),
        Err(e) => ApiError::unavailable(format!("accounts: {e}")).into_response(),
    }
}

/// Percent-encodes a query key or value.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
