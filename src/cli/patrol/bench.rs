//! `wangge patrol bench`: a generated district and its patrol tracks streamed into a store day by
//! day, then coverage and heat tiles timed. Figures only, no assertions.

use crate::cli::{peak_mib, runtime};
use anyhow::{bail, Context, Result};
use wangge::model::{GridCode, Weight};
use wangge::partition::{self, Options};
use wangge::snapshot::{Person, Role};
use wangge::store::Store;

/// Flags of `wangge patrol bench`.
#[derive(clap::Args)]
pub struct Args {
    /// Households in the generated district.
    #[arg(long, default_value_t = 50_000)]
    households: u64,
    /// Days of tracks.
    #[arg(long, default_value_t = 1)]
    days: u32,
    /// Seed of the district and the tracks.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// The first day of tracks (fixed, so a seed always gives the same points).
    #[arg(long, default_value = "2026-11-01")]
    first_day: String,
    /// Store to ingest into: an empty scratch file or database (a temporary GeoPackage if not
    /// given).
    #[arg(long)]
    db: Option<String>,
}

/// Runs `wangge patrol bench`.
pub fn run(a: Args) -> Result<()> {
    let first = chrono::NaiveDate::parse_from_str(a.first_day.trim(), "%Y-%m-%d")
        .with_context(|| format!("--first-day {}: not a date like 2026-11-01", a.first_day))?;
    patrol_bench(a.households, a.days.max(1), a.seed, first, a.db.as_deref())
}

