//! An independent check of a plan (`wangge check`): every rule a plan must obey, recomputed from
//! the plan's geometry, its building → grid assignment and the input data — never from the figures
//! or the excuses the plan carries, which are themselves checked.
//!
//! The check is a second opinion on the engine: it uses geo's point-in-polygon, interior points
//! and boolean operations on the polygons as written, and shares no code with [`crate::topology`]
//! or [`crate::partition`] (only the [`model`](crate::model) types and the
//! [`Band`] bounds). A plan someone edited by hand or drew in another tool
//! is checked the same way.
//!
//! What is checked ([`Finding`] has one variant per way a rule can fail, each naming the village,
//! grid, micro-grid, building or group):
//! - weights and figures: each grid's and micro-grid's weight, households, residents, buildings,
//!   units and area recomputed and compared with the figures the plan carries ([`items`]);
//! - the band: a grid outside it needs an excuse that holds ([`excuse`]);
//! - every building (its point, or a point inside its footprint) and every unit lies in the grid
//!   and micro-grid it is assigned to; no code that does not exist; every one assigned once;
//! - grids tile their village and micro-grids their grid, up to [`AREA_TOLERANCE_M2`] of gap,
//!   overlap or overhang; each is one piece ([`tiling`]);
//! - codes are well-formed and unique, micro-grid codes extend their grid's, grid codes number
//!   west→east then north→south, and every label lies inside its polygon ([`codes`]);
//! - hard barriers (rivers, railways, expressways) crossed and villager groups split, each listed
//!   unless the report's excuse for it holds;
//! - every excuse in the report is true: a reason that does not hold is itself a finding;
//! - two grids (or micro-grids) that share a border do not share a map colour ([`colours`]).
//!
//! ```
//! use wangge::check::{check, Finding, Rules};
//! use wangge::check::plan::PlanToCheck;
//! use wangge::model::Dataset;
//! // an empty plan of an empty town breaks no rule
//! assert!(check(&PlanToCheck::default(), &Dataset::default(), &Rules::default()).is_empty());
//! ```

pub mod codes;
pub mod colours;
pub mod excuse;
pub mod geom;
pub mod items;
pub mod plan;
pub mod tiling;

use crate::model::{Dataset, Weight};
use crate::partition::Band;
use plan::PlanToCheck;
use serde::Serialize;
use std::fmt;

/// Gaps, overlaps and overhangs smaller than this many square metres (per village, grid or pair)
/// are taken as rounding of the boolean operations, not as a broken rule.
pub const AREA_TOLERANCE_M2: f64 = 1.0;

/// Relative tolerance of a carried area figure against the recomputed one (the engine measures in
/// its own planar frame, the check in an equirectangular one around each polygon).
pub const AREA_FIGURE_TOLERANCE: f64 = 0.005;

/// What a plan is checked against.
#[derive(Clone, Debug)]
pub struct Rules {
    /// The grid band, counted in `weight`.
    pub band: Band,
    /// The micro-grid band, counted in `micro_weight`.
    pub micro: Band,
    /// What the grid band counts.
    pub weight: Weight,
    /// What the micro-grid band counts.
    pub micro_weight: Weight,
    /// Whether grid codes must be numbered 001, 002, … in reading order (a fresh plan); a stored
    /// version that kept its predecessors' codes is not numbered afresh.
    pub reading_order: bool,
}

impl Default for Rules {
    /// The partitioner's defaults (300..500 households, micro-grids 50..80), a fresh plan.
    fn default() -> Self {
        let o = crate::partition::Options::default();
        Rules {
            band: o.band,
            micro: o.micro,
            weight: o.weight,
            micro_weight: Weight::Households,
            reading_order: true,
        }
    }
}

/// Grid or micro-grid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// A grid (网格).
    Grid,
    /// A micro-grid (微网格).
    Micro,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Grid => "grid",
            Level::Micro => "micro-grid",
        })
    }
}

