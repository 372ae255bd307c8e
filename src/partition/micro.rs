//! Micro-grids (微网格) inside each grid.
//!
//! - A school, hospital, firm, mall or office gets a dedicated micro-grid (专属微网格); one of more
//!   than 300 people is split into parts of 200–300 people, a factory with more than 300 staff and
//!   its `workshops` given gets one per workshop (一车间一网格).
//! - A building over the band's maximum becomes several micro-grids with the same footprint, each
//!   a household range (split by stairwell or floor on the ground).
//! - The rest of the grid is divided into 50–80 households of whole buildings, or, in the
//!   countryside, of whole villager groups where that lands every micro-grid in the band; where it
//!   does not, groups part between their houses, along as few lines as the band needs.

use super::cells::Cells;
use super::regions::{self, Band, Target};
use super::{
    atoms, choose_k, codes, quality, Assignment, Figures, GridPlan, Issue, IssueKind, MicroKind,
    MicroPlan, Stack,
};
use crate::model::{BuildingKind, Dataset, Weight};
use crate::topology::Pt;

/// People per dedicated micro-grid at most (commercial areas and offices: 200–300 people).
const DEDICATED_MAX_PEOPLE: u64 = 300;

struct Part {
    kind: MicroKind,
    households: f64,
    residents: f64,
    buildings: Vec<u32>,
    stack: Option<Stack>,
}

