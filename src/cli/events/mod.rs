//! `wangge events`: events (网格事件) in a store: import a hotline system's export, list them,
//! show one with its history, report a period's figures per grid.

mod bench;

use super::{runtime, StoreArgs};
use anyhow::{bail, Context, Result};
use chrono::{DateTime, NaiveDate, Utc};
use std::path::PathBuf;
use wangge::events::category::CategoryTree;
use wangge::events::deadline::Limits;
use wangge::events::{self, hotline, Event, NewEvent, Source};
use wangge::serve::locator::Locator;
use wangge::store::events::EventFilter;
use wangge::store::Store;

/// `wangge events` subcommands.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Import a hotline export (CSV; columns client_id/工单编号, reported_at/受理时间,
    /// category/事件类型, title/标题, lon/经度 + lat/纬度 or address/地址, …): every line is read
    /// first, a bad one refused naming its line and field; then each event is located to its
    /// grid and stored once (re-importing stores nothing twice).
    Import(ImportArgs),
    /// List events (newest first).
    List(ListArgs),
    /// One event (by number or id) with its history.
    Show(ShowArgs),
    /// Figures of a period per grid (worst first), village, category and source.
    Report(ReportArgs),
    /// Print the category tree (JSON, as `GET /api/events/categories`), or set it from a file
    /// (`--set tree.json`; refused when it leaves out a category stored events are in).
    Categories(SettingArgs),
    /// Print the time limits (JSON, as `GET /api/events/limits`), or set the overrides from a
    /// file (`--set limits.json`: `[{category, priority?, step?, hours | factor}]`).
    Limits(SettingArgs),
    /// Benchmark: a year of a generated district's events (260,000 by default) located, stored,
    /// taken through their flow at simulated times; a month's report and the busiest z12 tile
    /// timed.
    Bench(bench::Args),
}

impl Command {
    /// Runs the subcommand.
    pub fn run(self) -> Result<()> {
        match self {
            Command::Import(a) => import(a),
            Command::List(a) => list(a),
            Command::Show(a) => show(a),
            Command::Report(a) => report(a),
            Command::Categories(a) => categories(a),
            Command::Limits(a) => limits(a),
            Command::Bench(a) => bench::run(a),
        }
    }
}

/// Flags of `wangge events import`.
#[derive(clap::Args)]
pub struct ImportArgs {
    /// The CSV file.
    file: PathBuf,
    /// Who the events are reported by (the idempotency keys are theirs).
    #[arg(long, default_value = "hotline")]
    reporter: String,
    #[command(flatten)]
    store: StoreArgs,
}

/// Events stored per transaction.
const CHUNK: usize = 5000;

fn import(a: ImportArgs) -> Result<()> {
    let name = a.file.display().to_string();
    let f = std::fs::File::open(&a.file).with_context(|| format!("{name}: cannot open"))?;
    let rt = runtime()?;
    let store = rt.block_on(a.store.open_existing("import a town first (wangge import)"))?;
    let settings = rt.block_on(store.event_settings())?;
    let rows = hotline::read(std::io::BufReader::new(f), &name, &settings.categories)?;
    let started = std::time::Instant::now();
    let snap = rt.block_on(store.map_snapshot())?;
    let locator = Locator::new(&snap);
    let margins = wangge::serve::Config::default();
    let mut batch = Vec::with_capacity(rows.len());
    for r in rows {
        let (lon, lat) = match (r.point, &r.address) {
            (Some(p), _) => p,
            (None, Some(addr)) => {
                let found = rt.block_on(store.find_address(addr))?;
                let (b, _) = found.candidates.first().with_context(|| {
                    format!(
                        "{name} line {}, field address: no building's address matches `{addr}`",
                        r.line
                    )
                })?;
                (b.point.x(), b.point.y())
            }
            (None, None) => bail!("{name} line {}: no place", r.line),
        };
        let tol = r.crs.uncertainty_m()
            + if r.crs == wangge::crs::Crs::Wgs84 {
                margins.wgs84_margin_m
            } else {
                margins.gps_margin_m
            };
        let located = locator.locate(&snap, lon, lat, tol);
        batch.push(NewEvent {
            client_id: Some(r.client_id),
            reporter: a.reporter.clone(),
            source: Source::Hotline,
            category: r.category,
            title: r.title,
            description: r.description,
            lon,
            lat,
            address: r.address,
            location: events::location_of(&snap, &located),
            priority: r.priority,
            photos: Vec::new(),
            reported_at: r.reported_at,
        });
    }
    let located_s = started.elapsed().as_secs_f64();
    let (mut fresh, mut dup) = (0, 0);
    for chunk in batch.chunks(CHUNK) {
        for r in rt.block_on(store.report_events(chunk, &settings.limits))? {
            if r.duplicate {
                dup += 1;
            } else {
                fresh += 1;
            }
        }
    }
    let s = started.elapsed().as_secs_f64();
    println!(
        "{name}: {fresh} events stored, {dup} already stored, in {s:.1} s (locating {located_s:.1} s; {:.0} events/s)",
        batch.len() as f64 / s.max(1e-9)
    );
    Ok(())
}

