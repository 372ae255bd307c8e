//! Plans from a planner's assignment (building → grid): the grids a planner drew by moving
//! buildings between grids, merging grids or splitting one, traced from the village's cells.
//!
//! The village is cut into its [`cells`] as a partition run cuts it; every face takes the grid of
//! the buildings (or unit) in it, and the grids are traced by dissolving the shared arcs, so they
//! tile the village with no gap and no overlap. A face without a building is decided by a fixed
//! rule, in this order:
//!
//! 1. it keeps the grid its interior point lay in in the plan the assignment was edited from, if
//!    that grid is still a grid of the assignment (or held no building then: such a grid cannot be
//!    named in an assignment, so it stays); a kept piece of land that no longer touches any
//!    building of its grid is released again;
//! 2. the rest join, round by round, the neighbouring grid they share the longest border with
//!    (ties: the lower code), preferring the grids that took over buildings of the grid the land
//!    lay in before (a split or merged grid's land stays with its heirs);
//! 3. land that touches no grid at all (a piece of the village without a building) becomes a grid
//!    of its own, numbered after the highest code.
//!
//! Refused: buildings standing in one face (the same point) that the assignment puts in different
//! grids, or a unit's buildings put in different grids (the engine cannot cut a face); and a grid
//! in several pieces within one piece of the village ([`AssignError::NotContiguous`] names the
//! buildings of the smaller piece). A villager group split over grids is allowed and reported as a
//! `split_group` issue, as a partition run reports it.

use super::cells::{self, Cells};
use super::{atoms, micro, quality, GridPlan, Issue, IssueKind, Options, VillagePlan};
use crate::model::{Dataset, GridCode, Mode, Weight};
use crate::topology::RingSet;
use geo::{BoundingRect, Contains, InteriorPoint, Intersects, MultiPolygon, Rect};
use std::collections::{BTreeMap, BTreeSet};

/// A grid of the plan an assignment was edited from.
#[derive(Clone, Debug)]
pub struct PreviousGrid {
    /// Its code.
    pub code: GridCode,
    /// Its outline.
    pub outline: MultiPolygon<f64>,
    /// Whether it held any building or unit.
    pub held_buildings: bool,
}

/// One village's assignment: the grid of each of its buildings and units.
#[derive(Clone, Debug, Default)]
pub struct VillageAssignment {
    /// The village (index into `Dataset::villages`).
    pub village: usize,
    /// Grid of each building (index into `Dataset::buildings`).
    pub buildings: BTreeMap<u32, GridCode>,
    /// Grid of each unit (index into `Dataset::units`).
    pub units: BTreeMap<u32, GridCode>,
    /// The grids of the plan the assignment was edited from (for land without buildings).
    pub previous: Vec<PreviousGrid>,
}

/// Why an assignment cannot become a plan.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AssignError {
    /// Two buildings in one cell (they stand at the same point) put in different grids.
    #[error(
        "village {village}: buildings {first} (grid {first_grid}) and {second} (grid {second_grid}) \
         stand at the same point, in one cell, which cannot be cut: give them the same grid"
    )]
    SharedCell {
        /// Village code.
        village: String,
        /// The building that decided the cell first.
        first: String,
        /// Its grid.
        first_grid: String,
        /// The building that disagrees.
        second: String,
        /// Its grid.
        second_grid: String,
    },
    /// A building put in another grid than the unit it lies in.
    #[error(
        "village {village}: building {building} is given grid {building_grid} but lies in unit \
         {unit}, given grid {unit_grid}; a unit moves whole"
    )]
    SplitUnit {
        /// Village code.
        village: String,
        /// The unit's id.
        unit: String,
        /// The unit's grid.
        unit_grid: String,
        /// The building's id.
        building: String,
        /// The building's grid.
        building_grid: String,
    },
    /// A grid in several pieces within one piece of the village.
    #[error(
        "village {village}: grid {grid} would be in {pieces} separate pieces; its smaller piece \
         holds {} building(s): {}", buildings.len(), shown(buildings)
    )]
    NotContiguous {
        /// Village code.
        village: String,
        /// The grid.
        grid: String,
        /// Pieces it would be in (within one piece of the village).
        pieces: usize,
        /// Ids of the buildings (and units) in its smallest piece, sorted.
        buildings: Vec<String>,
    },
    /// More grids than a village code has room for.
    #[error("village {village}: no code left for land without buildings: all 999 are taken")]
    CodesExhausted {
        /// Village code.
        village: String,
    },
}

