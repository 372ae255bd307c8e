//! `wangge doctor`: checks the store, free disk, TLS certificate, clock and time zone, prints
//! one line per check with what to do, and a verdict. Exit status: 0 healthy (warnings allowed),
//! 1 something must be fixed.

use super::runtime;
use anyhow::Result;
use std::path::PathBuf;
use wangge::ops::doctor::{examine, verdict, Level, Patient};

/// Flags of `wangge doctor`.
#[derive(clap::Args)]
pub struct Args {
    /// The service's config file: its store and TLS certificate are checked.
    #[arg(long, value_name = "FILE.toml")]
    config: Option<PathBuf>,
    /// The store (overrides the config file's) [default: wangge.gpkg].
    #[arg(long)]
    db: Option<String>,
    /// The TLS certificate (overrides the config file's).
    #[arg(long)]
    tls_cert: Option<PathBuf>,
}

/// Runs `wangge doctor`; exits 1 when a check fails.
pub fn run(a: Args) -> Result<()> {
    let file = match &a.config {
        Some(p) => wangge::ops::config::ServeFile::read(p)?,
        None => Default::default(),
    };
    let s = file.settings();
    let patient = Patient {
        db: a.db.unwrap_or(s.db),
        tls_cert: a.tls_cert.or(s.tls.map(|t| t.cert)),
    };
    let findings = runtime()?.block_on(examine(&patient));
    for f in &findings {
        println!("{:<4} {:<9} {}", f.level.as_str(), f.check, f.detail);
        if !f.todo.is_empty() {
            println!("               → {}", f.todo);
        }
    }
    let warns = findings.iter().filter(|f| f.level == Level::Warn).count();
    let fails = findings.iter().filter(|f| f.level == Level::Fail).count();
    match verdict(&findings) {
        Level::Ok => println!("verdict: healthy"),
        Level::Warn => println!("verdict: healthy, {warns} warning(s) to look at"),
        Level::Fail => {
            println!("verdict: NOT healthy: {fails} problem(s) to fix (see → above)");
            std::process::exit(1);
        }
    }
    Ok(())
}