/// Flags of `wangge events list`.
#[derive(clap::Args)]
pub struct ListArgs {
    /// Only these states (comma-separated: reported, accepted, dispatched, …).
    #[arg(long)]
    state: Option<String>,
    /// Only this grid.
    #[arg(long)]
    grid: Option<String>,
    /// Only this village.
    #[arg(long)]
    village: Option<String>,
    /// Only open events past their limit.
    #[arg(long)]
    overdue: bool,
    /// At most this many.
    #[arg(long, default_value_t = 100)]
    limit: i64,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    store: StoreArgs,
}

fn list(a: ListArgs) -> Result<()> {
    let mut f = EventFilter {
        limit: Some(a.limit),
        overdue_at: a.overdue.then(Utc::now),
        ..EventFilter::default()
    };
    if let Some(s) = &a.state {
        f.states = s.split(',').map(str::parse).collect::<Result<_, _>>()?;
    }
    if let Some(g) = &a.grid {
        f.grid = Some(wangge::model::GridCode::parse(g).context("--grid")?);
    }
    if let Some(v) = &a.village {
        f.village = Some(wangge::model::VillageCode::parse(v).context("--village")?);
    }
    let rt = runtime()?;
    let store = rt.block_on(a.store.open_existing(""))?;
    let evs = rt.block_on(store.list_events(&f))?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&evs)?);
        return Ok(());
    }
    let now = Utc::now();
    println!("number\tstate\tdue\tgrid\tcategory\ttitle");
    for e in evs {
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}",
            e.number,
            e.state,
            e.due_status(now),
            e.location.grid.as_ref().map_or("-", |g| g.as_str()),
            e.category,
            e.title
        );
    }
    Ok(())
}

/// Flags of `wangge events show`.
#[derive(clap::Args)]
pub struct ShowArgs {
    /// The event's number (or id).
    event: String,
    #[command(flatten)]
    store: StoreArgs,
}

async fn find(store: &Store, key: &str) -> Result<Event> {
    if let Some(e) = store.event_by_number(key).await? {
        return Ok(e);
    }
    match key.parse::<i64>() {
        Ok(id) if key.len() < 12 => Ok(store.event(id).await?),
        _ => bail!("event {key}: no such number or id"),
    }
}

fn show(a: ShowArgs) -> Result<()> {
    let rt = runtime()?;
    let store = rt.block_on(a.store.open_existing(""))?;
    let e = rt.block_on(find(&store, &a.event))?;
    let history = rt.block_on(store.event_history(e.id))?;
    let mut v = serde_json::to_value(&e)?;
    v["due"] = serde_json::json!(e.due_status(Utc::now()).as_str());
    v["history"] = serde_json::to_value(history)?;
    println!("{}", serde_json::to_string_pretty(&v)?);
    Ok(())
}

/// Flags of `wangge events report`.
#[derive(clap::Args)]
pub struct ReportArgs {
    /// First day (YYYY-MM-DD, China time); default the first of this month.
    #[arg(long)]
    from: Option<String>,
    /// Last day (included); default today.
    #[arg(long)]
    to: Option<String>,
    /// Only this village.
    #[arg(long)]
    village: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    store: StoreArgs,
}

fn day(flag: &str, s: &str, next: bool) -> Result<DateTime<Utc>> {
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .with_context(|| format!("{flag} `{s}`: want YYYY-MM-DD"))?;
    let d = if next { d.succ_opt().unwrap_or(d) } else { d };
    Ok(d.and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(events::china()).single())
        .context("a date")?
        .with_timezone(&Utc))
}

