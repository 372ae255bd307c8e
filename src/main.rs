//! The `wangge` command line.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::BTreeMap;
use std::path::PathBuf;
use wangge::model::{GridCode, Weight};
use wangge::partition::{self, Band, Options};
use wangge::snapshot::{Person, Role};
use wangge::store::{PlanMeta, Store};

#[derive(Parser)]
#[command(
    name = "wangge",
    version,
    about = "Grid-based governance (网格化管理): partition, store and serve grid plans"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Partition every village of a town into grids and micro-grids.
    Partition {
        /// Folder with villages.geojson, buildings.geojson and optional units, groups, barriers.
        input: PathBuf,
        /// Folder to write grids.geojson, micro_grids.geojson, assignment.csv and report.json to.
        #[arg(long, required_unless_present = "db")]
        out: Option<PathBuf>,
        /// Also save the town's data and the plan (a new active version per village) in this store:
        /// a GeoPackage file or postgres://… URL.
        #[arg(long)]
        db: Option<String>,
        /// Who saves the plan (kept with the version).
        #[arg(long, default_value_t = default_author())]
        author: String,
        /// Why the plan is made (kept with the version).
        #[arg(long, default_value = "partition run")]
        reason: String,
        /// Band of the grid weight, MIN..MAX.
        #[arg(long, default_value = "300..500", value_parser = parse_band)]
        band: Band,
        /// Band of the micro-grid households, MIN..MAX.
        #[arg(long, default_value = "50..80", value_parser = parse_band)]
        micro: Band,
        /// What the band counts: households, residents or another numeric field.
        #[arg(long, default_value = "households")]
        weight: String,
        /// Residents per grid to aim for as a second aim (when the band counts households).
        #[arg(long, default_value_t = 1500.0)]
        target_residents: f64,
        /// Seed: the same input and seed give byte-identical output.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// No progress bar or table.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Serve the map: GeoJSON, vector tiles, "which grid am I in?", and the map pages, from a
    /// store. A newly activated plan shows within a second.
    Serve {
        /// The store: a GeoPackage file or postgres://… URL.
        #[arg(long, default_value = DEFAULT_DB)]
        db: String,
        /// Address and port to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
    },
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
    Import {
        /// A folder (villages.geojson, buildings.geojson, barriers.geojson…), a .gpkg file, or an
        /// assignment .csv.
        input: PathBuf,
        /// The store: a GeoPackage file (created if missing) or postgres://… URL.
        #[arg(long, default_value = DEFAULT_DB)]
        db: String,
        /// Assignment only: who saves the new versions (kept with them).
        #[arg(long)]
        author: Option<String>,
        /// Assignment only: why (kept with the versions); by default "edited assignment FILE".
        #[arg(long)]
        reason: Option<String>,
        /// Assignment only: make the new versions the active ones (the map shows them).
        #[arg(long)]
        activate: bool,
    },
    /// Export plans and the town's data: a folder of GeoJSON + CSV, or a standalone GeoPackage
    /// (when OUT ends in .gpkg).
    Export {
        /// Folder (GeoJSON, CSV) or file.gpkg to write.
        #[arg(long)]
        out: PathBuf,
        /// Only this village (12-digit code).
        #[arg(long)]
        village: Option<String>,
        /// This plan version of --village instead of the active one.
        #[arg(long)]
        plan: Option<i64>,
        /// The store.
        #[arg(long, default_value = DEFAULT_DB)]
        db: String,
    },
    /// List plan versions (who, when, why, which is active).
    Plans {
        /// Only this village.
        #[arg(long)]
        village: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// The store.
        #[arg(long, default_value = DEFAULT_DB)]
        db: String,
    },
    /// Make a plan version the village's active one (e.g. roll back to an earlier version).
    Activate {
        /// Village code.
        #[arg(long)]
        village: String,
        /// Version to activate.
        #[arg(long)]
        version: i64,
        /// The version you expect to be active now; the command fails if someone changed it.
        #[arg(long)]
        expect: Option<i64>,
        /// The store.
        #[arg(long, default_value = DEFAULT_DB)]
        db: String,
    },
    /// What changed between two plan versions of a village: grids added, removed, changed, and
    /// buildings that moved grid (JSON).
    Diff {
        /// Village code.
        #[arg(long)]
        village: String,
        /// The earlier version.
        from: i64,
        /// The later version.
        to: i64,
        /// The store.
        #[arg(long, default_value = DEFAULT_DB)]
        db: String,
    },
    /// Set the people responsible for grids from a CSV `grid_code,role,name,phone`
    /// (role: grid_leader | grid_worker); each listed grid's people are replaced.
    People {
        /// The CSV file.
        csv: PathBuf,
        /// The store.
        #[arg(long, default_value = DEFAULT_DB)]
        db: String,
    },
    /// Benchmark: generate a town, partition it, print wall times, peak memory and quality.
    Bench {
        /// Households in the generated town.
        #[arg(long, default_value_t = 50_000)]
        households: u64,
        /// Seed of the generator and the partition.
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Also load the town and its plan into this store (emptied first: a scratch file or
        /// database) and time the load, reading one village's active plan back, the whole-town
        /// snapshot the server loads, and "which grid am I in?" in process on 1M random points.
        #[arg(long)]
        db: Option<String>,
    },
    /// Test data.
    Fixture {
        #[command(subcommand)]
        command: FixtureCommand,
    },
    /// Patrols (巡查): import grid workers' GPS points, report a day's coverage, benchmark.
    Patrol {
        #[command(subcommand)]
        command: PatrolCommand,
    },
}

#[derive(Subcommand)]
enum PatrolCommand {
    /// Import GPS points (CSV worker,time,lon,lat,crs,accuracy; GeoJSON; GPX, by extension):
    /// all or nothing if a record is unreadable; checked points stored once, rejected ones listed.
    Import {
        /// The file: .csv, .geojson/.json or .gpx.
        file: PathBuf,
        /// The store.
        #[arg(long, default_value = DEFAULT_DB)]
        db: String,
        /// The worker of points that do not name one (GPX, GeoJSON without `worker`).
        #[arg(long)]
        worker: Option<String>,
        /// Express times in this zone, e.g. +08:00 (so local days are right for UTC files).
        #[arg(long)]
        zone: Option<String>,
    },
    /// Coverage of a period (a day, a week, a month, or --from/--to) for every grid and every
    /// registered grid worker, and the daily report of each day (grids that missed a patrol or the
    /// second one, worst first), to stdout.
    #[command(group(clap::ArgGroup::new("period").required(true).args(["day", "week", "month", "from"])))]
    Report {
        /// A local day, YYYY-MM-DD.
        #[arg(long)]
        day: Option<String>,
        /// A week, Monday to Sunday: any day of it (2026-11-18) or the ISO week (2026-W47).
        #[arg(long)]
        week: Option<String>,
        /// A calendar month, YYYY-MM.
        #[arg(long)]
        month: Option<String>,
        /// The first day, YYYY-MM-DD (with --to).
        #[arg(long, requires = "to")]
        from: Option<String>,
        /// The last day, YYYY-MM-DD, included (with --from).
        #[arg(long, requires = "from")]
        to: Option<String>,
        /// The zone of local days.
        #[arg(long, default_value = "+08:00")]
        zone: String,
        /// The store.
        #[arg(long, default_value = DEFAULT_DB)]
        db: String,
        /// `json` (coverage per grid and per worker, and the reports) or `csv` (the reports).
        #[arg(long, default_value = "json", value_parser = ["json", "csv"])]
        format: String,
    },
    /// Benchmark: generate a district and a month (or --days) of patrol tracks, stream them into a
    /// store day by day, then time a district-day of coverage, the whole period's, and heat tiles.
    /// Prints figures.
    Bench {
        /// Households in the generated district.
        #[arg(long, default_value_t = 50_000)]
        households: u64,
        /// Days of tracks.
        #[arg(long, default_value_t = 1)]
        days: u32,
        /// Seed of the district and the tracks.
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// The first day of tracks (fixed, so a seed always gives the same points).
        #[arg(long, default_value = "2026-11-01")]
        first_day: String,
        /// Store to ingest into: an empty scratch file or database (a temporary GeoPackage if not
        /// given).
        #[arg(long)]
        db: Option<String>,
    },
}

#[derive(Subcommand)]
enum FixtureCommand {
    /// Generate a realistic town (built-up area, industrial park, countryside) with a seed.
    Synth {
        /// Households in the whole town.
        #[arg(long, default_value_t = 50_000)]
        households: u64,
        /// Seed.
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Also make awkward villages: concave, with holes, in pieces, cut by a river.
        #[arg(long)]
        odd_shapes: bool,
        /// Folder to write the input files to.
        #[arg(long)]
        out: PathBuf,
    },
}

/// The store used when `--db` is not given: a GeoPackage in the working directory.
const DEFAULT_DB: &str = "wangge.gpkg";

fn default_author() -> String {
    std::env::var("USER").unwrap_or_else(|_| "wangge".into())
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn parse_band(s: &str) -> Result<Band, String> {
    let (a, b) = s
        .split_once("..")
        .ok_or_else(|| format!("`{s}` is not a band like 300..500"))?;
    let min: f64 = a
        .trim()
        .parse()
        .map_err(|_| format!("`{a}` is not a number"))?;
    let max: f64 = b
        .trim()
        .parse()
        .map_err(|_| format!("`{b}` is not a number"))?;
    if !(min.is_finite() && max.is_finite() && min >= 0.0 && min <= max && max > 0.0) {
        return Err(format!("band `{s}` needs 0 ≤ MIN ≤ MAX and MAX > 0"));
    }
    Ok(Band { min, max })
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("WANGGE_LOG"))
        .with_writer(std::io::stderr)
        .init();
    if let Err(e) = run(Cli::parse()) {
        eprintln!("error: {}", error_text(&e));
        std::process::exit(1);
    }
}

/// The error and its causes on one line, each cause once: a cause whose text the line already
/// holds (an error that prints its source as well as returning it) is not repeated.
fn error_text(e: &anyhow::Error) -> String {
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

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Partition {
            input,
            out,
            db,
            author,
            reason,
            band,
            micro,
            weight,
            target_residents,
            seed,
            quiet,
        } => {
            if !input.is_dir() {
                bail!("{}: is not a folder", input.display());
            }
            let opts = Options {
                band,
                micro,
                weight: Weight::parse(&weight),
                target_residents,
                seed,
            };
            let t0 = std::time::Instant::now();
            let rt = runtime()?;
            // The active versions before partitioning: saving fails if someone changes them meanwhile.
            let store = match &db {
                Some(db) => {
                    let s = rt.block_on(Store::open(db))?;
                    let base = rt.block_on(s.active_versions())?;
                    Some((s, base))
                }
                None => None,
            };
            let ds = wangge::ingest::read_dir(&input, &opts.weight)?;
            let pb = if quiet {
                ProgressBar::hidden()
            } else {
                ProgressBar::new(ds.villages.len() as u64)
            };
            pb.set_style(
                ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} villages ({eta})")
                    .expect("valid template")
                    .progress_chars("=> "),
            );
            pb.set_message("partitioning");
            let plan = partition::partition(&ds, &opts, &|| pb.inc(1));
            pb.finish_and_clear();
            let report = wangge::output::report_json(&plan, &opts);
            if let Some(out) = &out {
                wangge::output::write_plan(out, &plan, &opts, &report)
                    .with_context(|| format!("{}: cannot write the plan", out.display()))?;
            }
            let mut saved = Vec::new();
            if let Some((store, base)) = &store {
                let meta = PlanMeta {
                    author,
                    reason,
                    params: serde_json::to_string(&report["settings"]).unwrap_or_default(),
                };
                let pb = spinner(quiet, "saving");
                saved = rt.block_on(store.save_run(&ds, &plan, &meta, base, &mut |t, n| {
                    pb.set_message(format!("saving {t}: {n}"))
                }))?;
                pb.finish_and_clear();
            }
            if !quiet {
                print!("{}", wangge::output::summary_table(&plan, &opts, &report));
                for s in &saved {
                    println!(
                        "village {}: saved plan version {} (grid codes kept {}, new {}, retired {})",
                        s.village, s.version, s.kept, s.issued, s.retired
                    );
                }
                let dest: Vec<String> = out
                    .iter()
                    .map(|o| o.display().to_string())
                    .chain(store.iter().map(|(s, _)| s.target().to_string()))
                    .collect();
                println!(
                    "wrote {} in {:.2} s",
                    dest.join(" and "),
                    t0.elapsed().as_secs_f64()
                );
            }
            Ok(())
        }
        Command::Patrol { command } => patrol(command),
        Command::Serve { db, listen } => {
            // a long-running server: two allocator arenas keep what threads free from piling up
            wangge::serve::memory::limit_arenas(2);
            let rt = runtime()?;
            rt.block_on(async {
                if !db.contains("://") && !std::path::Path::new(&db).is_file() {
                    bail!(
                        "{db}: no such store; make one with `wangge partition <input> --db {db}`"
                    );
                }
                let store = Store::open(&db).await?;
                let listener = tokio::net::TcpListener::bind(&listen)
                    .await
                    .with_context(|| format!("cannot listen on {listen}"))?;
                let addr = listener.local_addr()?;
                eprintln!("serving {} on http://{addr}", store.target());
                wangge::serve::serve(listener, wangge::serve::StoreSource::new(store))
                    .await
                    .context("the map service stopped")
            })
        }
        Command::Import {
            input,
            db,
            author,
            reason,
            activate,
        } => {
            if input
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
            {
                return import_assignment(&input, &db, author, reason, activate);
            }
            if author.is_some() || reason.is_some() || activate {
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
                rt.block_on(async { Store::open(src).await?.dataset().await })?
            } else {
                if !input.is_dir() {
                    bail!("{}: is not a folder or a .gpkg file", input.display());
                }
                wangge::ingest::read_dir(&input, &Weight::Households)?
            };
            let store = rt.block_on(Store::open(&db))?;
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
        Command::Export {
            out,
            village,
            plan,
            db,
        } => {
            let rt = runtime()?;
            let store = rt.block_on(Store::open(&db))?;
            let e = if out.extension().is_some_and(|e| e == "gpkg") {
                rt.block_on(wangge::store::export::export_gpkg(
                    &store,
                    &out,
                    village.as_deref(),
                    plan,
                ))?
            } else {
                rt.block_on(wangge::store::export::export_dir(
                    &store,
                    &out,
                    village.as_deref(),
                    plan,
                ))?
            };
            println!(
                "exported {} plans, {} grids, {} buildings to {}",
                e.plans,
                e.grids,
                e.buildings,
                out.display()
            );
            Ok(())
        }
        Command::Plans { village, json, db } => {
            let rt = runtime()?;
            let store = rt.block_on(Store::open(&db))?;
            let plans = rt.block_on(store.plans(village.as_deref()))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&plans)?);
            } else {
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
            }
            Ok(())
        }
        Command::Activate {
            village,
            version,
            expect,
            db,
        } => {
            let rt = runtime()?;
            let store = rt.block_on(Store::open(&db))?;
            rt.block_on(store.activate(&village, version, expect.map(Some)))?;
            println!("village {village}: plan version {version} is active");
            Ok(())
        }
        Command::Diff {
            village,
            from,
            to,
            db,
        } => {
            let rt = runtime()?;
            let store = rt.block_on(Store::open(&db))?;
            let d = rt.block_on(store.diff(&village, from, to))?;
            println!("{}", serde_json::to_string_pretty(&d)?);
            Ok(())
        }
        Command::People { csv, db } => {
            let people = read_people(&csv)?;
            let rt = runtime()?;
            let store = rt.block_on(Store::open(&db))?;
            rt.block_on(store.set_people_many(&people))?;
            println!("set the people of {} grids", people.len());
            Ok(())
        }
        Command::Bench {
            households,
            seed,
            db,
        } => bench(households, seed, db.as_deref()),
        Command::Fixture {
            command:
                FixtureCommand::Synth {
                    households,
                    seed,
                    odd_shapes,
                    out,
                },
        } => {
            let town = wangge::synth::synth_town(&wangge::synth::SynthConfig {
                households,
                seed,
                odd_shapes,
            });
            std::fs::create_dir_all(&out)
                .with_context(|| format!("{}: cannot create", out.display()))?;
            town.write_dir(&out)
                .with_context(|| format!("{}: cannot write", out.display()))?;
            println!(
                "wrote {} villages, {} buildings to {}",
                town.villages.features.len(),
                town.buildings.features.len(),
                out.display()
            );
            Ok(())
        }
    }
}

