//! Straight grid borders: a village's micro-grids, and the grids they make up, redrawn with
//! [`Topology::straightened`].
//!
//! Grids are traced from Voronoi cells around buildings, so where no road or line runs, their
//! borders zigzag from one cell corner to the next. Any line between the same buildings would
//! divide them as well, and a straight one is what a planner draws, what a wall map shows and what
//! compactness (Polsby–Popper) rewards. So the borders between micro-grids are straightened within a
//! tolerance, keeping every building (its point and its footprint's corners) on its side, and
//! roads, rivers, villager-group lines, unit edges and the village boundary point for point. The
//! grids are dissolved from the straightened micro-grids, so grid and micro-grid borders stay one.
//! Figures that depend on the outline (area, perimeter, Polsby–Popper, label point) are computed
//! again.

use super::cells::Cells;
use super::codes::out_of_order;
use super::quality::{area, label_point, perimeter, polsby_popper, round6};
use super::{Figures, GridPlan, MicroPlan};
use crate::model::Dataset;
use crate::topology::{Coverage, EdgeClass, Pt, RingSet, Straighten, Topology};
use std::collections::{HashMap, HashSet};

/// How far (metres) a border may move when straightened, unless told otherwise: 0, borders as
/// traced. Straightening is asked for (`--straighten 30`) until a plan re-made from its own
/// unchanged assignment comes out byte-identical with it (see the issue 19 note).
pub const DEFAULT_TOLERANCE_M: f64 = 0.0;

/// Straightens the borders of one village's `grids` and `micro` grids (buildings `bld` of `ds`)
/// within `tolerance_m` metres; returns the length (m) of border between grids afterwards.
pub fn straighten(
    cells: &Cells,
    ds: &Dataset,
    bld: &[u32],
    tolerance_m: f64,
    grids: &mut [GridPlan],
    micro: &mut [MicroPlan],
) -> f64 {
    // One feature per footprint (the parts of a split building share theirs), and each grid
    // that has no micro-grids as a feature of its own.
    let mut features: Vec<RingSet> = Vec::new();
    let mut grid_of_feature: Vec<u32> = Vec::new();
    let mut feature_of_footprint: HashMap<usize, usize> = HashMap::new();
    let mut feature_of_micro = Vec::with_capacity(micro.len());
    for m in micro.iter() {
        let fi = *feature_of_footprint.entry(m.footprint).or_insert_with(|| {
            features.push(m.rings.clone());
            grid_of_feature.push(m.grid as u32);
            features.len() - 1
        });
        feature_of_micro.push(fi);
    }
    let mut has_micro = vec![false; grids.len()];
    micro.iter().for_each(|m| has_micro[m.grid] = true);
    for (gi, g) in grids.iter().enumerate() {
        if !has_micro[gi] {
            features.push(g.rings.clone());
            grid_of_feature.push(gi as u32);
        }
    }
    let cov = Topology::from_ringsets(&features);
    let group: Vec<Option<u32>> = cov
        .feature_of_face
        .iter()
        .map(|&fi| Some(grid_of_feature[fi]))
        .collect();
    let mut fixed = fixed_segments(cells);
    let pins = pins(ds, bld);
    // Codes were numbered on the traced outlines, and a grid's position (its label point) moves
    // with its outline: a grid that would fall out of reading order keeps its traced borders,
    // and the rest are straightened again, until the order holds (at worst, nothing moves).
    let (cov, traced) = loop {
        let is_fixed = |a: Pt, b: Pt| fixed.contains(&seg_key(a, b));
        let rules = Straighten {
            tolerance_m,
            pins: &pins,
            fixed: &is_fixed,
        };
        let straight = Coverage {
            topology: cov.topology.straightened(&cells.frame, &rules),
            feature_of_face: cov.feature_of_face.clone(),
            faces_of_feature: cov.faces_of_feature.clone(),
        };
        let traced = straight.topology.dissolve(&group, grids.len());
        let out_of_order: Vec<u32> = out_of_order(&traced, cells)
            .into_iter()
            .map(|g| g as u32)
            .collect();
        if out_of_order.is_empty() {
            break (straight, traced);
        }
        let before = fixed.len();
        for a in &cov.topology.arcs {
            let touches = [a.left, a.right]
                .iter()
                .flatten()
                .any(|&f| group[f as usize].is_some_and(|g| out_of_order.contains(&g)));
            if touches {
                fixed.extend(a.points.windows(2).map(|w| seg_key(w[0], w[1])));
            }
        }
        if fixed.len() == before {
            // nothing left to keep: the traced outlines, in the order they were numbered in
            let traced = cov.topology.dissolve(&group, grids.len());
            break (cov, traced);
        }
    };
    for (m, &fi) in micro.iter_mut().zip(&feature_of_micro) {
        let rings = cov.feature_rings(fi);
        refigure(cells, &mut m.figures, &m.rings, &rings);
        m.label = label_point(&rings);
        m.rings = rings;
    }
    for (g, rings) in grids.iter_mut().zip(traced) {
        refigure(cells, &mut g.figures, &g.rings, &rings);
        g.label = label_point(&rings);
        g.rings = rings;
    }
    cov.topology
        .arcs
        .iter()
        .filter(|a| match (a.left, a.right) {
            (Some(l), Some(r)) => group[l as usize] != group[r as usize],
            _ => false,
        })
        .map(|a| cells.frame.length(&a.points))
        .sum()
}

/// An undirected segment.
fn seg_key(a: Pt, b: Pt) -> (Pt, Pt) {
    if a < b {
        (a, b)
    } else {
        (b, a)
    }
}

/// Every segment of the village's cells that is a line on the ground (or its boundary, or a
/// unit's edge): those stay where they are.
fn fixed_segments(cells: &Cells) -> HashSet<(Pt, Pt)> {
    cells
        .topo
        .arcs
        .iter()
        .filter(|a| a.class != EdgeClass::CELL)
        .flat_map(|a| a.points.windows(2).map(|w| seg_key(w[0], w[1])))
        .collect()
}

/// The points that must keep their side: each building's point and its footprint's corners.
fn pins(ds: &Dataset, bld: &[u32]) -> Vec<Pt> {
    let mut out = Vec::with_capacity(bld.len());
    for &b in bld {
        let b = &ds.buildings[b as usize];
        out.push(Pt::from_lonlat(b.point.x(), b.point.y()));
        for poly in b.footprint.iter().flat_map(|mp| &mp.0) {
            out.extend(poly.exterior().0.iter().map(|c| Pt::from_lonlat(c.x, c.y)));
        }
    }
    out
}

/// Outline figures again for a region redrawn from `old` to `new` rings: the area changes by the
/// outline's own change (so a region's share of a split building's area stays its share), the
/// perimeter and Polsby–Popper are measured again.
fn refigure(cells: &Cells, fig: &mut Figures, old: &RingSet, new: &RingSet) {
    let (a0, a1) = (area(cells, old), area(cells, new));
    if a0 > 0.0 {
        fig.area_m2 = round6(fig.area_m2 * a1 / a0);
    }
    fig.perimeter_m = round6(perimeter(cells, new));
    fig.polsby_popper = round6(polsby_popper(fig.area_m2, fig.perimeter_m));
}
