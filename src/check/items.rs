//! Buildings and units against the assignment: each assigned once, to codes that exist, in its own
//! village, lying in its grid and micro-grid; and every grid's and micro-grid's figures recomputed
//! from what is assigned to it.

use super::geom::{area_m2, difference_m2, holds, inside_point};
use super::plan::{Claimed, PlanToCheck};
use super::{
    Field, Finding, Item, ItemKind, Level, Rules, AREA_FIGURE_TOLERANCE, AREA_TOLERANCE_M2,
};
use crate::model::{Dataset, Weight};
use geo::Point;
use std::collections::{BTreeMap, HashMap};

/// A building or unit of the input: which, and its index in `Dataset::buildings` / `units`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ref {
    /// Building or unit.
    pub kind: ItemKind,
    /// Index in the dataset's list of that kind.
    pub index: usize,
}

/// Sums of what is assigned to a grid or micro-grid.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    /// What the band counts.
    pub weight: f64,
    /// Households.
    pub households: f64,
    /// Residents.
    pub residents: f64,
    /// Buildings.
    pub buildings: usize,
    /// Units.
    pub units: usize,
}

/// What the check knows once the plan and the input are read together.
pub struct Context<'a> {
    /// The plan.
    pub plan: &'a PlanToCheck,
    /// The input.
    pub ds: &'a Dataset,
    /// The rules.
    pub rules: &'a Rules,
    /// Grid index by code.
    pub grid_by_code: HashMap<&'a str, usize>,
    /// Micro-grid index by code (the first of a repeated code).
    pub micro_by_code: HashMap<&'a str, usize>,
    /// Input item by kind and id.
    pub item_by_id: HashMap<(ItemKind, &'a str), Ref>,
    /// The grid each item is assigned to (by its first row naming a grid the plan has).
    pub grid_of: HashMap<Ref, usize>,
    /// Items of each grid.
    pub items_of_grid: Vec<Vec<Ref>>,
    /// Recomputed figures of each grid.
    pub grid_tally: Vec<Tally>,
    /// Recomputed figures of each micro-grid (counted in the micro-grid weight), from the items
    /// assigned to it alone.
    pub micro_tally: Vec<Tally>,
    /// Items assigned to each micro-grid alone.
    pub items_of_micro: Vec<Vec<Ref>>,
    /// Whether a micro-grid holds a part of a split building (several micro-grids in one row).
    pub micro_has_part: Vec<bool>,
}

/// The value of `weight` for an item.
pub fn weight_of(ds: &Dataset, r: Ref, weight: &Weight) -> f64 {
    let (h, p, c) = parts(ds, r);
    match weight {
        Weight::Households => h,
        Weight::Residents => p,
        Weight::Field(_) => c.unwrap_or(0.0),
    }
}

/// An item's figures. Where a village has units, they carry their buildings' sums (given both
/// files, `ingest` makes them so), and a building of it adds nothing of its own.
fn parts(ds: &Dataset, r: Ref) -> (f64, f64, Option<f64>) {
    match r.kind {
        ItemKind::Building => {
            let b = &ds.buildings[r.index];
            if ds.units.iter().any(|u| u.village == b.village) {
                return (0.0, 0.0, b.custom.map(|_| 0.0));
            }
            (b.households as f64, b.residents as f64, b.custom)
        }
        ItemKind::Unit => {
            let u = &ds.units[r.index];
            (u.households, u.residents, u.custom)
        }
    }
}

/// The village index of an item.
pub fn village_of(ds: &Dataset, r: Ref) -> usize {
    match r.kind {
        ItemKind::Building => ds.buildings[r.index].village,
        ItemKind::Unit => ds.units[r.index].village,
    }
}

/// The point an item counts at: a building's point, or a point inside its footprint (recomputed),
/// or a point inside a unit.
pub fn point_of(ds: &Dataset, r: Ref) -> Option<Point<f64>> {
    match r.kind {
        ItemKind::Building => {
            let b = &ds.buildings[r.index];
            Some(
                b.footprint
                    .as_ref()
                    .and_then(inside_point)
                    .unwrap_or(b.point),
            )
        }
        ItemKind::Unit => inside_point(&ds.units[r.index].area),
    }
}

fn item(ds: &Dataset, r: Ref) -> Item {
    Item {
        kind: r.kind,
        id: match r.kind {
            ItemKind::Building => ds.buildings[r.index].id.clone(),
            ItemKind::Unit => ds.units[r.index].id.clone(),
        },
    }
}

fn add(t: &mut Tally, ds: &Dataset, r: Ref, weight: &Weight) {
    let (h, p, _) = parts(ds, r);
    t.weight += weight_of(ds, r, weight);
    t.households += h;
    t.residents += p;
    match r.kind {
        ItemKind::Building => t.buildings += 1,
        ItemKind::Unit => t.units += 1,
    }
}

fn differs(a: f64, b: f64) -> bool {
    (a - b).abs() > 1e-5 + 1e-9 * b.abs()
}

