//! Heatmaps (热力图): points and distinct workers per H3 cell, coarser levels, GeoJSON.
//!
//! The rule: at resolution 10 ([`BASE_RES`]) and finer, a point counts in the H3 cell (h3o) holding
//! its WGS84 position; at a coarser resolution, in the ancestor of its resolution-10 cell. So a
//! cell's count is the sum of its children's at every zoom (H3 children do not tile their parent
//! exactly; locating the point again at each resolution would move points between neighbours as
//! the map zooms). A cell's `workers` is the number of distinct workers with a point in it:
//! coarser levels are computed from (cell, worker) counts, never by adding worker counts, so it
//! stays exact at every level. The store keeps each worker-day's resolution-10 counts, so a map
//! never has to locate points again ([`HeatMap::from_counts`]).

use super::point::PatrolPoint;
use geojson::{Feature, FeatureCollection, Geometry, GeometryValue, JsonObject, Position};
use h3o::{CellIndex, LatLng, Resolution};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;

/// The resolution points are located at for every coarser heat level.
pub const BASE_RES: Resolution = Resolution::Ten;

/// The heat cell of a position at `res` (see the [module docs](self)).
pub fn heat_cell(lon: f64, lat: f64, res: Resolution) -> Option<CellIndex> {
    let ll = LatLng::new(lat, lon).ok()?;
    if res >= BASE_RES {
        Some(ll.to_cell(res))
    } else {
        ll.to_cell(BASE_RES).parent(res)
    }
}

/// One cell of a heatmap.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct HeatCell {
    /// The H3 cell.
    #[serde(serialize_with = "ser_cell")]
    pub cell: CellIndex,
    /// Points in it.
    pub points: u64,
    /// Distinct workers with a point in it.
    pub workers: u32,
}

fn ser_cell<S: serde::Serializer>(c: &CellIndex, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&c.to_string())
}

/// Point counts per (cell, worker) at one resolution, the base of every coarser level.
#[derive(Clone, Debug, PartialEq)]
pub struct HeatMap {
    res: Resolution,
    /// Sorted (cell, worker number, points).
    entries: Vec<(CellIndex, u32, u64)>,
}

