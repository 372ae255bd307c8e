//! Partitioning a town: each village's cells into grids (网格), each grid into micro-grids (微网格).
//!
//! Per village: [`cells`] cut it into faces; [`atoms`] keep units and villager groups whole; the
//! faces split into *pieces* (parts of a village in several pieces) and *banks* (sides of a river,
//! railway or expressway); each bank gets its share of grids and [`regions`] divides it. Grids are
//! then traced from the shared arcs ([`Topology::dissolve`](crate::topology::Topology::dissolve)),
//! numbered ([`codes`]) and divided again into micro-grids ([`micro`]).
//!
//! A planner's own assignment of buildings to grids (an edited `assignment.csv`, read by
//! [`assign_csv`]) becomes a plan the same way, face by face, in [`assign`].

pub mod assign;
pub mod assign_csv;
pub mod atoms;
pub mod borders;
pub mod cells;
pub mod codes;
pub mod colour;
pub mod micro;
pub mod quality;
pub mod regions;

use crate::model::{Dataset, GridCode, MicroGridCode, Mode, VillageCode, Weight};
use crate::topology::RingSet;
use rayon::prelude::*;
pub use regions::Band;
use regions::Target;
use serde::Serialize;

/// What a partition aims at.
#[derive(Clone, Debug)]
pub struct Options {
    /// Band of the grid weight (`--band`, 300..500 households by default).
    pub band: Band,
    /// Band of the micro-grid weight (`--micro`, 50..80 households by default).
    pub micro: Band,
    /// What the grid band counts (`--weight`).
    pub weight: Weight,
    /// Residents per grid to aim for as a second aim (1,500 by default; only when the band
    /// counts households).
    pub target_residents: f64,
    /// Seed for the refinement order.
    pub seed: u64,
    /// How far (metres) borders off roads and lines may move when straightened
    /// ([`borders`]); 0 leaves them as traced from the cells.
    pub straighten_m: f64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            band: Band {
                min: 300.0,
                max: 500.0,
            },
            micro: Band {
                min: 50.0,
                max: 80.0,
            },
            weight: Weight::Households,
            target_residents: 1500.0,
            seed: 0,
            straighten_m: borders::DEFAULT_TOLERANCE_M,
        }
    }
}

impl Options {
    /// The settings a plan keeps with it (a plan version's `params`), which
    /// [`from_params`](Options::from_params) reads back.
    ///
    /// ```
    /// use wangge::partition::Options;
    /// let o = Options { seed: 7, straighten_m: 12.5, ..Options::default() };
    /// let back = Options::from_params(&o.to_params().to_string());
    /// assert_eq!((back.seed, back.straighten_m, back.band), (7, 12.5, o.band));
    /// ```
    pub fn to_params(&self) -> serde_json::Value {
        serde_json::json!({
            "weight": self.weight.name(),
            "band": [self.band.min, self.band.max],
            "micro_band": [self.micro.min, self.micro.max],
            "target_residents": self.target_residents,
            "seed": self.seed,
            "straighten_m": self.straighten_m,
        })
    }

    /// The options a stored plan was made with (its `params`), defaults for what it does not
    /// say, except straightening: a plan made before borders were straightened says nothing
    /// about it and is kept as it was drawn.
    pub fn from_params(params: &str) -> Options {
        use serde_json::Value;
        let mut o = Options::default();
        let Ok(v) = serde_json::from_str::<Value>(params) else {
            return o;
        };
        let band = |x: &Value| {
            let (min, max) = (x.get(0)?.as_f64()?, x.get(1)?.as_f64()?);
            (min >= 0.0 && max > 0.0 && min <= max).then_some(Band { min, max })
        };
        if let Some(b) = v.get("band").and_then(band) {
            o.band = b;
        }
        if let Some(b) = v.get("micro_band").and_then(band) {
            o.micro = b;
        }
        if let Some(w) = v.get("weight").and_then(Value::as_str) {
            o.weight = Weight::parse(w);
        }
        if let Some(s) = v.get("seed").and_then(Value::as_u64) {
            o.seed = s;
        }
        if let Some(t) = v.get("target_residents").and_then(Value::as_f64) {
            o.target_residents = t;
        }
        o.straighten_m = v
            .get("straighten_m")
            .and_then(Value::as_f64)
            .filter(|m| m.is_finite() && *m >= 0.0)
            .unwrap_or(0.0);
        o
    }
}