/// `wangge patrol bench`: figures, no assertions. Deterministic for a seed and first day: the
/// district, the tracks, and so the stored points (the checks' "now" is the day after the last).
fn patrol_bench(
    households: u64,
    days: u32,
    seed: u64,
    first_day: chrono::NaiveDate,
    db: Option<&str>,
) -> Result<()> {
    use std::time::Instant;
    use wangge::patrol::heat_tile::{heat_tile_box, heat_tile_of_counts, tile_res};
    use wangge::patrol::{self as pt, tracks};
    use wangge::store::patrol::accepted_points;
    let t = Instant::now();
    let dir = crate::cli::scratch_town("patrol-bench", households, seed)?;
    let ds = wangge::ingest::read_dir(dir.path(), &Weight::Households)?;
    let plan = partition::partition(
        &ds,
        &Options {
            seed,
            ..Options::default()
        },
        &|| {},
    );
    let mut snap = wangge::snapshot::Snapshot::from_plan(&ds, &plan, 1);
    drop((ds, plan));
    // One registered grid worker per grid, named as the generator names them (W + grid code).
    for g in &mut snap.grids {
        g.people = vec![Person {
            role: Role::GridWorker,
            name: format!("W{}", g.code),
            phone: None,
        }];
    }
    println!(
        "district: {households} households, {} grids, {} buildings in {:.1} s (generate + partition)",
        snap.grids.len(),
        snap.buildings.len(),
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let index = pt::CoverageIndex::new(&snap, pt::CoverageRules::default());
    let roster = pt::Roster::from_snapshot(&snap);
    println!("coverage index: {:.2} s", t.elapsed().as_secs_f64());
    let zone = pt::default_zone();
    let codes: Vec<GridCode> = snap.grids.iter().map(|g| g.code.clone()).collect();
    let gen = tracks::TrackGen::new(&index, &codes, tracks::TrackConfig::new(seed, first_day));
    let target = match db {
        Some(d) => d.to_string(),
        None => dir.path().join("patrol.gpkg").display().to_string(),
    };
    let rt = runtime()?;
    let store = rt.block_on(Store::open(&target))?;
    if rt.block_on(store.patrol_track_count())? > 0 {
        bail!("{target}: holds patrol tracks already; the benchmark wants an empty store");
    }
    let period = pt::Period {
        first: first_day,
        days,
        zone,
    };
    let now = period.window().to + chrono::TimeDelta::days(1);
    let rules = pt::CheckRules::new(now);
    let (mut n_points, mut n_stored) = (0usize, 0usize);
    let (mut t_gen, mut t_check, mut t_store) = (0.0f64, 0.0f64, 0.0f64);
    for d in 0..days {
        let t = Instant::now();
        let pts = gen.day(d);
        t_gen += t.elapsed().as_secs_f64();
        n_points += pts.len();
        let t = Instant::now();
        let checked = pt::check(pts, &rules);
        t_check += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let ins = rt.block_on(store.insert_checked(&checked))?;
        t_store += t.elapsed().as_secs_f64();
        n_stored += ins.inserted;
        eprintln!(
            "  day {}: {} points, {} stored; so far {:.0} points/s (check + store)",
            d + 1,
            checked.accepted.len()
                + checked.flagged.len()
                + checked.rejected.len()
                + checked.duplicates,
            ins.inserted,
            n_points as f64 / (t_check + t_store).max(1e-9)
        );
    }
    println!(
        "ingest into {} ({:?}): {n_points} points ({n_stored} stored, {} worker-days) over {days} day(s): \
         {:.0} points/s check + store ({:.1} s), {:.0} points/s store alone ({:.1} s); generating took {:.1} s",
        store.target(),
        store.backend(),
        rt.block_on(store.patrol_track_count())?,
        n_points as f64 / (t_check + t_store).max(1e-9),
        t_check + t_store,
        n_points as f64 / t_store.max(1e-9),
        t_store,
        t_gen
    );
    if let Ok(bytes) = rt.block_on(store.patrol_storage_bytes()) {
        println!(
            "  patrol storage: {:.0} MiB ({:.1} bytes per stored point)",
            bytes as f64 / 1048576.0,
            bytes as f64 / n_stored.max(1) as f64
        );
    }
    // One district-day of coverage (day 1), per grid and per worker, read from the store.
    let day = pt::Period::day(first_day, zone);
    let t = Instant::now();
    let (from, to) = day.window().ms();
    let tracks = rt.block_on(store.patrol_tracks(from, to, None))?;
    let points = accepted_points(&tracks);
    drop(tracks);
    let t_read = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut run = index.run(day.window(), Some(&roster));
    run.add(&points);
    let cov = run.finish();
    let t_cov = t.elapsed().as_secs_f64();
    let twice = cov.grids.iter().filter(|c| c.days_twice > 0).count();
    let wtwice = cov.workers.iter().filter(|w| w.days_twice > 0).count();
    println!(
        "one district-day ({first_day}): read {} points in {t_read:.2} s, coverage of {} grids and {} workers in {t_cov:.2} s \
         (total {:.2} s); twice patrolled: {twice} grids, {wtwice} workers",
        points.len(),
        cov.grids.len(),
        cov.workers.len(),
        t_read + t_cov
    );
    drop(points);
    // The whole period, streamed one day at a time.
    if days > 1 {
        let t = Instant::now();
        let cov = pt::coverage_by_day(
            &index,
            &period,
            Some(&roster),
            |d| super::day_points(&rt, &store, &period, d),
            |_, _| {},
        )?;
        let mean = cov.grids.iter().filter_map(|c| c.road_share).sum::<f64>()
            / cov
                .grids
                .iter()
                .filter(|c| c.road_share.is_some())
                .count()
                .max(1) as f64;
        println!(
            "coverage of the whole period ({}): {:.1} s (read + compute, one day at a time); mean road share {mean:.3}",
            period.label(),
            t.elapsed().as_secs_f64()
        );
    }
    // Heat tiles: at zooms 14, 12 and 10, the tiles holding the labels of 20 grids spread over the
    // district, for day 1, the first week and the whole period, each read from the store.
    let tile_of = |lon: f64, lat: f64, z: u8| -> Result<wangge::tiles::TileId> {
        let n = (1u64 << z) as f64;
        let x = ((lon + 180.0) / 360.0 * n).floor() as u32;
        let r = lat.to_radians();
        let y = ((1.0 - (r.tan() + 1.0 / r.cos()).ln() / std::f64::consts::PI) / 2.0 * n).floor()
            as u32;
        Ok(wangge::tiles::TileId::new(z as u32, x, y)?)
    };
    let mut windows = vec![("day", pt::Period::day(first_day, zone))];
    if days >= 7 {
        windows.push((
            "week",
            pt::Period {
                first: first_day,
                days: 7,
                zone,
            },
        ));
    }
    if days > 7 {
        windows.push(("period", period));
    }
    for z in [14u8, 12, 10] {
        let mut ids: Vec<wangge::tiles::TileId> = (0..20)
            .filter_map(|k| snap.grids.get(k * snap.grids.len() / 20))
            .filter_map(|g| tile_of(g.label.x(), g.label.y(), z).ok())
            .collect();
        ids.sort_by_key(|i| (i.x, i.y));
        ids.dedup();
        for (name, p) in &windows {
            let (from, to) = p.window().ms();
            let res = h3o::Resolution::try_from(tile_res(z))?;
            let mut ms: Vec<f64> = Vec::new();
            let mut bytes = 0usize;
            for id in &ids {
                let t = Instant::now();
                let cells =
                    rt.block_on(store.patrol_cells(from, to, Some(heat_tile_box(*id)), res))?;
                let tile = heat_tile_of_counts(&cells, *id);
                ms.push(t.elapsed().as_secs_f64() * 1000.0);
                bytes += tile.map(|t| t.len()).unwrap_or(0);
            }
            ms.sort_by(f64::total_cmp);
            println!(
                "heat tiles z{z} (res {}), window {name} ({} days): {} tiles, median {:.1} ms, max {:.1} ms, {:.0} bytes each (uncompressed)",
                tile_res(z),
                p.days,
                ms.len(),
                ms.get(ms.len() / 2).copied().unwrap_or(0.0),
                ms.last().copied().unwrap_or(0.0),
                bytes as f64 / ms.len().max(1) as f64
            );
        }
    }
    if let Some(m) = peak_mib() {
        println!("peak memory: {m:.0} MiB");
    }
    rt.block_on(store.close());
    Ok(())
}
