//! Coverage figures (巡查覆盖率) of every grid over a time window.
//!
//! [`CoverageIndex::new`] prepares, once per snapshot, what does not depend on points: each grid's
//! road pieces, buildings and H3 cells. [`CoverageIndex::coverage`] then computes, from the accepted
//! points of a window (see [`super::check`]), for every grid:
//!
//! - **points**: accepted points in the window inside the grid (boundary included; a point on a
//!   border shared by grids goes to the first of them in snapshot order);
//! - **patrols, twice-patrolled days**: the [`super::patrols`] rule applied to each worker's points
//!   *inside the grid*; a day is twice patrolled when two of those patrols (same or different
//!   workers) are [`PatrolRules::min_apart`] apart;
//! - **road share**: the grid's roads (barriers of class `major_road` and `minor_road`; expressways
//!   are fenced and not walked) are cut into equal pieces of at most [`CoverageRules::piece_m`]
//!   (default 5 m) per segment. A piece belongs to a grid when its midpoint, or the midpoint moved
//!   [`CoverageRules::border_m`] (default 1 m) to either side of the road, lies in the grid, so a
//!   road that *is* the border between two grids belongs to both. A piece is walked when some point
//!   of the window (anywhere, any worker) is within [`CoverageRules::radius_m`] (default 30 m) of
//!   its midpoint. Share = walked length / road length;
//! - **target share** and **building share**: the buildings the snapshot puts in the grid;
//!   *targets* are the dedicated ones (schools, hospitals, factories, shops, offices: those with
//!   a dedicated micro-grid). A building is passed when a point is within `radius_m` of its
//!   footprint (of its point when it has no footprint);
//! - **H3 share**: the grid's cells are the cells of [`CoverageRules::resolution`] (default 10,
//!   about 66 m edge) whose centre lies in the grid (h3o `ContainmentMode::ContainsCentroid`), or
//!   the cell of the grid's label point when no centre does. A cell is visited when a point of the
//!   window lies in it.
//!
//! Distances are measured in one equirectangular frame centred on the snapshot (over a district of
//! 50 km the scale error is under 0.5%, 15 cm on 30 m). A share is `None` when there is nothing to
//! cover.

use super::patrols::{runs, twice, Patrol, PatrolRules};
use super::point::PatrolPoint;
use crate::model::{BarrierClass, GridCode};
use crate::snapshot::Snapshot;
use chrono::{DateTime, FixedOffset, NaiveDate, TimeDelta};
use geo::{
    BoundingRect, Contains, Coord, Distance, Euclidean, Intersects, MultiPolygon, Point, Rect,
};
use h3o::{CellIndex, LatLng, Resolution};
use rayon::prelude::*;
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, AABB};
use serde::Serialize;
use std::collections::HashMap;

/// Parameters of the coverage figures.
#[derive(Clone, Copy, Debug)]
pub struct CoverageRules {
    /// A road piece or building is covered by a point this close (default 30 m).
    pub radius_m: f64,
    /// H3 resolution of cell coverage (default 10).
    pub resolution: Resolution,
    /// Longest road piece (default 5 m).
    pub piece_m: f64,
    /// Side offset deciding which grids a road piece belongs to (default 1 m).
    pub border_m: f64,
    /// How points make patrols.
    pub patrol: PatrolRules,
}

impl Default for CoverageRules {
    fn default() -> Self {
        CoverageRules {
            radius_m: 30.0,
            resolution: Resolution::Ten,
            piece_m: 5.0,
            border_m: 1.0,
            patrol: PatrolRules::default(),
        }
    }
}

/// A half-open time window `[from, to)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// First instant in.
    pub from: DateTime<FixedOffset>,
    /// First instant out.
    pub to: DateTime<FixedOffset>,
}

impl Window {
    /// A local calendar day in `zone`.
    pub fn day(day: NaiveDate, zone: FixedOffset) -> Window {
        Window::days(day, 1, zone)
    }
    /// `n` local days from `first` (7 for a week).
    pub fn days(first: NaiveDate, n: u32, zone: FixedOffset) -> Window {
        let from = first
            .and_hms_opt(0, 0, 0)
            .and_then(|t| t.and_local_timezone(zone).single())
            .unwrap_or_else(|| DateTime::<FixedOffset>::MIN_UTC.fixed_offset());
        Window {
            from,
            to: from + TimeDelta::days(n as i64),
        }
    }
    /// Whether `t` is in.
    pub fn contains(&self, t: &DateTime<FixedOffset>) -> bool {
        *t >= self.from && *t < self.to
    }
}

