//! `wangge events bench`: a year of a district's events — generated with the default categories,
//! sources, priorities and realistic handling times — located, stored in batches, taken through
//! their flow at the simulated times, then a month's figures per grid and the busiest events tile
//! at z12 timed. Figures only, no assertions; the same seed gives the same events and actions.

use crate::cli::{peak_mib, runtime};
use anyhow::Result;
use chrono::{DateTime, Duration, TimeZone, Utc};
use rand::{Rng, SeedableRng};
use std::time::Instant;
use wangge::events::category::CategoryTree;
use wangge::events::deadline::Limits;
use wangge::events::flow::{Action, Request};
use wangge::events::{self, NewEvent, Priority, Source};
use wangge::model::Weight;
use wangge::partition::{self, Options};
use wangge::serve::locator::Locator;
use wangge::store::events::EventFilter;
use wangge::store::Store;

/// Flags of `wangge events bench`.
#[derive(clap::Args)]
pub struct Args {
    /// Events over the year.
    #[arg(long, default_value_t = 260_000)]
    events: usize,
    /// Households in the generated district.
    #[arg(long, default_value_t = 150_000)]
    households: u64,
    /// Seed of the district and the events.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Store to write to: an empty scratch file or database (a temporary GeoPackage if not given).
    #[arg(long)]
    db: Option<String>,
}

/// Events stored per transaction (as `wangge events import`).
const CHUNK: usize = 5000;

/// The first instant of the simulated year (2026-01-01 00:00 China time).
fn year_start() -> DateTime<Utc> {
    events::china()
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("a date")
        .with_timezone(&Utc)
}

/// An exponential wait with this mean, in hours, at least a minute.
fn hours(rng: &mut impl Rng, mean_h: f64) -> Duration {
    let u: f64 = rng.random_range(1e-9..1.0);
    Duration::seconds((-u.ln() * mean_h * 3600.0).max(60.0) as i64)
}

/// The flow an event goes through and the waits before each action: most are handled in the
/// grid by its worker, the rest accepted, dispatched and replied to; then verified and archived.
fn flow(rng: &mut impl Rng, safety: bool) -> Vec<(Action, Duration)> {
    let speed = if safety { 0.5 } else { 1.0 };
    let mut steps = if rng.random_bool(0.55) {
        vec![(Action::HandleInGrid, hours(rng, 6.0 * speed))]
    } else {
        vec![
            (Action::Accept, hours(rng, 1.0 * speed)),
            (Action::Dispatch, hours(rng, 2.0 * speed)),
            (Action::Reply, hours(rng, 30.0 * speed)),
        ]
    };
    steps.push((Action::Verify, hours(rng, 12.0)));
    steps.push((Action::Archive, hours(rng, 4.0)));
    steps
}