/// `wangge import edited.csv`: an assignment as new plan versions, with what changed per village.
fn import_assignment(
    input: &std::path::Path,
    db: &str,
    author: Option<String>,
    reason: Option<String>,
    activate: bool,
) -> Result<()> {
    let name = input.display().to_string();
    let file = std::fs::File::open(input).with_context(|| format!("{name}: cannot open"))?;
    let rows = wangge::partition::assign_csv::read(&name, std::io::BufReader::new(file))?;
    if !db.contains("://") && !std::path::Path::new(db).is_file() {
        bail!("{db}: no such store; an assignment is imported into the store it was exported from");
    }
    let rt = runtime()?;
    let t0 = std::time::Instant::now();
    let store = rt.block_on(Store::open(db))?;
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

fn spinner(quiet: bool, msg: &'static str) -> ProgressBar {
    let pb = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new_spinner()
    };
    pb.set_message(msg);
    pb.enable_steady_tick(std::time::Duration::from_millis(200));
    pb
}

/// Loads a partitioned town into a store and reads it back, printing rates.
fn bench_store(
    db: &str,
    ds: &wangge::model::Dataset,
    plan: &partition::Plan,
    seed: u64,
) -> Result<()> {
    use std::time::Instant;
    if !db.contains("://") && std::path::Path::new(db).exists() {
        bail!("{db}: exists; the store benchmark wants a new file");
    }
    let rt = runtime()?;
    let store = rt.block_on(Store::open(db))?;
    if !rt.block_on(store.plans(None))?.is_empty() {
        bail!("{db}: holds plans already; the store benchmark wants an empty store");
    }
    let rows_b = ds.buildings.len();
    let grids: usize = plan.villages.iter().map(|v| v.grids.len()).sum();
    let micro: usize = plan.villages.iter().map(|v| v.micro_grids.len()).sum();
    let assigned: usize = plan.villages.iter().map(|v| v.assignment.len()).sum();
    let t = Instant::now();
    rt.block_on(store.import(ds, &mut |_, _| {}))?;
    let t_import = t.elapsed().as_secs_f64();
    let recs: Vec<_> = plan
        .villages
        .iter()
        .map(wangge::store::VillagePlanRecord::from_partition)
        .collect();
    let meta = PlanMeta {
        author: "bench".into(),
        reason: "bench".into(),
        params: "{}".into(),
    };
    let t = Instant::now();
    rt.block_on(store.save_plans(&recs, &meta, &wangge::store::Base::default()))?;
    let t_save = t.elapsed().as_secs_f64();
    // One village's active plan, read 30 times (a village of median size).
    let mut sizes: Vec<(usize, &str)> = plan
        .villages
        .iter()
        .map(|v| (v.assignment.len(), v.code.as_str()))
        .collect();
    sizes.sort();
    let (n_items, village) = sizes[sizes.len() / 2];
    let mut reads = Vec::new();
    for _ in 0..30 {
        let t = Instant::now();
        let p = rt.block_on(store.active_plan(village))?;
        reads.push(t.elapsed().as_secs_f64() * 1e3);
        anyhow::ensure!(p.is_some(), "village {village} has no active plan");
    }
    reads.sort_by(f64::total_cmp);
    let t = Instant::now();
    let snap = rt.block_on(store.snapshot())?;
    let t_snap = t.elapsed().as_secs_f64();
    println!(
        "store {} ({:?}): import {} buildings in {:.2} s = {:.0} buildings/s; save plans ({} grids, {} micro-grids, {} assignments) in {:.2} s = {:.0} rows/s",
        store.target(), store.backend(), rows_b, t_import, rows_b as f64 / t_import,
        grids, micro, assigned, t_save, (grids + micro + assigned) as f64 / t_save
    );
    println!(
        "store read: one village's active plan ({village}, {} grids, {n_items} buildings) median {:.2} ms, max {:.2} ms over 30 reads; whole-town snapshot {:.2} s ({} grids); peak memory {:.0} MiB",
        snap.grids.iter().filter(|g| g.code.as_str().starts_with(village)).count(),
        reads[reads.len() / 2], reads[reads.len() - 1], t_snap, snap.grids.len(),
        peak_mib().unwrap_or(f64::NAN)
    );
    locate_bench(&snap, seed);
    Ok(())
}