impl HeatMap {
    /// Counts `points` (e.g. the accepted points of a window) at `res`. Points whose position is
    /// not a valid latitude/longitude are skipped (the checks reject them before). Fastest with
    /// each worker's points together, as [`super::Checked::accepted`] has them.
    pub fn new<'a>(points: impl IntoIterator<Item = &'a PatrolPoint>, res: Resolution) -> HeatMap {
        let pts: Vec<&PatrolPoint> = points.into_iter().collect();
        // Located at resolution 10 (or `res` when finer), in chunks each with its finder.
        let base = res.max(BASE_RES);
        let cells: Vec<Option<CellIndex>> = pts
            .par_chunks(4096)
            .flat_map_iter(|chunk| {
                let mut finder = super::cells::CellFinder::new(base);
                chunk
                    .iter()
                    .map(|p| finder.cell(p.lon, p.lat).and_then(|c| c.parent(res)))
                    .collect::<Vec<_>>()
            })
            .collect();
        let mut names: Vec<Arc<str>> = Vec::new();
        let mut raw: Vec<(CellIndex, usize)> = Vec::with_capacity(pts.len());
        let mut last: Option<(Arc<str>, usize)> = None;
        for (p, cell) in pts.iter().zip(cells) {
            let Some(cell) = cell else {
                continue;
            };
            let w = match &last {
                Some((a, i)) if Arc::ptr_eq(a, &p.worker) || **a == *p.worker => *i,
                _ => {
                    names.push(p.worker.clone());
                    let i = names.len() - 1;
                    last = Some((p.worker.clone(), i));
                    i
                }
            };
            raw.push((cell, w));
        }
        // Number workers by name so the same worker seen in several runs is one.
        let mut order: Vec<usize> = (0..names.len()).collect();
        order.sort_by(|&a, &b| names[a].cmp(&names[b]));
        let mut number = vec![0u32; names.len()];
        let mut n = 0u32;
        for (k, &i) in order.iter().enumerate() {
            if k > 0 && names[order[k - 1]] != names[i] {
                n += 1;
            }
            number[i] = n;
        }
        let mut keyed: Vec<(CellIndex, u32)> =
            raw.into_iter().map(|(c, w)| (c, number[w])).collect();
        keyed.par_sort_unstable();
        let mut entries: Vec<(CellIndex, u32, u64)> = Vec::new();
        for (c, w) in keyed {
            match entries.last_mut() {
                Some(e) if e.0 == c && e.1 == w => e.2 += 1,
                _ => entries.push((c, w, 1)),
            }
        }
        HeatMap { res, entries }
    }

    /// From counts already made: `(cell, worker, points)` (e.g. a worker-day's stored cell
    /// counts) at `res` or finer, summed into `res` by ancestry. Cells finer than `res` become
    /// their ancestors; coarser ones are left out.
    pub fn from_counts<'a>(
        counts: impl IntoIterator<Item = (CellIndex, &'a str, u64)>,
        res: Resolution,
    ) -> HeatMap {
        // Each distinct worker once (a month holds each worker's name thirty times or more),
        // numbered in name order so the result does not depend on the input's order.
        let mut names: Vec<&str> = Vec::new();
        let mut seen: HashMap<&str, usize> = HashMap::new();
        let mut raw: Vec<(CellIndex, usize, u64)> = Vec::new();
        let mut last: Option<(&str, usize)> = None;
        for (c, w, n) in counts {
            let Some(c) = c.parent(res) else { continue };
            let wi = match last {
                Some((a, i)) if std::ptr::eq(a, w) || a == w => i,
                _ => {
                    let i = *seen.entry(w).or_insert_with(|| {
                        names.push(w);
                        names.len() - 1
                    });
                    last = Some((w, i));
                    i
                }
            };
            raw.push((c, wi, n));
        }
        let mut order: Vec<usize> = (0..names.len()).collect();
        order.sort_unstable_by(|&a, &b| names[a].cmp(names[b]));
        let mut number = vec![0u32; names.len()];
        for (k, &i) in order.iter().enumerate() {
            number[i] = k as u32;
        }
        let mut keyed: Vec<(CellIndex, u32, u64)> =
            raw.into_iter().map(|(c, w, n)| (c, number[w], n)).collect();
        keyed.par_sort_unstable_by_key(|e| (e.0, e.1));
        let mut entries: Vec<(CellIndex, u32, u64)> = Vec::with_capacity(keyed.len());
        for (c, w, n) in keyed {
            match entries.last_mut() {
                Some(e) if e.0 == c && e.1 == w => e.2 += n,
                _ => entries.push((c, w, n)),
            }
        }
        HeatMap { res, entries }
    }

    /// The resolution.
    pub fn resolution(&self) -> Resolution {
        self.res
    }

    /// The same counts at a coarser (or equal) resolution; `None` if `res` is finer.
    pub fn coarsen(&self, res: Resolution) -> Option<HeatMap> {
        if res > self.res {
            return None;
        }
        let mut keyed: Vec<(CellIndex, u32, u64)> = self
            .entries
            .iter()
            .filter_map(|&(c, w, n)| Some((c.parent(res)?, w, n)))
            .collect();
        keyed.sort_unstable_by_key(|e| (e.0, e.1));
        let mut entries: Vec<(CellIndex, u32, u64)> = Vec::new();
        for (c, w, n) in keyed {
            match entries.last_mut() {
                Some(e) if e.0 == c && e.1 == w => e.2 += n,
                _ => entries.push((c, w, n)),
            }
        }
        Some(HeatMap { res, entries })
    }

    /// One [`HeatCell`] per cell with points, sorted by cell.
    pub fn cells(&self) -> Vec<HeatCell> {
        let mut out: Vec<HeatCell> = Vec::new();
        for &(c, _, n) in &self.entries {
            match out.last_mut() {
                Some(h) if h.cell == c => {
                    h.points += n;
                    h.workers += 1;
                }
                _ => out.push(HeatCell {
                    cell: c,
                    points: n,
                    workers: 1,
                }),
            }
        }
        out
    }
}

/// Points and workers per H3 cell at `res` (see the [module docs](self)), sorted by cell.
pub fn heat<'a>(
    points: impl IntoIterator<Item = &'a PatrolPoint>,
    res: Resolution,
) -> Vec<HeatCell> {
    HeatMap::new(points, res).cells()
}

/// A FeatureCollection with one hexagon (or pentagon) Polygon per cell, properties `h3` (the index
/// as hex text), `res`, `points` and `workers`.
pub fn to_geojson(cells: &[HeatCell]) -> FeatureCollection {
    FeatureCollection::new(cells.iter().map(|h| {
        let mut ring: Vec<Position> = h
            .cell
            .boundary()
            .iter()
            .map(|ll| Position::from([ll.lng(), ll.lat()]))
            .collect();
        if let Some(first) = ring.first().cloned() {
            ring.push(first);
        }
        let mut props = JsonObject::new();
        props.insert("h3".into(), h.cell.to_string().into());
        props.insert("res".into(), u8::from(h.cell.resolution()).into());
        props.insert("points".into(), h.points.into());
        props.insert("workers".into(), h.workers.into());
        Feature {
            bbox: None,
            geometry: Some(Geometry::new(GeometryValue::Polygon {
                coordinates: vec![ring],
            })),
            id: None,
            properties: Some(props),
            foreign_members: None,
        }
    }))
}
