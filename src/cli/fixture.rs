//! `wangge fixture`: test data.

use anyhow::{Context, Result};
use std::path::PathBuf;

/// `wangge fixture` subcommands.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Generate a realistic town (built-up area, industrial park, countryside) with a seed.
    Synth(SynthArgs),
}

impl Command {
    /// Runs the subcommand.
    pub fn run(self) -> Result<()> {
        match self {
            Command::Synth(a) => synth(a),
        }
    }
}

/// Flags of `wangge fixture synth`.
#[derive(clap::Args)]
pub struct SynthArgs {
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
}

/// Runs `wangge fixture synth`.
fn synth(a: SynthArgs) -> Result<()> {
    let town = wangge::synth::synth_town(&wangge::synth::SynthConfig {
        households: a.households,
        seed: a.seed,
        odd_shapes: a.odd_shapes,
    });
    let out = &a.out;
    std::fs::create_dir_all(out).with_context(|| format!("{}: cannot create", out.display()))?;
    town.write_dir(out)
        .with_context(|| format!("{}: cannot write", out.display()))?;
    println!(
        "wrote {} villages, {} buildings to {}",
        town.villages.features.len(),
        town.buildings.features.len(),
        out.display()
    );
    Ok(())
}