/// Micro-grids of every grid of a village, and where each building or unit went.
#[allow(clippy::too_many_arguments)]
pub fn build(
    cells: &Cells,
    arcs_of: &[Vec<u32>],
    ds: &Dataset,
    grid_of_face: &[Option<u32>],
    grids: &[GridPlan],
    band: &Band,
    weight: &Weight,
    seed: u64,
    unit_ids: &[u32],
    issues: &mut Vec<Issue>,
) -> (Vec<MicroPlan>, Vec<Assignment>) {
    let nf = cells.topo.faces.len();
    let mw: &[f64] = if *weight == Weight::Households {
        &cells.households
    } else {
        &cells.weight
    };
    let mut faces_of_grid: Vec<Vec<u32>> = vec![Vec::new(); grids.len()];
    for (f, g) in grid_of_face.iter().enumerate() {
        if let Some(g) = g {
            faces_of_grid[*g as usize].push(f as u32);
        }
    }
    // Footprints (areas) with their parts, per grid.
    let mut area_of_face: Vec<Option<u32>> = vec![None; nf];
    let mut areas: Vec<(usize, Vec<Part>)> = Vec::new(); // (grid, parts)
                                                         // households of the connected stretch each plain footprint was divided from
    let mut stretch_of_area: std::collections::HashMap<usize, f64> = Default::default();
    for (gi, faces) in faces_of_grid.iter().enumerate() {
        let special = |f: u32| {
            cells.buildings[f as usize].iter().any(|&b| {
                let b = &ds.buildings[b as usize];
                b.kind.is_dedicated() || b.households as f64 > band.max
            })
        };
        let mut special_areas: Vec<u32> = Vec::new();
        for &f in faces {
            if special(f) {
                let id = areas.len() as u32;
                area_of_face[f as usize] = Some(id);
                areas.push((gi, special_parts(cells, ds, f, band)));
                special_areas.push(id);
            }
        }
        let rest: Vec<u32> = faces.iter().copied().filter(|&f| !special(f)).collect();
        let at = atoms::build(cells, arcs_of, &rest, mw, band.max);
        let all: Vec<u32> = (0..at.graph.len() as u32).collect();
        for comp in atoms::components(&at.graph, &all, |_, _| true) {
            let w: f64 = comp.iter().map(|&a| at.graph.w[a as usize]).sum();
            let comp_faces: Vec<u32> = comp
                .iter()
                .flat_map(|&a| at.faces[a as usize].iter().copied())
                .collect();
            if w <= 0.0 {
                // empty land: joins the special footprint it borders most, if any
                if let Some(id) =
                    most_shared(cells, arcs_of, &comp_faces, &area_of_face, &special_areas)
                {
                    for &f in &comp_faces {
                        area_of_face[f as usize] = Some(id);
                    }
                    continue;
                }
            }
            let labels = divide_stretch(cells, arcs_of, &at, &comp, mw, *band, seed ^ gi as u64);
            let base = areas.len() as u32;
            let used = labels.iter().map(|&(_, p)| p + 1).max().unwrap_or(0);
            for _ in 0..used {
                stretch_of_area.insert(areas.len(), w);
                areas.push((
                    gi,
                    vec![Part {
                        kind: MicroKind::Residential,
                        households: 0.0,
                        residents: 0.0,
                        buildings: Vec::new(),
                        stack: None,
                    }],
                ));
            }
            for (f, p) in labels {
                area_of_face[f as usize] = Some(base + p);
            }
        }
    }
    // Figures of plain (unsplit) footprints from their faces.
    for (f, a) in area_of_face.iter().enumerate() {
        let Some(a) = a else { continue };
        let parts = &mut areas[*a as usize].1;
        if parts.len() == 1 && parts[0].kind == MicroKind::Residential {
            parts[0].households += cells.households[f];
            parts[0].residents += cells.residents[f];
            parts[0]
                .buildings
                .extend(cells.buildings[f].iter().copied());
        }
    }
    let traced = cells.topo.dissolve(&area_of_face, areas.len());
    let area_figs = quality::figures(cells, &area_of_face, areas.len(), &traced);
    let labels: Vec<[f64; 2]> = traced.iter().map(quality::label_point).collect();

    // Codes: footprints in reading order within their grid, parts consecutively.
    let mut micro: Vec<MicroPlan> = Vec::new();
    let mut micro_of_building: std::collections::HashMap<u32, Vec<usize>> = Default::default();
    let mut micro_of_area: Vec<usize> = vec![usize::MAX; areas.len()];
    for (gi, grid) in grids.iter().enumerate() {
        let ids: Vec<usize> = (0..areas.len()).filter(|&a| areas[a].0 == gi).collect();
        let pos: Vec<[f64; 2]> = ids
            .iter()
            .map(|&a| {
                cells
                    .frame
                    .to_xy(Pt::from_lonlat(labels[a][0], labels[a][1]))
            })
            .collect();
        let row_h = (grid.figures.area_m2 / ids.len().max(1) as f64).sqrt();
        let mut seq = 0u32;
        for oi in codes::order_by_rows(&pos, row_h) {
            let a = ids[oi];
            micro_of_area[a] = micro.len();
            for part in std::mem::take(&mut areas[a].1) {
                seq += 1;
                let idx = micro.len();
                for &b in &part.buildings {
                    micro_of_building.entry(b).or_default().push(idx);
                }
                let af = &area_figs[a];
                let figures = Figures {
                    weight: quality::round6(if *weight == Weight::Households {
                        part.households
                    } else {
                        af.weight
                    }),
                    households: quality::round6(part.households),
                    residents: quality::round6(part.residents),
                    buildings: part.buildings.len(),
                    ..af.clone()
                };
                if part.kind == MicroKind::Residential && figures.weight > 0.0 {
                    let w = figures.weight;
                    let kind = if w < band.min {
                        IssueKind::MicroUnderBand
                    } else {
                        IssueKind::MicroOverBand
                    };
                    if band.violation(w) > 0.0 {
                        issues.push(Issue {
                            code: Some(grid.code.micro(seq).to_string()),
                            kind,
                            bound: Some(if w < band.min { band.min } else { band.max }),
                            value: Some(w),
                            reason: micro_band_reason(stretch_of_area.get(&a).copied(), band),
                        });
                    }
                }
                micro.push(MicroPlan {
                    code: grid.code.micro(seq),
                    grid: gi,
                    rings: traced[a].clone(),
                    label: labels[a],
                    figures,
                    kind: part.kind,
                    stack: part.stack,
                    footprint: a,
                    color: 0,
                });
            }
        }
    }

    // Assignment of buildings and units.
    let mut assignment = Vec::new();
    let mut face_of_building: std::collections::HashMap<u32, usize> = Default::default();
    for (f, bs) in cells.buildings.iter().enumerate() {
        for &b in bs {
            face_of_building.insert(b, f);
        }
    }
    let mut bids: Vec<u32> = face_of_building.keys().copied().collect();
    bids.sort_unstable();
    for b in bids {
        let f = face_of_building[&b];
        let mut m = micro_of_building.get(&b).cloned().unwrap_or_default();
        if m.is_empty() {
            if let Some(a) = area_of_face[f] {
                m.push(micro_of_area[a as usize]);
            }
        }
        assignment.push(Assignment {
            kind: "building",
            id: ds.buildings[b as usize].id.clone(),
            grid: grid_of_face[f].map(|g| g as usize),
            micro: m,
        });
    }
    for &u in unit_ids {
        // the unit's largest face decides
        let best = (0..nf)
            .filter(|&f| cells.unit[f] == Some(u))
            .max_by(|&a, &b| cells.area[a].total_cmp(&cells.area[b]).then(b.cmp(&a)));
        assignment.push(Assignment {
            kind: "unit",
            id: ds.units[u as usize].id.clone(),
            grid: best.and_then(|f| grid_of_face[f].map(|g| g as usize)),
            micro: best
                .and_then(|f| area_of_face[f])
                .map(|a| vec![micro_of_area[a as usize]])
                .unwrap_or_default(),
        });
    }
    (micro, assignment)
}