/// Lon/lat ↔ metres around a centre (equirectangular).
#[derive(Clone, Copy, Debug)]
pub struct Metric {
    lon0: f64,
    lat0: f64,
    kx: f64,
    ky: f64,
}

impl Metric {
    /// A frame centred on `(lon0, lat0)`.
    pub fn new(lon0: f64, lat0: f64) -> Metric {
        let ky = 6_371_008.8 * std::f64::consts::PI / 180.0;
        Metric {
            lon0,
            lat0,
            kx: ky * lat0.to_radians().cos(),
            ky,
        }
    }
    /// Metres east and north of the centre.
    pub fn xy(&self, lon: f64, lat: f64) -> [f64; 2] {
        [(lon - self.lon0) * self.kx, (lat - self.lat0) * self.ky]
    }
    /// Back to lon/lat.
    pub fn lonlat(&self, xy: [f64; 2]) -> (f64, f64) {
        (self.lon0 + xy[0] / self.kx, self.lat0 + xy[1] / self.ky)
    }
    fn mp(&self, mp: &MultiPolygon<f64>) -> MultiPolygon<f64> {
        use geo::MapCoords;
        mp.map_coords(|c| {
            let [x, y] = self.xy(c.x, c.y);
            Coord { x, y }
        })
    }
}

/// A piece of road, in metres.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RoadPiece {
    /// Midpoint.
    pub mid: [f64; 2],
    /// Length.
    pub len: f64,
}

enum Shape {
    Point([f64; 2]),
    Footprint(MultiPolygon<f64>, Rect<f64>),
}

struct GridPrep {
    poly: MultiPolygon<f64>,
    pieces: Vec<RoadPiece>,
    buildings: Vec<(Shape, bool)>,
    cells: Vec<CellIndex>,
}

/// What coverage is computed against, prepared once per snapshot.
pub struct CoverageIndex {
    metric: Metric,
    rules: CoverageRules,
    codes: Vec<GridCode>,
    grids: Vec<GridPrep>,
    tree: RTree<GeomWithData<Rectangle<[f64; 2]>, usize>>,
}

/// One grid's figures over a window.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GridCoverage {
    /// Index in [`Snapshot::grids`].
    pub grid: usize,
    /// Grid code.
    pub code: GridCode,
    /// Accepted points inside the grid.
    pub points: usize,
    /// Patrols inside the grid.
    pub patrols: usize,
    /// Each local day with a patrol, in order.
    pub days: Vec<GridDay>,
    /// Days with two patrols.
    pub days_twice: usize,
    /// Road length (m).
    pub road_m: f64,
    /// Road length walked (m).
    pub road_walked_m: f64,
    /// Walked / length.
    pub road_share: Option<f64>,
    /// Key targets (dedicated buildings).
    pub targets: usize,
    /// Key targets passed.
    pub targets_passed: usize,
    /// Passed / targets.
    pub target_share: Option<f64>,
    /// Buildings.
    pub buildings: usize,
    /// Buildings passed.
    pub buildings_passed: usize,
    /// Passed / buildings.
    pub building_share: Option<f64>,
    /// H3 cells of the grid.
    pub cells: usize,
    /// Cells with a point.
    pub cells_visited: usize,
    /// Visited / cells.
    pub cell_share: Option<f64>,
}

/// A grid's patrols on one local day.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GridDay {
    /// Local day (of the patrols' first points).
    pub day: NaiveDate,
    /// Patrols that day.
    pub patrols: usize,
    /// Workers who patrolled.
    pub workers: usize,
    /// Two patrols at least `min_apart` apart.
    pub twice: bool,
}

fn share(part: f64, whole: f64) -> Option<f64> {
    (whole > 0.0).then(|| part / whole)
}

fn cell_of(lon: f64, lat: f64, res: Resolution) -> Option<CellIndex> {
    LatLng::new(lat, lon).ok().map(|ll| ll.to_cell(res))
}