/// "Which grid am I in?" in process: builds the server's locate index of `snap` and answers 1M
/// seeded points over the villages' extent, on one thread and on all of them.
fn locate_bench(snap: &wangge::snapshot::Snapshot, seed: u64) {
    use rand::{Rng, SeedableRng};
    use rayon::prelude::*;
    use std::time::Instant;
    let t = Instant::now();
    let loc = wangge::serve::locator::Locator::new(snap);
    let t_index = t.elapsed().as_secs_f64();
    let (mut w, mut s, mut e, mut n) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for c in snap
        .villages
        .iter()
        .flat_map(|v| v.boundary.0.iter())
        .flat_map(|p| p.exterior().0.iter())
    {
        (w, s, e, n) = (w.min(c.x), s.min(c.y), e.max(c.x), n.max(c.y));
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let pts: Vec<(f64, f64)> = (0..1_000_000)
        .map(|_| (rng.random_range(w..e), rng.random_range(s..n)))
        .collect();
    // Margin of a phone's GPS fix, as the HTTP handler adds for WGS84 input.
    let tol = wangge::serve::Config::default().wgs84_margin_m;
    let t = Instant::now();
    let inside = pts
        .iter()
        .filter(|(x, y)| loc.locate(snap, *x, *y, tol).grid.is_some())
        .count();
    let t_one = t.elapsed().as_secs_f64();
    let t = Instant::now();
    pts.par_iter().for_each(|(x, y)| {
        std::hint::black_box(loc.locate(snap, *x, *y, tol));
    });
    let t_all = t.elapsed().as_secs_f64();
    println!(
        "locate in process: index built in {t_index:.2} s; 1,000,000 random points ({inside} in a grid): {:.0}/s on one thread, {:.0}/s on {} threads",
        1e6 / t_one,
        1e6 / t_all,
        rayon::current_num_threads()
    );
}

/// Reads `grid_code,role,name,phone` rows; errors name the file, the line and the field.
fn read_people(path: &std::path::Path) -> Result<BTreeMap<String, Vec<Person>>> {
    let mut r =
        csv::Reader::from_path(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let headers = r
        .headers()
        .with_context(|| format!("{}: no header line", path.display()))?
        .clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim() == name)
            .with_context(|| {
                format!(
                    "{}: header has no `{name}` column (want grid_code,role,name,phone)",
                    path.display()
                )
            })
    };
    let (c_code, c_role, c_name) = (col("grid_code")?, col("role")?, col("name")?);
    let c_phone = headers.iter().position(|h| h.trim() == "phone");
    let mut out: BTreeMap<String, Vec<Person>> = BTreeMap::new();
    for (i, rec) in r.records().enumerate() {
        let line = i + 2;
        let rec = rec.with_context(|| format!("{}: line {line}: not valid CSV", path.display()))?;
        let field = |c: usize| rec.get(c).unwrap_or("").trim().to_string();
        let code = field(c_code);
        GridCode::parse(&code).map_err(|e| {
            anyhow::anyhow!("{}: line {line}: field `grid_code`: {e}", path.display())
        })?;
        let role = field(c_role);
        let role = Role::parse(&role).with_context(|| {
            format!(
                "{}: line {line}: field `role`: must be grid_leader or grid_worker, got {role:?}",
                path.display()
            )
        })?;
        let name = field(c_name);
        if name.is_empty() {
            bail!("{}: line {line}: field `name`: is empty", path.display());
        }
        let phone = c_phone.map(field).filter(|p| !p.is_empty());
        out.entry(code)
            .or_default()
            .push(Person { role, name, phone });
    }
    Ok(out)
}

