//! What a printed page shows, gathered from the map's snapshot: the villages and grids in the
//! box (those asked for in colour, the others as context), their figures and people, buildings,
//! roads and rivers, the town's name and the plan versions and dates.

use super::{Resolved, Target};
use crate::model::Barrier;
use crate::partition::colour;
use crate::snapshot::{BuildingRecord, Person, Role, Snapshot};
use geo::{BoundingRect, MultiPolygon, Point, Rect};
use std::collections::{BTreeMap, BTreeSet};

/// A plan version and the day it was saved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanStamp {
    /// Version number.
    pub version: i64,
    /// The day it was saved (`YYYY-MM-DD`), if known.
    pub date: Option<String>,
}

/// What the snapshot does not hold: the town's name and the day each active plan was saved.
#[derive(Clone, Debug, Default)]
pub struct Extras {
    /// The town's name (镇/街道), if the store has one that is not just its code.
    pub town_name: Option<String>,
    /// Day each village's active plan was saved, by village code.
    pub plan_dates: BTreeMap<String, String>,
}

/// A village on the page.
#[derive(Clone, Debug)]
pub struct VillageSheet {
    /// 12-digit code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Boundary.
    pub boundary: MultiPolygon<f64>,
    /// Whether it is one of the villages asked for (printed in colour).
    pub focus: bool,
    /// Its active plan.
    pub plan: Option<PlanStamp>,
}

/// A grid on the page.
#[derive(Clone, Debug)]
pub struct GridSheet {
    /// 15-digit code.
    pub code: String,
    /// Its short name: 第N网格 (N its sequence in the village).
    pub name: String,
    /// Index of its village in [`Sheet::villages`].
    pub village: usize,
    /// Outline.
    pub geometry: MultiPolygon<f64>,
    /// Households.
    pub households: f64,
    /// Residents.
    pub residents: f64,
    /// Area in m².
    pub area_m2: f64,
    /// Grid leader and workers.
    pub people: Vec<Person>,
    /// Index into [`crate::partition::colour::PALETTE`].
    pub colour: u8,
    /// Printed in colour with its label (a grid of a village asked for, or a notice board's grid).
    pub focus: bool,
}

impl GridSheet {
    /// The grid leader (网格长), if registered.
    pub fn leader(&self) -> Option<&Person> {
        self.people.iter().find(|p| p.role == Role::GridLeader)
    }
    /// The grid workers (网格员).
    pub fn workers(&self) -> impl Iterator<Item = &Person> {
        self.people.iter().filter(|p| p.role == Role::GridWorker)
    }
}

/// A building on the page: its footprint, else its point.
#[derive(Clone, Debug)]
pub struct BuildingShape {
    /// Footprint, when known.
    pub footprint: Option<MultiPolygon<f64>>,
    /// A point inside.
    pub point: Point<f64>,
}

/// Everything a page shows.
#[derive(Clone, Debug)]
pub struct Sheet {
    /// What was asked for.
    pub target: Target,
    /// The town's 9-digit code.
    pub town_code: String,
    /// The town's name, if known.
    pub town_name: Option<String>,
    /// Villages in the box (those asked for have `focus`).
    pub villages: Vec<VillageSheet>,
    /// Grids in the box, in code order.
    pub grids: Vec<GridSheet>,
    /// For each grid, the grids it shares a border with.
    pub adjacency: Vec<Vec<usize>>,
    /// Buildings in the box.
    pub buildings: Vec<BuildingShape>,
    /// Roads, rivers and railways meeting the box.
    pub barriers: Vec<Barrier>,
    /// The box printed.
    pub bbox: Rect<f64>,
    /// A notice board's grid, index in [`Sheet::grids`].
    pub board_grid: Option<usize>,
}

fn meets(a: &Rect<f64>, b: &Rect<f64>) -> bool {
    a.min().x <= b.max().x
        && b.min().x <= a.max().x
        && a.min().y <= b.max().y
        && b.min().y <= a.max().y
}

/// `第N网格` from a grid code's last three digits.
///
/// ```
/// assert_eq!(wangge::print::sheet::grid_name("320583104001007"), "第7网格");
/// ```
pub fn grid_name(code: &str) -> String {
    let seq = code
        .get(code.len().saturating_sub(3)..)
        .and_then(|s| s.parse::<u32>().ok());
    match seq {
        Some(n) => format!("第{n}网格"),
        None => code.to_string(),
    }
}