/// Findings of figures the plan carries against recomputed ones; `area` is the recomputed area.
fn compare(level: Level, code: &str, c: &Claimed, t: &Tally, area: Option<f64>) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut cmp = |field: Field, claimed: Option<f64>, actual: f64, bad: bool| {
        if let (Some(claimed), true) = (claimed, bad) {
            out.push(Finding::FigureMismatch {
                level,
                code: code.to_string(),
                field,
                claimed,
                actual,
            });
        }
    };
    let num = |claimed: Option<f64>, actual: f64| claimed.is_some_and(|c| differs(c, actual));
    cmp(Field::Weight, c.weight, t.weight, num(c.weight, t.weight));
    cmp(
        Field::Households,
        c.households,
        t.households,
        num(c.households, t.households),
    );
    cmp(
        Field::Residents,
        c.residents,
        t.residents,
        num(c.residents, t.residents),
    );
    let nb = t.buildings as f64;
    cmp(Field::Buildings, c.buildings, nb, num(c.buildings, nb));
    let nu = t.units as f64;
    cmp(Field::Units, c.units, nu, num(c.units, nu));
    if let Some(a) = area {
        let bad = c
            .area_m2
            .is_some_and(|x| (x - a).abs() > AREA_TOLERANCE_M2 + AREA_FIGURE_TOLERANCE * a);
        cmp(Field::AreaM2, c.area_m2, a, bad);
    }
    out
}

