//! `wangge diff`: what changed between two plan versions of a village, as JSON.

use super::{runtime, StoreArgs};
use anyhow::Result;

/// Flags of `wangge diff`.
#[derive(clap::Args)]
pub struct Args {
    /// Village code.
    #[arg(long)]
    village: String,
    /// The earlier version.
    from: i64,
    /// The later version.
    to: i64,
    #[command(flatten)]
    store: StoreArgs,
}

/// Runs `wangge diff`.
pub fn run(a: Args) -> Result<()> {
    let rt = runtime()?;
    let store = rt.block_on(a.store.open())?;
    let d = rt.block_on(store.diff(&a.village, a.from, a.to))?;
    println!("{}", serde_json::to_string_pretty(&d)?);
    Ok(())
}
