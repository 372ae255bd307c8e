//! `wangge restore --from FILE --db STORE [--force]`: puts a backup in place as the store, after
//! checking it (SQLite integrity, a wangge store). Stop the server first.

use super::runtime;
use anyhow::{bail, Result};
use std::path::PathBuf;

/// Flags of `wangge restore`.
#[derive(clap::Args)]
pub struct Args {
    /// The backup file (`wangge backup --out`).
    #[arg(long)]
    from: PathBuf,
    /// The store to restore into (a GeoPackage path).
    #[arg(long)]
    db: PathBuf,
    /// Replace an existing store.
    #[arg(long)]
    force: bool,
}

/// Runs `wangge restore`.
pub fn run(a: Args) -> Result<()> {
    if a.db.to_string_lossy().contains("://") {
        bail!(
            "{}: restore a PostGIS store with pg_restore (see the README)",
            a.db.display()
        );
    }
    let check =
        runtime()?.block_on(wangge::store::backup::restore_gpkg(&a.from, &a.db, a.force))?;
    println!(
        "restored {} to {} (schema version {})",
        a.from.display(),
        a.db.display(),
        check.migrations.iter().max().unwrap_or(&0)
    );
    Ok(())
}
