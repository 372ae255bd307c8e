//! `wangge import`: a town's data (a folder or a GeoPackage) or an edited assignment (.csv) into a
//! store.

use super::{default_author, runtime, spinner, StoreArgs};
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use wangge::model::Weight;
use wangge::store::{PlanMeta, Store};

/// Flags of `wangge import`.
#[derive(clap::Args)]
pub struct Args {
    /// A folder (villages, buildings, barriers… as .geojson, .shp, .zip, .gpkg or .kml), a wangge
    /// store or a town's GeoPackage (tables villages, buildings…), or an assignment .csv.
    input: PathBuf,
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    read: super::input::InputArgs,
    /// Assignment only: who saves the new versions (kept with them).
    #[arg(long)]
    author: Option<String>,
    /// Assignment only: why (kept with the versions); by default "edited assignment FILE".
    #[arg(long)]
    reason: Option<String>,
    /// Assignment only: make the new versions the active ones (the map shows them).
    #[arg(long)]
    activate: bool,
}

/// Runs `wangge import`.
pub fn run(a: Args) -> Result<()> {
    let input = &a.input;
    if input
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
    {
        return import_assignment(input, &a.store, a.author, a.reason, a.activate);
    }
    if a.author.is_some() || a.reason.is_some() || a.activate {
        bail!(
            "--author, --reason and --activate are for an assignment .csv; {} is town data",
            input.display()
        );
    }
    let rt = runtime()?;
    let ds = if input.extension().is_some_and(|e| e == "gpkg") {
        let src = input.to_str().context("path is not UTF-8")?;
        if !input.is_file() {
            bail!("{}: no such GeoPackage", input.display());
        }
        if wangge::ingest::gpkg::is_store(input)? {
            rt.block_on(async { Store::open(src).await?.dataset().await })?
        } else {
            a.read.read_gpkg(input, &Weight::Households)?
        }
    } else {
        if !input.is_dir() {
            bail!("{}: is not a folder or a .gpkg file", input.display());
        }
        a.read.read_dir(input, &Weight::Households)?
    };
    let store = rt.block_on(a.store.open())?;
    let pb = spinner(false, "importing");
    let t0 = std::time::Instant::now();
    let n = rt.block_on(store.import(&ds, &mut |t, n| {
        tracing::info!(table = t, rows = n, "imported");
        pb.set_message(format!("importing {t}: {n}"));
    }))?;
    pb.finish_and_clear();
    let mut what = format!(
        "{} villages, {} buildings, {} barriers",
        n.villages, n.buildings, n.barriers
    );
    if n.units > 0 {
        what.push_str(&format!(", {} units", n.units));
    }
    if n.groups > 0 {
        what.push_str(&format!(", {} villager groups", n.groups));
    }
    println!(
        "imported {what} into {} in {:.2} s",
        store.target(),
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `wangge import edited.csv`: an assignment as new plan versions, with what changed per village.
fn import_assignment(
    input: &Path,
    db: &StoreArgs,
    author: Option<String>,
    reason: Option<String>,
    activate: bool,
) -> Result<()> {
    let name = input.display().to_string();
    let file = std::fs::File::open(input).with_context(|| format!("{name}: cannot open"))?;
    let rows = wangge::partition::assign_csv::read(&name, std::io::BufReader::new(file))?;
    let rt = runtime()?;
    let t0 = std::time::Instant::now();
    let store = rt.block_on(
        db.open_existing("an assignment is imported into the store it was exported from"),
    )?;
    let meta = PlanMeta {
        author: author.unwrap_or_else(default_author),
        reason: reason.unwrap_or_else(|| format!("edited assignment {name}")),
        params: String::new(),
    };
    let done = rt.block_on(store.import_assignment(&name, &rows, &meta, activate))?;
    for r in &done {
        let s = &r.saved;
        let state = if r.activated {
            "active".to_string()
        } else {
            format!(
                "not active; `wangge activate --village {} --version {}` makes it so",
                s.village, s.version
            )
        };
        println!(
            "village {}: saved plan version {} ({state}); grid codes kept {}, new {}, retired {}",
            s.village, s.version, s.kept, s.issued, s.retired
        );
        match (&r.diff, r.previous_active) {
            (Some(d), Some(v)) => println!(
                "  versus active version {v}: grids added {} {:?}, removed {} {:?}, changed {} {:?}; buildings moved {}",
                d.added.len(),
                d.added,
                d.removed.len(),
                d.removed,
                d.changed.len(),
                d.changed,
                d.moved.len()
            ),
            _ => println!("  no active version to compare with"),
        }
        if !r.issues.is_empty() {
            let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
            for k in &r.issues {
                *kinds.entry(k.as_str()).or_default() += 1;
            }
            let list: Vec<String> = kinds.iter().map(|(k, n)| format!("{k} {n}")).collect();
            println!("  issues: {}", list.join(", "));
        }
    }
    println!(
        "imported {} rows of {name} into {} in {:.2} s",
        rows.len(),
        store.target(),
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}