impl CoverageIndex {
    /// Prepares the grids of `snap` (in parallel).
    pub fn new(snap: &Snapshot, rules: CoverageRules) -> CoverageIndex {
        let bbox = snap
            .grids
            .iter()
            .filter_map(|g| g.geometry.bounding_rect())
            .reduce(|a, b| {
                Rect::new(
                    Coord {
                        x: a.min().x.min(b.min().x),
                        y: a.min().y.min(b.min().y),
                    },
                    Coord {
                        x: a.max().x.max(b.max().x),
                        y: a.max().y.max(b.max().y),
                    },
                )
            });
        let c = bbox.map(|r| r.center()).unwrap_or(Coord { x: 0.0, y: 0.0 });
        let metric = Metric::new(c.x, c.y);
        let polys: Vec<MultiPolygon<f64>> = snap
            .grids
            .par_iter()
            .map(|g| metric.mp(&g.geometry))
            .collect();
        let tree = RTree::bulk_load(
            polys
                .iter()
                .enumerate()
                .filter_map(|(i, p)| {
                    let r = p.bounding_rect()?;
                    Some(GeomWithData::new(
                        Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]),
                        i,
                    ))
                })
                .collect(),
        );
        // Road pieces, then which grids each belongs to.
        let mut pieces: Vec<(RoadPiece, [f64; 2])> = Vec::new();
        for b in &snap.barriers {
            if !matches!(b.class, BarrierClass::MajorRoad | BarrierClass::MinorRoad) {
                continue;
            }
            for line in &b.lines {
                for seg in line.lines() {
                    let a = metric.xy(seg.start.x, seg.start.y);
                    let e = metric.xy(seg.end.x, seg.end.y);
                    let (dx, dy) = (e[0] - a[0], e[1] - a[1]);
                    let len = dx.hypot(dy);
                    if len.is_nan() || len <= 0.0 {
                        continue;
                    }
                    let n = (len / rules.piece_m).ceil().max(1.0) as usize;
                    let normal = [-dy / len, dx / len];
                    for k in 0..n {
                        let f = (k as f64 + 0.5) / n as f64;
                        pieces.push((
                            RoadPiece {
                                mid: [a[0] + dx * f, a[1] + dy * f],
                                len: len / n as f64,
                            },
                            normal,
                        ));
                    }
                }
            }
        }
        let tol = rules.border_m;
        let mut owned: Vec<(usize, usize)> = pieces
            .par_iter()
            .enumerate()
            .flat_map_iter(|(i, (p, n))| {
                let [x, y] = p.mid;
                let env = AABB::from_corners([x - tol, y - tol], [x + tol, y + tol]);
                let tests = [
                    Point::new(x, y),
                    Point::new(x + n[0] * tol, y + n[1] * tol),
                    Point::new(x - n[0] * tol, y - n[1] * tol),
                ];
                let polys = &polys;
                tree.locate_in_envelope_intersecting(&env)
                    .filter(move |g| tests.iter().any(|t| polys[g.data].intersects(t)))
                    .map(move |g| (g.data, i))
                    .collect::<Vec<_>>()
            })
            .collect();
        owned.par_sort_unstable();
        let mut grid_pieces: Vec<Vec<RoadPiece>> = vec![Vec::new(); polys.len()];
        for (g, i) in owned {
            grid_pieces[g].push(pieces[i].0);
        }
        // Buildings by grid, in snapshot order.
        let mut grid_buildings: Vec<Vec<usize>> = vec![Vec::new(); polys.len()];
        for (i, b) in snap.buildings.iter().enumerate() {
            if let Some(g) = b.grid.filter(|g| *g < polys.len()) {
                grid_buildings[g].push(i);
            }
        }
        let grids: Vec<GridPrep> = polys
            .into_par_iter()
            .zip(grid_pieces)
            .zip(grid_buildings)
            .enumerate()
            .map(|(gi, ((poly, pieces), bs))| {
                let buildings = bs
                    .into_iter()
                    .map(|bi| {
                        let b = &snap.buildings[bi].building;
                        let shape = match b.footprint.as_ref().map(|f| metric.mp(f)) {
                            Some(f) => match f.bounding_rect() {
                                Some(r) => Shape::Footprint(f, r),
                                None => Shape::Point(metric.xy(b.point.x(), b.point.y())),
                            },
                            None => Shape::Point(metric.xy(b.point.x(), b.point.y())),
                        };
                        (shape, b.kind.is_dedicated())
                    })
                    .collect();
                let g = &snap.grids[gi];
                GridPrep {
                    poly,
                    pieces,
                    buildings,
                    cells: grid_cells(&g.geometry, g.label, rules.resolution),
                }
            })
            .collect();
        CoverageIndex {
            metric,
            rules,
            codes: snap.grids.iter().map(|g| g.code.clone()).collect(),
            grids,
            tree,
        }
    }

    /// The rules the index was made with.
    pub fn rules(&self) -> &CoverageRules {
        &self.rules
    }
    /// The metric frame.
    pub fn metric(&self) -> &Metric {
        &self.metric
    }
    /// Grids prepared.
    pub fn len(&self) -> usize {
        self.grids.len()
    }
    /// No grid.
    pub fn is_empty(&self) -> bool {
        self.grids.is_empty()
    }
    /// A grid's road pieces (metres, in road order).
    pub fn road_pieces(&self, grid: usize) -> &[RoadPiece] {
        self.grids.get(grid).map_or(&[], |g| &g.pieces)
    }
    /// A grid's H3 cells, sorted.
    pub fn cells(&self, grid: usize) -> &[CellIndex] {
        self.grids.get(grid).map_or(&[], |g| &g.cells)
    }
    /// A grid's outline in metres.
    pub fn outline_m(&self, grid: usize) -> Option<&MultiPolygon<f64>> {
        self.grids.get(grid).map(|g| &g.poly)
    }

    /// The grid a point (metres) belongs to: the first in snapshot order whose outline, boundary
    /// included, holds it.
    pub fn grid_at(&self, xy: [f64; 2]) -> Option<usize> {
        let p = Point::new(xy[0], xy[1]);
        self.tree
            .locate_all_at_point(&xy)
            .map(|g| g.data)
            .filter(|&g| self.grids[g].poly.intersects(&p))
            .min()
    }

    /// Every grid's figures from accepted points (any order) over `window` (see the
    /// [module docs](self) for the rules). Grids in snapshot order.
    pub fn coverage(&self, points: &[PatrolPoint], window: &Window) -> Vec<GridCoverage> {
        let sel: Vec<&PatrolPoint> = points.iter().filter(|p| window.contains(&p.time)).collect();
        let xy: Vec<[f64; 2]> = sel
            .par_iter()
            .map(|p| self.metric.xy(p.lon, p.lat))
            .collect();
        let near = Buckets::new(&xy, self.rules.radius_m);
        let res = self.rules.resolution;
        let mut visited: Vec<u64> = sel
            .par_iter()
            .filter_map(|p| cell_of(p.lon, p.lat, res).map(u64::from))
            .collect();
        visited.par_sort_unstable();
        visited.dedup();
        // Point → grid, remembering the last grid of a chunk: consecutive points of a track are
        // mostly strictly inside the same grid, which decides the rule's answer at once.
        let mut owner: Vec<(u32, u32)> = xy
            .par_chunks(4096)
            .enumerate()
            .flat_map_iter(|(c, chunk)| {
                let mut last: Option<usize> = None;
                let mut out = Vec::with_capacity(chunk.len());
                for (k, &q) in chunk.iter().enumerate() {
                    let p = Point::new(q[0], q[1]);
                    let g = match last {
                        Some(g) if self.grids[g].poly.contains(&p) => Some(g),
                        _ => self.grid_at(q),
                    };
                    last = g;
                    if let Some(g) = g {
                        out.push((g as u32, (c * 4096 + k) as u32));
                    }
                }
                out.into_iter()
            })
            .collect();
        owner.par_sort_unstable();
        let mut starts = vec![0usize; self.grids.len() + 1];
        for &(g, _) in &owner {
            starts[g as usize + 1] += 1;
        }
        for i in 0..self.grids.len() {
            starts[i + 1] += starts[i];
        }
        let r = self.rules.radius_m;
        (0..self.grids.len())
            .into_par_iter()
            .map(|gi| {
                let g = &self.grids[gi];
                let mut mine: Vec<&PatrolPoint> = owner[starts[gi]..starts[gi + 1]]
                    .iter()
                    .map(|&(_, i)| sel[i as usize])
                    .collect();
                mine.sort_by(|a, b| a.worker.cmp(&b.worker).then(a.time.cmp(&b.time)));
                let (days, patrols) = grid_days(&mine, &self.rules.patrol);
                // `+ 0.0`: an empty f64 sum is -0.0, which would print as "-0.0".
                let road_m: f64 = g.pieces.iter().map(|p| p.len).sum::<f64>() + 0.0;
                let road_walked_m: f64 = g
                    .pieces
                    .iter()
                    .filter(|p| near.any_within(p.mid, r))
                    .map(|p| p.len)
                    .sum::<f64>()
                    + 0.0;
                let (mut targets, mut targets_passed, mut passed) = (0, 0, 0);
                for (shape, target) in &g.buildings {
                    let hit = match shape {
                        Shape::Point(q) => near.any_within(*q, r),
                        Shape::Footprint(f, bb) => near.any_near_shape(f, bb, r),
                    };
                    passed += hit as usize;
                    if *target {
                        targets += 1;
                        targets_passed += hit as usize;
                    }
                }
                let cells_visited = g
                    .cells
                    .iter()
                    .filter(|c| visited.binary_search(&u64::from(**c)).is_ok())
                    .count();
                GridCoverage {
                    grid: gi,
                    code: self.codes[gi].clone(),
                    points: mine.len(),
                    patrols,
                    days_twice: days.iter().filter(|d| d.twice).count(),
                    days,
                    road_m,
                    road_walked_m,
                    road_share: share(road_walked_m, road_m),
                    targets,
                    targets_passed,
                    target_share: share(targets_passed as f64, targets as f64),
                    buildings: g.buildings.len(),
                    buildings_passed: passed,
                    building_share: share(passed as f64, g.buildings.len() as f64),
                    cells: g.cells.len(),
                    cells_visited,
                    cell_share: share(cells_visited as f64, g.cells.len() as f64),
                }
            })
            .collect()
    }
}