/// A town's plan: every village's grids and micro-grids.
#[derive(Debug)]
pub struct Plan {
    /// One entry per input village, in input order.
    pub villages: Vec<VillagePlan>,
    /// What the micro-grid band counted.
    pub micro_weight: String,
    /// Grids and micro-grids that got the fifth colour.
    pub colours: colour::PlanColours,
}

/// What kind of thing a plan could not do as asked. Written in `report.json` as its
/// [`as_str`](IssueKind::as_str) name.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum IssueKind {
    /// A grid weighs less than the band's minimum.
    UnderBand,
    /// A grid weighs more than the band's maximum.
    OverBand,
    /// A grid crosses a hard barrier (a river, a highway).
    CrossesBarrier,
    /// A villager group (村民小组) is split between grids.
    SplitGroup,
    /// The village itself is in separate pieces.
    VillagePieces,
    /// The village needs more grids than its codes can number.
    TooManyGrids,
    /// A residential micro-grid weighs less than the micro band's minimum.
    MicroUnderBand,
    /// A residential micro-grid weighs more than the micro band's maximum.
    MicroOverBand,
    /// A unit's stated figures differ from the sums of the buildings inside it.
    UnitFiguresDiffer,
    /// Land between villages that no village's boundary holds.
    VillageGap,
    /// Land two villages' boundaries both hold.
    VillageOverlap,
}

impl IssueKind {
    /// Every kind, in declaration order.
    pub const ALL: [IssueKind; 11] = [
        IssueKind::UnderBand,
        IssueKind::OverBand,
        IssueKind::CrossesBarrier,
        IssueKind::SplitGroup,
        IssueKind::VillagePieces,
        IssueKind::TooManyGrids,
        IssueKind::MicroUnderBand,
        IssueKind::MicroOverBand,
        IssueKind::UnitFiguresDiffer,
        IssueKind::VillageGap,
        IssueKind::VillageOverlap,
    ];

    /// The name in `report.json`: `under_band`, `over_band`, ….
    ///
    /// ```
    /// use wangge::partition::IssueKind;
    /// assert_eq!(IssueKind::UnderBand.as_str(), "under_band");
    /// assert_eq!("split_group".parse::<IssueKind>(), Ok(IssueKind::SplitGroup));
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            IssueKind::UnderBand => "under_band",
            IssueKind::OverBand => "over_band",
            IssueKind::CrossesBarrier => "crosses_barrier",
            IssueKind::SplitGroup => "split_group",
            IssueKind::VillagePieces => "village_pieces",
            IssueKind::TooManyGrids => "too_many_grids",
            IssueKind::MicroUnderBand => "micro_under_band",
            IssueKind::MicroOverBand => "micro_over_band",
            IssueKind::UnitFiguresDiffer => "unit_figures_differ",
            IssueKind::VillageGap => "village_gap",
            IssueKind::VillageOverlap => "village_overlap",
        }
    }
}

impl std::fmt::Display for IssueKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not an [`IssueKind`]'s.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a kind of plan issue")]
pub struct UnknownIssueKind(pub String);

impl std::str::FromStr for IssueKind {
    type Err = UnknownIssueKind;
    fn from_str(s: &str) -> Result<IssueKind, UnknownIssueKind> {
        IssueKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownIssueKind(s.to_string()))
    }
}

/// Something the plan could not do as asked, and why.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Issue {
    /// The grid (or micro-grid) concerned, if one.
    pub code: Option<String>,
    /// What kind of issue.
    pub kind: IssueKind,
    /// The bound not met, if any.
    pub bound: Option<f64>,
    /// The value found, if any.
    pub value: Option<f64>,
    /// Why, in words.
    pub reason: String,
}

/// One grid (网格).
#[derive(Clone, Debug)]
pub struct GridPlan {
    /// 15-digit code.
    pub code: GridCode,
    /// Outline, traced from shared arcs.
    pub rings: RingSet,
    /// A point inside the grid (lon, lat), for labels.
    pub label: [f64; 2],
    /// Figures.
    pub figures: Figures,
    /// Which piece of the village it lies in (0 for a village in one piece).
    pub piece: usize,
    /// Its colour, an index into [`colour::PALETTE`]: no neighbouring grid has the same.
    pub color: u8,
}

