//! `wangge partition`: a town's villages into grids and micro-grids, written to a folder and/or
//! saved in a store as new plan versions.

use super::{default_author, runtime, spinner};
use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use wangge::model::Weight;
use wangge::partition::{self, Band, Options};
use wangge::store::{PlanMeta, Store};

/// Flags of `wangge partition`.
#[derive(clap::Args)]
pub struct Args {
    /// Folder with villages, buildings and optional units, groups, barriers: each a .geojson,
    /// .shp (or .zip), .gpkg or .kml of that name, or a table of that name in a GeoPackage.
    input: PathBuf,
    #[command(flatten)]
    read: super::input::InputArgs,
    /// Folder to write grids.geojson, micro_grids.geojson, assignment.csv and report.json to.
    #[arg(long, required_unless_present = "db")]
    out: Option<PathBuf>,
    /// Also save the town's data and the plan (a new active version per village) in this store:
    /// a GeoPackage file or postgres://… URL.
    #[arg(long)]
    db: Option<String>,
    /// Who saves the plan (kept with the version).
    #[arg(long, default_value_t = default_author())]
    author: String,
    /// Why the plan is made (kept with the version).
    #[arg(long, default_value = "partition run")]
    reason: String,
    /// Band of the grid weight, MIN..MAX.
    #[arg(long, default_value = "300..500", value_parser = parse_band)]
    band: Band,
    /// Band of the micro-grid households, MIN..MAX.
    #[arg(long, default_value = "50..80", value_parser = parse_band)]
    micro: Band,
    /// What the band counts: households, residents or another numeric field.
    #[arg(long, default_value = "households")]
    weight: String,
    /// Residents per grid to aim for as a second aim (when the band counts households).
    #[arg(long, default_value_t = 1500.0)]
    target_residents: f64,
    /// Seed: the same input and seed give byte-identical output.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// How far (metres) a grid border off roads and lines may move when it is straightened
    /// (every building keeps its side); 0 keeps the borders as traced from the buildings' cells.
    #[arg(long, default_value_t = partition::borders::DEFAULT_TOLERANCE_M, value_parser = parse_metres)]
    straighten: f64,
    /// No progress bar or table.
    #[arg(long, short)]
    quiet: bool,
}

/// A distance in metres, 0 or more.
fn parse_metres(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(m) if m.is_finite() && m >= 0.0 => Ok(m),
        _ => Err(format!("`{s}` is not a distance in metres (0 or more)")),
    }
}

/// `MIN..MAX` as a [`Band`].
pub fn parse_band(s: &str) -> Result<Band, String> {
    let (a, b) = s
        .split_once("..")
        .ok_or_else(|| format!("`{s}` is not a band like 300..500"))?;
    let min: f64 = a
        .trim()
        .parse()
        .map_err(|_| format!("`{a}` is not a number"))?;
    let max: f64 = b
        .trim()
        .parse()
        .map_err(|_| format!("`{b}` is not a number"))?;
    if !(min.is_finite() && max.is_finite() && min >= 0.0 && min <= max && max > 0.0) {
        return Err(format!("band `{s}` needs 0 ≤ MIN ≤ MAX and MAX > 0"));
    }
    Ok(Band { min, max })
}

/// Runs `wangge partition`.
pub fn run(a: Args) -> Result<()> {
    if !a.input.is_dir() {
        bail!("{}: is not a folder", a.input.display());
    }
    let opts = Options {
        band: a.band,
        micro: a.micro,
        weight: Weight::parse(&a.weight),
        target_residents: a.target_residents,
        seed: a.seed,
        straighten_m: a.straighten,
    };
    let t0 = std::time::Instant::now();
    let rt = runtime()?;
    // The active versions before partitioning: saving fails if someone changes them meanwhile.
    let store = match &a.db {
        Some(db) => {
            let s = rt.block_on(Store::open(db))?;
            let base = rt.block_on(s.active_versions())?;
            Some((s, base))
        }
        None => None,
    };
    let input = a.read.read_input(&a.input, &opts.weight)?;
    let ds = &input.dataset;
    let pb = if a.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(ds.villages.len() as u64)
    };
    pb.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} villages ({eta})")
            .expect("valid template")
            .progress_chars("=> "),
    );
    pb.set_message("partitioning");
    let mut plan = partition::partition(ds, &opts, &|| pb.inc(1));
    pb.finish_and_clear();
    // Units whose own figures differ from their buildings' (the buildings' were used).
    input.note_issues(&mut plan);
    for seam in &input.seams {
        let what = if seam.given_to.is_some() {
            "note"
        } else {
            "warning"
        };
        eprintln!("{what}: {}", seam.describe(&ds.villages));
    }
    let unit_differences = &input.unit_differences;
    if !unit_differences.is_empty() {
        eprintln!(
            "warning: {} unit figures differ from the sums of their buildings (listed in report.json as unit_figures_differ), e.g. {}",
            unit_differences.len(),
            unit_differences[0]
        );
    }
    for code in plan
        .colours
        .fifth_grids
        .iter()
        .chain(&plan.colours.fifth_micro_grids)
    {
        eprintln!("note: {code} has the fifth map colour (four were not found around it)");
    }
    let mut report = wangge::output::report_json(&plan, &opts);
    // `wangge check` reads the input the same way
    report["settings"]["close_gaps"] = serde_json::json!(a.read.close_gaps);
    if let Some(out) = &a.out {
        wangge::output::write_plan(out, &plan, &opts, &report)
            .with_context(|| format!("{}: cannot write the plan", out.display()))?;
    }
    let mut saved = Vec::new();
    if let Some((store, base)) = &store {
        let meta = PlanMeta {
            author: a.author,
            reason: a.reason,
            params: serde_json::to_string(&report["settings"]).unwrap_or_default(),
        };
        let pb = spinner(a.quiet, "saving");
        saved = rt.block_on(store.save_run(ds, &plan, &meta, base, &mut |t, n| {
            pb.set_message(format!("saving {t}: {n}"))
        }))?;
        pb.finish_and_clear();
    }
    if !a.quiet {
        print!("{}", wangge::output::summary_table(&plan, &opts, &report));
        for s in &saved {
            println!(
                "village {}: saved plan version {} (grid codes kept {}, new {}, retired {})",
                s.village, s.version, s.kept, s.issued, s.retired
            );
        }
        let dest: Vec<String> = a
            .out
            .iter()
            .map(|o| o.display().to_string())
            .chain(store.iter().map(|(s, _)| s.target().to_string()))
            .collect();
        println!(
            "wrote {} in {:.2} s",
            dest.join(" and "),
            t0.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