/// Peak resident memory of this process in MiB (Linux), if known.
fn peak_mib() -> Option<f64> {
    wangge::serve::memory::peak_bytes().map(|b| b as f64 / 1048576.0)
}

fn bench(households: u64, seed: u64, db: Option<&str>) -> Result<()> {
    use std::time::Instant;
    let dir =
        std::env::temp_dir().join(format!("wangge-bench-{}-{households}", std::process::id()));
    let t = Instant::now();
    let town = wangge::synth::synth_town(&wangge::synth::SynthConfig {
        households,
        seed,
        odd_shapes: false,
    });
    std::fs::create_dir_all(&dir)?;
    town.write_dir(&dir)?;
    let t_synth = t.elapsed().as_secs_f64();
    drop(town);
    let opts = Options {
        seed,
        ..Options::default()
    };
    let t = Instant::now();
    let ds = wangge::ingest::read_dir(&dir, &opts.weight)?;
    let t_read = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let plan = partition::partition(&ds, &opts, &|| {});
    let t_part = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let out = dir.join("plan");
    let report = wangge::output::report_json(&plan, &opts);
    wangge::output::write_plan(&out, &plan, &opts, &report)?;
    let t_write = t.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&dir);
    if let Some(db) = db {
        bench_store(db, &ds, &plan, seed)?;
    }
    let tot = &report["totals"];
    let q = &report["quality"];
    println!(
        "households {households} (generated {}), villages {}, buildings {}, grids {} ({} in band), micro-grids {}",
        tot["households"], tot["villages"], ds.buildings.len(), tot["grids"], tot["grids_in_band"], tot["micro_grids"]
    );
    println!(
        "time: generate+write {t_synth:.2} s, read+validate {t_read:.2} s, partition {t_part:.2} s, write plan {t_write:.2} s; peak memory {:.0} MiB",
        peak_mib().unwrap_or(f64::NAN)
    );
    println!(
        "quality: weight per grid {}, Polsby–Popper {}, grid borders on roads/rivers/group lines {}",
        q["weight"], q["polsby_popper"], q["border_on_lines_share"]
    );
    Ok(())
}

