//! `wangge people`: the people responsible for grids, from a CSV.

use super::{runtime, StoreArgs};
use anyhow::Result;
use std::path::PathBuf;

/// Flags of `wangge people`.
#[derive(clap::Args)]
pub struct Args {
    /// The CSV file.
    csv: PathBuf,
    #[command(flatten)]
    store: StoreArgs,
}

/// Runs `wangge people`.
pub fn run(a: Args) -> Result<()> {
    let people = wangge::ingest::people::read_people(&a.csv)?;
    let rt = runtime()?;
    let store = rt.block_on(a.store.open())?;
    rt.block_on(store.set_people_many(&people))?;
    println!("set the people of {} grids", people.len());
    Ok(())
}