/// Figures of a grid or micro-grid.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Figures {
    /// What the band counts.
    pub weight: f64,
    /// Households.
    pub households: f64,
    /// Residents.
    pub residents: f64,
    /// Area, m².
    pub area_m2: f64,
    /// Perimeter, m.
    pub perimeter_m: f64,
    /// Polsby–Popper compactness 4πA/P² (1 for a disc).
    pub polsby_popper: f64,
    /// Buildings inside.
    pub buildings: usize,
    /// Units inside.
    pub units: usize,
}

/// Why a micro-grid is what it is (declared in [`crate::model`], beside its text).
pub use crate::model::MicroKind;

/// One part of a building that was split across several micro-grids sharing its footprint.
#[derive(Clone, Debug, Serialize)]
pub struct Stack {
    /// The building's id.
    pub building: String,
    /// This part's number, from 1.
    pub part: u32,
    /// Number of parts.
    pub of: u32,
    /// What the part holds: a household range (户 1–41) or a workshop (车间 2).
    pub units: String,
}

/// One micro-grid (微网格).
#[derive(Clone, Debug)]
pub struct MicroPlan {
    /// 18-digit code.
    pub code: MicroGridCode,
    /// Index of its grid in [`VillagePlan::grids`].
    pub grid: usize,
    /// Outline (shared by all parts of one split building).
    pub rings: RingSet,
    /// A point inside (lon, lat).
    pub label: [f64; 2],
    /// Figures.
    pub figures: Figures,
    /// Why it is what it is.
    pub kind: MicroKind,
    /// For parts of a split building or firm.
    pub stack: Option<Stack>,
    /// Index of its footprint: parts of one building share it, every other micro-grid has its own.
    pub footprint: usize,
    /// Its colour, an index into [`colour::PALETTE`]: no neighbouring micro-grid has the same.
    pub color: u8,
}

/// Where a building or unit went.
#[derive(Clone, Debug)]
pub struct Assignment {
    /// `building` or `unit`.
    pub kind: &'static str,
    /// Its id.
    pub id: String,
    /// Grid index in the village plan, if inside some face.
    pub grid: Option<usize>,
    /// Micro-grid indices (several for a split building).
    pub micro: Vec<usize>,
}

/// A village's plan.
#[derive(Debug)]
pub struct VillagePlan {
    /// Village code.
    pub code: VillageCode,
    /// Village name.
    pub name: String,
    /// Mode of division.
    pub mode: Mode,
    /// Grids, in code order.
    pub grids: Vec<GridPlan>,
    /// Micro-grids, in code order.
    pub micro_grids: Vec<MicroPlan>,
    /// Buildings and units.
    pub assignment: Vec<Assignment>,
    /// Number of separate pieces the village is in.
    pub pieces: usize,
    /// Number of cells (faces) it was cut into.
    pub cells: usize,
    /// Total length of borders between grids, m.
    pub grid_border_m: f64,
    /// Of which on a barrier or group line, m.
    pub grid_border_on_lines_m: f64,
    /// What could not be done as asked.
    pub issues: Vec<Issue>,
}

/// Chooses how many regions a total weight `w` is split into, for `band`.
///
/// ```
/// use wangge::partition::{choose_k, Band};
/// let band = Band { min: 300.0, max: 500.0 };
/// assert_eq!(choose_k(2000.0, band, 100), 5);
/// assert_eq!(choose_k(520.0, band, 100), 1); // 520 over by 20 beats 2 × 260 under by 40 each
/// assert_eq!(choose_k(100.0, band, 100), 1);
/// ```
pub fn choose_k(w: f64, band: Band, positive_atoms: usize) -> usize {
    if w <= 0.0 {
        return 1;
    }
    let kmin = (w / band.max).ceil().max(1.0) as usize;
    let kmax = (w / band.min).floor() as usize;
    let k = if kmin <= kmax {
        let mid = (band.min + band.max) / 2.0;
        ((w / mid).round() as usize).clamp(kmin, kmax)
    } else {
        let viol = |k: usize| k as f64 * band.violation(w / k as f64);
        [kmax.max(1), kmin]
            .into_iter()
            .min_by(|&a, &b| viol(a).total_cmp(&viol(b)).then(a.cmp(&b)))
            .unwrap_or(1)
    };
    k.min(positive_atoms.max(1))
}