/// A building or a unit, by its id.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Item {
    /// `building` or `unit`.
    pub kind: ItemKind,
    /// Its id in the input.
    pub id: String,
}

/// Whether an assignment row is a building or a unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    /// A building (楼幢) or house.
    Building,
    /// A ready-made unit polygon.
    Unit,
}

impl fmt::Display for Item {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let k = match self.kind {
            ItemKind::Building => "building",
            ItemKind::Unit => "unit",
        };
        write!(f, "{k} {}", self.id)
    }
}

/// A figure a grid or micro-grid carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// What the band counts.
    Weight,
    /// Households.
    Households,
    /// Residents.
    Residents,
    /// Number of buildings.
    Buildings,
    /// Number of units.
    Units,
    /// Area in m².
    AreaM2,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::Weight => "weight",
            Field::Households => "households",
            Field::Residents => "residents",
            Field::Buildings => "buildings",
            Field::Units => "units",
            Field::AreaM2 => "area_m2",
        })
    }
}

/// One broken rule.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Finding {
    /// A grid's (or residential micro-grid's) recomputed weight is outside its band and nothing
    /// excuses it.
    OutOfBand {
        /// Grid or micro-grid.
        level: Level,
        /// Its code.
        code: String,
        /// Its weight, recomputed.
        weight: f64,
        /// The band's bounds.
        min: f64,
        /// The band's upper bound.
        max: f64,
    },
    /// A figure the plan carries disagrees with the one recomputed from the input.
    FigureMismatch {
        /// Grid or micro-grid.
        level: Level,
        /// Its code.
        code: String,
        /// Which figure.
        field: Field,
        /// What the plan says.
        claimed: f64,
        /// What the input gives.
        actual: f64,
    },
    /// A building's point (or a point inside its footprint) or a unit lies outside its grid or
    /// micro-grid.
    OutsideItsPolygon {
        /// The building or unit.
        item: Item,
        /// Grid or micro-grid.
        level: Level,
        /// The code it is assigned to.
        code: String,
    },
    /// An assignment row names a grid or micro-grid that the plan does not have.
    UnknownCode {
        /// The building or unit.
        item: Item,
        /// Grid or micro-grid.
        level: Level,
        /// The code.
        code: String,
    },
    /// An assignment row's micro-grid belongs to another grid than the row's grid.
    MicroOfAnotherGrid {
        /// The building or unit.
        item: Item,
        /// The micro-grid.
        micro: String,
        /// The row's grid.
        grid: String,
    },
    /// An assignment row names a building or unit that the input does not have.
    UnknownItem {
        /// The id.
        item: Item,
    },
    /// A building or unit of the input has no grid.
    Unassigned {
        /// The building or unit.
        item: Item,
    },
    /// A building or unit has more than one assignment row.
    AssignedTwice {
        /// The building or unit.
        item: Item,
        /// How many rows.
        rows: usize,
    },
    /// An assignment row's village is not the village the building or unit lies in.
    WrongVillage {
        /// The building or unit.
        item: Item,
        /// The row's village code.
        row: String,
        /// The village it lies in.
        actual: String,
    },
    /// A grid names a village the input does not have, or a village has no grid.
    VillageWithoutGrids {
        /// The village code.
        village: String,
    },
    /// A grid's village is not in the input.
    UnknownVillage {
        /// The grid.
        grid: String,
        /// The village code it names.
        village: String,
    },
    /// Land of a village (or of a grid) that no grid (micro-grid) covers.
    Gap {
        /// Grid (a village's grids) or micro-grid (a grid's micro-grids).
        level: Level,
        /// The village or grid code.
        within: String,
        /// Square metres uncovered.
        m2: f64,
    },
    /// Two grids (or two micro-grids of one grid) overlap.
    Overlap {
        /// Grid or micro-grid.
        level: Level,
        /// One of them.
        a: String,
        /// The other.
        b: String,
        /// Square metres in both.
        m2: f64,
    },
    /// A grid sticks out of its village, or a micro-grid out of its grid.
    Overhang {
        /// Grid or micro-grid.
        level: Level,
        /// Its code.
        code: String,
        /// The village or grid it should lie in.
        within: String,
        /// Square metres outside.
        m2: f64,
    },
    /// A grid without micro-grids.
    GridWithoutMicro {
        /// The grid.
        grid: String,
    },
    /// A micro-grid names a grid the plan does not have.
    MicroWithoutGrid {
        /// The micro-grid.
        micro: String,
        /// The grid code it names.
        grid: String,
    },
    /// A grid or micro-grid in several pieces.
    NotOnePiece {
        /// Grid or micro-grid.
        level: Level,
        /// Its code.
        code: String,
        /// Pieces.
        pieces: usize,
    },
    /// A code that is not village (grid) code + 3 digits.
    BadCode {
        /// Grid or micro-grid.
        level: Level,
        /// The code.
        code: String,
        /// The code it should extend.
        parent: String,
    },
    /// Two grids or micro-grids with one code.
    DuplicateCode {
        /// Grid or micro-grid.
        level: Level,
        /// The code.
        code: String,
    },
    /// Grid codes of a village not numbered 001… west→east, then north→south.
    OutOfReadingOrder {
        /// The village.
        village: String,
        /// The grid numbered first.
        first: String,
        /// The grid that should come before it.
        second: String,
    },
    /// Sequence numbers of a fresh plan are not 1, 2, … n.
    SequenceGap {
        /// The village.
        village: String,
        /// The code missing from 001…n.
        missing: String,
    },
    /// A label point not strictly inside its polygon.
    LabelOutside {
        /// Grid or micro-grid.
        level: Level,
        /// Its code.
        code: String,
    },
    /// A grid holds people on both sides of a river, railway or expressway and no true excuse says
    /// why.
    CrossesBarrier {
        /// The grid.
        grid: String,
        /// The weight on each side it holds people on, heaviest first.
        sides: Vec<f64>,
    },
    /// A villager group's houses are in several grids and no true excuse says why.
    SplitGroup {
        /// The village.
        village: String,
        /// The group's name.
        group: String,
        /// The grids its houses are in.
        grids: Vec<String>,
    },
    /// An excuse in the report that does not hold.
    FalseExcuse {
        /// The village.
        village: String,
        /// The grid or micro-grid it is about, if one.
        code: Option<String>,
        /// The issue's kind (`under_band`, …).
        issue: String,
        /// What the report says.
        reason: String,
        /// Why it does not hold.
        why: String,
    },
    /// Two grids (or micro-grids) that share a border have the same map colour.
    SameColourNeighbours {
        /// Grid or micro-grid.
        level: Level,
        /// One of them.
        a: String,
        /// The other.
        b: String,
        /// The colour both have.
        color: u8,
        /// The length of border they share, m.
        border_m: f64,
    },
}

