//! The `wangge` command line.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use wangge::model::Weight;
use wangge::partition::{self, Band, Options};

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
        #[arg(long)]
        out: PathBuf,
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
    /// Benchmark: generate a town, partition it, print wall times, peak memory and quality.
    Bench {
        /// Households in the generated town.
        #[arg(long, default_value_t = 50_000)]
        households: u64,
        /// Seed of the generator and the partition.
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
    /// Test data.
    Fixture {
        #[command(subcommand)]
        command: FixtureCommand,
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
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Partition {
            input,
            out,
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
            wangge::output::write_plan(&out, &plan, &opts, &report)
                .with_context(|| format!("{}: cannot write the plan", out.display()))?;
            if !quiet {
                print!("{}", wangge::output::summary_table(&plan, &opts, &report));
                println!(
                    "wrote {} in {:.2} s",
                    out.display(),
                    t0.elapsed().as_secs_f64()
                );
            }
            Ok(())
        }
        Command::Bench { households, seed } => bench(households, seed),
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

/// Peak resident memory of this process in MiB (Linux), if known.
fn peak_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn bench(households: u64, seed: u64) -> Result<()> {
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