/// Partitions every village of `ds`. `progress` is called once per finished village.
pub fn partition(ds: &Dataset, opts: &Options, progress: &(dyn Fn() + Sync)) -> Plan {
    let nv = ds.villages.len();
    let mut bld: Vec<Vec<u32>> = vec![Vec::new(); nv];
    for (i, b) in ds.buildings.iter().enumerate() {
        bld[b.village].push(i as u32);
    }
    let mut units: Vec<Vec<u32>> = vec![Vec::new(); nv];
    for (i, u) in ds.units.iter().enumerate() {
        units[u.village].push(i as u32);
    }
    let has_households = ds.buildings.iter().any(|b| b.households > 0)
        || ds.units.iter().any(|u| u.households > 0.0);
    let micro_weight = if has_households {
        Weight::Households
    } else {
        opts.weight.clone()
    };
    // Largest villages first keeps both cores busy; results are put back in input order.
    let mut order: Vec<usize> = (0..nv).collect();
    order.sort_by_key(|&v| std::cmp::Reverse(bld[v].len() + units[v].len()));
    let mut done: Vec<(usize, VillagePlan)> = order
        .into_par_iter()
        .map(|v| {
            let p = village(ds, v, &bld[v], &units[v], opts, &micro_weight);
            progress();
            (v, p)
        })
        .collect();
    done.sort_by_key(|(v, _)| *v);
    let mut villages: Vec<VillagePlan> = done.into_iter().map(|(_, p)| p).collect();
    join_villages(&mut villages);
    let colours = colour::colour_plan(&mut villages, opts.seed);
    Plan {
        villages,
        micro_weight: micro_weight.name().to_string(),
        colours,
    }
}

/// Joins the villages' topologies along the borders they share ([`crate::topology::join`]): the
/// points where one village's cells meet the border are added to the other side's grids and
/// micro-grids, so neighbouring villages' grids share exact vertices.
fn join_villages(villages: &mut [VillagePlan]) {
    use crate::topology::join;
    let outlines: Vec<_> = villages
        .iter()
        .map(|v| join::outline(v.grids.iter().map(|g| &g.rings)))
        .collect();
    let added = join::join(&outlines);
    for (v, add) in villages.iter_mut().zip(&added) {
        for g in &mut v.grids {
            join::insert(&mut g.rings, add);
        }
        for m in &mut v.micro_grids {
            join::insert(&mut m.rings, add);
        }
    }
}