/// `wangge patrol …`.
fn patrol(cmd: PatrolCommand) -> Result<()> {
    use wangge::patrol::{self as pt, report};
    use wangge::serve::routes::patrol::parse_zone;
    match cmd {
        PatrolCommand::Import {
            file,
            db,
            worker,
            zone,
        } => {
            let zone = zone
                .map(|z| parse_zone(&z))
                .transpose()
                .map_err(anyhow::Error::msg)?;
            let name = file.display().to_string();
            let opts = pt::ReadOptions { worker, zone };
            let ext = file
                .extension()
                .and_then(|e| e.to_str())
                .unwrap_or("")
                .to_ascii_lowercase();
            let text =
                || std::fs::read_to_string(&file).with_context(|| format!("cannot read {name}"));
            let read = match ext.as_str() {
                "csv" => pt::read_csv(
                    &name,
                    std::fs::File::open(&file).with_context(|| format!("cannot open {name}"))?,
                    &opts,
                )?,
                "geojson" | "json" => pt::read_geojson(&name, &text()?, &opts)?,
                "gpx" => pt::read_gpx(&name, &text()?, &opts)?,
                _ => bail!("{name}: unknown kind of file; use .csv, .geojson (or .json) or .gpx"),
            };
            if !read.errors.is_empty() {
                for e in &read.errors {
                    eprintln!("{e}");
                }
                bail!(
                    "{name}: {} unreadable record(s); nothing stored",
                    read.errors.len()
                );
            }
            let n = read.points.len();
            let checked = pt::check(
                read.points,
                &pt::CheckRules::new(chrono::Utc::now().fixed_offset()),
            );
            for is in &checked.rejected {
                eprintln!(
                    "{name}: rejected {} at {} ({}, {}): {}",
                    is.point.worker,
                    is.point.time.to_rfc3339(),
                    is.point.lon,
                    is.point.lat,
                    is.reason
                );
            }
            let rt = runtime()?;
            let ins = rt.block_on(async {
                let store = Store::open(&db).await?;
                store.insert_checked(&checked).await
            })?;
            println!(
                "read {n}, stored {} (flagged {}), duplicates {} (in file {}, already stored {}), rejected {}",
                ins.inserted,
                checked.flagged.len(),
                checked.duplicates + ins.duplicates,
                checked.duplicates,
                ins.duplicates,
                checked.rejected.len()
            );
            Ok(())
        }
        PatrolCommand::Report {
            day,
            week,
            month,
            from,
            to,
            zone,
            db,
            format,
        } => {
            let zone = parse_zone(&zone).map_err(anyhow::Error::msg)?;
            let today = chrono::Utc::now().with_timezone(&zone).date_naive();
            let period = pt::Period::choose(
                day.as_deref(),
                week.as_deref(),
                month.as_deref(),
                from.as_deref(),
                to.as_deref(),
                zone,
                today,
            )
            .map_err(anyhow::Error::msg)?;
            if !db.contains("://") && !std::path::Path::new(&db).is_file() {
                bail!("{db}: no such store");
            }
            let rt = runtime()?;
            let store = rt.block_on(Store::open(&db))?;
            let snap = rt.block_on(store.snapshot())?;
            let index = pt::CoverageIndex::new(&snap, pt::CoverageRules::default());
            let roster = pt::Roster::from_snapshot(&snap);
            // One day at a time: a month is never in memory at once.
            let mut run = index.run(period.window(), Some(&roster));
            let mut reports = Vec::new();
            for d in period.dates() {
                let (from, to) = period.day_window(d).ms();
                let tracks = rt.block_on(store.patrol_tracks(from, to, None))?;
                let points = wangge::store::patrol::accepted_points(&tracks);
                drop(tracks);
                let cov = run.add(&points);
                reports.extend(report::daily_report(&snap, &cov, d));
            }
            let total = run.finish();
            rt.block_on(store.close());
            if format == "csv" {
                print!("{}", report::to_csv(&reports));
            } else {
                let mut doc = serde_json::json!({
                    "period": period.label(),
                    "from": period.first.to_string(),
                    "to": period.last().to_string(),
                    "days": period.days,
                    "zone": zone.to_string(),
                    "grids": total.grids,
                    "workers": total.workers,
                    "towns": reports,
                });
                if period.days == 1 {
                    doc["day"] = period.first.to_string().into();
                }
                println!("{}", serde_json::to_string_pretty(&doc)?);
            }
            Ok(())
        }
        PatrolCommand::Bench {
            households,
            days,
            seed,
            first_day,
            db,
        } => {
            let first = chrono::NaiveDate::parse_from_str(first_day.trim(), "%Y-%m-%d")
                .with_context(|| format!("--first-day {first_day}: not a date like 2026-11-01"))?;
            patrol_bench(households, days.max(1), seed, first, db.as_deref())
        }
    }
}

