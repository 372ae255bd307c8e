//! Coverage figures (巡查覆盖率) of every grid and every grid worker over a time window.
//!
//! [`CoverageIndex::from_parts`] (or [`CoverageIndex::new`] for a whole snapshot) prepares once
//! what does not depend on points: each grid's road pieces, buildings and H3 cells.
//! [`CoverageIndex::run`] then takes the accepted points of a window (see [`super::check()`]) in
//! chunks that follow each other in time (one local day after another, so a month never has to
//! be in memory), and gives, for every grid:
//!
//! - **points**: accepted points in the window inside the grid (boundary included; a point on a
//!   border shared by grids goes to the first of them in index order);
//! - **patrols, twice-patrolled days**: the [`super::patrols`] rule applied to each worker's points
//!   *inside the grid* (a run continues across chunks); a day is twice patrolled when two of those
//!   patrols (same or different workers) are [`PatrolRules::min_apart`] apart;
//! - **road share**: the grid's roads (barriers of class `major_road` and `minor_road`; expressways
//!   are fenced and not walked) are cut into equal pieces of at most [`CoverageRules::piece_m`]
//!   (default 5 m) per segment. A piece belongs to a grid when its midpoint, or the midpoint moved
//!   [`CoverageRules::border_m`] (default 1 m) to either side of the road, lies in the grid, so a
//!   road that *is* the border between two grids belongs to both. A piece is walked when some point
//!   of the window (anywhere, any worker) is within [`CoverageRules::radius_m`] (default 30 m) of
//!   its midpoint. Share = walked length / road length;
//! - **target share** and **building share**: the buildings of the grid; *targets* are the
//!   dedicated ones (schools, hospitals, factories, shops, offices: those with a dedicated
//!   micro-grid). A building is passed when a point is within `radius_m` of its footprint (of its
//!   point when it has no footprint);
//! - **H3 share**: the grid's cells are the cells of [`CoverageRules::resolution`] (default 10,
//!   about 66 m edge) whose centre lies in the grid (h3o `ContainmentMode::ContainsCentroid`), or
//!   the cell of the grid's label point when no centre does. A cell is visited when a point of the
//!   window lies in it.
//!
//! and, with a [`Roster`], for every grid worker ([`WorkerCoverage`]): the same figures over the
//! grids they are registered for, from **their own points only** (matched as [`super::roster`]
//! says): patrols are runs of their points inside those grids; a road piece, building or cell
//! counts once even when two of their grids share it. A worker id matching no registered worker
//! (or several) is listed with its status, its points and its patrols anywhere, and no shares.
//!
//! [`CoverageRun::add`] also answers the chunk's own figures per grid (a day's, when chunks are
//! days): the daily report ranks those. [`CoverageIndex::coverage`] is one chunk.
//!
//! Distances are measured in one equirectangular frame centred on the grids (over a district of
//! 50 km the scale error is under 0.5%, 15 cm on 30 m). A share is `None` when there is nothing to
//! cover.

use super::cells::CellFinder;
use super::patrols::{runs, twice, Patrol, PatrolRules};
use super::point::PatrolPoint;
use super::roster::{Match, Roster, Status};
use crate::model::{Barrier, BarrierClass, Building, GridCode};
use crate::snapshot::Snapshot;
use chrono::{DateTime, FixedOffset, NaiveDate, TimeDelta};
use geo::{BoundingRect, Coord, Distance, Euclidean, Intersects, MultiPolygon, Point, Rect};
use h3o::{CellIndex, LatLng, Resolution};
use rayon::prelude::*;
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, AABB};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

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
    /// `[from, to)` in UTC milliseconds.
    pub fn ms(&self) -> (i64, i64) {
        (self.from.timestamp_millis(), self.to.timestamp_millis())
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
    outline: Outline,
    pieces: Vec<RoadPiece>,
    /// Index of each piece among all pieces (a border road's pieces are in two grids).
    piece_ids: Vec<u32>,
    buildings: Vec<(Shape, bool)>,
    /// Each building's id, in the order of `buildings`.
    building_ids: Vec<Arc<str>>,
    cells: Vec<CellIndex>,
}

/// A grid as coverage needs it.
#[derive(Clone, Copy, Debug)]
pub struct GridShape<'a> {
    /// Its code.
    pub code: &'a GridCode,
    /// Its outline, lon/lat.
    pub geometry: &'a MultiPolygon<f64>,
    /// A point inside it (its cell is the grid's cell when no H3 cell centre lies inside).
    pub label: Point<f64>,
}

/// What coverage is computed against, prepared once per map revision.
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
    /// Index of the grid in the index (in a snapshot: in [`Snapshot::grids`]).
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

/// A worker's patrols on one local day.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WorkerDay {
    /// Local day (of the patrols' first points).
    pub day: NaiveDate,
    /// Patrols that day.
    pub patrols: usize,
    /// Two patrols at least `min_apart` apart.
    pub twice: bool,
}

