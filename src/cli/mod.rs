//! The `wangge` command line: one module per command, each with its clap `Args` and a
//! `run(args) -> anyhow::Result<()>`; `main.rs` only parses and dispatches.
//!
//! To add a command `wangge foo`:
//!
//! 1. write `src/cli/foo.rs` with a `//!` doc, `#[derive(clap::Args)] pub struct Args { … }` (take
//!    `#[command(flatten)] store: StoreArgs` for `--db`) and `pub fn run(args: Args) -> Result<()>`
//!    that reads its flags, calls the library and prints; domain logic stays in the library;
//! 2. add `pub mod foo;` below and a variant `Foo(foo::Args)` to [`Command`] with the command's
//!    help as its doc comment, and one arm in [`Command::run`].
//!
//! A command with subcommands (like `patrol`) is a folder `src/cli/foo/` whose `mod.rs` holds a
//! `#[derive(clap::Subcommand)]` enum and dispatches the same way.
//!
//! Errors: return them (with `anyhow::Context` naming the file, record and field); `main` prints
//! `error: …` on one line and exits with status 1.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use indicatif::ProgressBar;
use wangge::store::Store;

pub mod activate;
pub mod audit;
pub mod backup;
pub mod bench;
pub mod cert;
pub mod check;
pub mod config;
pub mod diff;
// -- events (issue 15) --
pub mod events;
// -- end events --
pub mod doctor;
pub mod export;
pub mod fixture;
pub mod import;
pub mod input;
pub mod partition;
pub mod patrol;
pub mod people;
pub mod plans;
pub mod print;
pub mod restore;
pub mod serve;
pub mod token;
pub mod user;

/// The command line.
#[derive(Parser)]
#[command(
    name = "wangge",
    version,
    about = "Grid-based governance (网格化管理): partition, store and serve grid plans"
)]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands; each variant's doc comment is its help.
#[derive(Subcommand)]
pub enum Command {
    /// Partition every village of a town into grids and micro-grids.
    Partition(partition::Args),
    /// Serve the map: GeoJSON, vector tiles, "which grid am I in?", and the map pages, from a
    /// store. A newly activated plan shows within a second.
    Serve(serve::Args),
    /// Import into a store, in one transaction: a town's villages, buildings and barriers (a folder
    /// in the partition input format, or another wangge GeoPackage), or an edited building → grid
    /// assignment (a .csv file as `wangge export` writes it: kind,id,village_code,plan_version,
    /// grid_code), saved as a new plan version of every village it touches.
    ///
    /// In an assignment, every building of a village the file touches needs a row (a missing one
    /// is an error, nothing is kept silently); micro_grid_code is ignored (micro-grids are made
    /// again). Land without buildings keeps the grid it had in the plan the rows were exported
    /// from, else joins the neighbouring grid it shares the longest border with. A grid in two
    /// pieces, an unknown or repeated building, or a grid code of another village is refused
    /// with the line and field at fault, and nothing is saved. The new versions are not active
    /// unless --activate is given.
    Import(import::Args),
    /// Export plans and the town's data: a folder of GeoJSON + CSV, or a standalone GeoPackage
    /// (when OUT ends in .gpkg).
    Export(export::Args),
    /// List plan versions (who, when, why, which is active).
    Plans(plans::Args),
    /// Make a plan version the village's active one (e.g. roll back to an earlier version).
    Activate(activate::Args),
    /// What changed between two plan versions of a village: grids added, removed, changed, and
    /// buildings that moved grid (JSON).
    Diff(diff::Args),
    /// Set the people responsible for grids from a CSV `grid_code,role,name,phone`
    /// (role: grid_leader | grid_worker); each listed grid's people are replaced.
    People(people::Args),
    /// Check a plan independently: a plan folder against its input (--input), or plans in a
    /// store (--db); every rule recomputed from the polygons, the assignment and the input, and
    /// every excuse of the report verified. Exits 0 when every rule holds, 1 with the list.
    Check(check::Args),
    /// Benchmark: generate a town, partition it, print wall times, peak memory and quality.
    Bench(bench::Args),
    /// Test data.
    #[command(subcommand)]
    Fixture(fixture::Command),
    /// Patrols (巡查): import grid workers' GPS points, report a day's coverage, benchmark.
    #[command(subcommand)]
    Patrol(patrol::Command),
    /// Print the grid-division map (网格划分图) of a village or town, or a grid's notice board
    /// (公示牌, --grid CODE --board), as PDF, SVG or PNG, with Chinese text in an embedded CJK font.
    Print(print::Args),
    /// Users (login name, role, area): add, list, disable, set a password.
    #[command(subcommand)]
    User(user::Command),
    /// Bearer tokens for workers' phones and wall screens: add (printed once), list, revoke.
    #[command(subcommand)]
    Token(token::Command),
    /// The audit log: every write, login and failed login (who, when, from where, what, result).
    Audit(audit::Args),
    // -- events (issue 15) --
    /// Events (网格事件): import a hotline export, list, show one with its history, report
    /// figures per grid.
    #[command(subcommand)]
    Events(events::Command),
    // -- end events --
    // ---- ops (issue 20) ----
    /// The service's config file: `wangge config check FILE` validates it.
    #[command(subcommand)]
    Config(config::Command),
    /// Copy a GeoPackage store consistently, even while the server writes to it.
    Backup(backup::Args),
    /// Put a backup in place as the store (stop the server first).
    Restore(restore::Args),
    /// Check this machine can keep serving: store integrity, free disk, TLS certificate expiry,
    /// clock and time zone. Exits 0 when healthy (warnings allowed), 1 when something must be fixed.
    Doctor(doctor::Args),
    /// Make an intranet CA and a server certificate for `serve --tls-cert/--tls-key` (HTTPS:
    /// phones give the field page their position only over HTTPS).
    Cert(cert::Args),
}