/// A grid's days from its points sorted by worker then time; and the number of patrols.
fn grid_days(points: &[&PatrolPoint], rules: &PatrolRules) -> (Vec<GridDay>, usize) {
    let mut all: Vec<Patrol> = points
        .chunk_by(|a, b| a.worker == b.worker)
        .flat_map(|w| runs(w.iter().copied(), rules))
        .filter(|p| p.duration() >= rules.min_duration)
        .collect();
    all.sort_by(|a, b| {
        (a.start.date_naive(), a.start, &a.worker).cmp(&(b.start.date_naive(), b.start, &b.worker))
    });
    let n = all.len();
    let days = all
        .chunk_by(|a, b| a.start.date_naive() == b.start.date_naive())
        .map(|d| {
            let mut workers: Vec<&str> = d.iter().map(|p| &*p.worker).collect();
            workers.sort_unstable();
            workers.dedup();
            GridDay {
                day: d[0].start.date_naive(),
                patrols: d.len(),
                workers: workers.len(),
                twice: twice(d, rules),
            }
        })
        .collect();
    (days, n)
}

/// The H3 cells of a grid (see the module docs), sorted.
pub fn grid_cells(
    geometry: &MultiPolygon<f64>,
    label: Point<f64>,
    res: Resolution,
) -> Vec<CellIndex> {
    let mut tiler = h3o::geom::TilerBuilder::new(res)
        .containment_mode(h3o::geom::ContainmentMode::ContainsCentroid)
        .build();
    let mut cells: Vec<CellIndex> = match tiler.add_batch(geometry.0.iter().cloned()) {
        Ok(()) => tiler.into_coverage().collect(),
        Err(_) => Vec::new(),
    };
    cells.sort_unstable();
    cells.dedup();
    if cells.is_empty() {
        cells.extend(cell_of(label.x(), label.y(), res));
    }
    cells
}