impl<'a> Context<'a> {
    /// Reads the plan and the input together.
    pub fn new(plan: &'a PlanToCheck, ds: &'a Dataset, rules: &'a Rules) -> Context<'a> {
        let mut grid_by_code = HashMap::new();
        for (i, g) in plan.grids.iter().enumerate() {
            grid_by_code.entry(g.code.as_str()).or_insert(i);
        }
        let mut micro_by_code = HashMap::new();
        for (i, m) in plan.micro.iter().enumerate() {
            micro_by_code.entry(m.code.as_str()).or_insert(i);
        }
        let mut item_by_id = HashMap::new();
        for (index, b) in ds.buildings.iter().enumerate() {
            let r = Ref {
                kind: ItemKind::Building,
                index,
            };
            item_by_id.insert((ItemKind::Building, b.id.as_str()), r);
        }
        for (index, u) in ds.units.iter().enumerate() {
            let r = Ref {
                kind: ItemKind::Unit,
                index,
            };
            item_by_id.insert((ItemKind::Unit, u.id.as_str()), r);
        }
        let mut grid_of = HashMap::new();
        let mut items_of_grid = vec![Vec::new(); plan.grids.len()];
        let mut grid_tally = vec![Tally::default(); plan.grids.len()];
        for row in &plan.rows {
            let (Some(&r), Some(&g)) = (
                item_by_id.get(&(row.item.kind, row.item.id.as_str())),
                grid_by_code.get(row.grid.as_str()),
            ) else {
                continue;
            };
            if grid_of.contains_key(&r) {
                continue;
            }
            grid_of.insert(r, g);
            items_of_grid[g].push(r);
            add(&mut grid_tally[g], ds, r, &rules.weight);
        }
        let nm = plan.micro.len();
        let (mut micro_tally, mut items_of_micro) =
            (vec![Tally::default(); nm], vec![Vec::new(); nm]);
        let mut micro_has_part = vec![false; nm];
        for row in &plan.rows {
            let Some(&r) = item_by_id.get(&(row.item.kind, row.item.id.as_str())) else {
                continue;
            };
            let ms: Vec<usize> = row
                .micro
                .iter()
                .filter_map(|c| micro_by_code.get(c.as_str()).copied())
                .collect();
            match ms.as_slice() {
                [m] => {
                    add(&mut micro_tally[*m], ds, r, &rules.micro_weight);
                    items_of_micro[*m].push(r);
                }
                ms => ms.iter().for_each(|&m| micro_has_part[m] = true),
            }
        }
        Context {
            plan,
            ds,
            rules,
            grid_by_code,
            micro_by_code,
            item_by_id,
            grid_of,
            items_of_grid,
            grid_tally,
            micro_tally,
            items_of_micro,
            micro_has_part,
        }
    }

    /// Each item assigned once, to codes that exist, in its own village, inside its polygons.
    pub fn check_assignment(&self) -> Vec<Finding> {
        let mut out = Vec::new();
        let mut rows_of: BTreeMap<Ref, usize> = BTreeMap::new();
        for row in &self.plan.rows {
            let Some(&r) = self.item_by_id.get(&(row.item.kind, row.item.id.as_str())) else {
                out.push(Finding::UnknownItem {
                    item: row.item.clone(),
                });
                continue;
            };
            *rows_of.entry(r).or_default() += 1;
            out.extend(self.check_row(row, r));
        }
        let all = (0..self.ds.buildings.len())
            .map(|index| Ref {
                kind: ItemKind::Building,
                index,
            })
            .chain((0..self.ds.units.len()).map(|index| Ref {
                kind: ItemKind::Unit,
                index,
            }));
        for r in all {
            match rows_of.get(&r).copied().unwrap_or(0) {
                0 => out.push(Finding::Unassigned {
                    item: item(self.ds, r),
                }),
                1 => {}
                n => out.push(Finding::AssignedTwice {
                    item: item(self.ds, r),
                    rows: n,
                }),
            }
        }
        out
    }

    fn check_row(&self, row: &super::plan::PlanRow, r: Ref) -> Vec<Finding> {
        let mut out = Vec::new();
        let ds = self.ds;
        let actual = ds.villages[village_of(ds, r)].code.as_str();
        if row.village != actual {
            out.push(Finding::WrongVillage {
                item: row.item.clone(),
                row: row.village.clone(),
                actual: actual.to_string(),
            });
        }
        if row.grid.is_empty() {
            out.push(Finding::Unassigned {
                item: row.item.clone(),
            });
            return out;
        }
        let Some(&g) = self.grid_by_code.get(row.grid.as_str()) else {
            out.push(Finding::UnknownCode {
                item: row.item.clone(),
                level: Level::Grid,
                code: row.grid.clone(),
            });
            return out;
        };
        let grid = &self.plan.grids[g];
        if !self.lies_in(r, &grid.geometry) {
            out.push(Finding::OutsideItsPolygon {
                item: row.item.clone(),
                level: Level::Grid,
                code: row.grid.clone(),
            });
        }
        if row.micro.is_empty() {
            out.push(Finding::UnknownCode {
                item: row.item.clone(),
                level: Level::Micro,
                code: String::new(),
            });
        }
        for mc in &row.micro {
            let Some(&m) = self.micro_by_code.get(mc.as_str()) else {
                out.push(Finding::UnknownCode {
                    item: row.item.clone(),
                    level: Level::Micro,
                    code: mc.clone(),
                });
                continue;
            };
            let micro = &self.plan.micro[m];
            if micro.grid != row.grid {
                out.push(Finding::MicroOfAnotherGrid {
                    item: row.item.clone(),
                    micro: mc.clone(),
                    grid: row.grid.clone(),
                });
            }
            if !self.lies_in(r, &micro.geometry) {
                out.push(Finding::OutsideItsPolygon {
                    item: row.item.clone(),
                    level: Level::Micro,
                    code: mc.clone(),
                });
            }
        }
        out
    }

    /// Whether an item lies in `area`: its point strictly inside, and a unit's outline no more
    /// than the area tolerance outside.
    fn lies_in(&self, r: Ref, area: &geo::MultiPolygon<f64>) -> bool {
        let Some(p) = point_of(self.ds, r) else {
            return false;
        };
        if !holds(area, &p) {
            return false;
        }
        match r.kind {
            ItemKind::Building => true,
            ItemKind::Unit => {
                difference_m2(&self.ds.units[r.index].area, area) <= AREA_TOLERANCE_M2
            }
        }
    }

    /// Every grid's and micro-grid's figures recomputed and compared with the plan's.
    pub fn check_figures(&self) -> Vec<Finding> {
        let mut out = Vec::new();
        for (g, grid) in self.plan.grids.iter().enumerate() {
            let area = Some(area_m2(&grid.geometry));
            out.extend(compare(
                Level::Grid,
                &grid.code,
                &grid.claimed,
                &self.grid_tally[g],
                area,
            ));
        }
        out.extend(self.check_micro_figures());
        out
    }

    /// Micro-grid figures. A split building's parts are checked together: their households and
    /// residents must add up to the building's (how they are shared out is the plan's word).
    fn check_micro_figures(&self) -> Vec<Finding> {
        let mut out = Vec::new();
        let ds = self.ds;
        for row in &self.plan.rows {
            let Some(&r) = self.item_by_id.get(&(row.item.kind, row.item.id.as_str())) else {
                continue;
            };
            let ms: Vec<usize> = row
                .micro
                .iter()
                .filter_map(|c| self.micro_by_code.get(c.as_str()).copied())
                .collect();
            if ms.len() == 1 {
                continue;
            }
            let (h, p, _) = parts(ds, r);
            let sum = |f: fn(&Claimed) -> Option<f64>| -> Option<f64> {
                ms.iter().map(|&m| f(&self.plan.micro[m].claimed)).sum()
            };
            for (field, total, actual) in [
                (Field::Households, sum(|c| c.households), h),
                (Field::Residents, sum(|c| c.residents), p),
            ] {
                if let Some(total) = total.filter(|t| differs(*t, actual)) {
                    out.push(Finding::FigureMismatch {
                        level: Level::Micro,
                        code: row.micro.join(";"),
                        field,
                        claimed: total,
                        actual,
                    });
                }
            }
        }
        for (m, micro) in self.plan.micro.iter().enumerate() {
            if !self.micro_has_part[m] {
                let t = &self.micro_tally[m];
                out.extend(compare(Level::Micro, &micro.code, &micro.claimed, t, None));
            }
        }
        out
    }
}