fn village(
    ds: &Dataset,
    vi: usize,
    bld: &[u32],
    unit_ids: &[u32],
    opts: &Options,
    micro_weight: &Weight,
) -> VillagePlan {
    let v = &ds.villages[vi];
    let cells = cells::build(ds, vi, bld, unit_ids, &opts.weight);
    let nf = cells.topo.faces.len();
    let arcs_of = atoms::face_arcs(&cells);
    let all_faces: Vec<u32> = (0..nf as u32).collect();
    let split_over = if unit_ids.is_empty() {
        opts.band.max
    } else {
        f64::INFINITY
    };
    let at = atoms::build(&cells, &arcs_of, &all_faces, &cells.weight, split_over);
    let g = &at.graph;
    let mut issues = Vec::new();
    let target = Target {
        band: opts.band,
        residents: (opts.weight == Weight::Households).then_some(opts.target_residents),
    };

    let all_atoms: Vec<u32> = (0..g.len() as u32).collect();
    let pieces = atoms::components(g, &all_atoms, |_, _| true);
    if pieces.len() > 1 {
        issues.push(Issue {
            code: None,
            kind: IssueKind::VillagePieces,
            bound: None,
            value: Some(pieces.len() as f64),
            reason: format!(
                "the village is in {} separate pieces; grids were allotted to each piece on its own",
                pieces.len()
            ),
        });
    }
    let mut grid_of_atom = vec![u32::MAX; g.len()];
    let mut grid_piece: Vec<usize> = Vec::new();
    // (weight of the bank, banks in its piece) of each grid
    let mut grid_bank: Vec<(f64, usize)> = Vec::new();
    let mut crossings: Vec<(Vec<u32>, String)> = Vec::new();
    for (pi, piece) in pieces.iter().enumerate() {
        // Banks: sides of hard barriers.
        let mut banks = atoms::components(g, piece, |a, li| {
            let l = &g.adj[a as usize][li];
            at.hard[a as usize][li] < l.len * 0.999
        });
        merge_small_banks(g, &mut banks, opts.band, &mut crossings);
        for (bi, bank) in banks.iter().enumerate() {
            let w: f64 = bank.iter().map(|&a| g.w[a as usize]).sum();
            let positive = bank.iter().filter(|&&a| g.w[a as usize] > 0.0).count();
            let k = choose_k(w, opts.band, positive);
            let seed = opts.seed ^ ((vi as u64) << 32) ^ ((pi as u64) << 16) ^ bi as u64;
            let whole = small_banks_in(bank, &crossings);
            let parts = gathered(&cells, &arcs_of, &at, bank, opts.band, {
                if whole.is_empty() {
                    regions::partition(g, bank, k, target, seed)
                } else {
                    keep_whole(g, bank, &whole, opts.band, target, seed)
                }
            });
            let base = grid_piece.len() as u32;
            let used = parts.iter().copied().max().map_or(0, |m| m + 1);
            for (&a, &p) in bank.iter().zip(&parts) {
                grid_of_atom[a as usize] = base + p;
            }
            grid_piece.extend(std::iter::repeat_n(pi, used as usize));
            grid_bank.extend(std::iter::repeat_n((w, banks.len()), used as usize));
        }
    }
    let mut grid_of_face: Vec<Option<u32>> = vec![None; nf];
    for (a, fs) in at.faces.iter().enumerate() {
        for &f in fs {
            grid_of_face[f as usize] = Some(grid_of_atom[a]);
        }
    }
    let ng = grid_piece.len();
    let traced = cells.topo.dissolve(&grid_of_face, ng);
    let order = codes::reading_order(&traced, &cells);
    // renumber grids in reading order
    let mut new_id = vec![0u32; ng];
    for (rank, &old) in order.iter().enumerate() {
        new_id[old] = rank as u32;
    }
    for gf in grid_of_face.iter_mut().flatten() {
        *gf = new_id[*gf as usize];
    }
    if v.mode == Mode::Rural && unit_ids.is_empty() {
        let code_of = |old: u32| v.code.grid(new_id[old as usize] + 1);
        report_split_groups(&cells, &at, &grid_of_atom, opts.band, &code_of, &mut issues);
    }
    let mut traced_sorted: Vec<RingSet> = vec![Vec::new(); ng];
    for (old, rs) in traced.into_iter().enumerate() {
        traced_sorted[new_id[old] as usize] = rs;
    }
    let figs = quality::figures(&cells, &grid_of_face, ng, &traced_sorted);
    let mut grids: Vec<GridPlan> = Vec::with_capacity(ng);
    for (i, rs) in traced_sorted.into_iter().enumerate() {
        let old = order[i];
        grids.push(GridPlan {
            code: v.code.grid(i as u32 + 1),
            label: quality::label_point(&rs),
            rings: rs,
            figures: figs[i].clone(),
            piece: grid_piece[old],
            color: 0,
        });
    }
    if ng > 999 {
        issues.push(Issue {
            code: None,
            kind: IssueKind::TooManyGrids,
            bound: Some(999.0),
            value: Some(ng as f64),
            reason: "a village code has room for 999 grids; codes past 999 have 4 digits".into(),
        });
    }
    // Band issues.
    for (gi, gp) in grids.iter().enumerate() {
        let w = gp.figures.weight;
        let (bank_w, banks) = grid_bank[order[gi]];
        let container = if banks > 1 {
            "its side of a river, railway or expressway"
        } else if pieces.len() > 1 {
            "its piece of the village"
        } else {
            "the whole village"
        };
        let unit = opts.weight.name();
        let (min, max) = (opts.band.min, opts.band.max);
        let why = || {
            if !opts.band.divides(bank_w) {
                format!("{container} holds {bank_w} {unit}, which do not divide into grids of {min}–{max}")
            } else {
                format!("no division of the {bank_w} {unit} around it into connected grids of {min}–{max} was found")
            }
        };
        if w < opts.band.min {
            let reason = if bank_w < min {
                format!("{container} holds no more than {bank_w} {unit}")
            } else {
                why()
            };
            issues.push(Issue {
                code: Some(gp.code.to_string()),
                kind: IssueKind::UnderBand,
                bound: Some(opts.band.min),
                value: Some(w),
                reason,
            });
        } else if w > opts.band.max {
            let heaviest = quality::heaviest_face(&cells, &grid_of_face, gi);
            let reason = if heaviest > opts.band.max {
                format!(
                    "one building or unit alone holds {heaviest} {}, over the maximum",
                    opts.weight.name()
                )
            } else {
                why()
            };
            issues.push(Issue {
                code: Some(gp.code.to_string()),
                kind: IssueKind::OverBand,
                bound: Some(opts.band.max),
                value: Some(w),
                reason,
            });
        }
    }
    // Barrier crossings forced by small banks: on the grid that took the small bank (a bank is
    // kept whole, but `gathered` may still move a villager group's piece of it), once per reason.
    let mut named: std::collections::BTreeSet<(u32, String)> = Default::default();
    for (atoms, what) in crossings {
        let mut took: Vec<u32> = atoms
            .iter()
            .map(|&a| new_id[grid_of_atom[a as usize] as usize])
            .collect();
        took.sort_unstable();
        took.dedup();
        for gi in took {
            if !named.insert((gi, what.clone())) {
                continue;
            }
            issues.push(Issue {
                code: Some(grids[gi as usize].code.to_string()),
                kind: IssueKind::CrossesBarrier,
                bound: None,
                value: None,
                reason: what.clone(),
            });
        }
    }
    let (mut border, on_lines) = quality::border_share(&cells, &grid_of_face);
    let (mut micro_grids, assignment) = micro::build(
        &cells,
        &arcs_of,
        ds,
        &grid_of_face,
        &grids,
        &opts.micro,
        micro_weight,
        opts.seed ^ (vi as u64) << 20,
        unit_ids,
        &mut issues,
    );
    if opts.straighten_m > 0.0 {
        border = borders::straighten(
            &cells,
            ds,
            bld,
            opts.straighten_m,
            &mut grids,
            &mut micro_grids,
        );
    }
    VillagePlan {
        code: v.code.clone(),
        name: v.name.clone(),
        mode: v.mode,
        grids,
        micro_grids,
        assignment,
        pieces: pieces.len(),
        cells: nf,
        grid_border_m: border,
        grid_border_on_lines_m: on_lines,
        issues,
    }
}