/// Divides one connected stretch of a grid (the atoms `comp` of `at`) into micro-grids and returns
/// each face's micro-grid. Villager groups stay whole where that lands every micro-grid in the
/// band. Where it does not (whole groups of 30–80 households seldom add up to 50–80 with their
/// neighbours), the stretch is divided again with the groups free to part between their buildings,
/// and the division with fewer micro-grids outside the band, then the smaller excess, is kept.
fn divide_stretch(
    cells: &Cells,
    arcs_of: &[Vec<u32>],
    at: &atoms::Atoms,
    comp: &[u32],
    mw: &[f64],
    band: Band,
    seed: u64,
) -> Vec<(u32, u32)> {
    let whole = divide_atoms(at, comp, band, seed);
    let grouped = comp.iter().any(|&a| at.faces[a as usize].len() > 1);
    if whole.1 .0 == 0 || !grouped {
        return whole.0;
    }
    let faces: Vec<u32> = comp
        .iter()
        .flat_map(|&a| at.faces[a as usize].iter().copied())
        .collect();
    let free = atoms::build(cells, arcs_of, &faces, mw, 0.0);
    let all: Vec<u32> = (0..free.graph.len() as u32).collect();
    let mut loose = divide_atoms(&free, &all, band, seed);
    if loose.1 < whole.1 {
        atoms::gather_groups(cells, arcs_of, mw, band, &mut loose.0);
        loose.0
    } else {
        whole.0
    }
}

/// One division of the atoms `comp` of `at` into micro-grids: each face's micro-grid, and how many
/// micro-grids fall outside the band with their summed excess.
fn divide_atoms(
    at: &atoms::Atoms,
    comp: &[u32],
    band: Band,
    seed: u64,
) -> (Vec<(u32, u32)>, (usize, f64)) {
    let g = &at.graph;
    let w: f64 = comp.iter().map(|&a| g.w[a as usize]).sum();
    let positive = comp.iter().filter(|&&a| g.w[a as usize] > 0.0).count();
    let k = choose_k(w, band, positive);
    let target = Target {
        band,
        residents: None,
    };
    let parts = regions::partition(g, comp, k, target, seed);
    let used = parts.iter().map(|&p| p as usize + 1).max().unwrap_or(0);
    let mut held = vec![0.0; used];
    for (&a, &p) in comp.iter().zip(&parts) {
        held[p as usize] += g.w[a as usize];
    }
    let excess: Vec<f64> = held.iter().map(|&x| band.violation(x)).collect();
    let miss = (
        excess.iter().filter(|&&v| v > 1e-9).count(),
        excess.iter().sum(),
    );
    let labels = comp
        .iter()
        .zip(&parts)
        .flat_map(|(&a, &p)| at.faces[a as usize].iter().map(move |&f| (f, p)))
        .collect();
    (labels, miss)
}

