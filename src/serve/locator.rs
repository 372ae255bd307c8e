//! "Which grid am I in?" (网格定位): an index of a snapshot's grids, micro-grids and villages that
//! answers, for a WGS84 point, the village, grid and micro-grids holding it, the distance to the
//! grid's border and every grid within a few metres of the point.
//!
//! Everything is held in a local metric frame (an equirectangular projection at the town's centre,
//! good to well under a metre over a town): an R-tree of grid, micro-grid and village boxes picks
//! candidates, an exact crossing test decides, and an R-tree of border segments gives distances.

use crate::snapshot::Snapshot;
use geo::{BoundingRect, MultiPolygon};
use rstar::primitives::{GeomWithData, Line, Rectangle};
use rstar::RTree;

/// Lon/lat ↔ metres around a centre.
#[derive(Clone, Copy, Debug)]
pub struct LocalFrame {
    lon0: f64,
    lat0: f64,
    kx: f64,
    ky: f64,
}

impl LocalFrame {
    /// A frame centred on `(lon0, lat0)`.
    pub fn new(lon0: f64, lat0: f64) -> LocalFrame {
        let phi = lat0.to_radians();
        LocalFrame {
            lon0,
            lat0,
            kx: 111_412.84 * phi.cos() - 93.5 * (3.0 * phi).cos(),
            ky: 111_132.92 - 559.82 * (2.0 * phi).cos() + 1.175 * (4.0 * phi).cos(),
        }
    }
    /// Metres east and north of the centre.
    pub fn to_xy(&self, lon: f64, lat: f64) -> [f64; 2] {
        [(lon - self.lon0) * self.kx, (lat - self.lat0) * self.ky]
    }
}

type Ring = Vec<[f64; 2]>;

/// A polygon (all rings of a multipolygon) in metres, for the even-odd crossing test.
struct Shape {
    rings: Vec<Ring>,
}

impl Shape {
    fn new(f: &LocalFrame, mp: &MultiPolygon<f64>) -> Shape {
        let ring = |ls: &geo::LineString<f64>| -> Ring {
            ls.0.iter().map(|c| f.to_xy(c.x, c.y)).collect()
        };
        Shape {
            rings: mp
                .0
                .iter()
                .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
                .map(ring)
                .collect(),
        }
    }
    /// Even-odd rule over every ring (holes and pieces included).
    fn contains(&self, p: [f64; 2]) -> bool {
        let mut inside = false;
        for r in &self.rings {
            let n = r.len();
            if n < 3 {
                continue;
            }
            let mut j = n - 1;
            for i in 0..n {
                let (a, b) = (r[i], r[j]);
                if (a[1] > p[1]) != (b[1] > p[1])
                    && p[0] < (b[0] - a[0]) * (p[1] - a[1]) / (b[1] - a[1]) + a[0]
                {
                    inside = !inside;
                }
                j = i;
            }
        }
        inside
    }
    /// Squared distance to the nearest ring segment.
    fn border_distance_2(&self, p: [f64; 2]) -> f64 {
        let mut best = f64::INFINITY;
        for r in &self.rings {
            for w in r.windows(2) {
                let (a, b) = (w[0], w[1]);
                let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
                let (px, py) = (p[0] - a[0], p[1] - a[1]);
                let len2 = dx * dx + dy * dy;
                let t = if len2 > 0.0 {
                    ((px * dx + py * dy) / len2).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                let (ex, ey) = (px - t * dx, py - t * dy);
                best = best.min(ex * ex + ey * ey);
            }
        }
        best
    }
}

type BoxItem = GeomWithData<Rectangle<[f64; 2]>, usize>;
type SegItem = GeomWithData<Line<[f64; 2]>, usize>;

fn boxes(f: &LocalFrame, shapes: &[&MultiPolygon<f64>]) -> RTree<BoxItem> {
    RTree::bulk_load(
        shapes
            .iter()
            .enumerate()
            .filter_map(|(i, mp)| {
                let r = mp.bounding_rect()?;
                Some(GeomWithData::new(
                    Rectangle::from_corners(
                        f.to_xy(r.min().x, r.min().y),
                        f.to_xy(r.max().x, r.max().y),
                    ),
                    i,
                ))
            })
            .collect(),
    )
}

/// Where a point is.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Located {
    /// The point in WGS84 (after conversion).
    pub lon: f64,
    /// Latitude in WGS84.
    pub lat: f64,
    /// Index of the village holding it.
    pub village: Option<usize>,
    /// Index of the grid holding it.
    pub grid: Option<usize>,
    /// Indexes of the micro-grids holding it (several for a building split in parts).
    pub micro_grids: Vec<usize>,
    /// Distance (m) to the nearest grid border (its own when inside a grid).
    pub border_m: Option<f64>,
    /// Grids within `tolerance_m` of the point, nearest first, with their distance (0 inside).
    pub near: Vec<(usize, f64)>,
    /// Whether the point is within `tolerance_m` of a grid border: it may be in another grid (or
    /// outside every grid) than the one named.
    pub ambiguous: bool,
    /// The distance under which a border makes the answer ambiguous.
    pub tolerance_m: f64,
}

