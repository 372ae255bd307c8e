//! `wangge plans`: the plan versions of a store, as a table or JSON.

use super::{runtime, StoreArgs};
use anyhow::Result;

/// Flags of `wangge plans`.
#[derive(clap::Args)]
pub struct Args {
    /// Only this village.
    #[arg(long)]
    village: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    store: StoreArgs,
}

/// Runs `wangge plans`.
pub fn run(a: Args) -> Result<()> {
    let rt = runtime()?;
    let store = rt.block_on(a.store.open())?;
    let plans = rt.block_on(store.plans(a.village.as_deref()))?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&plans)?);
        return Ok(());
    }
    println!(
        "{:<13} {:>7} {:<6} {:<20} {:<12} reason",
        "village", "version", "active", "saved (UTC)", "author"
    );
    for p in plans {
        println!(
            "{:<13} {:>7} {:<6} {:<20} {:<12} {}",
            p.village,
            p.version,
            if p.active { "yes" } else { "" },
            p.created_at,
            p.author,
            p.reason
        );
    }
    Ok(())
}