impl Command {
    /// Runs the command.
    pub fn run(self) -> Result<()> {
        match self {
            Command::Partition(a) => partition::run(a),
            Command::Serve(a) => serve::run(a),
            Command::Import(a) => import::run(a),
            Command::Export(a) => export::run(a),
            Command::Plans(a) => plans::run(a),
            Command::Activate(a) => activate::run(a),
            Command::Diff(a) => diff::run(a),
            Command::People(a) => people::run(a),
            Command::Check(a) => check::run(a),
            Command::Bench(a) => bench::run(a),
            Command::Fixture(c) => c.run(),
            Command::Patrol(c) => c.run(),
            Command::Print(a) => print::run(a),
            Command::User(c) => c.run(),
            Command::Token(c) => c.run(),
            Command::Audit(a) => audit::run(a),
            Command::Events(c) => c.run(), // events (issue 15)
            Command::Config(c) => c.run(),
            Command::Backup(a) => backup::run(a),
            Command::Restore(a) => restore::run(a),
            Command::Doctor(a) => doctor::run(a),
            Command::Cert(a) => cert::run(a),
        }
    }
}

/// Starts logging to stderr: `wangge serve` as its settings say (format, level; default
/// `info`, so every request is logged), other commands errors only; `WANGGE_LOG` overrides the
/// level. A config file that does not parse is reported by the command itself.
pub fn init_logging(cmd: &Command) {
    use tracing_subscriber::EnvFilter;
    let (format, level) = match cmd {
        Command::Serve(a) => a
            .settings()
            .map(|s| (s.log_format, s.log_level))
            .unwrap_or((Default::default(), "info".into())),
        _ => (Default::default(), "error".into()),
    };
    let filter = EnvFilter::try_from_env("WANGGE_LOG").unwrap_or_else(|_| EnvFilter::new(level));
    let fmt = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        wangge::ops::config::LogFormat::Json => fmt.json().init(),
        wangge::ops::config::LogFormat::Text => fmt.init(),
    }
}

/// The store used when `--db` is not given: a GeoPackage in the working directory.
pub const DEFAULT_DB: &str = "wangge.gpkg";

/// `--db`, the store of a command that needs one (flatten it into the command's `Args`).
#[derive(clap::Args, Clone, Debug)]
pub struct StoreArgs {
    /// The store: a GeoPackage file or postgres://… URL.
    #[arg(long, default_value = DEFAULT_DB)]
    pub db: String,
}

impl StoreArgs {
    /// Opens the store, which must exist already (a GeoPackage file that is there, or any
    /// postgres://… URL); `hint` is added to the "no such store" error (e.g. how to make one).
    pub async fn open_existing(&self, hint: &str) -> Result<Store> {
        let db = &self.db;
        if !db.contains("://") && !std::path::Path::new(db).is_file() {
            if hint.is_empty() {
                bail!("{db}: no such store");
            }
            bail!("{db}: no such store; {hint}");
        }
        Ok(Store::open(db).await?)
    }

    /// Opens the store, creating a GeoPackage file if there is none.
    pub async fn open(&self) -> Result<Store> {
        Ok(Store::open(&self.db).await?)
    }
}

/// Who saves a plan when `--author` is not given: `$USER`, else `wangge`.
pub fn default_author() -> String {
    std::env::var("USER").unwrap_or_else(|_| "wangge".into())
}

/// The async runtime a command runs store and server calls on.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// A spinner on stderr with `msg` (hidden when `quiet`).
pub fn spinner(quiet: bool, msg: &'static str) -> ProgressBar {
    let pb = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new_spinner()
    };
    pb.set_message(msg);
    pb.enable_steady_tick(std::time::Duration::from_millis(200));
    pb
}

/// Generates a synthetic town of `households` (seed `seed`) and writes it to a fresh scratch
/// folder named for `what`, removed when the returned folder is dropped (also on an error).
pub fn scratch_town(what: &str, households: u64, seed: u64) -> Result<wangge::scratch::ScratchDir> {
    let dir = wangge::scratch::ScratchDir::new(&format!("{what}-{households}"))
        .context("cannot create a scratch folder in the temp folder")?;
    let town = wangge::synth::synth_town(&wangge::synth::SynthConfig {
        households,
        seed,
        odd_shapes: false,
    });
    town.write_dir(dir.path())
        .with_context(|| format!("{}: cannot write the town", dir.path().display()))?;
    Ok(dir)
}

/// Peak resident memory of this process in MiB (Linux), if known.
pub fn peak_mib() -> Option<f64> {
    wangge::serve::memory::peak_bytes().map(|b| b as f64 / 1048576.0)
}

/// The error and its causes on one line, each cause once: a cause whose text the line already
/// holds (an error that prints its source as well as returning it) is not repeated.
pub fn error_text(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}