/// The locate index of a snapshot.
pub struct Locator {
    frame: LocalFrame,
    grids: Vec<Shape>,
    grid_boxes: RTree<BoxItem>,
    segments: RTree<SegItem>,
    micro: Vec<Shape>,
    micro_boxes: RTree<BoxItem>,
    micro_grid_of: Vec<usize>,
    villages: Vec<Shape>,
    village_boxes: RTree<BoxItem>,
    grid_village: Vec<usize>,
}

impl Locator {
    /// Indexes `s`.
    pub fn new(s: &Snapshot) -> Locator {
        let mut all = geo::Rect::new((180.0, 90.0), (-180.0, -90.0));
        let mut any = false;
        for v in &s.villages {
            if let Some(r) = v.boundary.bounding_rect() {
                let (lo, hi) = if any {
                    (all.min(), all.max())
                } else {
                    (r.min(), r.max())
                };
                all = geo::Rect::new(
                    (lo.x.min(r.min().x), lo.y.min(r.min().y)),
                    (hi.x.max(r.max().x), hi.y.max(r.max().y)),
                );
                any = true;
            }
        }
        let c = if any { all.center() } else { (0.0, 0.0).into() };
        let frame = LocalFrame::new(c.x, c.y);
        let gshapes: Vec<&MultiPolygon<f64>> = s.grids.iter().map(|g| &g.geometry).collect();
        let mshapes: Vec<&MultiPolygon<f64>> = s.micro_grids.iter().map(|m| &m.geometry).collect();
        let vshapes: Vec<&MultiPolygon<f64>> = s.villages.iter().map(|v| &v.boundary).collect();
        let grids: Vec<Shape> = gshapes.iter().map(|g| Shape::new(&frame, g)).collect();
        let mut segs = Vec::new();
        for (gi, g) in grids.iter().enumerate() {
            for r in &g.rings {
                for w in r.windows(2) {
                    if w[0] != w[1] {
                        segs.push(GeomWithData::new(Line::new(w[0], w[1]), gi));
                    }
                }
            }
        }
        Locator {
            frame,
            grid_boxes: boxes(&frame, &gshapes),
            grids,
            segments: RTree::bulk_load(segs),
            micro: mshapes.iter().map(|m| Shape::new(&frame, m)).collect(),
            micro_boxes: boxes(&frame, &mshapes),
            micro_grid_of: s.micro_grids.iter().map(|m| m.grid).collect(),
            villages: vshapes.iter().map(|v| Shape::new(&frame, v)).collect(),
            village_boxes: boxes(&frame, &vshapes),
            grid_village: s.grids.iter().map(|g| g.village).collect(),
        }
    }

    /// Locates a WGS84 point; a grid border within `tolerance_m` makes the answer ambiguous.
    pub fn locate(&self, lon: f64, lat: f64, tolerance_m: f64) -> Located {
        let p = self.frame.to_xy(lon, lat);
        let grid = self
            .grid_boxes
            .locate_all_at_point(&p)
            .map(|b| b.data)
            .filter(|&g| self.grids[g].contains(p))
            .min();
        let village = match grid {
            Some(g) => Some(self.grid_village[g]),
            None => self
                .village_boxes
                .locate_all_at_point(&p)
                .map(|b| b.data)
                .filter(|&v| self.villages[v].contains(p))
                .min(),
        };
        let mut micro_grids: Vec<usize> = match grid {
            Some(g) => self
                .micro_boxes
                .locate_all_at_point(&p)
                .map(|b| b.data)
                .filter(|&m| self.micro_grid_of[m] == g && self.micro[m].contains(p))
                .collect(),
            None => Vec::new(),
        };
        micro_grids.sort_unstable();
        // inside a grid the nearest border is its own (the way out crosses it first): scan its
        // rings; outside every grid ask the tree of all border segments
        let border_m = match grid {
            Some(g) => Some(self.grids[g].border_distance_2(p).sqrt()),
            None => self
                .segments
                .nearest_neighbor(&p)
                .map(|s| rstar::PointDistance::distance_2(s, &p).sqrt()),
        };
        let mut near: Vec<(usize, f64)> = Vec::new();
        if border_m.is_some_and(|d| d <= tolerance_m) {
            for s in self
                .segments
                .locate_within_distance(p, tolerance_m * tolerance_m)
            {
                let d = rstar::PointDistance::distance_2(s, &p).sqrt();
                let d = if Some(s.data) == grid { 0.0 } else { d };
                match near.iter_mut().find(|(g, _)| *g == s.data) {
                    Some(e) => e.1 = e.1.min(d),
                    None => near.push((s.data, d)),
                }
            }
        }
        if let Some(g) = grid {
            if !near.iter().any(|(n, _)| *n == g) {
                near.push((g, 0.0));
            }
        }
        near.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        Located {
            lon,
            lat,
            village,
            grid,
            micro_grids,
            border_m,
            ambiguous: border_m.is_some_and(|d| d <= tolerance_m),
            near,
            tolerance_m,
        }
    }
}