/// Points bucketed in squares of the search radius.
struct Buckets {
    size: f64,
    map: HashMap<u64, (u32, u32)>,
    xy: Vec<[f64; 2]>,
}

fn bkey(bx: i64, by: i64) -> u64 {
    (((bx + (1 << 31)) as u64) << 32) | ((by + (1 << 31)) as u64 & 0xffff_ffff)
}

impl Buckets {
    fn new(xy: &[[f64; 2]], size: f64) -> Buckets {
        let size = size.max(1e-3);
        let mut keyed: Vec<(u64, u32)> = xy
            .par_iter()
            .enumerate()
            .map(|(i, p)| {
                let k = bkey((p[0] / size).floor() as i64, (p[1] / size).floor() as i64);
                (k, i as u32)
            })
            .collect();
        keyed.par_sort_unstable();
        let mut map = HashMap::new();
        let mut s = 0usize;
        while s < keyed.len() {
            let k = keyed[s].0;
            let mut e = s;
            while e < keyed.len() && keyed[e].0 == k {
                e += 1;
            }
            map.insert(k, (s as u32, e as u32));
            s = e;
        }
        let xy = keyed.iter().map(|&(_, i)| xy[i as usize]).collect();
        Buckets { size, map, xy }
    }

    /// Positions (into the bucket-ordered copy) of the points in buckets overlapping a box.
    fn in_box(&self, min: [f64; 2], max: [f64; 2]) -> impl Iterator<Item = usize> + '_ {
        let (x0, x1) = (
            (min[0] / self.size).floor() as i64,
            (max[0] / self.size).floor() as i64,
        );
        let (y0, y1) = (
            (min[1] / self.size).floor() as i64,
            (max[1] / self.size).floor() as i64,
        );
        (x0..=x1)
            .flat_map(move |bx| (y0..=y1).map(move |by| bkey(bx, by)))
            .filter_map(|k| self.map.get(&k))
            .flat_map(|&(s, e)| s as usize..e as usize)
    }

    fn any_within(&self, q: [f64; 2], r: f64) -> bool {
        let r2 = r * r;
        self.in_box([q[0] - r, q[1] - r], [q[0] + r, q[1] + r])
            .any(|i| {
                let p = self.xy[i];
                let (dx, dy) = (p[0] - q[0], p[1] - q[1]);
                dx * dx + dy * dy <= r2
            })
    }

    fn any_near_shape(&self, f: &MultiPolygon<f64>, bb: &Rect<f64>, r: f64) -> bool {
        let (lo, hi) = (bb.min(), bb.max());
        self.in_box([lo.x - r, lo.y - r], [hi.x + r, hi.y + r])
            .any(|i| {
                let p = self.xy[i];
                p[0] >= lo.x - r
                    && p[0] <= hi.x + r
                    && p[1] >= lo.y - r
                    && p[1] <= hi.y + r
                    && Euclidean.distance(f, &Point::new(p[0], p[1])) <= r
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_find_points_within_the_radius_only() {
        let pts = [[0.0, 0.0], [29.0, 0.0], [100.0, 100.0], [-61.0, -1.0]];
        let b = Buckets::new(&pts, 30.0);
        assert!(b.any_within([0.0, 29.9], 30.0));
        assert!(b.any_within([58.9, 0.0], 30.0));
        assert!(!b.any_within([59.1, 0.1], 30.0));
        assert!(b.any_within([-31.5, -1.0], 30.0));
        assert!(!b.any_within([50.0, 60.0], 30.0));
        // A 10 m square footprint at (120..130, 100..110): (100, 100) is 20 m from it.
        let f = MultiPolygon(vec![geo::Polygon::new(
            geo::LineString::from(vec![
                (120.0, 100.0),
                (130.0, 100.0),
                (130.0, 110.0),
                (120.0, 110.0),
                (120.0, 100.0),
            ]),
            vec![],
        )]);
        let bb = f.bounding_rect().unwrap();
        assert!(b.any_near_shape(&f, &bb, 30.0));
        assert!(!b.any_near_shape(&f, &bb, 19.0));
    }

    #[test]
    fn window_of_a_local_day() {
        let z = FixedOffset::east_opt(8 * 3600).unwrap();
        let w = Window::day(NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(), z);
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap();
        assert!(w.contains(&at("2026-11-19T16:00:00Z")));
        assert!(!w.contains(&at("2026-11-20T16:00:00Z")));
        assert!(w.contains(&at("2026-11-20T23:59:59+08:00")));
    }

    #[test]
    fn metric_round_trips() {
        let m = Metric::new(116.4, 39.9);
        let xy = m.xy(116.41, 39.89);
        let (lon, lat) = m.lonlat(xy);
        assert!((lon - 116.41).abs() < 1e-12 && (lat - 39.89).abs() < 1e-12);
        // 0.01° of latitude is about 1,112 m.
        assert!((xy[1] + 1111.95).abs() < 0.1, "{xy:?}");
    }
}
