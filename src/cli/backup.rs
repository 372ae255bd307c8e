//! `wangge backup --db STORE --out FILE`: a consistent copy of a GeoPackage store, safe while
//! the server writes (whole transactions only; written to a temporary file, then renamed).
//! PostGIS stores are backed up with `pg_dump` (the command is printed).

use super::{runtime, StoreArgs};
use anyhow::{bail, Result};
use std::path::PathBuf;

/// Flags of `wangge backup`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    store: StoreArgs,
    /// The backup file to write (replaced if it exists, only once the new copy is complete).
    #[arg(long)]
    out: PathBuf,
}

/// Runs `wangge backup`.
pub fn run(a: Args) -> Result<()> {
    let db = &a.store.db;
    if db.contains("://") {
        bail!(
            "{db}: a PostGIS store is backed up with pg_dump: \
             `pg_dump --format=custom --file {} '{db}'` (restore into an empty database: \
             `pg_restore --no-owner --exit-on-error --dbname '<URL of an empty database>' {}`)",
            a.out.display(),
            a.out.display()
        );
    }
    let started = std::time::Instant::now();
    let bytes = runtime()?.block_on(wangge::store::backup::backup_gpkg(
        std::path::Path::new(db),
        &a.out,
    ))?;
    println!(
        "backed up {db} to {} ({:.1} MiB, {:.1} s)",
        a.out.display(),
        bytes as f64 / 1048576.0,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
