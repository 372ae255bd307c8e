//! The printed grid-division map (网格划分展示图) and a grid's notice board (公示牌).
//!
//! What a village office hangs on its wall: the grids of a village (or of a whole town) in their
//! colours, each with its name and code at its pole of inaccessibility, grid borders over village
//! borders over roads, rivers and buildings, a legend, a metric scale bar, a north arrow and a
//! table of the grids with their households, residents, leader and phone. A grid's notice board
//! shows the grid among its neighbours, its leader and workers with their phones and the
//! supervision phone (监督电话).
//!
//! One writer composes an SVG page in millimetres ([`svg`]); the PDF (fonts embedded as subsets,
//! text extractable) and the PNG are made from that SVG ([`render`]). Chinese text needs a real
//! CJK font ([`fonts`]): one found on the system or given as a file; without one printing fails
//! with [`PrintError::NoCjkFont`] rather than drawing boxes. The same input gives the same bytes:
//! nothing on the page or in the file depends on the clock (the only date is the plan's).
//!
//! The steps, each usable alone (the command line and the HTTP handler both run them):
//!
//! 1. [`Target::resolve`] finds the village, town or grid in a [`Snapshot`] (the map without
//!    buildings) and the box to print;
//! 2. the caller fetches the buildings in that box (from the store or the map service's source)
//!    and the plan dates and town name ([`load::extras`]);
//! 3. [`sheet::Sheet::new`] gathers what the page shows; [`map::compose`] or
//!    [`board::compose`] lays out the page as SVG; [`render::write`] turns it into the format asked.
//!
//! [`load::from_store`] does all of it from a store.

pub mod board;
pub mod fonts;
pub mod layout;
pub mod load;
pub mod map;
pub mod polylabel;
pub mod project;
pub mod render;
pub mod sheet;
pub mod svg;

pub use fonts::CjkFont;
pub use sheet::Sheet;

use crate::snapshot::Snapshot;
use geo::{BoundingRect, Rect};
use std::path::PathBuf;

/// Something that stops a print.
#[derive(Debug, thiserror::Error)]
pub enum PrintError {
    /// No village with this code in the store.
    #[error("village {code}: not in the store ({known})")]
    UnknownVillage {
        /// The code asked for.
        code: String,
        /// What there is instead.
        known: String,
    },
    /// No town (the first 9 digits of its villages' codes) with this code.
    #[error("town {code}: no village of the store belongs to it ({known})")]
    UnknownTown {
        /// The code asked for.
        code: String,
        /// What there is instead.
        known: String,
    },
    /// No grid with this code in the active plans.
    #[error("grid {0}: not in any village's active plan")]
    UnknownGrid(String),
    /// The village has no active plan to print.
    #[error("village {0}: has no active plan to print (run `wangge partition` first)")]
    NoPlan(String),
    /// A paper size other than A0–A4.
    #[error("paper `{0}`: unknown; use A0, A1, A2, A3 or A4")]
    UnknownPaper(String),
    /// An output file name whose extension is not .pdf, .svg or .png.
    #[error("{0}: unknown output format; the file name must end in .pdf, .svg or .png")]
    UnknownFormat(PathBuf),
    /// No font on the system (or in `--font`) has Chinese glyphs.
    #[error("no CJK font: {0}")]
    NoCjkFont(String),
    /// The font file given could not be read or is not a font.
    #[error("{path}: {why}")]
    BadFont {
        /// The font file.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// The SVG could not be turned into PDF or PNG (a bug: the writer made something usvg refuses).
    #[error("rendering the page: {0}")]
    Render(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// Result of printing.
pub type Result<T> = std::result::Result<T, PrintError>;

/// ISO 216 A-series paper.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Paper {
    /// 841 × 1189 mm.
    A0,
    /// 594 × 841 mm.
    A1,
    /// 420 × 594 mm.
    A2,
    /// 297 × 420 mm.
    #[default]
    A3,
    /// 210 × 297 mm.
    A4,
}

impl Paper {
    /// Every size, largest first.
    pub const ALL: [Paper; 5] = [Paper::A0, Paper::A1, Paper::A2, Paper::A3, Paper::A4];

    /// Width and height in millimetres, portrait.
    ///
    /// ```
    /// use wangge::print::Paper;
    /// assert_eq!(Paper::A3.size_mm(), (297.0, 420.0));
    /// assert_eq!("a0".parse::<Paper>().unwrap().size_mm(), (841.0, 1189.0));
    /// assert!("B5".parse::<Paper>().is_err());
    /// ```
    pub fn size_mm(self) -> (f64, f64) {
        match self {
            Paper::A0 => (841.0, 1189.0),
            Paper::A1 => (594.0, 841.0),
            Paper::A2 => (420.0, 594.0),
            Paper::A3 => (297.0, 420.0),
            Paper::A4 => (210.0, 297.0),
        }
    }

    /// `A0` … `A4`.
    pub fn as_str(self) -> &'static str {
        match self {
            Paper::A0 => "A0",
            Paper::A1 => "A1",
            Paper::A2 => "A2",
            Paper::A3 => "A3",
            Paper::A4 => "A4",
        }
    }
}

impl std::str::FromStr for Paper {
    type Err = PrintError;
    fn from_str(s: &str) -> Result<Paper> {
        Paper::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| PrintError::UnknownPaper(s.to_string()))
    }
}

