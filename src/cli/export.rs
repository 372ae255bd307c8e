//! `wangge export`: plans and the town's data to a folder of GeoJSON + CSV or a GeoPackage.

use super::{runtime, StoreArgs};
use anyhow::Result;
use std::path::PathBuf;

/// Flags of `wangge export`.
#[derive(clap::Args)]
pub struct Args {
    /// Folder (GeoJSON, CSV) or file.gpkg to write.
    #[arg(long)]
    out: PathBuf,
    /// Only this village (12-digit code).
    #[arg(long)]
    village: Option<String>,
    /// This plan version of --village instead of the active one.
    #[arg(long)]
    plan: Option<i64>,
    #[command(flatten)]
    store: StoreArgs,
}

/// Runs `wangge export`.
pub fn run(a: Args) -> Result<()> {
    let rt = runtime()?;
    let store = rt.block_on(a.store.open())?;
    let village = a.village.as_deref();
    let e = if a.out.extension().is_some_and(|e| e == "gpkg") {
        rt.block_on(wangge::store::export::export_gpkg(
            &store, &a.out, village, a.plan,
        ))?
    } else {
        rt.block_on(wangge::store::export::export_dir(
            &store, &a.out, village, a.plan,
        ))?
    };
    println!(
        "exported {} plans, {} grids, {} buildings to {}",
        e.plans,
        e.grids,
        e.buildings,
        a.out.display()
    );
    Ok(())
}
