//! `wangge bench`: generate a town, partition it, print wall times, peak memory and quality; with
//! `--db`, also load it into a store, read it back, and answer "which grid am I in?" in process.
//! Figures only, no assertions.

use super::{peak_mib, runtime};
use anyhow::{bail, Result};
use wangge::partition::{self, Options};
use wangge::store::{PlanMeta, Store};

/// Flags of `wangge bench`.
#[derive(clap::Args)]
pub struct Args {
    /// Households in the generated town.
    #[arg(long, default_value_t = 50_000)]
    households: u64,
    /// Seed of the generator and the partition.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Also load the town and its plan into this store (emptied first: a scratch file or
    /// database) and time the load, reading one village's active plan back, the whole-town
    /// snapshot the server loads, and "which grid am I in?" in process on 1M random points.
    #[arg(long)]
    db: Option<String>,
}

/// Runs `wangge bench`.
pub fn run(a: Args) -> Result<()> {
    bench(a.households, a.seed, a.db.as_deref())
}

/// Generates, partitions and writes a town (and loads it into `db`), printing the figures.
fn bench(households: u64, seed: u64, db: Option<&str>) -> Result<()> {
    use std::time::Instant;
    let t = Instant::now();
    let dir = super::scratch_town("bench", households, seed)?;
    let t_synth = t.elapsed().as_secs_f64();
    let opts = Options {
        seed,
        ..Options::default()
    };
    let t = Instant::now();
    let ds = wangge::ingest::read_dir(dir.path(), &opts.weight)?;
    let t_read = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let plan = partition::partition(&ds, &opts, &|| {});
    let t_part = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let out = dir.path().join("plan");
    let report = wangge::output::report_json(&plan, &opts);
    wangge::output::write_plan(&out, &plan, &opts, &report)?;
    let t_write = t.elapsed().as_secs_f64();
    if let Some(db) = db {
        bench_store(db, &ds, &plan, seed)?;
    }
    let tot = &report["totals"];
    let q = &report["quality"];
    println!(
        "households {households} (generated {}), villages {}, buildings {}, grids {} ({} in band), micro-grids {}",
        tot["households"], tot["villages"], ds.buildings.len(), tot["grids"], tot["grids_in_band"], tot["micro_grids"]
    );
    println!(
        "time: generate+write {t_synth:.2} s, read+validate {t_read:.2} s, partition {t_part:.2} s, write plan {t_write:.2} s; peak memory {:.0} MiB",
        peak_mib().unwrap_or(f64::NAN)
    );
    println!(
        "quality: weight per grid {}, Polsby–Popper {}, grid borders on roads/rivers/group lines {}",
        q["weight"], q["polsby_popper"], q["border_on_lines_share"]
    );
    Ok(())
}

