//! `wangge check`: an independent check of a plan — a plan folder against its input folder, or
//! plans in a store — with the library's [`wangge::check`]. Exits 0 when every rule holds, 1 with
//! the list of findings (`--json`: the typed findings).

use super::partition::parse_band;
use super::{runtime, StoreArgs};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use wangge::check::plan::{read_settings, rules_from_settings, PlanToCheck};
use wangge::check::{check, Finding, Rules};
use wangge::model::Weight;
use wangge::partition::Band;

/// Flags of `wangge check`.
#[derive(clap::Args)]
pub struct Args {
    /// The plan folder (grids.geojson, micro_grids.geojson, assignment.csv, report.json) as
    /// `wangge partition` or `wangge export` writes it; without it, plans are read from --db.
    #[arg(value_name = "PLAN_DIR")]
    plan_dir: Option<PathBuf>,
    /// The input folder the plan was made from (villages.geojson, buildings.geojson, …).
    #[arg(long, requires = "plan_dir")]
    input: Option<PathBuf>,
    /// With --db: only this village's plan.
    #[arg(long, conflicts_with = "plan_dir")]
    village: Option<String>,
    /// With --db and --village: this plan version instead of the active one.
    #[arg(long = "plan", value_name = "N", requires = "village")]
    version: Option<i64>,
    /// Band of the grid weight, MIN..MAX (default: the plan's own settings, else 300..500).
    #[arg(long, value_parser = parse_band)]
    band: Option<Band>,
    /// Band of the micro-grid weight, MIN..MAX (default: the plan's settings, else 50..80).
    #[arg(long, value_parser = parse_band)]
    micro: Option<Band>,
    /// What the band counts: households, residents or another numeric field (default: the
    /// plan's settings).
    #[arg(long)]
    weight: Option<String>,
    /// Print the findings as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    read: super::input::InputArgs,
}

impl Args {
    /// The plan's settings with the flags over them.
    fn rules(&self, settings: &serde_json::Value, reading_order: bool) -> Rules {
        let mut r = rules_from_settings(settings, Rules::default());
        r.band = self.band.unwrap_or(r.band);
        r.micro = self.micro.unwrap_or(r.micro);
        if let Some(w) = &self.weight {
            r.weight = Weight::parse(w);
        }
        r.reading_order = reading_order;
        r
    }
}

/// Runs `wangge check`.
pub fn run(a: Args) -> Result<()> {
    let findings = match (&a.plan_dir, &a.input) {
        (Some(plan), Some(input)) => check_dir(&a, plan, input, true)?,
        (Some(_), None) => bail!("--input: the input folder the plan was made from is needed"),
        _ => check_store(&a)?,
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&findings)?);
    } else {
        for f in &findings {
            println!("{f}");
        }
        if findings.is_empty() {
            eprintln!("every rule holds");
        } else {
            eprintln!("{} rules broken", findings.len());
        }
    }
    if !findings.is_empty() {
        std::process::exit(1);
    }
    Ok(())
}

/// Checks a plan folder against an input folder.
fn check_dir(a: &Args, plan: &Path, input: &Path, fresh: bool) -> Result<Vec<Finding>> {
    let settings = read_settings(plan)?.unwrap_or_default();
    let rules = a.rules(&settings, fresh);
    let mut read = a.read.clone();
    read.close_gaps |= settings["close_gaps"].as_bool() == Some(true);
    let ds = read.read_dir(input, &rules.weight)?;
    let p = PlanToCheck::read_dir(plan)?;
    Ok(check(&p, &ds, &rules))
}

/// Checks plans of a store: exported (the plans and the town's data) into a temporary folder and
/// checked as a plan folder, with the settings the first plan was made with. A stored version may
/// keep its predecessors' codes, so codes are not held to reading order here.
fn check_store(a: &Args) -> Result<Vec<Finding>> {
    let rt = runtime()?;
    let store = rt.block_on(a.store.open_existing(""))?;
    let dir = std::env::temp_dir().join(format!("wangge-check-{}", std::process::id()));
    let result = (|| {
        rt.block_on(wangge::store::export::export_dir(
            &store,
            &dir,
            a.village.as_deref(),
            a.version,
        ))
        .context("reading the plans")?;
        let infos = rt.block_on(store.plans(a.village.as_deref()))?;
        let chosen = infos.iter().find(|p| match a.version {
            Some(n) => p.version == n,
            None => p.active,
        });
        let settings: serde_json::Value = chosen
            .and_then(|p| serde_json::from_str(&p.params).ok())
            .unwrap_or_default();
        let rules = a.rules(&settings, false);
        let ds = wangge::ingest::read_dir(&dir, &rules.weight)?;
        let p = PlanToCheck::read_dir(&dir)?;
        Ok(check(&p, &ds, &rules))
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}