fn report(a: ReportArgs) -> Result<()> {
    let today = Utc::now().with_timezone(&events::china()).date_naive();
    let from = a
        .from
        .unwrap_or_else(|| today.format("%Y-%m-01").to_string());
    let to = a.to.unwrap_or_else(|| today.format("%Y-%m-%d").to_string());
    let mut f = EventFilter {
        from: Some(day("--from", &from, false)?),
        to: Some(day("--to", &to, true)?),
        ..EventFilter::default()
    };
    if let Some(v) = &a.village {
        f.village = Some(wangge::model::VillageCode::parse(v).context("--village")?);
    }
    let rt = runtime()?;
    let store = rt.block_on(a.store.open_existing(""))?;
    let started = std::time::Instant::now();
    let evs = rt.block_on(store.list_events(&f))?;
    let tree = rt.block_on(store.event_settings())?.categories;
    let top = |c: &str| tree.top(c).unwrap_or("other").to_string();
    let fig = events::figures::figures(&evs, &top, Utc::now());
    let s = started.elapsed().as_secs_f64();
    if a.json {
        println!("{}", serde_json::to_string_pretty(&fig)?);
        return Ok(());
    }
    println!(
        "{from} .. {to}: {} events, {} grids ({s:.2} s)",
        evs.len(),
        fig.grids.len()
    );
    println!("grid\treported\topen\toverdue\tclosed\tclosure\tmedian_h");
    let row = |name: &str, c: &events::figures::Counts| {
        println!(
            "{name}\t{}\t{}\t{}\t{}\t{}\t{}",
            c.reported,
            c.open,
            c.overdue,
            c.closed,
            c.closure_rate
                .map_or("-".into(), |r| format!("{:.1}%", r * 100.0)),
            c.median_close_h.map_or("-".into(), |h| format!("{h:.1}"))
        )
    };
    for g in &fig.grids {
        row(&g.grid, &g.counts);
    }
    row("total", &fig.totals);
    for (c, counts) in &fig.by_category {
        row(&format!("[{}]", tree.name(c).unwrap_or(c)), counts);
    }
    Ok(())
}

/// Flags of `wangge events categories` and `wangge events limits`.
#[derive(clap::Args)]
pub struct SettingArgs {
    /// Set it from this JSON file instead of printing it.
    #[arg(long)]
    set: Option<PathBuf>,
    /// Who sets it (kept with the setting).
    #[arg(long, default_value = "wangge-cli")]
    by: String,
    #[command(flatten)]
    store: StoreArgs,
}

/// The text of a settings file, named in its errors.
fn setting_file(p: &std::path::Path) -> Result<(String, String)> {
    let name = p.display().to_string();
    let text = std::fs::read_to_string(p).with_context(|| format!("{name}: cannot read"))?;
    Ok((name, text))
}

fn categories(a: SettingArgs) -> Result<()> {
    let rt = runtime()?;
    let store = rt.block_on(a.store.open_existing(""))?;
    if let Some(p) = &a.set {
        let (name, text) = setting_file(p)?;
        let tree = CategoryTree::from_json(&text).with_context(|| name.clone())?;
        rt.block_on(store.set_event_categories(&tree, &a.by))
            .with_context(|| name.clone())?;
        println!("{name}: {} categories set", tree.codes().len());
        return Ok(());
    }
    let tree = rt.block_on(store.event_settings())?.categories;
    println!("{}", serde_json::to_string_pretty(&tree)?);
    Ok(())
}

fn limits(a: SettingArgs) -> Result<()> {
    let rt = runtime()?;
    let store = rt.block_on(a.store.open_existing(""))?;
    if let Some(p) = &a.set {
        let (name, text) = setting_file(p)?;
        let limits = Limits::from_json(&text).with_context(|| name.clone())?;
        rt.block_on(store.set_event_limits(&limits, &a.by))
            .with_context(|| name.clone())?;
        println!("{name}: {} overrides set", limits.overrides.len());
        return Ok(());
    }
    let limits = rt.block_on(store.event_settings())?.limits;
    println!("{}", serde_json::to_string_pretty(&limits.table_json())?);
    Ok(())
}