/// Banks lighter than the band's minimum join the neighbouring bank they share most border with;
/// each such join is recorded as a forced barrier crossing.
/// The small banks merged into `bank` across a barrier ([`merge_small_banks`]), each as a whole:
/// a bank merged into a small bank that was itself merged later counts with it.
fn small_banks_in<'c>(bank: &[u32], crossings: &'c [(Vec<u32>, String)]) -> Vec<&'c [u32]> {
    let in_bank: std::collections::HashSet<u32> = bank.iter().copied().collect();
    let sets: Vec<&[u32]> = crossings
        .iter()
        .map(|(atoms, _)| atoms.as_slice())
        .filter(|s| s.first().is_some_and(|a| in_bank.contains(a)))
        .collect();
    // merges nest (an earlier small bank lies inside a later one) or are apart: keep the largest
    sets.iter()
        .copied()
        .filter(|s| !sets.iter().any(|t| t.len() > s.len() && t.contains(&s[0])))
        .collect()
}

/// Divides `bank` into grids with each of `whole` (small banks merged across a barrier) kept in
/// one grid, so that a bank too small for a grid of its own crosses the barrier once. Returns the
/// grid of each atom of `bank`, in order.
fn keep_whole(
    g: &regions::Graph,
    bank: &[u32],
    whole: &[&[u32]],
    band: Band,
    target: Target,
    seed: u64,
) -> Vec<u32> {
    let (cg, members) = atoms::contract(g, bank, whole);
    let all: Vec<u32> = (0..cg.len() as u32).collect();
    let w: f64 = cg.w.iter().sum();
    let positive = cg.w.iter().filter(|&&x| x > 0.0).count();
    let parts = regions::partition(&cg, &all, choose_k(w, band, positive), target, seed);
    let mut part_of: std::collections::HashMap<u32, u32> = Default::default();
    for (ms, &p) in members.iter().zip(&parts) {
        for &a in ms {
            part_of.insert(a, p);
        }
    }
    bank.iter().map(|a| part_of[a]).collect()
}

/// `parts` (the grid of each atom of `bank`) after [`atoms::gather_groups`] has moved stray pieces
/// of villager groups to the grid holding the rest of their group.
fn gathered(
    cells: &cells::Cells,
    arcs_of: &[Vec<u32>],
    at: &atoms::Atoms,
    bank: &[u32],
    band: Band,
    parts: Vec<u32>,
) -> Vec<u32> {
    let mut labels: Vec<(u32, u32)> = bank
        .iter()
        .zip(&parts)
        .flat_map(|(&a, &p)| at.faces[a as usize].iter().map(move |&f| (f, p)))
        .collect();
    atoms::gather_groups(cells, arcs_of, &cells.weight, band, &mut labels);
    let part_of: std::collections::HashMap<u32, u32> = labels.into_iter().collect();
    bank.iter()
        .map(|&a| part_of[&at.faces[a as usize][0]])
        .collect()
}