fn shown(ids: &[String]) -> String {
    if ids.len() <= 10 {
        ids.join(", ")
    } else {
        format!("{}, … ({} more)", ids[..10].join(", "), ids.len() - 10)
    }
}

/// The plan of one village from its assignment. `opts` gives the weight, the grid band (for
/// issues) and the micro-grid band.
///
/// Grids come out in code order, each with the code the assignment gave it; micro-grids are made
/// inside each grid as a partition run makes them.
pub fn assign_village(
    ds: &Dataset,
    edit: &VillageAssignment,
    opts: &Options,
) -> Result<VillagePlan, AssignError> {
    let vi = edit.village;
    let v = &ds.villages[vi];
    let vcode = v.code.to_string();
    let bld: Vec<u32> = (0..ds.buildings.len() as u32)
        .filter(|&b| ds.buildings[b as usize].village == vi)
        .collect();
    let unit_ids: Vec<u32> = (0..ds.units.len() as u32)
        .filter(|&u| ds.units[u as usize].village == vi)
        .collect();
    let cells = cells::build(ds, vi, &bld, &unit_ids, &opts.weight);
    let nf = cells.topo.faces.len();
    let arcs_of = atoms::face_arcs(&cells);

    // Grid codes: those the assignment names, plus empty grids of the previous plan kept below.
    let mut codes: BTreeSet<GridCode> = edit
        .buildings
        .values()
        .chain(edit.units.values())
        .cloned()
        .collect();
    // Per face: its grid code, and the building or unit that decided it.
    let mut face_code: Vec<Option<GridCode>> = vec![None; nf];
    let mut decided_by: Vec<Option<String>> = vec![None; nf];
    for f in 0..nf {
        if let Some(u) = cells.unit[f] {
            if let Some(g) = edit.units.get(&u) {
                face_code[f] = Some(g.clone());
                decided_by[f] = Some(ds.units[u as usize].id.clone());
            }
        }
    }
    for f in 0..nf {
        for &b in &cells.buildings[f] {
            let Some(g) = edit.buildings.get(&b) else {
                continue;
            };
            let id = &ds.buildings[b as usize].id;
            match (&face_code[f], &decided_by[f]) {
                (Some(g0), Some(by)) if g0 != g => {
                    return Err(match cells.unit[f] {
                        Some(u) => AssignError::SplitUnit {
                            village: vcode,
                            unit: ds.units[u as usize].id.clone(),
                            unit_grid: g0.to_string(),
                            building: id.clone(),
                            building_grid: g.to_string(),
                        },
                        None => AssignError::SharedCell {
                            village: vcode,
                            first: by.clone(),
                            first_grid: g0.to_string(),
                            second: id.clone(),
                            second_grid: g.to_string(),
                        },
                    });
                }
                (Some(_), _) => {}
                (None, _) => {
                    face_code[f] = Some(g.clone());
                    decided_by[f] = Some(id.clone());
                }
            }
        }
    }
    let has_item: Vec<bool> = decided_by.iter().map(Option::is_some).collect();

    // Rule 1: land without buildings keeps its previous grid.
    let prev_boxes: Vec<Option<Rect<f64>>> = edit
        .previous
        .iter()
        .map(|p| p.outline.bounding_rect())
        .collect();
    // The previous grid of every face (where its interior point lay), also of faces with
    // buildings: it tells which new grids took over from which old ones (rule 2).
    let prev_of_face: Vec<Option<usize>> = (0..nf)
        .map(|f| {
            let rings = cells.topo.face_rings(f as u32);
            let p = quality::to_multipolygon(&vec![rings]).interior_point()?;
            edit.previous
                .iter()
                .zip(&prev_boxes)
                .position(|(g, b)| b.is_some_and(|b| b.intersects(&p)) && g.outline.contains(&p))
        })
        .collect();
    for (slot, prev) in face_code.iter_mut().zip(&prev_of_face) {
        if slot.is_some() {
            continue;
        }
        if let Some(g) = prev.map(|i| &edit.previous[i]) {
            if codes.contains(&g.code) || !g.held_buildings {
                codes.insert(g.code.clone());
                *slot = Some(g.code.clone());
            }
        }
    }
    let index: BTreeMap<GridCode, u32> = codes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.clone(), i as u32))
        .collect();
    let mut grid_of_face: Vec<Option<u32>> = face_code
        .iter()
        .map(|c| c.as_ref().map(|c| index[c]))
        .collect();
    let mut codes: Vec<GridCode> = codes.into_iter().collect();
    let (cells_ref, arcs_ref) = (&cells, &arcs_of);
    let neighbours = move |f: usize| {
        let cells = cells_ref;
        arcs_ref[f].iter().filter_map(move |&a| {
            let arc = &cells.topo.arcs[a as usize];
            let o = if arc.left == Some(f as u32) {
                arc.right
            } else {
                arc.left
            };
            o.filter(|&o| o as usize != f)
                .map(|o| (o as usize, cells.arc_len[a as usize]))
        })
    };
    // Kept land cut off from its grid's buildings is released.
    for comps in grid_components(&cells, &arcs_of, &grid_of_face, codes.len()) {
        let with_items = comps
            .iter()
            .filter(|c| c.iter().any(|&f| has_item[f]))
            .count();
        let keep_empty = if with_items == 0 {
            comps
                .iter()
                .enumerate()
                .max_by(|a, b| {
                    let area = |c: &Vec<usize>| c.iter().map(|&f| cells.area[f]).sum::<f64>();
                    area(a.1).total_cmp(&area(b.1)).then(b.0.cmp(&a.0))
                })
                .map(|(i, _)| i)
        } else {
            None
        };
        for (ci, c) in comps.iter().enumerate() {
            if !c.iter().any(|&f| has_item[f]) && Some(ci) != keep_empty {
                for &f in c {
                    grid_of_face[f] = None;
                }
            }
        }
    }
    // Rule 2: the neighbour sharing the longest border, round by round; land of a previous grid
    // goes first to the grids that took over that grid's buildings (its successors), so a split
    // or a merge does not hand its empty land to the grids around it.
    let mut successors: BTreeSet<(usize, u32)> = BTreeSet::new();
    for f in 0..nf {
        if let (true, Some(p), Some(g)) = (has_item[f], prev_of_face[f], grid_of_face[f]) {
            successors.insert((p, g));
        }
    }
    loop {
        let mut choice: Vec<(usize, u32)> = Vec::new();
        for only_successors in [true, false] {
            for f in 0..nf {
                if grid_of_face[f].is_some() {
                    continue;
                }
                let mut shared: BTreeMap<u32, f64> = BTreeMap::new();
                for (o, len) in neighbours(f) {
                    let Some(g) = grid_of_face[o] else { continue };
                    let heir = prev_of_face[f].is_some_and(|p| successors.contains(&(p, g)));
                    if heir || !only_successors {
                        *shared.entry(g).or_default() += len;
                    }
                }
                if let Some((&g, _)) = shared
                    .iter()
                    .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(a.0)))
                {
                    choice.push((f, g));
                }
            }
            if !choice.is_empty() {
                break;
            }
        }
        if choice.is_empty() {
            break;
        }
        for (f, g) in choice {
            grid_of_face[f] = Some(g);
        }
    }
    // Rule 3: land touching no grid becomes grids of its own.
    for f in 0..nf {
        if grid_of_face[f].is_some() {
            continue;
        }
        let next = codes
            .iter()
            .filter_map(|c| c.as_str()[12..].parse::<u32>().ok())
            .max()
            .unwrap_or(0)
            + 1;
        if next > 999 {
            return Err(AssignError::CodesExhausted { village: vcode });
        }
        let g = codes.len() as u32;
        codes.push(v.code.grid(next));
        let mut stack = vec![f];
        grid_of_face[f] = Some(g);
        while let Some(h) = stack.pop() {
            for (o, _) in neighbours(h) {
                if grid_of_face[o].is_none() {
                    grid_of_face[o] = Some(g);
                    stack.push(o);
                }
            }
        }
    }
    // Codes in order (rule 3 may have added codes past the others: they are the highest).
    let ng = codes.len();

    // Contiguity within each piece of the village.
    let all: Vec<Option<u32>> = vec![Some(0); nf];
    let piece_of_face: Vec<usize> = {
        let mut p = vec![0; nf];
        for (i, c) in grid_components(&cells, &arcs_of, &all, 1)[0]
            .iter()
            .enumerate()
        {
            for &f in c {
                p[f] = i;
            }
        }
        p
    };
    let pieces = piece_of_face.iter().copied().max().map_or(1, |m| m + 1);
    let comps = grid_components(&cells, &arcs_of, &grid_of_face, ng);
    for (gi, cs) in comps.iter().enumerate() {
        let mut by_piece: BTreeMap<usize, Vec<&Vec<usize>>> = BTreeMap::new();
        for c in cs {
            by_piece.entry(piece_of_face[c[0]]).or_default().push(c);
        }
        for parts in by_piece.values() {
            if parts.len() < 2 {
                continue;
            }
            let items = |c: &Vec<usize>| -> Vec<String> {
                let mut ids: Vec<String> = c
                    .iter()
                    .flat_map(|&f| {
                        cells.buildings[f]
                            .iter()
                            .map(|&b| ds.buildings[b as usize].id.clone())
                            .chain(cells.unit[f].map(|u| ds.units[u as usize].id.clone()))
                    })
                    .collect();
                ids.sort();
                ids.dedup();
                ids
            };
            let smallest = parts
                .iter()
                .map(|c| items(c))
                .min_by(|a, b| a.len().cmp(&b.len()).then(a.cmp(b)))
                .unwrap_or_default();
            return Err(AssignError::NotContiguous {
                village: vcode,
                grid: codes[gi].to_string(),
                pieces: parts.len(),
                buildings: smallest,
            });
        }
    }

    // Trace, measure, label.
    let traced = cells.topo.dissolve(&grid_of_face, ng);
    let figs = quality::figures(&cells, &grid_of_face, ng, &traced);
    let mut piece_of_grid = vec![0; ng];
    for (f, g) in grid_of_face.iter().enumerate() {
        if let Some(g) = g {
            piece_of_grid[*g as usize] = piece_of_face[f];
        }
    }
    let mut grids: Vec<GridPlan> = traced
        .into_iter()
        .enumerate()
        .map(|(i, rs): (usize, RingSet)| GridPlan {
            code: codes[i].clone(),
            label: quality::label_point(&rs),
            rings: rs,
            figures: figs[i].clone(),
            piece: piece_of_grid[i],
            color: 0,
        })
        .collect();
    let mut issues = Vec::new();
    if pieces > 1 {
        issues.push(Issue {
            code: None,
            kind: IssueKind::VillagePieces,
            bound: None,
            value: Some(pieces as f64),
            reason: format!("the village is in {pieces} separate pieces"),
        });
    }
    for g in &grids {
        let w = g.figures.weight;
        let (kind, bound) = if w < opts.band.min {
            (IssueKind::UnderBand, opts.band.min)
        } else if w > opts.band.max {
            (IssueKind::OverBand, opts.band.max)
        } else {
            continue;
        };
        issues.push(Issue {
            code: Some(g.code.to_string()),
            kind,
            bound: Some(bound),
            value: Some(w),
            reason: format!("the assignment gives it {w} {}", opts.weight.name()),
        });
    }
    if v.mode == Mode::Rural && unit_ids.is_empty() {
        split_groups(&cells, &grid_of_face, &grids, &mut issues);
    }
    let has_households = ds.buildings.iter().any(|b| b.households > 0)
        || ds.units.iter().any(|u| u.households > 0.0);
    let micro_weight = if has_households {
        Weight::Households
    } else {
        opts.weight.clone()
    };
    let (mut border, on_lines) = quality::border_share(&cells, &grid_of_face);
    let (mut micro_grids, assignment) = micro::build(
        &cells,
        &arcs_of,
        ds,
        &grid_of_face,
        &grids,
        &opts.micro,
        &micro_weight,
        opts.seed ^ (vi as u64) << 20,
        &unit_ids,
        &mut issues,
    );
    if opts.straighten_m > 0.0 {
        border = super::borders::straighten(
            &cells,
            ds,
            &bld,
            opts.straighten_m,
            &mut grids,
            &mut micro_grids,
        );
    }
    let mut vp = VillagePlan {
        code: v.code.clone(),
        name: v.name.clone(),
        mode: v.mode,
        grids,
        micro_grids,
        assignment,
        pieces,
        cells: nf,
        grid_border_m: border,
        grid_border_on_lines_m: on_lines,
        issues,
    };
    // The village's own colours; a store recolours it among its neighbours when it is saved.
    super::colour::colour_plan(std::slice::from_mut(&mut vp), opts.seed);
    Ok(vp)
}

