//! `GET /api/print`: the printed grid-division map (or a grid's notice board) as a PDF, made by
//! [`crate::print`] from the map being served.

use crate::print::sheet::{Extras, Sheet};
use crate::print::{load, render_sheet, CjkFont, Format, Options, Paper, PrintError, Target};
use crate::serve::error::{ApiError, ApiResult};
use crate::serve::state::Service;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State as AxState};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;
use std::sync::Arc;

type Params = Result<Query<BTreeMap<String, String>>, QueryRejection>;

/// The request's target and options: one of `village=`, `town=`, `grid=` (a notice board), and
/// `paper=A0…A4` (default A3, A4 for a board), `landscape=true`, `supervision=PHONE`.
fn parse(q: &BTreeMap<String, String>) -> ApiResult<(Target, Options)> {
    for k in q.keys() {
        if !matches!(
            k.as_str(),
            "village" | "town" | "grid" | "paper" | "landscape" | "supervision"
        ) {
            return Err(ApiError::bad_request(format!(
                "unknown parameter `{k}`: use village=, town= or grid=, and paper=, landscape=, supervision="
            )));
        }
    }
    let target = match (q.get("village"), q.get("town"), q.get("grid")) {
        (Some(v), None, None) => Target::Village(v.clone()),
        (None, Some(t), None) => Target::Town(t.clone()),
        (None, None, Some(g)) => Target::Board(g.clone()),
        _ => {
            return Err(ApiError::bad_request(
                "give exactly one of village=CODE, town=CODE or grid=CODE",
            ))
        }
    };
    let paper = match q.get("paper") {
        Some(p) => p
            .parse::<Paper>()
            .map_err(|e| ApiError::bad_request(e.to_string()))?,
        None if matches!(target, Target::Board(_)) => Paper::A4,
        None => Paper::A3,
    };
    let landscape = match q.get("landscape").map(String::as_str) {
        None | Some("false") | Some("0") => false,
        Some("true") | Some("1") => true,
        Some(o) => {
            return Err(ApiError::bad_request(format!(
                "landscape `{o}`: use true or false"
            )))
        }
    };
    Ok((
        target,
        Options {
            paper,
            landscape,
            supervision: q.get("supervision").cloned(),
        },
    ))
}

/// `GET /api/print?village=CODE&paper=A3` (or `town=`, or `grid=` for a notice board): a PDF.
pub async fn print(AxState(svc): AxState<Arc<Service>>, q: Params) -> ApiResult<Response> {
    let Query(q) = q?;
    let (target, opts) = parse(&q)?;
    let st = svc.state();
    let r = target.resolve(&st.snapshot).map_err(|e| match e {
        PrintError::NoPlan(_) => ApiError::bad_request(e.to_string()),
        _ => ApiError::not_found(e.to_string()),
    })?;
    let font = CjkFont::system().map_err(|e| ApiError::unavailable(e.to_string()))?;
    let buildings = svc
        .source
        .buildings_in(r.bbox)
        .await
        .map_err(|e| ApiError::unavailable(e.to_string()))?;
    let extras = match svc.source.store() {
        Some(store) => load::extras(store, &st.snapshot, &r)
            .await
            .map_err(|e| ApiError::unavailable(e.to_string()))?,
        None => Extras::default(),
    };
    let name = match &target {
        Target::Village(c) | Target::Town(c) => format!("wangge-{c}-{}.pdf", opts.paper.as_str()),
        Target::Board(c) => format!("wangge-{c}-board.pdf"),
    };
    let pdf = tokio::task::spawn_blocking(move || {
        let sheet = Sheet::new(&st.snapshot, &r, buildings, extras);
        render_sheet(&sheet, &font, &opts, Format::Pdf)
    })
    .await
    .map_err(|e| ApiError::unavailable(e.to_string()))?
    .map_err(|e| ApiError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        message: e.to_string(),
    })?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"{name}\""),
            ),
        ],
        pdf,
    )
        .into_response())
}