/// One grid worker's figures over a window (see the [module docs](self)).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WorkerCoverage {
    /// The registered name, or the id sent when not registered.
    pub worker: String,
    /// The registered phone.
    pub phone: Option<String>,
    /// How the id was matched.
    pub status: Status,
    /// The ids whose points were counted (sorted; empty when no point came).
    pub ids: Vec<String>,
    /// The grids registered for.
    pub grids: Vec<GridCode>,
    /// Accepted points in the window.
    pub points: usize,
    /// Of those, inside the worker's grids.
    pub points_in_grids: usize,
    /// Patrols (inside the worker's grids; anywhere for an id not registered).
    pub patrols: usize,
    /// Each local day with a patrol, in order.
    pub days: Vec<WorkerDay>,
    /// Days with two patrols.
    pub days_twice: usize,
    /// Road length of the grids (m).
    pub road_m: f64,
    /// Of it, walked by the worker (m).
    pub road_walked_m: f64,
    /// Walked / length.
    pub road_share: Option<f64>,
    /// Key targets of the grids.
    pub targets: usize,
    /// Passed by the worker.
    pub targets_passed: usize,
    /// Passed / targets.
    pub target_share: Option<f64>,
    /// Buildings of the grids.
    pub buildings: usize,
    /// Passed by the worker.
    pub buildings_passed: usize,
    /// Passed / buildings.
    pub building_share: Option<f64>,
    /// H3 cells of the grids.
    pub cells: usize,
    /// Visited by the worker.
    pub cells_visited: usize,
    /// Visited / cells.
    pub cell_share: Option<f64>,
}