/// Why a plain micro-grid is outside the band, from the households of the connected stretch of
/// its grid it was divided from (dedicated micro-grids and split buildings aside).
fn micro_band_reason(stretch: Option<f64>, band: &Band) -> String {
    let Some(w) = stretch else {
        return "it shares a footprint with a dedicated micro-grid or a split building".into();
    };
    if !band.divides(w) {
        format!(
            "its stretch of the grid holds {w} households, which do not divide into micro-grids of {}–{}",
            band.min, band.max
        )
    } else {
        format!(
            "its stretch of the grid holds {w} households, but no division of its whole buildings and villager groups into connected micro-grids of {}–{} was found",
            band.min, band.max
        )
    }
}

/// The parts of a face holding a dedicated building or a building over the band.
fn special_parts(cells: &Cells, ds: &Dataset, f: u32, band: &Band) -> Vec<Part> {
    let mut parts: Vec<Part> = Vec::new();
    let mut small: Vec<u32> = Vec::new();
    for &bi in &cells.buildings[f as usize] {
        let b = &ds.buildings[bi as usize];
        let (hh, res) = (b.households as f64, b.residents as f64);
        if b.kind.is_dedicated() {
            let people = b.staff.unwrap_or(0).max(b.residents);
            let (n, label): (u64, fn(u64, u64) -> String) = match (b.kind, b.workshops) {
                (BuildingKind::Factory, Some(w)) if people > DEDICATED_MAX_PEOPLE && w >= 2 => {
                    (w, |i, _| format!("车间 {i}"))
                }
                _ if people > DEDICATED_MAX_PEOPLE => {
                    (people.div_ceil(DEDICATED_MAX_PEOPLE), |i, n| {
                        format!("楼层分段 {i}/{n}")
                    })
                }
                _ => (1, |_, _| String::new()),
            };
            for i in 1..=n {
                parts.push(Part {
                    kind: MicroKind::Dedicated,
                    households: hh / n as f64,
                    residents: res / n as f64,
                    buildings: vec![bi],
                    stack: (n > 1).then(|| Stack {
                        building: b.id.clone(),
                        part: i as u32,
                        of: n as u32,
                        units: label(i, n),
                    }),
                });
            }
        } else if hh > band.max {
            let n = (hh / band.max).ceil() as u64;
            let total = b.households;
            let mut start = 1u64;
            for i in 1..=n {
                let end = total * i / n;
                let count = (end + 1 - start) as f64;
                parts.push(Part {
                    kind: MicroKind::BuildingPart,
                    households: count,
                    residents: res * count / hh,
                    buildings: vec![bi],
                    stack: Some(Stack {
                        building: b.id.clone(),
                        part: i as u32,
                        of: n as u32,
                        units: format!("户 {start}–{end}"),
                    }),
                });
                start = end + 1;
            }
        } else {
            small.push(bi);
        }
    }
    // small homes sharing the face join the first part
    for bi in small {
        let b = &ds.buildings[bi as usize];
        parts[0].households += b.households as f64;
        parts[0].residents += b.residents as f64;
        parts[0].buildings.push(bi);
    }
    parts
}

/// The special footprint sharing most border with `faces`, if any.
fn most_shared(
    cells: &Cells,
    arcs_of: &[Vec<u32>],
    faces: &[u32],
    area_of_face: &[Option<u32>],
    candidates: &[u32],
) -> Option<u32> {
    let mut shared: std::collections::BTreeMap<u32, f64> = Default::default();
    for &f in faces {
        for &arc in &arcs_of[f as usize] {
            let a = &cells.topo.arcs[arc as usize];
            let o = if a.left == Some(f) { a.right } else { a.left };
            if let Some(id) = o.and_then(|o| area_of_face[o as usize]) {
                if candidates.contains(&id) {
                    *shared.entry(id).or_default() += cells.arc_len[arc as usize];
                }
            }
        }
    }
    shared
        .into_iter()
        .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
        .map(|(id, _)| id)
}
