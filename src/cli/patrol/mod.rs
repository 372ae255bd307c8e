//! `wangge patrol`: grid workers' GPS points into a store, coverage reports, the patrol benchmark.

mod bench;

use super::{runtime, StoreArgs};
use anyhow::{bail, Result};
use std::path::PathBuf;
use wangge::patrol::{self as pt, report};

/// `wangge patrol` subcommands.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Import GPS points (CSV worker,time,lon,lat,crs,accuracy; GeoJSON; GPX, by extension):
    /// all or nothing if a record is unreadable; checked points stored once, rejected ones listed;
    /// GPX track points without a time are skipped and listed.
    Import(ImportArgs),
    /// Coverage of a period (a day, a week, a month, or --from/--to) for every grid and every
    /// registered grid worker, and the daily report of each day (grids that missed a patrol or the
    /// second one, worst first), to stdout.
    Report(ReportArgs),
    /// Benchmark: generate a district and a month (or --days) of patrol tracks, stream them into a
    /// store day by day, then time a district-day of coverage, the whole period's, and heat tiles.
    /// Prints figures.
    Bench(bench::Args),
}

impl Command {
    /// Runs the subcommand.
    pub fn run(self) -> Result<()> {
        match self {
            Command::Import(a) => import(a),
            Command::Report(a) => report(a),
            Command::Bench(a) => bench::run(a),
        }
    }
}

/// Flags of `wangge patrol import`.
#[derive(clap::Args)]
pub struct ImportArgs {
    /// The file: .csv, .geojson/.json, .gpx or .kml (gx:Track).
    file: PathBuf,
    #[command(flatten)]
    store: StoreArgs,
    /// The worker of points that do not name one (GPX, GeoJSON without `worker`).
    #[arg(long)]
    worker: Option<String>,
    /// Express times in this zone, e.g. +08:00 (so local days are right for UTC files).
    #[arg(long)]
    zone: Option<String>,
}

/// Flags of `wangge patrol report`.
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("period").required(true).args(["day", "week", "month", "from"])))]
pub struct ReportArgs {
    /// A local day, YYYY-MM-DD.
    #[arg(long)]
    day: Option<String>,
    /// A week, Monday to Sunday: any day of it (2026-11-18) or the ISO week (2026-W47).
    #[arg(long)]
    week: Option<String>,
    /// A calendar month, YYYY-MM.
    #[arg(long)]
    month: Option<String>,
    /// The first day, YYYY-MM-DD (with --to).
    #[arg(long, requires = "to")]
    from: Option<String>,
    /// The last day, YYYY-MM-DD, included (with --from).
    #[arg(long, requires = "from")]
    to: Option<String>,
    /// The zone of local days.
    #[arg(long, default_value = "+08:00")]
    zone: String,
    #[command(flatten)]
    store: StoreArgs,
    /// `json` (coverage per grid and per worker, and the reports) or `csv` (the reports).
    #[arg(long, default_value = "json", value_parser = ["json", "csv"])]
    format: String,
}

/// `wangge patrol import`.
fn import(a: ImportArgs) -> Result<()> {
    let zone = a.zone.map(|z| pt::parse_zone(&z)).transpose()?;
    let name = a.file.display().to_string();
    let opts = pt::ReadOptions {
        worker: a.worker,
        zone,
    };
    let read = pt::read::read_path(&a.file, &opts)?;
    if !read.errors.is_empty() {
        for e in &read.errors {
            eprintln!("{e}");
        }
        bail!(
            "{name}: {} unreadable record(s); nothing stored",
            read.errors.len()
        );
    }
    for e in &read.skipped {
        eprintln!("skipped {e}");
    }
    let n = read.points.len();
    let checked = pt::check(
        read.points,
        &pt::CheckRules::new(chrono::Utc::now().fixed_offset()),
    );
    for is in &checked.rejected {
        eprintln!(
            "{name}: rejected {} at {} ({}, {}): {}",
            is.point.worker,
            is.point.time.to_rfc3339(),
            is.point.lon,
            is.point.lat,
            is.reason
        );
    }
    let rt = runtime()?;
    let ins = rt.block_on(async {
        let store = a.store.open().await?;
        anyhow::Ok(store.insert_checked(&checked).await?)
    })?;
    println!(
        "read {n}, stored {} (flagged {}), duplicates {} (in file {}, already stored {}), rejected {}, skipped {}",
        ins.inserted,
        checked.flagged.len(),
        checked.duplicates + ins.duplicates,
        checked.duplicates,
        ins.duplicates,
        checked.rejected.len(),
        read.skipped.len()
    );
    Ok(())
}

/// `wangge patrol report`.
fn report(a: ReportArgs) -> Result<()> {
    let zone = pt::parse_zone(&a.zone)?;
    let today = chrono::Utc::now().with_timezone(&zone).date_naive();
    let period = pt::Period::choose(
        a.day.as_deref(),
        a.week.as_deref(),
        a.month.as_deref(),
        a.from.as_deref(),
        a.to.as_deref(),
        zone,
        today,
    )
    .map_err(anyhow::Error::msg)?;
    let rt = runtime()?;
    let store = rt.block_on(a.store.open_existing(""))?;
    let snap = rt.block_on(store.snapshot())?;
    let index = pt::CoverageIndex::new(&snap, pt::CoverageRules::default());
    let roster = pt::Roster::from_snapshot(&snap);
    let mut reports = Vec::new();
    let total = pt::coverage_by_day(
        &index,
        &period,
        Some(&roster),
        |d| day_points(&rt, &store, &period, d),
        |d, cov| reports.extend(report::daily_report(&snap, &cov, d)),
    )?;
    rt.block_on(store.close());
    if a.format == "csv" {
        print!("{}", report::to_csv(&reports));
        return Ok(());
    }
    let mut doc = period.to_json();
    doc.insert("grids".into(), serde_json::to_value(&total.grids)?);
    doc.insert("workers".into(), serde_json::to_value(&total.workers)?);
    doc.insert("towns".into(), serde_json::to_value(&reports)?);
    println!("{}", serde_json::to_string_pretty(&doc)?);
    Ok(())
}

/// The accepted points of `day` of `period`, read from `store` (what [`pt::coverage_by_day`] is
/// fed).
fn day_points(
    rt: &tokio::runtime::Runtime,
    store: &wangge::store::Store,
    period: &pt::Period,
    day: chrono::NaiveDate,
) -> Result<Vec<pt::PatrolPoint>> {
    let (from, to) = period.day_window(day).ms();
    let tracks = rt.block_on(store.patrol_tracks(from, to, None))?;
    Ok(wangge::store::patrol::accepted_points(&tracks))
}