/// The figures of a whole run: every grid (index order) and every worker (registered ones in
/// roster order, then ambiguous ids, then unregistered ones, each in id order).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Coverage {
    /// Per grid.
    pub grids: Vec<GridCoverage>,
    /// Per worker (empty without a roster).
    pub workers: Vec<WorkerCoverage>,
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
        let grids: Vec<GridShape> = snap
            .grids
            .iter()
            .map(|g| GridShape {
                code: &g.code,
                geometry: &g.geometry,
                label: g.label,
            })
            .collect();
        CoverageIndex::from_parts(
            &grids,
            &snap.barriers,
            snap.buildings
                .iter()
                .filter_map(|b| Some((b.grid?, &b.building))),
            rules,
        )
    }

    /// Prepares `grids` (in parallel) with the roads among `barriers` and `buildings`, each given
    /// with the index in `grids` of the grid it belongs to (others are left out).
    pub fn from_parts<'a>(
        grids: &[GridShape<'_>],
        barriers: impl IntoIterator<Item = &'a Barrier>,
        buildings: impl IntoIterator<Item = (usize, &'a Building)>,
        rules: CoverageRules,
    ) -> CoverageIndex {
        let bbox = grids
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
        let polys: Vec<MultiPolygon<f64>> =
            grids.par_iter().map(|g| metric.mp(g.geometry)).collect();
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
        for b in barriers {
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
        let mut grid_pieces: Vec<(Vec<RoadPiece>, Vec<u32>)> =
            vec![(Vec::new(), Vec::new()); polys.len()];
        for (g, i) in owned {
            grid_pieces[g].0.push(pieces[i].0);
            grid_pieces[g].1.push(i as u32);
        }
        // Buildings by grid, in the order given.
        let mut grid_buildings: Vec<Vec<&Building>> = vec![Vec::new(); polys.len()];
        for (g, b) in buildings {
            if let Some(list) = grid_buildings.get_mut(g) {
                list.push(b);
            }
        }
        let prepared: Vec<GridPrep> = polys
            .into_par_iter()
            .zip(grid_pieces)
            .zip(grid_buildings)
            .enumerate()
            .map(|(gi, ((poly, (pieces, piece_ids)), bs))| {
                let building_ids = bs.iter().map(|b| Arc::from(b.id.as_str())).collect();
                let buildings = bs
                    .into_iter()
                    .map(|b| {
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
                let g = &grids[gi];
                GridPrep {
                    outline: Outline::new(&poly),
                    poly,
                    pieces,
                    piece_ids,
                    buildings,
                    building_ids,
                    cells: grid_cells(g.geometry, g.label, rules.resolution),
                }
            })
            .collect();
        CoverageIndex {
            metric,
            rules,
            codes: grids.iter().map(|g| g.code.clone()).collect(),
            grids: prepared,
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
    /// A grid's code.
    pub fn code(&self, grid: usize) -> Option<&GridCode> {
        self.codes.get(grid)
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

    /// The grid a point (metres) belongs to: the first in index order whose outline, boundary
    /// included, holds it.
    pub fn grid_at(&self, xy: [f64; 2]) -> Option<usize> {
        self.tree
            .locate_all_at_point(&xy)
            .map(|g| g.data)
            .filter(|&g| self.in_grid(g, xy))
            .min()
    }

    /// Whether grid `g`'s outline, boundary included, holds a point (metres).
    fn in_grid(&self, g: usize, xy: [f64; 2]) -> bool {
        let Some(gp) = self.grids.get(g) else {
            return false;
        };
        match gp.outline.side(xy) {
            Side::In => true,
            Side::Out => false,
            Side::Near => gp.poly.intersects(&Point::new(xy[0], xy[1])),
        }
    }

    /// Every grid's figures from accepted points (any order) over `window` (see the
    /// [module docs](self) for the rules). Grids in index order.
    pub fn coverage(&self, points: &[PatrolPoint], window: &Window) -> Vec<GridCoverage> {
        self.run(*window, None).add(points)
    }

    /// Starts computing the figures of `window`, per worker too with a `roster`; feed it points
    /// with [`CoverageRun::add`].
    pub fn run<'a>(&'a self, window: Window, roster: Option<&'a Roster>) -> CoverageRun<'a> {
        CoverageRun {
            index: self,
            roster,
            window,
            grids: self
                .grids
                .iter()
                .map(|g| GridAcc {
                    points: 0,
                    marks: Marks::new(g.pieces.len(), g.buildings.len(), g.cells.len()),
                    runs: Vec::new(),
                    last: HashMap::new(),
                })
                .collect(),
            workers: BTreeMap::new(),
        }
    }

    /// The items a set of grids covers, each once.
    fn universe(&self, grids: &[usize]) -> Universe {
        let mut u = Universe::default();
        let mut seen_pieces = std::collections::HashSet::new();
        for &g in grids {
            let Some(gp) = self.grids.get(g) else {
                continue;
            };
            for (i, id) in gp.piece_ids.iter().enumerate() {
                if seen_pieces.insert(*id) {
                    u.pieces.push((g as u32, i as u32));
                }
            }
            u.buildings
                .extend((0..gp.buildings.len()).map(|i| (g as u32, i as u32)));
            u.cells.extend(gp.cells.iter().copied());
        }
        u.cells.sort_unstable();
        u.cells.dedup();
        u
    }

    /// Marks the items of `u` covered by `near` (points) and `visited` (cells, sorted).
    fn mark(&self, u: &Universe, near: &Buckets, visited: &[u64], m: &mut Marks) {
        let r = self.rules.radius_m;
        for (k, &(g, i)) in u.pieces.iter().enumerate() {
            if !m.walked[k] && near.any_within(self.grids[g as usize].pieces[i as usize].mid, r) {
                m.walked[k] = true;
            }
        }
        for (k, &(g, i)) in u.buildings.iter().enumerate() {
            if !m.passed[k] && self.passed(&self.grids[g as usize].buildings[i as usize].0, near) {
                m.passed[k] = true;
            }
        }
        for (k, c) in u.cells.iter().enumerate() {
            if !m.visited[k] && visited.binary_search(&u64::from(*c)).is_ok() {
                m.visited[k] = true;
            }
        }
    }

    fn passed(&self, shape: &Shape, near: &Buckets) -> bool {
        let r = self.rules.radius_m;
        match shape {
            Shape::Point(q) => near.any_within(*q, r),
            Shape::Footprint(f, bb) => near.any_near_shape(f, bb, r),
        }
    }
}

/// Items covered (road pieces, buildings, cells) of one grid or one worker's grids.
#[derive(Default)]
struct Universe {
    /// (grid, piece index in the grid), each road piece once.
    pieces: Vec<(u32, u32)>,
    /// (grid, building index in the grid).
    buildings: Vec<(u32, u32)>,
    /// Cells, sorted, each once.
    cells: Vec<CellIndex>,
}

/// Which items of a grid or universe were covered.
#[derive(Clone)]
struct Marks {
    walked: Vec<bool>,
    passed: Vec<bool>,
    visited: Vec<bool>,
}

impl Marks {
    fn new(pieces: usize, buildings: usize, cells: usize) -> Marks {
        Marks {
            walked: vec![false; pieces],
            passed: vec![false; buildings],
            visited: vec![false; cells],
        }
    }
    fn or(&mut self, other: &Marks) {
        for (a, b) in [
            (&mut self.walked, &other.walked),
            (&mut self.passed, &other.passed),
            (&mut self.visited, &other.visited),
        ] {
            for (x, y) in a.iter_mut().zip(b) {
                *x |= *y;
            }
        }
    }
}

/// Road length, walked length, targets, targets passed, buildings, passed, cells, visited.
struct Tally {
    road_m: f64,
    road_walked_m: f64,
    targets: usize,
    targets_passed: usize,
    buildings: usize,
    buildings_passed: usize,
    cells: usize,
    cells_visited: usize,
}

impl CoverageIndex {
    fn tally(
        &self,
        pieces: &[(u32, u32)],
        buildings: &[(u32, u32)],
        cells: usize,
        m: &Marks,
    ) -> Tally {
        let piece = |&(g, i): &(u32, u32)| self.grids[g as usize].pieces[i as usize].len;
        let target = |&(g, i): &(u32, u32)| self.grids[g as usize].buildings[i as usize].1;
        // `+ 0.0`: an empty f64 sum is -0.0, which would print as "-0.0".
        Tally {
            road_m: pieces.iter().map(piece).sum::<f64>() + 0.0,
            road_walked_m: pieces
                .iter()
                .zip(&m.walked)
                .filter(|(_, w)| **w)
                .map(|(p, _)| piece(p))
                .sum::<f64>()
                + 0.0,
            targets: buildings.iter().filter(|b| target(b)).count(),
            targets_passed: buildings
                .iter()
                .zip(&m.passed)
                .filter(|(b, p)| **p && target(b))
                .count(),
            buildings: buildings.len(),
            buildings_passed: m.passed.iter().filter(|p| **p).count(),
            cells,
            cells_visited: m.visited.iter().filter(|v| **v).count(),
        }
    }

    fn grid_tally(&self, g: usize, m: &Marks) -> Tally {
        let gp = &self.grids[g];
        let pieces: Vec<(u32, u32)> = (0..gp.pieces.len()).map(|i| (g as u32, i as u32)).collect();
        let buildings: Vec<(u32, u32)> = (0..gp.buildings.len())
            .map(|i| (g as u32, i as u32))
            .collect();
        self.tally(&pieces, &buildings, gp.cells.len(), m)
    }

    /// The figures of grid `g` from its points, its runs (every worker's) and its marks.
    fn grid_coverage(&self, g: usize, points: usize, runs: &[Patrol], m: &Marks) -> GridCoverage {
        let (days, patrols) = grid_days(runs, &self.rules.patrol);
        let t = self.grid_tally(g, m);
        GridCoverage {
            grid: g,
            code: self.codes[g].clone(),
            points,
            patrols,
            days_twice: days.iter().filter(|d| d.twice).count(),
            days,
            road_m: t.road_m,
            road_walked_m: t.road_walked_m,
            road_share: share(t.road_walked_m, t.road_m),
            targets: t.targets,
            targets_passed: t.targets_passed,
            target_share: share(t.targets_passed as f64, t.targets as f64),
            buildings: t.buildings,
            buildings_passed: t.buildings_passed,
            building_share: share(t.buildings_passed as f64, t.buildings as f64),
            cells: t.cells,
            cells_visited: t.cells_visited,
            cell_share: share(t.cells_visited as f64, t.cells as f64),
        }
    }
}

/// A building of a grid and whether it was passed (see [`CoverageRun::grid_buildings`]).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BuildingPass {
    /// Index of the grid in the index.
    pub grid: usize,
    /// The building's id.
    #[serde(serialize_with = "ser_arc_str")]
    pub id: Arc<str>,
    /// A key target (dedicated building).
    pub target: bool,
    /// Passed within `radius_m` by a point.
    pub passed: bool,
}

fn ser_arc_str<S: serde::Serializer>(a: &Arc<str>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(a)
}

impl CoverageIndex {
    fn building_pass(&self, g: usize, i: usize, passed: bool) -> BuildingPass {
        let gp = &self.grids[g];
        BuildingPass {
            grid: g,
            id: gp.building_ids[i].clone(),
            target: gp.buildings[i].1,
            passed,
        }
    }
}

struct GridAcc {
    points: usize,
    marks: Marks,
    /// Every run of every worker inside the grid (short ones too), in the order found.
    runs: Vec<Patrol>,
    /// Each worker's latest run (index in `runs`), which the next chunk may continue.
    last: HashMap<Arc<str>, usize>,
}

/// Who a worker entry is about.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum WorkerKey {
    Registered(usize),
    Other(Status, Arc<str>),
}

struct WorkerAcc {
    grids: Vec<usize>,
    universe: Universe,
    marks: Marks,
    ids: std::collections::BTreeSet<Arc<str>>,
    points: usize,
    points_in: usize,
    runs: Vec<Patrol>,
}

/// A window's figures being computed, chunk by chunk (see [`CoverageIndex::run`]).
pub struct CoverageRun<'a> {
    index: &'a CoverageIndex,
    roster: Option<&'a Roster>,
    window: Window,
    grids: Vec<GridAcc>,
    workers: BTreeMap<WorkerKey, WorkerAcc>,
}

/// Adds `new` (one worker's runs of a chunk, by time) to `runs`, continuing run `last` (that
/// worker's latest) when the first new run starts close enough after it; returns the worker's
/// latest run now.
fn extend_runs(
    runs: &mut Vec<Patrol>,
    last: Option<usize>,
    new: Vec<Patrol>,
    rules: &PatrolRules,
) -> Option<usize> {
    let mut last = last;
    let mut new = new.into_iter().peekable();
    if let (Some(l), Some(first)) = (last, new.peek()) {
        let r = &mut runs[l];
        if first.start - r.end <= rules.max_gap {
            r.end = r.end.max(first.end);
            r.points += first.points;
            new.next();
        }
    }
    for r in new {
        runs.push(r);
        last = Some(runs.len() - 1);
    }
    last
}

/// Patrols (runs long enough) by day: (day, patrols, workers, twice), days in order.
fn by_day(runs: &[Patrol], rules: &PatrolRules) -> (Vec<(NaiveDate, Vec<Patrol>)>, usize) {
    let mut all: Vec<Patrol> = runs
        .iter()
        .filter(|p| p.duration() >= rules.min_duration)
        .cloned()
        .collect();
    all.sort_by(|a, b| {
        (a.start.date_naive(), a.start, &a.worker).cmp(&(b.start.date_naive(), b.start, &b.worker))
    });
    let n = all.len();
    let days = all
        .chunk_by(|a, b| a.start.date_naive() == b.start.date_naive())
        .map(|d| (d[0].start.date_naive(), d.to_vec()))
        .collect();
    (days, n)
}

fn grid_days(runs: &[Patrol], rules: &PatrolRules) -> (Vec<GridDay>, usize) {
    let (days, n) = by_day(runs, rules);
    let days = days
        .into_iter()
        .map(|(day, d)| {
            let mut workers: Vec<&str> = d.iter().map(|p| &*p.worker).collect();
            workers.sort_unstable();
            workers.dedup();
            GridDay {
                day,
                patrols: d.len(),
                workers: workers.len(),
                twice: twice(&d, rules),
            }
        })
        .collect();
    (days, n)
}

impl CoverageRun<'_> {
    /// Adds accepted points (any order; points outside the window are left out). Chunks must
    /// follow each other in time (e.g. one local day after another) for runs to continue across
    /// them. Returns the chunk's own figures per grid, as [`CoverageIndex::coverage`] of the
    /// chunk alone would.
    pub fn add(&mut self, points: &[PatrolPoint]) -> Vec<GridCoverage> {
        let ix = self.index;
        let rules = &ix.rules.patrol;
        let sel: Vec<&PatrolPoint> = points
            .iter()
            .filter(|p| self.window.contains(&p.time))
            .collect();
        let xy: Vec<[f64; 2]> = sel.par_iter().map(|p| ix.metric.xy(p.lon, p.lat)).collect();
        let near = Buckets::new(&xy, ix.rules.radius_m);
        let res = ix.rules.resolution;
        // In chunks, each with its finder: consecutive points of a walk share cells.
        let cells: Vec<Option<u64>> = sel
            .par_chunks(4096)
            .flat_map_iter(|chunk| {
                let mut finder = CellFinder::new(res);
                chunk
                    .iter()
                    .map(|p| finder.cell(p.lon, p.lat).map(u64::from))
                    .collect::<Vec<_>>()
            })
            .collect();
        let mut visited: Vec<u64> = cells.iter().flatten().copied().collect();
        visited.par_sort_unstable();
        visited.dedup();
        // Point → grid, remembering the last grid of a chunk: consecutive points of a track are
        // mostly strictly inside the same grid, which decides the rule's answer at once.
        let owner: Vec<Option<u32>> = xy
            .par_chunks(4096)
            .flat_map_iter(|chunk| {
                let mut last: Option<usize> = None;
                let mut out = Vec::with_capacity(chunk.len());
                for &q in chunk {
                    let g = match last {
                        Some(g) if ix.grids[g].outline.side(q) == Side::In => Some(g),
                        _ => ix.grid_at(q),
                    };
                    last = g;
                    out.push(g.map(|g| g as u32));
                }
                out.into_iter()
            })
            .collect();
        let mut by_grid: Vec<(u32, u32)> = owner
            .iter()
            .enumerate()
            .filter_map(|(i, g)| Some(((*g)?, i as u32)))
            .collect();
        by_grid.par_sort_unstable();
        let mut starts = vec![0usize; ix.grids.len() + 1];
        for &(g, _) in &by_grid {
            starts[g as usize + 1] += 1;
        }
        for i in 0..ix.grids.len() {
            starts[i + 1] += starts[i];
        }
        let out: Vec<GridCoverage> = self
            .grids
            .par_iter_mut()
            .enumerate()
            .map(|(gi, acc)| {
                let g = &ix.grids[gi];
                let mut mine: Vec<&PatrolPoint> = by_grid[starts[gi]..starts[gi + 1]]
                    .iter()
                    .map(|&(_, i)| sel[i as usize])
                    .collect();
                mine.sort_by(|a, b| a.worker.cmp(&b.worker).then(a.time.cmp(&b.time)));
                // The chunk's runs alone, and the window's (continuing the last run).
                let mut chunk_runs = Vec::new();
                for w in mine.chunk_by(|a, b| a.worker == b.worker) {
                    let new = runs(w.iter().copied(), rules);
                    chunk_runs.extend(new.iter().cloned());
                    let last = acc.last.get(&w[0].worker).copied();
                    if let Some(l) = extend_runs(&mut acc.runs, last, new, rules) {
                        acc.last.insert(w[0].worker.clone(), l);
                    }
                }
                let mut m = Marks::new(g.pieces.len(), g.buildings.len(), g.cells.len());
                let r = ix.rules.radius_m;
                for (k, p) in g.pieces.iter().enumerate() {
                    m.walked[k] = near.any_within(p.mid, r);
                }
                for (k, (shape, _)) in g.buildings.iter().enumerate() {
                    m.passed[k] = ix.passed(shape, &near);
                }
                for (k, c) in g.cells.iter().enumerate() {
                    m.visited[k] = visited.binary_search(&u64::from(*c)).is_ok();
                }
                acc.marks.or(&m);
                acc.points += mine.len();
                ix.grid_coverage(gi, mine.len(), &chunk_runs, &m)
            })
            .collect();
        if let Some(roster) = self.roster {
            self.add_workers(roster, &sel, &xy, &cells, &owner);
        }
        out
    }

    /// The patrols so far of grid `g` (runs inside it long enough to count, every worker's),
    /// in time order: what [`GridCoverage::patrols`] counts, with their times.
    pub fn grid_patrols(&self, g: usize) -> Vec<Patrol> {
        let rules = &self.index.rules.patrol;
        self.grids
            .get(g)
            .map(|acc| by_day(&acc.runs, rules).0)
            .unwrap_or_default()
            .into_iter()
            .flat_map(|(_, d)| d)
            .collect()
    }

    /// The buildings of grid `g` and whether a point so far (anyone's) passed each.
    pub fn grid_buildings(&self, g: usize) -> Vec<BuildingPass> {
        let (Some(gp), Some(acc)) = (self.index.grids.get(g), self.grids.get(g)) else {
            return Vec::new();
        };
        (0..gp.buildings.len())
            .map(|i| self.index.building_pass(g, i, acc.marks.passed[i]))
            .collect()
    }

    /// The buildings of the grids of registered worker `w` (index in [`Roster::workers`]) and
    /// whether their own points so far passed each (all unpassed before their first point).
    pub fn worker_buildings(&self, w: usize) -> Vec<BuildingPass> {
        let ix = self.index;
        match self.workers.get(&WorkerKey::Registered(w)) {
            Some(acc) => acc
                .universe
                .buildings
                .iter()
                .zip(&acc.marks.passed)
                .map(|(&(g, i), p)| ix.building_pass(g as usize, i as usize, *p))
                .collect(),
            None => {
                let grids = self
                    .roster
                    .and_then(|r| r.workers().get(w))
                    .map(|rw| rw.grids.clone())
                    .unwrap_or_default();
                ix.universe(&grids)
                    .buildings
                    .iter()
                    .map(|&(g, i)| ix.building_pass(g as usize, i as usize, false))
                    .collect()
            }
        }
    }

    /// The per-worker part of [`CoverageRun::add`].
    fn add_workers(
        &mut self,
        roster: &Roster,
        sel: &[&PatrolPoint],
        xy: &[[f64; 2]],
        cells: &[Option<u64>],
        owner: &[Option<u32>],
    ) {
        let ix = self.index;
        let rules = &ix.rules.patrol;
        // Each id once, then its points grouped under the worker it matches.
        let mut id_key: HashMap<&str, u32> = HashMap::new();
        let mut keys: Vec<WorkerKey> = Vec::new();
        let per_point: Vec<u32> = sel
            .iter()
            .map(|p| {
                *id_key.entry(&p.worker).or_insert_with(|| {
                    keys.push(match roster.resolve(&p.worker) {
                        Match::Worker(w) => WorkerKey::Registered(w),
                        Match::Ambiguous => WorkerKey::Other(Status::Ambiguous, p.worker.clone()),
                        Match::Unregistered => {
                            WorkerKey::Other(Status::Unregistered, p.worker.clone())
                        }
                    });
                    (keys.len() - 1) as u32
                })
            })
            .collect();
        // Rank the distinct workers in key order; several ids may be one worker.
        let mut by_key: Vec<u32> = (0..keys.len() as u32).collect();
        by_key.sort_by(|&a, &b| keys[a as usize].cmp(&keys[b as usize]));
        let mut rank = vec![0u32; keys.len()];
        let mut ranked: Vec<WorkerKey> = Vec::new();
        for &k in &by_key {
            if ranked.last() != Some(&keys[k as usize]) {
                ranked.push(keys[k as usize].clone());
            }
            rank[k as usize] = (ranked.len() - 1) as u32;
        }
        let mut order: Vec<(u32, i64, u32)> = per_point
            .iter()
            .enumerate()
            .map(|(i, k)| (rank[*k as usize], sel[i].time.timestamp_millis(), i as u32))
            .collect();
        order.par_sort_unstable();
        let groups: Vec<(WorkerKey, Vec<u32>)> = order
            .chunk_by(|a, b| a.0 == b.0)
            .map(|g| {
                (
                    ranked[g[0].0 as usize].clone(),
                    g.iter().map(|e| e.2).collect(),
                )
            })
            .collect();
        // Make the accumulators first (sequentially), then fill them in parallel.
        for (k, _) in &groups {
            if !self.workers.contains_key(k) {
                let grids = match k {
                    WorkerKey::Registered(w) => roster.workers()[*w].grids.clone(),
                    WorkerKey::Other(..) => Vec::new(),
                };
                self.workers.insert(k.clone(), self.new_worker(grids));
            }
        }
        let mut work: Vec<(&mut WorkerAcc, &Vec<u32>)> = Vec::with_capacity(groups.len());
        let mut gi = groups.iter().peekable();
        for (k, acc) in self.workers.iter_mut() {
            if let Some((gk, idx)) = gi.peek() {
                if gk == k {
                    work.push((acc, idx));
                    gi.next();
                }
            }
        }
        work.into_par_iter().for_each(|(acc, idx)| {
            for &i in idx {
                acc.ids.insert(sel[i as usize].worker.clone());
            }
            acc.points += idx.len();
            let inside: Vec<&PatrolPoint> = if acc.grids.is_empty() {
                idx.iter().map(|&i| sel[i as usize]).collect()
            } else {
                idx.iter()
                    .filter(|&&i| {
                        let i = i as usize;
                        owner[i].is_some_and(|g| acc.grids.binary_search(&(g as usize)).is_ok())
                            || acc.grids.iter().any(|&g| ix.in_grid(g, xy[i]))
                    })
                    .map(|&i| sel[i as usize])
                    .collect()
            };
            if !acc.grids.is_empty() {
                acc.points_in += inside.len();
            }
            let last = (!acc.runs.is_empty()).then(|| acc.runs.len() - 1);
            extend_runs(
                &mut acc.runs,
                last,
                runs(inside.iter().copied(), rules),
                rules,
            );
            if acc.grids.is_empty() {
                return;
            }
            let pts: Vec<[f64; 2]> = idx.iter().map(|&i| xy[i as usize]).collect();
            let near = Buckets::new(&pts, ix.rules.radius_m);
            let mut visited: Vec<u64> = idx.iter().filter_map(|&i| cells[i as usize]).collect();
            visited.sort_unstable();
            visited.dedup();
            ix.mark(&acc.universe, &near, &visited, &mut acc.marks);
        });
    }

    fn new_worker(&self, grids: Vec<usize>) -> WorkerAcc {
        let universe = self.index.universe(&grids);
        WorkerAcc {
            marks: Marks::new(
                universe.pieces.len(),
                universe.buildings.len(),
                universe.cells.len(),
            ),
            grids,
            universe,
            ids: Default::default(),
            points: 0,
            points_in: 0,
            runs: Vec::new(),
        }
    }

    /// The figures of the whole window: every grid, and every worker (with a roster: every
    /// registered worker, patrolled or not, and every other id seen).
    pub fn finish(mut self) -> Coverage {
        let ix = self.index;
        let rules = &ix.rules.patrol;
        let grids = self
            .grids
            .iter()
            .enumerate()
            .map(|(gi, acc)| ix.grid_coverage(gi, acc.points, &acc.runs, &acc.marks))
            .collect();
        let mut workers = Vec::new();
        if let Some(roster) = self.roster {
            for w in 0..roster.workers().len() {
                let k = WorkerKey::Registered(w);
                if !self.workers.contains_key(&k) {
                    let acc = self.new_worker(roster.workers()[w].grids.clone());
                    self.workers.insert(k, acc);
                }
            }
            for (k, acc) in &self.workers {
                let (name, phone, status) = match k {
                    WorkerKey::Registered(w) => {
                        let rw = &roster.workers()[*w];
                        (rw.name.clone(), rw.phone.clone(), Status::Registered)
                    }
                    WorkerKey::Other(s, id) => (id.to_string(), None, *s),
                };
                let (days, patrols) = by_day(&acc.runs, rules);
                let days: Vec<WorkerDay> = days
                    .into_iter()
                    .map(|(day, d)| WorkerDay {
                        day,
                        patrols: d.len(),
                        twice: twice(&d, rules),
                    })
                    .collect();
                let t = ix.tally(
                    &acc.universe.pieces,
                    &acc.universe.buildings,
                    acc.universe.cells.len(),
                    &acc.marks,
                );
                workers.push(WorkerCoverage {
                    worker: name,
                    phone,
                    status,
                    ids: acc.ids.iter().map(|s| s.to_string()).collect(),
                    grids: acc.grids.iter().map(|&g| ix.codes[g].clone()).collect(),
                    points: acc.points,
                    points_in_grids: acc.points_in,
                    patrols,
                    days_twice: days.iter().filter(|d| d.twice).count(),
                    days,
                    road_m: t.road_m,
                    road_walked_m: t.road_walked_m,
                    road_share: share(t.road_walked_m, t.road_m),
                    targets: t.targets,
                    targets_passed: t.targets_passed,
                    target_share: share(t.targets_passed as f64, t.targets as f64),
                    buildings: t.buildings,
                    buildings_passed: t.buildings_passed,
                    building_share: share(t.buildings_passed as f64, t.buildings as f64),
                    cells: t.cells,
                    cells_visited: t.cells_visited,
                    cell_share: share(t.cells_visited as f64, t.cells as f64),
                });
            }
        }
        Coverage { grids, workers }
    }
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

/// Where a point is against an outline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    In,
    Out,
    /// Within [`Outline::EPS`] of an edge: let geo's robust predicates decide.
    Near,
}

/// A grid's outline (metres) with its edges bucketed in horizontal slabs: a point-in-polygon test
/// (even-odd crossings of a ray to +x, the same as geo's for a point not on an edge) looks at the
/// edges of one slab instead of all of them. A point within [`Outline::EPS`] of an edge is
/// [`Side::Near`], answered by geo.
struct Outline {
    min: [f64; 2],
    max: [f64; 2],
    slab_h: f64,
    slabs: Vec<Vec<[f64; 4]>>,
}

impl Outline {
    const EPS: f64 = 1e-6;

    fn new(mp: &MultiPolygon<f64>) -> Outline {
        let mut edges: Vec<[f64; 4]> = Vec::new();
        for poly in &mp.0 {
            for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
                for l in ring.lines() {
                    edges.push([l.start.x, l.start.y, l.end.x, l.end.y]);
                }
            }
        }
        let (mut min, mut max) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
        for e in &edges {
            min = [min[0].min(e[0]).min(e[2]), min[1].min(e[1]).min(e[3])];
            max = [max[0].max(e[0]).max(e[2]), max[1].max(e[1]).max(e[3])];
        }
        let n = (edges.len() / 2).clamp(1, 512);
        let slab_h = ((max[1] - min[1]) / n as f64).max(1e-9);
        let mut slabs: Vec<Vec<[f64; 4]>> = vec![Vec::new(); if edges.is_empty() { 0 } else { n }];
        for e in &edges {
            let lo = ((e[1].min(e[3]) - Self::EPS - min[1]) / slab_h)
                .floor()
                .max(0.0) as usize;
            let hi = ((e[1].max(e[3]) + Self::EPS - min[1]) / slab_h)
                .floor()
                .max(0.0) as usize;
            for s in slabs.iter_mut().take(hi.min(n - 1) + 1).skip(lo.min(n - 1)) {
                s.push(*e);
            }
        }
        Outline {
            min,
            max,
            slab_h,
            slabs,
        }
    }

    fn side(&self, p: [f64; 2]) -> Side {
        let e = Self::EPS;
        if self.slabs.is_empty()
            || p[0] < self.min[0] - e
            || p[0] > self.max[0] + e
            || p[1] < self.min[1] - e
            || p[1] > self.max[1] + e
        {
            return Side::Out;
        }
        let k = (((p[1] - self.min[1]) / self.slab_h).floor().max(0.0) as usize)
            .min(self.slabs.len() - 1);
        let mut inside = false;
        for s in &self.slabs[k] {
            let (dx, dy) = (s[2] - s[0], s[3] - s[1]);
            let len2 = dx * dx + dy * dy;
            let t = if len2 > 0.0 {
                (((p[0] - s[0]) * dx + (p[1] - s[1]) * dy) / len2).clamp(0.0, 1.0)
            } else {
                0.0
            };
            let (qx, qy) = (s[0] + t * dx - p[0], s[1] + t * dy - p[1]);
            if qx * qx + qy * qy <= e * e {
                return Side::Near;
            }
            if (s[1] > p[1]) != (s[3] > p[1]) {
                let x = s[0] + (p[1] - s[1]) * dx / dy;
                if p[0] < x {
                    inside = !inside;
                }
            }
        }
        if inside {
            Side::In
        } else {
            Side::Out
        }
    }
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
    fn outlines_answer_as_geo_does() {
        // A concave polygon with a hole, and seeded points, some exactly on its edges.
        let ring = |v: &[(f64, f64)]| geo::LineString::from(v.to_vec());
        let mp = MultiPolygon(vec![
            geo::Polygon::new(
                ring(&[
                    (0.0, 0.0),
                    (100.0, 0.0),
                    (100.0, 100.0),
                    (50.0, 40.0),
                    (0.0, 100.0),
                    (0.0, 0.0),
                ]),
                vec![ring(&[
                    (20.0, 10.0),
                    (40.0, 10.0),
                    (40.0, 30.0),
                    (20.0, 30.0),
                    (20.0, 10.0),
                ])],
            ),
            geo::Polygon::new(
                ring(&[(200.0, 0.0), (210.0, 0.0), (210.0, 10.0), (200.0, 0.0)]),
                vec![],
            ),
        ]);
        let o = Outline::new(&mp);
        let mut state = 7u64;
        let mut rnd = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut near = 0;
        for i in 0..20_000 {
            let p = match i % 4 {
                // On an edge or a vertex.
                0 => [20.0 + 20.0 * rnd(), 10.0],
                1 => [50.0, 40.0],
                _ => [-10.0 + 230.0 * rnd(), -10.0 + 120.0 * rnd()],
            };
            let want = mp.intersects(&Point::new(p[0], p[1]));
            let got = match o.side(p) {
                Side::In => true,
                Side::Out => false,
                Side::Near => {
                    near += 1;
                    want
                }
            };
            assert_eq!(got, want, "{p:?}");
        }
        assert!(near >= 10_000, "points on edges are left to geo: {near}");
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
