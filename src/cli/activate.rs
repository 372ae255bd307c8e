//! `wangge activate`: make a plan version a village's active one.

use super::{runtime, StoreArgs};
use anyhow::Result;

/// Flags of `wangge activate`.
#[derive(clap::Args)]
pub struct Args {
    /// Village code.
    #[arg(long)]
    village: String,
    /// Version to activate.
    #[arg(long)]
    version: i64,
    /// The version you expect to be active now; the command fails if someone changed it.
    #[arg(long)]
    expect: Option<i64>,
    #[command(flatten)]
    store: StoreArgs,
}

/// Runs `wangge activate`.
pub fn run(a: Args) -> Result<()> {
    let rt = runtime()?;
    let store = rt.block_on(a.store.open())?;
    rt.block_on(store.activate(&a.village, a.version, a.expect.map(Some)))?;
    println!(
        "village {}: plan version {} is active",
        a.village, a.version
    );
    Ok(())
}