fn merge_small_banks(
    g: &regions::Graph,
    banks: &mut Vec<Vec<u32>>,
    band: Band,
    crossings: &mut Vec<(Vec<u32>, String)>,
) {
    loop {
        let mut bank_of = vec![usize::MAX; g.len()];
        for (b, atoms) in banks.iter().enumerate() {
            for &a in atoms {
                bank_of[a as usize] = b;
            }
        }
        let weight = |b: &Vec<u32>| b.iter().map(|&a| g.w[a as usize]).sum::<f64>();
        // lightest bank under the minimum that has a neighbour
        let mut cand: Option<(f64, usize, usize)> = None;
        for (b, atoms) in banks.iter().enumerate() {
            let w = weight(atoms);
            if w >= band.min {
                continue;
            }
            let mut shared: std::collections::BTreeMap<usize, f64> = Default::default();
            for &a in atoms {
                for l in &g.adj[a as usize] {
                    let ob = bank_of[l.to as usize];
                    if ob != b && ob != usize::MAX {
                        *shared.entry(ob).or_default() += l.len;
                    }
                }
            }
            if let Some((&nb, _)) = shared
                .iter()
                .max_by(|x, y| x.1.total_cmp(y.1).then(y.0.cmp(x.0)))
            {
                if cand.is_none_or(|(cw, _, _)| w < cw) {
                    cand = Some((w, b, nb));
                }
            }
        }
        let Some((w, b, nb)) = cand else { break };
        let small = banks[b].clone();
        crossings.push((
            small.clone(),
            if w > 0.0 {
                format!(
                    "crosses a river, railway or expressway: the land on one side holds only {w} and cannot be a grid of its own"
                )
            } else {
                "crosses a river, railway or expressway onto land on the other side where nobody lives".into()
            },
        ));
        banks[nb].extend(small);
        banks[nb].sort_unstable();
        banks.remove(b);
    }
}

/// Grid codes as a list for a reason: `320583104200001, 320583104200002`.
fn codes_of<'a>(codes: impl Iterator<Item = &'a GridCode>) -> String {
    codes.map(|c| c.to_string()).collect::<Vec<_>>().join(", ")
}

/// Reports every villager group that ended up in more than one grid, and why.
fn report_split_groups(
    cells: &cells::Cells,
    at: &atoms::Atoms,
    grid_of_atom: &[u32],
    band: Band,
    code_of: &dyn Fn(u32) -> GridCode,
    issues: &mut Vec<Issue>,
) {
    // per group: (atoms, weight, grids holding its houses)
    let mut by_key: std::collections::BTreeMap<u32, (usize, f64, std::collections::BTreeSet<u32>)> =
        Default::default();
    for (a, fs) in at.faces.iter().enumerate() {
        if let Some(k) = cells.key[fs[0] as usize] {
            let e = by_key.entry(k).or_default();
            e.0 += 1;
            e.1 += at.graph.w[a];
            if fs.iter().any(|&f| !cells.buildings[f as usize].is_empty()) {
                e.2.insert(grid_of_atom[a]);
            }
        }
    }
    for (k, (_, w, grids)) in by_key {
        if grids.len() < 2 {
            continue;
        }
        let name = cells
            .group_names
            .get(k as usize)
            .cloned()
            .unwrap_or_default();
        let mut codes: Vec<GridCode> = grids.iter().map(|&g| code_of(g)).collect();
        codes.sort();
        let list = codes_of(codes.iter());
        let reason = if w > band.max {
            format!("villager group {name:?} alone holds {w}, over the maximum, so it was split over {} grids ({list})", grids.len())
        } else {
            format!(
                "villager group {name:?} lies in separate pieces on the ground (its houses' cells are cut apart by other groups' or by a barrier), so its pieces fell in {} grids ({list})",
                grids.len()
            )
        };
        issues.push(Issue {
            code: None,
            kind: IssueKind::SplitGroup,
            bound: Some(band.max),
            value: Some(w),
            reason,
        });
    }
}