impl Sheet {
    /// Gathers the page of `r` from `snap` (grids, villages, barriers), `buildings` (those in
    /// `r.bbox`, fetched by the caller) and `extras`.
    pub fn new(
        snap: &Snapshot,
        r: &Resolved,
        buildings: Vec<BuildingRecord>,
        extras: Extras,
    ) -> Sheet {
        let focus_villages: BTreeSet<usize> = r.villages.iter().copied().collect();
        let mut vmap: BTreeMap<usize, usize> = BTreeMap::new();
        let mut villages = Vec::new();
        for (i, v) in snap.villages.iter().enumerate() {
            let Some(b) = v.boundary.bounding_rect() else {
                continue;
            };
            if !meets(&b, &r.bbox) {
                continue;
            }
            vmap.insert(i, villages.len());
            villages.push(VillageSheet {
                code: v.code.to_string(),
                name: v.name.clone(),
                boundary: v.boundary.clone(),
                focus: focus_villages.contains(&i) && r.grid.is_none(),
                plan: v.plan_version.map(|version| PlanStamp {
                    version,
                    date: extras.plan_dates.get(v.code.as_str()).cloned(),
                }),
            });
        }
        let mut grids = Vec::new();
        let mut stored: Vec<Option<u8>> = Vec::new();
        let mut board_grid = None;
        for (gi, g) in snap.grids.iter().enumerate() {
            let (Some(b), Some(&vi)) = (g.geometry.bounding_rect(), vmap.get(&g.village)) else {
                continue;
            };
            if !meets(&b, &r.bbox) {
                continue;
            }
            let focus = match r.grid {
                Some(bg) => bg == gi,
                None => focus_villages.contains(&g.village),
            };
            if r.grid == Some(gi) {
                board_grid = Some(grids.len());
            }
            grids.push(GridSheet {
                code: g.code.to_string(),
                name: grid_name(g.code.as_str()),
                village: vi,
                geometry: g.geometry.clone(),
                households: g.figures.households,
                residents: g.figures.residents,
                area_m2: g.figures.area_m2,
                people: g.people.clone(),
                colour: 0,
                focus,
            });
            stored.push(g.color);
        }
        let adjacency = adjacency(&grids);
        let colours = colours(&grids, &stored);
        for (g, c) in grids.iter_mut().zip(colours) {
            g.colour = c;
        }
        let barriers = snap
            .barriers
            .iter()
            .filter(|b| {
                b.lines
                    .iter()
                    .any(|l| l.bounding_rect().is_some_and(|bb| meets(&bb, &r.bbox)))
            })
            .cloned()
            .collect();
        let buildings = buildings
            .into_iter()
            .map(|b| BuildingShape {
                footprint: b.footprint,
                point: b.point,
            })
            .collect();
        Sheet {
            target: r.target.clone(),
            town_code: r.town.clone(),
            town_name: extras.town_name.filter(|n| n != &r.town && !n.is_empty()),
            villages,
            grids,
            adjacency,
            buildings,
            barriers,
            bbox: r.bbox,
            board_grid,
        }
    }

    /// The town's name as printed: its name, else `镇/街道 <code>`.
    pub fn town_label(&self) -> String {
        match &self.town_name {
            Some(n) => n.clone(),
            None => format!("镇/街道 {}", self.town_code),
        }
    }

    /// The grids printed in colour, in code order.
    pub fn focus_grids(&self) -> impl Iterator<Item = (usize, &GridSheet)> {
        self.grids.iter().enumerate().filter(|(_, g)| g.focus)
    }

    /// The villages asked for (for a notice board, the board grid's village).
    pub fn focus_villages(&self) -> Vec<&VillageSheet> {
        match self.board_grid {
            Some(g) => vec![&self.villages[self.grids[g].village]],
            None => self.villages.iter().filter(|v| v.focus).collect(),
        }
    }
}

/// Who borders whom (grid indices), by the same rule the map colouring uses
/// ([`crate::partition::colour::borders`]): across village borders too, not at a single point.
fn adjacency(grids: &[GridSheet]) -> Vec<Vec<usize>> {
    let shapes: Vec<&MultiPolygon<f64>> = grids.iter().map(|g| &g.geometry).collect();
    let graph = colour::borders(&shapes);
    (0..grids.len())
        .map(|i| graph.neighbours(i).to_vec())
        .collect()
}

/// The stored map colour of each grid; where a plan has none (stored before colours were), a
/// colouring of the printed grids by the engine's rule, keeping the stored ones.
fn colours(grids: &[GridSheet], stored: &[Option<u8>]) -> Vec<u8> {
    if let Some(all) = stored.iter().copied().collect::<Option<Vec<u8>>>() {
        return all;
    }
    let shapes: Vec<&MultiPolygon<f64>> = grids.iter().map(|g| &g.geometry).collect();
    let graph = colour::borders(&shapes);
    let pinned: Vec<bool> = stored.iter().map(Option::is_some).collect();
    colour::colour(&graph, stored, &pinned, 0).colors
}
