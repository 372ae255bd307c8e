//! Tiling: a village's grids cover it with no gap, no overlap and nothing outside it, and a grid's
//! micro-grids cover the grid the same way; every grid and micro-grid is one piece. Measured in m²
//! with geo's boolean operations, up to [`AREA_TOLERANCE_M2`] each.
//!
//! Parts of one split building (or of a firm split by workshop) share one outline: micro-grids
//! with the very same outline count once.

use super::geom::{area_m2, boxes_meet, difference_m2, intersection_m2, union};
use super::plan::PlanToCheck;
use super::{Finding, Level, AREA_TOLERANCE_M2};
use crate::model::Dataset;
use geo::MultiPolygon;
use std::collections::BTreeMap;

/// Checks that `pieces` (code, outline) tile `area` (named `within`); `level` is what they are.
pub fn tile(
    level: Level,
    within: &str,
    area: &MultiPolygon<f64>,
    pieces: &[(&str, &MultiPolygon<f64>)],
) -> Vec<Finding> {
    let mut out = Vec::new();
    let all: Vec<&MultiPolygon<f64>> = pieces.iter().map(|(_, g)| *g).collect();
    let covered = union(&all);
    let gap = difference_m2(area, &covered);
    if gap > AREA_TOLERANCE_M2 {
        out.push(Finding::Gap {
            level,
            within: within.to_string(),
            m2: gap,
        });
    }
    for (code, g) in pieces {
        let outside = difference_m2(g, area);
        if outside > AREA_TOLERANCE_M2 {
            out.push(Finding::Overhang {
                level,
                code: code.to_string(),
                within: within.to_string(),
                m2: outside,
            });
        }
    }
    // overlaps: the areas add up to more than their union; then name the pairs
    let sum: f64 = all.iter().map(|g| area_m2(g)).sum();
    if sum - area_m2(&covered) > AREA_TOLERANCE_M2 {
        for (i, (a, ga)) in pieces.iter().enumerate() {
            for (b, gb) in &pieces[i + 1..] {
                if !boxes_meet(ga, gb) {
                    continue;
                }
                let m2 = intersection_m2(ga, gb);
                if m2 > AREA_TOLERANCE_M2 {
                    out.push(Finding::Overlap {
                        level,
                        a: a.to_string(),
                        b: b.to_string(),
                        m2,
                    });
                }
            }
        }
    }
    out
}

fn one_piece(level: Level, code: &str, g: &MultiPolygon<f64>) -> Option<Finding> {
    let n = if g.0.len() > 1 {
        union(&[g]).0.len()
    } else {
        g.0.len()
    };
    (n != 1).then(|| Finding::NotOnePiece {
        level,
        code: code.to_string(),
        pieces: n,
    })
}

/// Every tiling finding of `plan`.
pub fn check(plan: &PlanToCheck, ds: &Dataset) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut grids_of: BTreeMap<&str, Vec<(&str, &MultiPolygon<f64>)>> = BTreeMap::new();
    for g in &plan.grids {
        grids_of
            .entry(g.village.as_str())
            .or_default()
            .push((g.code.as_str(), &g.geometry));
        out.extend(one_piece(Level::Grid, &g.code, &g.geometry));
    }
    for v in &ds.villages {
        match grids_of.get(v.code.as_str()) {
            None => out.push(Finding::VillageWithoutGrids {
                village: v.code.to_string(),
            }),
            Some(gs) => out.extend(tile(Level::Grid, v.code.as_str(), &v.boundary, gs)),
        }
    }
    let mut micro_of: BTreeMap<&str, Vec<(&str, &MultiPolygon<f64>)>> = BTreeMap::new();
    for m in &plan.micro {
        let list = micro_of.entry(m.grid.as_str()).or_default();
        if !list.iter().any(|(_, g)| *g == &m.geometry) {
            list.push((m.code.as_str(), &m.geometry));
            out.extend(one_piece(Level::Micro, &m.code, &m.geometry));
        }
    }
    let grid_codes: BTreeMap<&str, &MultiPolygon<f64>> = plan
        .grids
        .iter()
        .map(|g| (g.code.as_str(), &g.geometry))
        .collect();
    for m in &plan.micro {
        if !grid_codes.contains_key(m.grid.as_str()) {
            out.push(Finding::MicroWithoutGrid {
                micro: m.code.clone(),
                grid: m.grid.clone(),
            });
        }
    }
    for (code, g) in &grid_codes {
        match micro_of.get(code) {
            None => out.push(Finding::GridWithoutMicro {
                grid: code.to_string(),
            }),
            Some(ms) => out.extend(tile(Level::Micro, code, g, ms)),
        }
    }
    out
}