/// Per grid: its faces in connected components (faces sharing an arc), each sorted, in order of
/// their first face.
fn grid_components(
    cells: &Cells,
    arcs_of: &[Vec<u32>],
    grid_of_face: &[Option<u32>],
    n: usize,
) -> Vec<Vec<Vec<usize>>> {
    grid_pieces(grid_of_face, n, |f, out| {
        for &a in &arcs_of[f] {
            let arc = &cells.topo.arcs[a as usize];
            out.extend(
                [arc.left, arc.right]
                    .into_iter()
                    .flatten()
                    .map(|o| o as usize),
            );
        }
    })
}

/// Per grid (of `n`, grids out of range ignored): its faces in connected pieces, each sorted, in
/// order of their first face. `neighbours(f, out)` pushes the faces next to face `f` onto `out`.
/// The one connected-pieces walk under the engine's contiguity checks and the editor's.
pub(crate) fn grid_pieces(
    grid_of_face: &[Option<u32>],
    n: usize,
    mut neighbours: impl FnMut(usize, &mut Vec<usize>),
) -> Vec<Vec<Vec<usize>>> {
    let nf = grid_of_face.len();
    let mut out: Vec<Vec<Vec<usize>>> = vec![Vec::new(); n];
    let mut seen = vec![false; nf];
    let mut next = Vec::new();
    for s in 0..nf {
        let Some(g) = grid_of_face[s] else { continue };
        if seen[s] {
            continue;
        }
        seen[s] = true;
        let mut comp = vec![s];
        let mut i = 0;
        while i < comp.len() {
            let f = comp[i];
            i += 1;
            next.clear();
            neighbours(f, &mut next);
            for &o in &next {
                if !seen[o] && grid_of_face[o] == Some(g) {
                    seen[o] = true;
                    comp.push(o);
                }
            }
        }
        comp.sort_unstable();
        if let Some(slot) = out.get_mut(g as usize) {
            slot.push(comp);
        }
    }
    out
}

/// A `split_group` issue for every villager group whose cells lie in more than one grid.
fn split_groups(
    cells: &Cells,
    grid_of_face: &[Option<u32>],
    plans: &[GridPlan],
    issues: &mut Vec<Issue>,
) {
    let mut grids: BTreeMap<u32, BTreeSet<u32>> = BTreeMap::new();
    for (f, k) in cells.key.iter().enumerate() {
        if let (Some(k), Some(g)) = (k, grid_of_face[f]) {
            if !cells.buildings[f].is_empty() {
                grids.entry(*k).or_default().insert(g);
            }
        }
    }
    for (k, gs) in grids {
        if gs.len() < 2 {
            continue;
        }
        let name = cells
            .group_names
            .get(k as usize)
            .cloned()
            .unwrap_or_default();
        issues.push(Issue {
            code: None,
            kind: IssueKind::SplitGroup,
            bound: None,
            value: Some(gs.len() as f64),
            reason: format!(
                "the assignment puts the houses of villager group {name:?} in {} grids ({})",
                gs.len(),
                super::codes_of(gs.iter().map(|&g| &plans[g as usize].code))
            ),
        });
    }
}