/// Loads a partitioned town into a store and reads it back, printing rates.
fn bench_store(
    db: &str,
    ds: &wangge::model::Dataset,
    plan: &partition::Plan,
    seed: u64,
) -> Result<()> {
    use std::time::Instant;
    if !db.contains("://") && std::path::Path::new(db).exists() {
        bail!("{db}: exists; the store benchmark wants a new file");
    }
    let rt = runtime()?;
    let store = rt.block_on(Store::open(db))?;
    if !rt.block_on(store.plans(None))?.is_empty() {
        bail!("{db}: holds plans already; the store benchmark wants an empty store");
    }
    let rows_b = ds.buildings.len();
    let grids: usize = plan.villages.iter().map(|v| v.grids.len()).sum();
    let micro: usize = plan.villages.iter().map(|v| v.micro_grids.len()).sum();
    let assigned: usize = plan.villages.iter().map(|v| v.assignment.len()).sum();
    let t = Instant::now();
    rt.block_on(store.import(ds, &mut |_, _| {}))?;
    let t_import = t.elapsed().as_secs_f64();
    let recs: Vec<_> = plan
        .villages
        .iter()
        .map(wangge::store::VillagePlanRecord::from_partition)
        .collect();
    let meta = PlanMeta {
        author: "bench".into(),
        reason: "bench".into(),
        params: "{}".into(),
    };
    let t = Instant::now();
    rt.block_on(store.save_plans(&recs, &meta, &wangge::store::Base::default()))?;
    let t_save = t.elapsed().as_secs_f64();
    // One village's active plan, read 30 times (a village of median size).
    let mut sizes: Vec<(usize, &str)> = plan
        .villages
        .iter()
        .map(|v| (v.assignment.len(), v.code.as_str()))
        .collect();
    sizes.sort();
    let (n_items, village) = sizes[sizes.len() / 2];
    let mut reads = Vec::new();
    for _ in 0..30 {
        let t = Instant::now();
        let p = rt.block_on(store.active_plan(village))?;
        reads.push(t.elapsed().as_secs_f64() * 1e3);
        anyhow::ensure!(p.is_some(), "village {village} has no active plan");
    }
    reads.sort_by(f64::total_cmp);
    let t = Instant::now();
    let snap = rt.block_on(store.snapshot())?;
    let t_snap = t.elapsed().as_secs_f64();
    println!(
        "store {} ({:?}): import {} buildings in {:.2} s = {:.0} buildings/s; save plans ({} grids, {} micro-grids, {} assignments) in {:.2} s = {:.0} rows/s",
        store.target(), store.backend(), rows_b, t_import, rows_b as f64 / t_import,
        grids, micro, assigned, t_save, (grids + micro + assigned) as f64 / t_save
    );
    println!(
        "store read: one village's active plan ({village}, {} grids, {n_items} buildings) median {:.2} ms, max {:.2} ms over 30 reads; whole-town snapshot {:.2} s ({} grids); peak memory {:.0} MiB",
        snap.grids.iter().filter(|g| g.code.as_str().starts_with(village)).count(),
        reads[reads.len() / 2], reads[reads.len() - 1], t_snap, snap.grids.len(),
        peak_mib().unwrap_or(f64::NAN)
    );
    locate_bench(&snap, seed);
    Ok(())
}

/// "Which grid am I in?" in process: builds the server's locate index of `snap` and answers 1M
/// seeded points over the villages' extent, on one thread and on all of them.
fn locate_bench(snap: &wangge::snapshot::Snapshot, seed: u64) {
    use rand::{Rng, SeedableRng};
    use rayon::prelude::*;
    use std::time::Instant;
    let t = Instant::now();
    let loc = wangge::serve::locator::Locator::new(snap);
    let t_index = t.elapsed().as_secs_f64();
    let (mut w, mut s, mut e, mut n) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for c in snap
        .villages
        .iter()
        .flat_map(|v| v.boundary.0.iter())
        .flat_map(|p| p.exterior().0.iter())
    {
        (w, s, e, n) = (w.min(c.x), s.min(c.y), e.max(c.x), n.max(c.y));
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let pts: Vec<(f64, f64)> = (0..1_000_000)
        .map(|_| (rng.random_range(w..e), rng.random_range(s..n)))
        .collect();
    // Margin of a phone's GPS fix, as the HTTP handler adds for WGS84 input.
    let tol = wangge::serve::Config::default().wgs84_margin_m;
    let t = Instant::now();
    let inside = pts
        .iter()
        .filter(|(x, y)| loc.locate(snap, *x, *y, tol).grid.is_some())
        .count();
    let t_one = t.elapsed().as_secs_f64();
    let t = Instant::now();
    pts.par_iter().for_each(|(x, y)| {
        std::hint::black_box(loc.locate(snap, *x, *y, tol));
    });
    let t_all = t.elapsed().as_secs_f64();
    println!(
        "locate in process: index built in {t_index:.2} s; 1,000,000 random points ({inside} in a grid): {:.0}/s on one thread, {:.0}/s on {} threads",
        1e6 / t_one,
        1e6 / t_all,
        rayon::current_num_threads()
    );
}
