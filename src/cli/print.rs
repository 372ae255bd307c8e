//! `wangge print`: the printed grid-division map of a village or a town, or a grid's notice
//! board, as PDF, SVG or PNG (by the output file's extension).

use super::{runtime, StoreArgs};
use anyhow::{Context, Result};
use std::path::PathBuf;
use std::time::Instant;
use wangge::print::{CjkFont, Format, Options, Paper, Target};

/// Flags of `wangge print`.
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["village", "town", "grid"])))]
pub struct Args {
    /// The village or community to print (12-digit code).
    #[arg(long)]
    village: Option<String>,
    /// The town to print, every village of it (9-digit code).
    #[arg(long)]
    town: Option<String>,
    /// The grid whose notice board (公示牌) to print (15-digit code; with --board).
    #[arg(long, requires = "board")]
    grid: Option<String>,
    /// Print the grid's notice board: name, code, map among its neighbours, people, phones.
    #[arg(long, requires = "grid")]
    board: bool,
    /// Paper: A0, A1, A2, A3 or A4 (default A3 for a map, A4 for a notice board).
    #[arg(long, value_parser = parse_paper)]
    paper: Option<Paper>,
    /// Turn the paper landscape.
    #[arg(long)]
    landscape: bool,
    /// A font file with Chinese glyphs (.ttf, .otf, .ttc); default: the best CJK font installed.
    #[arg(long)]
    font: Option<PathBuf>,
    /// The supervision phone (监督电话) printed on a notice board.
    #[arg(long)]
    supervision: Option<String>,
    /// The file to write: .pdf, .svg or .png.
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    store: StoreArgs,
}

fn parse_paper(s: &str) -> std::result::Result<Paper, String> {
    s.parse::<Paper>().map_err(|e| e.to_string())
}

/// Runs `wangge print`.
pub fn run(a: Args) -> Result<()> {
    let t0 = Instant::now();
    let format = Format::of(&a.out)?;
    let target = match (&a.village, &a.town, &a.grid) {
        (Some(v), _, _) => Target::Village(v.clone()),
        (_, Some(t), _) => Target::Town(t.clone()),
        (_, _, Some(g)) => Target::Board(g.clone()),
        _ => unreachable!("clap requires one of --village, --town, --grid"),
    };
    let opts = Options {
        paper: a
            .paper
            .unwrap_or(if a.board { Paper::A4 } else { Paper::A3 }),
        landscape: a.landscape,
        supervision: a.supervision.clone(),
    };
    let font = CjkFont::find(a.font.as_deref())?;
    let rt = runtime()?;
    let store = rt.block_on(
        a.store
            .open_existing("make one with `wangge partition … --db`"),
    )?;
    let sheet = rt.block_on(wangge::print::load::from_store(&store, &target))?;
    let bytes = wangge::print::render_sheet(&sheet, &font, &opts, format)?;
    let tmp = a.out.with_extension("part");
    std::fs::write(&tmp, &bytes).with_context(|| format!("{}: cannot write", tmp.display()))?;
    std::fs::rename(&tmp, &a.out).with_context(|| format!("{}: cannot write", a.out.display()))?;
    println!(
        "wrote {} ({} {}, {} grids, {} KiB, font {}) in {:.2} s",
        a.out.display(),
        opts.paper.as_str(),
        if opts.landscape {
            "landscape"
        } else {
            "portrait"
        },
        sheet.focus_grids().count(),
        bytes.len().div_ceil(1024),
        font.family,
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}