/// `wangge patrol bench`: figures, no assertions. Deterministic for a seed and first day: the
/// district, the tracks, and so the stored points (the checks' "now" is the day after the last).
fn patrol_bench(
    households: u64,
    days: u32,
    seed: u64,
    first_day: chrono::NaiveDate,
    db: Option<&str>,
) -> Result<()> {
    use std::time::Instant;
    use wangge::patrol::{self as pt, tracks};
    use wangge::serve::routes::patrol::{heat_tile_box, heat_tile_of_counts, tile_res};
    use wangge::store::patrol::accepted_points;
    let dir = std::env::temp_dir().join(format!(
        "wangge-patrol-bench-{}-{households}",
        std::process::id()
    ));
    let t = Instant::now();
    let town = wangge::synth::synth_town(&wangge::synth::SynthConfig {
        households,
        seed,
        odd_shapes: false,
    });
    std::fs::create_dir_all(&dir)?;
    town.write_dir(&dir)?;
    drop(town);
    let ds = wangge::ingest::read_dir(&dir, &Weight::Households)?;
    let plan = partition::partition(
        &ds,
        &Options {
            seed,
            ..Options::default()
        },
        &|| {},
    );
    let mut snap = wangge::snapshot::Snapshot::from_plan(&ds, &plan, 1);
    drop((ds, plan));
    // One registered grid worker per grid, named as the generator names them (W + grid code).
    for g in &mut snap.grids {
        g.people = vec![Person {
            role: Role::GridWorker,
            name: format!("W{}", g.code),
            phone: None,
        }];
    }
    println!(
        "district: {households} households, {} grids, {} buildings in {:.1} s (generate + partition)",
        snap.grids.len(),
        snap.buildings.len(),
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let index = pt::CoverageIndex::new(&snap, pt::CoverageRules::default());
    let roster = pt::Roster::from_snapshot(&snap);
    println!("coverage index: {:.2} s", t.elapsed().as_secs_f64());
    let zone = wangge::serve::routes::patrol::default_zone();
    let codes: Vec<GridCode> = snap.grids.iter().map(|g| g.code.clone()).collect();
    let gen = tracks::TrackGen::new(&index, &codes, tracks::TrackConfig::new(seed, first_day));
    let target = match db {
        Some(d) => d.to_string(),
        None => dir.join("patrol.gpkg").display().to_string(),
    };
    let rt = runtime()?;
    let store = rt.block_on(Store::open(&target))?;
    if rt.block_on(store.patrol_track_count())? > 0 {
        bail!("{target}: holds patrol tracks already; the benchmark wants an empty store");
    }
    let period = pt::Period {
        first: first_day,
        days,
        zone,
    };
    let now = period.window().to + chrono::TimeDelta::days(1);
    let rules = pt::CheckRules::new(now);
    let (mut n_points, mut n_stored) = (0usize, 0usize);
    let (mut t_gen, mut t_check, mut t_store) = (0.0f64, 0.0f64, 0.0f64);
    for d in 0..days {
        let t = Instant::now();
        let pts = gen.day(d);
        t_gen += t.elapsed().as_secs_f64();
        n_points += pts.len();
        let t = Instant::now();
        let checked = pt::check(pts, &rules);
        t_check += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let ins = rt.block_on(store.insert_checked(&checked))?;
        t_store += t.elapsed().as_secs_f64();
        n_stored += ins.inserted;
        eprintln!(
            "  day {}: {} points, {} stored; so far {:.0} points/s (check + store)",
            d + 1,
            checked.accepted.len()
                + checked.flagged.len()
                + checked.rejected.len()
                + checked.duplicates,
            ins.inserted,
            n_points as f64 / (t_check + t_store).max(1e-9)
        );
    }
    println!(
        "ingest into {} ({:?}): {n_points} points ({n_stored} stored, {} worker-days) over {days} day(s): \
         {:.0} points/s check + store ({:.1} s), {:.0} points/s store alone ({:.1} s); generating took {:.1} s",
        store.target(),
        store.backend(),
        rt.block_on(store.patrol_track_count())?,
        n_points as f64 / (t_check + t_store).max(1e-9),
        t_check + t_store,
        n_points as f64 / t_store.max(1e-9),
        t_store,
        t_gen
    );
    if let Ok(bytes) = rt.block_on(store.patrol_storage_bytes()) {
        println!(
            "  patrol storage: {:.0} MiB ({:.1} bytes per stored point)",
            bytes as f64 / 1048576.0,
            bytes as f64 / n_stored.max(1) as f64
        );
    }
    // One district-day of coverage (day 1), per grid and per worker, read from the store.
    let day = pt::Period::day(first_day, zone);
    let t = Instant::now();
    let (from, to) = day.window().ms();
    let tracks = rt.block_on(store.patrol_tracks(from, to, None))?;
    let points = accepted_points(&tracks);
    drop(tracks);
    let t_read = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut run = index.run(day.window(), Some(&roster));
    run.add(&points);
    let cov = run.finish();
    let t_cov = t.elapsed().as_secs_f64();
    let twice = cov.grids.iter().filter(|c| c.days_twice > 0).count();
    let wtwice = cov.workers.iter().filter(|w| w.days_twice > 0).count();
    println!(
        "one district-day ({first_day}): read {} points in {t_read:.2} s, coverage of {} grids and {} workers in {t_cov:.2} s \
         (total {:.2} s); twice patrolled: {twice} grids, {wtwice} workers",
        points.len(),
        cov.grids.len(),
        cov.workers.len(),
        t_read + t_cov
    );
    drop(points);
    // The whole period, streamed one day at a time.
    if days > 1 {
        let t = Instant::now();
        let mut run = index.run(period.window(), Some(&roster));
        for d in period.dates() {
            let (from, to) = period.day_window(d).ms();
            let tracks = rt.block_on(store.patrol_tracks(from, to, None))?;
            let points = accepted_points(&tracks);
            drop(tracks);
            run.add(&points);
        }
        let cov = run.finish();
        let mean = cov.grids.iter().filter_map(|c| c.road_share).sum::<f64>()
            / cov
                .grids
                .iter()
                .filter(|c| c.road_share.is_some())
                .count()
                .max(1) as f64;
        println!(
            "coverage of the whole period ({}): {:.1} s (read + compute, one day at a time); mean road share {mean:.3}",
            period.label(),
            t.elapsed().as_secs_f64()
        );
    }
    // Heat tiles: at zooms 14, 12 and 10, the tiles holding the labels of 20 grids spread over the
    // district, for day 1, the first week and the whole period, each read from the store.
    let tile_of = |lon: f64, lat: f64, z: u8| -> Result<wangge::tiles::TileId> {
        let n = (1u64 << z) as f64;
        let x = ((lon + 180.0) / 360.0 * n).floor() as u32;
        let r = lat.to_radians();
        let y = ((1.0 - (r.tan() + 1.0 / r.cos()).ln() / std::f64::consts::PI) / 2.0 * n).floor()
            as u32;
        Ok(wangge::tiles::TileId::new(z as u32, x, y)?)
    };
    let mut windows = vec![("day", pt::Period::day(first_day, zone))];
    if days >= 7 {
        windows.push((
            "week",
            pt::Period {
                first: first_day,
                days: 7,
                zone,
            },
        ));
    }
    if days > 7 {
        windows.push(("period", period));
    }
    for z in [14u8, 12, 10] {
        let mut ids: Vec<wangge::tiles::TileId> = (0..20)
            .filter_map(|k| snap.grids.get(k * snap.grids.len() / 20))
            .filter_map(|g| tile_of(g.label.x(), g.label.y(), z).ok())
            .collect();
        ids.sort_by_key(|i| (i.x, i.y));
        ids.dedup();
        for (name, p) in &windows {
            let (from, to) = p.window().ms();
            let res = h3o::Resolution::try_from(tile_res(z))?;
            let mut ms: Vec<f64> = Vec::new();
            let mut bytes = 0usize;
            for id in &ids {
                let t = Instant::now();
                let cells =
                    rt.block_on(store.patrol_cells(from, to, Some(heat_tile_box(*id)), res))?;
                let tile = heat_tile_of_counts(&cells, *id);
                ms.push(t.elapsed().as_secs_f64() * 1000.0);
                bytes += tile.map(|t| t.len()).unwrap_or(0);
            }
            ms.sort_by(f64::total_cmp);
            println!(
                "heat tiles z{z} (res {}), window {name} ({} days): {} tiles, median {:.1} ms, max {:.1} ms, {:.0} bytes each (uncompressed)",
                tile_res(z),
                p.days,
                ms.len(),
                ms.get(ms.len() / 2).copied().unwrap_or(0.0),
                ms.last().copied().unwrap_or(0.0),
                bytes as f64 / ms.len().max(1) as f64
            );
        }
    }
    if let Some(m) = peak_mib() {
        println!("peak memory: {m:.0} MiB");
    }
    rt.block_on(store.close());
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