/// A page: its paper turned portrait or landscape.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Page {
    /// Width in millimetres.
    pub w: f64,
    /// Height in millimetres.
    pub h: f64,
}

impl Page {
    /// The page of `paper`, turned landscape if asked.
    pub fn new(paper: Paper, landscape: bool) -> Page {
        let (w, h) = paper.size_mm();
        if landscape {
            Page { w: h, h: w }
        } else {
            Page { w, h }
        }
    }

    /// How much bigger than A3 the page is, linearly: what sizes of text and lines scale by.
    pub fn k(&self) -> f64 {
        (self.w * self.h / (297.0 * 420.0)).sqrt()
    }

    /// Whether the page is wider than tall.
    pub fn landscape(&self) -> bool {
        self.w > self.h
    }
}

/// The output format, from the file name's extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// PDF, vector, fonts embedded.
    Pdf,
    /// SVG, vector; text refers to the font by family name.
    Svg,
    /// PNG at 150 dpi.
    Png,
}

impl Format {
    /// The format a file name asks for (`.pdf`, `.svg`, `.png`, any case).
    pub fn of(path: &std::path::Path) -> Result<Format> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase());
        match ext.as_deref() {
            Some("pdf") => Ok(Format::Pdf),
            Some("svg") => Ok(Format::Svg),
            Some("png") => Ok(Format::Png),
            _ => Err(PrintError::UnknownFormat(path.to_path_buf())),
        }
    }
}

/// What to print.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// One village or community (12-digit code).
    Village(String),
    /// A whole town (9-digit code, the first 9 digits of its villages' codes).
    Town(String),
    /// One grid's notice board (15-digit code).
    Board(String),
}

/// A [`Target`] found in a snapshot: the villages it covers and the box to print.
#[derive(Clone, Debug)]
pub struct Resolved {
    /// What was asked for.
    pub target: Target,
    /// Indexes of the villages printed in colour, in the snapshot.
    pub villages: Vec<usize>,
    /// The grid of a notice board, index in the snapshot.
    pub grid: Option<usize>,
    /// The town's 9-digit code.
    pub town: String,
    /// Lon/lat box of what is printed (buildings and context are fetched for it).
    pub bbox: Rect<f64>,
}

