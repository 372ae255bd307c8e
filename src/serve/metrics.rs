//! What the running server counts, for `/metrics` (Prometheus text format 0.0.4) and the request
//! log: every request's route, method, status, time and user, counted per route and status with a
//! latency histogram per route; with the tile cache's hits, the store's revision, the patrol
//! points stored and the process's memory read at scrape time.
//!
//! Access (see `routes/metrics.rs`): loopback callers always; others only with the bearer token of
//! the config file's `[metrics] token`.

use super::state::Service;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Upper bounds of the latency histogram's buckets, seconds.
pub const BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Default)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

#[derive(Default)]
struct Inner {
    requests: BTreeMap<(String, String, u16), u64>,
    latency: BTreeMap<String, Histogram>,
}

/// Request counters and latency histograms.
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

/// The user a response was made for (set by the guard), for the request log.
#[derive(Clone, Debug)]
pub struct User(pub String);

impl Metrics {
    /// Counts one answered request.
    pub fn record(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        *g.requests
            .entry((route.to_string(), method.to_string(), status))
            .or_default() += 1;
        let h = g.latency.entry(route.to_string()).or_default();
        if h.counts.is_empty() {
            h.counts = vec![0; BUCKETS.len()];
        }
        for (c, le) in h.counts.iter_mut().zip(BUCKETS) {
            if seconds <= *le {
                *c += 1;
            }
        }
        h.sum += seconds;
        h.count += 1;
    }

    /// The request counters and histograms in Prometheus text format.
    pub fn render_requests(&self, out: &mut String) {
        let g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        out.push_str("# HELP wangge_http_requests_total HTTP requests answered, by route, method and status.\n");
        out.push_str("# TYPE wangge_http_requests_total counter\n");
        for ((route, method, status), n) in &g.requests {
            let _ = writeln!(
                out,
                "wangge_http_requests_total{{route=\"{}\",method=\"{method}\",status=\"{status}\"}} {n}",
                escape(route)
            );
        }
        out.push_str(
            "# HELP wangge_http_request_duration_seconds Time to answer a request, by route.\n",
        );
        out.push_str("# TYPE wangge_http_request_duration_seconds histogram\n");
        for (route, h) in &g.latency {
            let r = escape(route);
            for (c, le) in h.counts.iter().zip(BUCKETS) {
                let _ = writeln!(
                    out,
                    "wangge_http_request_duration_seconds_bucket{{route=\"{r}\",le=\"{le}\"}} {c}"
                );
            }
            let _ = writeln!(
                out,
                "wangge_http_request_duration_seconds_bucket{{route=\"{r}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "wangge_http_request_duration_seconds_sum{{route=\"{r}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "wangge_http_request_duration_seconds_count{{route=\"{r}\"}} {}",
                h.count
            );
        }
    }
}

/// A label value escaped for the text format.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// One gauge or counter line with its HELP and TYPE.
pub fn single(out: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
    );
}

/// Everything `/metrics` shows.
pub async fn render(svc: &Service) -> String {
    let mut out = String::new();
    svc.metrics.render_requests(&mut out);
    let (hits, misses) = svc.cache.hits_misses();
    single(
        &mut out,
        "wangge_tile_cache_hits_total",
        "counter",
        "Vector tiles answered from the cache.",
        hits,
    );
    single(
        &mut out,
        "wangge_tile_cache_misses_total",
        "counter",
        "Vector tiles not in the cache (rendered).",
        misses,
    );
    let (tiles, bytes) = svc.cache.usage();
    single(
        &mut out,
        "wangge_tile_cache_tiles",
        "gauge",
        "Tiles held in the cache.",
        tiles,
    );
    single(
        &mut out,
        "wangge_tile_cache_bytes",
        "gauge",
        "Bytes held by the tile cache.",
        bytes,
    );
    single(
        &mut out,
        "wangge_store_revision",
        "gauge",
        "Revision of the store the map shows.",
        svc.state().revision(),
    );
    if let Some(store) = svc.source.store() {
        if let Ok(n) = store.patrol_points_stored().await {
            single(
                &mut out,
                "wangge_patrol_points_stored",
                "gauge",
                "Patrol points in the store.",
                n,
            );
        }
    }
    if let Some(rss) = super::memory::rss_bytes() {
        single(
            &mut out,
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory of the process.",
            rss,
        );
    }
    if let Some(peak) = super::memory::peak_bytes() {
        single(
            &mut out,
            "wangge_process_peak_resident_memory_bytes",
            "gauge",
            "Most resident memory so far.",
            peak,
        );
    }
    let _ = writeln!(
        out,
        "# HELP wangge_build_info The running version.\n# TYPE wangge_build_info gauge\nwangge_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    );
    out
}

/// Middleware of every routed request (outside the guard, so refusals count too): logs the
/// request (route, method, status, milliseconds, user; `wangge::access` target) and counts it.
pub async fn observe(State(svc): State<Arc<Service>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = super::auth::route_of(&req);
    let method = req.method().to_string();
    let resp = next.run(req).await;
    let secs = started.elapsed().as_secs_f64();
    let status = resp.status().as_u16();
    let user = resp
        .extensions()
        .get::<User>()
        .map_or("-", |u| u.0.as_str());
    tracing::info!(target: "wangge::access", route = %route, method = %method, status,
        ms = (secs * 1000.0 * 10.0).round() / 10.0, user, "request");
    svc.metrics.record(&route, &method, status, secs);
    resp
}
