//! Codes: well-formed (village code + 3 digits, grid code + 3 digits), unique, every grid's
//! village known, labels strictly inside their polygons, and — for a fresh plan — grid codes
//! numbered 001…n in reading order.
//!
//! Reading order is the documented rule: rows as tall as √(village area ÷ grids) from the
//! northernmost grid position down, west to east within a row, a grid's position being its label
//! (checked to lie inside it) or else a point inside it. Positions within 2% of a row's height (and
//! 1% more per row down) of a row line may be read in either row, as the engine's planar frame
//! differs a little from the check's: only an order that no reading allows is a finding.

use super::geom::{area_m2, holds, inside_point};
use super::plan::PlanToCheck;
use super::{Finding, Level, Rules};
use crate::model::Dataset;
use std::collections::{BTreeMap, BTreeSet};

fn well_formed(code: &str, parent: &str) -> bool {
    code.len() == parent.len() + 3
        && code.starts_with(parent)
        && code.bytes().all(|b| b.is_ascii_digit())
}

/// Every code finding of `plan`.
pub fn check(plan: &PlanToCheck, ds: &Dataset, rules: &Rules) -> Vec<Finding> {
    let mut out = Vec::new();
    let villages: BTreeSet<&str> = ds.villages.iter().map(|v| v.code.as_str()).collect();
    let mut seen = BTreeSet::new();
    for g in &plan.grids {
        if !well_formed(&g.code, &g.village) || g.village.len() != 12 {
            out.push(Finding::BadCode {
                level: Level::Grid,
                code: g.code.clone(),
                parent: format!("village code {}", g.village),
            });
        }
        if !villages.contains(g.village.as_str()) {
            out.push(Finding::UnknownVillage {
                grid: g.code.clone(),
                village: g.village.clone(),
            });
        }
        if !seen.insert(g.code.as_str()) {
            out.push(Finding::DuplicateCode {
                level: Level::Grid,
                code: g.code.clone(),
            });
        }
        if g.label.is_some_and(|l| !holds(&g.geometry, &l)) {
            out.push(Finding::LabelOutside {
                level: Level::Grid,
                code: g.code.clone(),
            });
        }
    }
    let mut seen = BTreeSet::new();
    for m in &plan.micro {
        if !well_formed(&m.code, &m.grid) {
            out.push(Finding::BadCode {
                level: Level::Micro,
                code: m.code.clone(),
                parent: format!("grid code {}", m.grid),
            });
        }
        if !seen.insert(m.code.as_str()) {
            out.push(Finding::DuplicateCode {
                level: Level::Micro,
                code: m.code.clone(),
            });
        }
        if m.label.is_some_and(|l| !holds(&m.geometry, &l)) {
            out.push(Finding::LabelOutside {
                level: Level::Micro,
                code: m.code.clone(),
            });
        }
    }
    if rules.reading_order {
        out.extend(reading_order(plan, ds));
    }
    out
}

/// A grid's position in metres (x east, y north) around latitude `lat0`.
fn position(g: &super::plan::PlanGrid, lat0: f64) -> Option<[f64; 2]> {
    let p = g
        .label
        .filter(|l| holds(&g.geometry, l))
        .or_else(|| inside_point(&g.geometry))?;
    let m = 6_371_008.8 * std::f64::consts::PI / 180.0;
    Some([p.x() * m * lat0.to_radians().cos(), p.y() * m])
}

fn reading_order(plan: &PlanToCheck, ds: &Dataset) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut by_village: BTreeMap<&str, Vec<&super::plan::PlanGrid>> = BTreeMap::new();
    for g in &plan.grids {
        by_village.entry(g.village.as_str()).or_default().push(g);
    }
    for (vcode, mut gs) in by_village {
        let Some(v) = ds.villages.iter().find(|v| v.code.as_str() == vcode) else {
            continue;
        };
        gs.sort_by(|a, b| a.code.cmp(&b.code));
        for (i, g) in gs.iter().enumerate() {
            let want = format!("{vcode}{:03}", i + 1);
            if g.code != want {
                out.push(Finding::SequenceGap {
                    village: vcode.to_string(),
                    missing: want,
                });
                break;
            }
        }
        let lat0 = inside_point(&v.boundary).map_or(0.0, |p| p.y());
        let pos: Vec<Option<[f64; 2]>> = gs.iter().map(|g| position(g, lat0)).collect();
        let h = (area_m2(&v.boundary) / gs.len() as f64).sqrt().max(1.0);
        let north = pos
            .iter()
            .flatten()
            .map(|p| p[1])
            .fold(f64::NEG_INFINITY, f64::max);
        // the rows a position may be read in (two when it lies on a row line)
        let rows = |p: &[f64; 2]| {
            let r = (north - p[1]) / h;
            let margin = 0.02 + 0.01 * r;
            (
                (r - margin).floor().max(0.0) as i64,
                (r + margin).floor() as i64,
            )
        };
        for w in 0..gs.len().saturating_sub(1) {
            let (Some(a), Some(b)) = (pos[w], pos[w + 1]) else {
                continue;
            };
            let ((a_lo, a_hi), (b_lo, b_hi)) = (rows(&a), rows(&b));
            // b must come first: in an earlier row whichever way, or surely in the same row and
            // west of a by more than a metre
            let earlier_row = b_hi < a_lo;
            let same_row_west = a_lo == a_hi && b_lo == b_hi && a_lo == b_lo && b[0] < a[0] - 1.0;
            if earlier_row || same_row_west {
                out.push(Finding::OutOfReadingOrder {
                    village: vcode.to_string(),
                    first: gs[w].code.clone(),
                    second: gs[w + 1].code.clone(),
                });
            }
        }
    }
    out
}