impl Target {
    /// Finds the target in `snap`: an unknown code, or a village with no active plan, is an error
    /// that says what there is.
    pub fn resolve(&self, snap: &Snapshot) -> Result<Resolved> {
        let known_villages = || {
            let n = snap.villages.len();
            let some: Vec<&str> = snap
                .villages
                .iter()
                .take(5)
                .map(|v| v.code.as_str())
                .collect();
            format!(
                "the store has {n} villages: {}{}",
                some.join(", "),
                if n > 5 { ", …" } else { "" }
            )
        };
        let (villages, grid) = match self {
            Target::Village(code) => {
                let i = snap
                    .villages
                    .iter()
                    .position(|v| v.code.as_str() == code)
                    .ok_or_else(|| PrintError::UnknownVillage {
                        code: code.clone(),
                        known: known_villages(),
                    })?;
                if snap.villages[i].plan_version.is_none() {
                    return Err(PrintError::NoPlan(code.clone()));
                }
                (vec![i], None)
            }
            Target::Town(code) => {
                let vs: Vec<usize> = (0..snap.villages.len())
                    .filter(|&i| snap.villages[i].code.as_str().starts_with(code.as_str()))
                    .collect();
                if code.len() != 9 || vs.is_empty() {
                    let mut towns: Vec<&str> = snap
                        .villages
                        .iter()
                        .map(|v| &v.code.as_str()[..9])
                        .collect();
                    towns.dedup();
                    return Err(PrintError::UnknownTown {
                        code: code.clone(),
                        known: format!("towns in the store: {}", towns.join(", ")),
                    });
                }
                (vs, None)
            }
            Target::Board(code) => {
                let g = snap
                    .grids
                    .iter()
                    .position(|g| g.code.as_str() == code)
                    .ok_or_else(|| PrintError::UnknownGrid(code.clone()))?;
                (vec![snap.grids[g].village], Some(g))
            }
        };
        let town = snap.villages[villages[0]].code.as_str()[..9].to_string();
        let rects = match grid {
            Some(g) => vec![snap.grids[g].geometry.bounding_rect()],
            None => villages
                .iter()
                .map(|&i| snap.villages[i].boundary.bounding_rect())
                .collect(),
        };
        let bbox = rects
            .into_iter()
            .flatten()
            .reduce(|a, b| {
                Rect::new(
                    (a.min().x.min(b.min().x), a.min().y.min(b.min().y)),
                    (a.max().x.max(b.max().x), a.max().y.max(b.max().y)),
                )
            })
            .unwrap_or_else(|| Rect::new((0.0, 0.0), (0.0, 0.0)));
        // a notice board shows the grid among its neighbours: half its size again all round
        let pad = if grid.is_some() { 0.5 } else { 0.04 };
        let (dx, dy) = (bbox.width() * pad, bbox.height() * pad);
        let bbox = Rect::new(
            (bbox.min().x - dx, bbox.min().y - dy),
            (bbox.max().x + dx, bbox.max().y + dy),
        );
        Ok(Resolved {
            target: self.clone(),
            villages,
            grid,
            town,
            bbox,
        })
    }
}

/// The options of a print.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Paper size.
    pub paper: Paper,
    /// Landscape instead of portrait.
    pub landscape: bool,
    /// The supervision phone of a notice board (监督电话); a blank line to fill in if `None`.
    pub supervision: Option<String>,
}

/// The page of `sheet` (a grid-division map, or a notice board for [`Target::Board`]) as
/// `format`.
pub fn render_sheet(
    sheet: &Sheet,
    font: &CjkFont,
    opts: &Options,
    format: Format,
) -> Result<Vec<u8>> {
    let page = Page::new(opts.paper, opts.landscape);
    let (svg, title) = match sheet.target {
        Target::Board(_) => (board::compose(sheet, font, page, opts), board::title(sheet)),
        _ => (map::compose(sheet, font, page), map::title(sheet)),
    };
    let date = sheet
        .focus_villages()
        .iter()
        .filter_map(|v| v.plan.as_ref().and_then(|p| p.date.clone()))
        .max();
    render::write(&svg, font, page, format, &render::PdfMeta { title, date })
}