fn num(x: f64) -> String {
    let r = (x * 1000.0).round() / 1000.0;
    format!("{r}")
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Finding::*;
        match self {
            OutOfBand { level, code, weight, min, max } => write!(
                f,
                "{level} {code}: weight {} is outside the band {min}..{max} and no excuse holds",
                num(*weight)
            ),
            FigureMismatch { level, code, field, claimed, actual } => write!(
                f,
                "{level} {code}: {field} is {} in the plan, {} from the input",
                num(*claimed),
                num(*actual)
            ),
            OutsideItsPolygon { item, level, code } => {
                write!(f, "{item} lies outside its {level} {code}")
            }
            UnknownCode { item, level, code } => {
                write!(f, "{item} is assigned to {level} {code}, which the plan does not have")
            }
            MicroOfAnotherGrid { item, micro, grid } => write!(
                f,
                "{item} is assigned to grid {grid} and micro-grid {micro} of another grid"
            ),
            UnknownItem { item } => {
                write!(f, "{item} is in the assignment but not in the input")
            }
            Unassigned { item } => write!(f, "{item} has no grid"),
            AssignedTwice { item, rows } => write!(f, "{item} is assigned {rows} times"),
            WrongVillage { item, row, actual } => write!(
                f,
                "{item} is assigned in village {row} but lies in village {actual}"
            ),
            VillageWithoutGrids { village } => write!(f, "village {village} has no grids"),
            UnknownVillage { grid, village } => {
                write!(f, "grid {grid} names village {village}, which the input does not have")
            }
            Gap { level, within, m2 } => {
                let of = match level {
                    Level::Grid => "village",
                    Level::Micro => "grid",
                };
                write!(f, "{of} {within}: {} m² covered by no {level}", num(*m2))
            }
            Overlap { level, a, b, m2 } => {
                write!(f, "{level}s {a} and {b} overlap by {} m²", num(*m2))
            }
            Overhang { level, code, within, m2 } => write!(
                f,
                "{level} {code} sticks out of {within} by {} m²",
                num(*m2)
            ),
            GridWithoutMicro { grid } => write!(f, "grid {grid} has no micro-grids"),
            MicroWithoutGrid { micro, grid } => {
                write!(f, "micro-grid {micro} names grid {grid}, which the plan does not have")
            }
            NotOnePiece { level, code, pieces } => {
                write!(f, "{level} {code} is in {pieces} pieces")
            }
            BadCode { level, code, parent } => {
                write!(f, "{level} code {code} is not {parent} + 3 digits")
            }
            DuplicateCode { level, code } => write!(f, "{level} code {code} is used twice"),
            OutOfReadingOrder { village, first, second } => write!(
                f,
                "village {village}: grid {second} lies before grid {first} west→east, north→south but is numbered after it"
            ),
            SequenceGap { village, missing } => write!(
                f,
                "village {village}: grid codes are not numbered 001…n ({missing} is missing)"
            ),
            LabelOutside { level, code } => {
                write!(f, "{level} {code}: its label point is not inside it")
            }
            CrossesBarrier { grid, sides } => write!(
                f,
                "grid {grid} holds people on {} sides of a river, railway or expressway ({}) and no excuse holds",
                sides.len(),
                sides.iter().map(|w| num(*w)).collect::<Vec<_>>().join(" / ")
            ),
            SplitGroup { village, group, grids } => write!(
                f,
                "village {village}: villager group {group} is split over grids {} and no excuse holds",
                grids.join(", ")
            ),
            FalseExcuse { village, code, issue, reason, why } => write!(
                f,
                "village {village}{}: the report's {issue} excuse \"{reason}\" does not hold: {why}",
                code.as_ref().map(|c| format!(", {c}")).unwrap_or_default()
            ),
            SameColourNeighbours { level, a, b, color, border_m } => write!(
                f,
                "{level}s {a} and {b} share {} m of border and both have colour {color}",
                num(*border_m)
            ),
        }
    }
}

/// Checks every rule of `plan` against the input `ds`; returns every finding (empty when every
/// rule holds), in a stable order.
pub fn check(plan: &PlanToCheck, ds: &Dataset, rules: &Rules) -> Vec<Finding> {
    let ctx = items::Context::new(plan, ds, rules);
    let mut out = Vec::new();
    out.extend(codes::check(plan, ds, rules));
    out.extend(tiling::check(plan, ds));
    out.extend(ctx.check_assignment());
    out.extend(ctx.check_figures());
    out.extend(excuse::check(&ctx));
    let grids: Vec<colours::Coloured<'_>> = plan
        .grids
        .iter()
        .map(|g| colours::Coloured {
            code: &g.code,
            color: g.color,
            geometry: &g.geometry,
        })
        .collect();
    out.extend(colours::check(Level::Grid, &grids));
    let micro: Vec<colours::Coloured<'_>> = plan
        .micro
        .iter()
        .map(|m| colours::Coloured {
            code: &m.code,
            color: m.color,
            geometry: &m.geometry,
        })
        .collect();
    out.extend(colours::check(Level::Micro, &micro));
    out
}