/// Runs `wangge events bench`.
pub fn run(a: Args) -> Result<()> {
    let rt = runtime()?;
    let t = Instant::now();
    let dir = crate::cli::scratch_town("events-bench", a.households, a.seed)?;
    let ds = wangge::ingest::read_dir(dir.path(), &Weight::Households)?;
    let plan = partition::partition(
        &ds,
        &Options {
            seed: a.seed,
            ..Options::default()
        },
        &|| {},
    );
    let snap = wangge::snapshot::Snapshot::from_plan(&ds, &plan, 1);
    drop(plan);
    println!(
        "district: {} households, {} grids, {} buildings in {:.1} s (generate + partition)",
        a.households,
        snap.grids.len(),
        snap.buildings.len(),
        t.elapsed().as_secs_f64()
    );
    let target = match &a.db {
        Some(db) => db.clone(),
        None => dir
            .path()
            .join("events.gpkg")
            .to_string_lossy()
            .into_owned(),
    };
    let store = rt.block_on(Store::open(&target))?;
    let tree = CategoryTree::default();
    let leaves: Vec<String> = tree
        .0
        .iter()
        .flat_map(|c| c.children.iter().map(|ch| ch.code.clone()))
        .collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(a.seed ^ 0xe7e7);
    let start = year_start();
    let year_s = 365 * 86_400;

    // 1. generate and locate: near a building (where people are), at any hour, mostly by day
    let t = Instant::now();
    let locator = Locator::new(&snap);
    let mut batch = Vec::with_capacity(a.events);
    for i in 0..a.events {
        let b = &snap.buildings[rng.random_range(0..snap.buildings.len())].building;
        let (lon, lat) = (
            b.point.x() + rng.random_range(-0.0003..0.0003),
            b.point.y() + rng.random_range(-0.0003..0.0003),
        );
        let day = rng.random_range(0..365i64);
        let hour = if rng.random_bool(0.85) {
            rng.random_range(7..20)
        } else {
            rng.random_range(0..24)
        };
        let at = start
            + Duration::days(day)
            + Duration::hours(hour)
            + Duration::seconds(rng.random_range(0..3600));
        let located = locator.locate(&snap, lon, lat, 10.0);
        let category = leaves[rng.random_range(0..leaves.len())].clone();
        batch.push(NewEvent {
            client_id: Some(format!("B{i:07}")),
            reporter: "bench".into(),
            source: [
                Source::Worker,
                Source::Hotline,
                Source::Resident,
                Source::Inspection,
            ][rng.random_range(0..4)],
            title: format!("事件 {i}"),
            category,
            description: String::new(),
            lon,
            lat,
            address: None,
            location: events::location_of(&snap, &located),
            priority: if rng.random_bool(0.1) {
                Priority::High
            } else {
                Priority::Normal
            },
            photos: Vec::new(),
            reported_at: at,
        });
    }
    batch.sort_by_key(|e| e.reported_at);
    let located_s = t.elapsed().as_secs_f64();

    // 2. store, in transactions of CHUNK
    let t = Instant::now();
    let limits = Limits::default();
    let mut stored = Vec::with_capacity(batch.len());
    for chunk in batch.chunks(CHUNK) {
        stored.extend(rt.block_on(store.report_events(chunk, &limits))?);
    }
    let import_s = t.elapsed().as_secs_f64();
    println!(
        "import: {} events located in {located_s:.1} s, stored in {import_s:.1} s ({:.0} events/s)",
        stored.len(),
        stored.len() as f64 / import_s.max(1e-9)
    );

    // 3. the flow, at the simulated times; what would end after the year's end stays open
    let t = Instant::now();
    let end = start + Duration::seconds(year_s);
    let mut actions = 0usize;
    for (e, r) in batch.iter().zip(&stored) {
        let mut now = e.reported_at;
        let mut version = 1;
        let grid = r.grid.clone().unwrap_or_default();
        for (action, wait) in flow(&mut rng, e.category.starts_with("safety")) {
            now += wait;
            if now >= end {
                break;
            }
            let mut rq = Request::new(action, version);
            if action == Action::Dispatch {
                rq.assignee = Some(format!("W{grid}"));
            }
            let ev = rt.block_on(store.act_on_event(r.id, &rq, "bench", &limits, now))?;
            version = ev.version;
            actions += 1;
        }
    }
    let flow_s = t.elapsed().as_secs_f64();
    println!(
        "flow: {actions} actions in {flow_s:.1} s ({:.0} actions/s, one transaction each)",
        actions as f64 / flow_s.max(1e-9)
    );

    // 4. a month's figures per grid (November), as `wangge events report`
    let nov = events::china()
        .with_ymd_and_hms(2026, 11, 1, 0, 0, 0)
        .single()
        .expect("a date")
        .with_timezone(&Utc);
    let dec = nov + Duration::days(30);
    let top = |c: &str| tree.top(c).unwrap_or("other").to_string();
    let mut times = Vec::new();
    let mut summary = String::new();
    for _ in 0..5 {
        let t = Instant::now();
        let evs = rt.block_on(store.list_events(&EventFilter {
            from: Some(nov),
            to: Some(dec),
            ..EventFilter::default()
        }))?;
        let fig = events::figures::figures(&evs, &top, end);
        times.push(t.elapsed().as_secs_f64());
        summary = format!(
            "{} events, {} grids, closure {}, median close {} h",
            evs.len(),
            fig.grids.len(),
            fig.totals
                .closure_rate
                .map_or("-".into(), |r| format!("{:.1}%", r * 100.0)),
            fig.totals
                .median_close_h
                .map_or("-".into(), |h| format!("{h:.1}"))
        );
    }
    println!("report November: {summary}; {}", median_p95(&mut times));

    // 5. the busiest z12 tile of the year's events, listed and rendered as the server does
    let bounds = snap
        .villages
        .iter()
        .filter_map(|v| geo::BoundingRect::bounding_rect(&v.boundary))
        .reduce(|a, b| {
            geo::Rect::new(
                (a.min().x.min(b.min().x), a.min().y.min(b.min().y)),
                (a.max().x.max(b.max().x), a.max().y.max(b.max().y)),
            )
        })
        .ok_or_else(|| anyhow::anyhow!("the district has no villages"))?;
    let mut busiest = None;
    let mut most = 0usize;
    for id in wangge::tiles::tiles_covering(&bounds, 12) {
        let b = id.buffered_bounds(wangge::tiles::BUFFER);
        let n = rt
            .block_on(store.event_points(&EventFilter {
                bbox: Some([b.min().x, b.min().y, b.max().x, b.max().y]),
                ..EventFilter::default()
            }))?
            .len();
        if n > most {
            (most, busiest) = (n, Some(id));
        }
    }
    if let Some(id) = busiest {
        let (mut times, mut listing) = (Vec::new(), Vec::new());
        let mut bytes = 0;
        for _ in 0..5 {
            let t = Instant::now();
            let b = id.buffered_bounds(wangge::tiles::BUFFER);
            let evs = rt.block_on(store.event_points(&EventFilter {
                bbox: Some([b.min().x, b.min().y, b.max().x, b.max().y]),
                ..EventFilter::default()
            }))?;
            listing.push(t.elapsed().as_secs_f64());
            bytes = events::tile::render(&evs, &tree, end, id).map_or(0, |t| t.len());
            times.push(t.elapsed().as_secs_f64());
        }
        println!(
            "tile z12/{}/{}: {most} events, {bytes} bytes (uncompressed MVT); {} (of which reading the points {})",
            id.x,
            id.y,
            median_p95(&mut times),
            median_p95(&mut listing)
        );
    }
    if let Some(m) = peak_mib() {
        let kept = if a.db.is_some() {
            target.as_str()
        } else {
            "a scratch GeoPackage, removed"
        };
        println!("peak memory {m:.0} MiB; store {kept}");
    }
    Ok(())
}

/// "median X s, p95 Y s" of `times` (seconds).
fn median_p95(times: &mut [f64]) -> String {
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    format!("median {:.3} s, p95 {:.3} s", at(0.5), at(0.95))
}
