//! "Which grid am I in?" (网格定位): an index of a snapshot's grids, micro-grids and villages that
//! answers, for a WGS84 point, the village, grid and micro-grids holding it, the distance to the
//! grid's border and every grid within a few metres of the point.
//!
//! Distances are measured in a local metric frame (an equirectangular projection at the town's
//! centre, good to well under a metre over a town). The index holds only boxes, in that frame: an
//! R-tree of grid, micro-grid and village boxes picks candidates, a crossing test on the
//! snapshot's own outlines decides, and the distance to the border is measured on the outlines of
//! the grids whose boxes are near (no copy of the outlines, no tree of their segments).

use crate::snapshot::Snapshot;
use geo::{BoundingRect, MultiPolygon};
use rstar::primitives::{GeomWithData, Rectangle};
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

/// Even-odd rule over every ring of a multipolygon (holes and pieces included), in lon/lat: the
/// local frame is affine, so inside in lon/lat is inside in metres.
fn contains(mp: &MultiPolygon<f64>, x: f64, y: f64) -> bool {
    let mut inside = false;
    for r in
        mp.0.iter()
            .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
    {
        let r = &r.0;
        let n = r.len();
        if n < 3 {
            continue;
        }
        let mut j = n - 1;
        for i in 0..n {
            let (a, b) = (r[i], r[j]);
            if (a.y > y) != (b.y > y) && x < (b.x - a.x) * (y - a.y) / (b.y - a.y) + a.x {
                inside = !inside;
            }
            j = i;
        }
    }
    inside
}

/// Squared distance (m²) from `p` (metres in `f`) to the nearest ring segment of `mp`.
fn border_distance_2(f: &LocalFrame, mp: &MultiPolygon<f64>, p: [f64; 2]) -> f64 {
    let mut best = f64::INFINITY;
    for r in
        mp.0.iter()
            .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
    {
        let mut prev: Option<[f64; 2]> = None;
        for c in &r.0 {
            let b = f.to_xy(c.x, c.y);
            if let Some(a) = prev {
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
            prev = Some(b);
        }
    }
    best
}

type BoxItem = GeomWithData<Rectangle<[f64; 2]>, usize>;

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

/// The locate index of a snapshot: boxes only. The outlines are the snapshot's own, read where
/// they are (the index holds no copy of them), so [`Locator::locate`] takes the snapshot it was
/// built from.
pub struct Locator {
    frame: LocalFrame,
    grid_boxes: RTree<BoxItem>,
    micro_boxes: RTree<BoxItem>,
    village_boxes: RTree<BoxItem>,
}

impl Locator {
    /// Indexes `s`.
    pub fn new(s: &Snapshot) -> Locator {
        let frame = Locator::frame_of(s);
        let gshapes: Vec<&MultiPolygon<f64>> = s.grids.iter().map(|g| &g.geometry).collect();
        let mshapes: Vec<&MultiPolygon<f64>> = s.micro_grids.iter().map(|m| &m.geometry).collect();
        let vshapes: Vec<&MultiPolygon<f64>> = s.villages.iter().map(|v| &v.boundary).collect();
        Locator {
            frame,
            grid_boxes: boxes(&frame, &gshapes),
            micro_boxes: boxes(&frame, &mshapes),
            village_boxes: boxes(&frame, &vshapes),
        }
    }

    /// The metric frame centred on the villages' extent.
    fn frame_of(s: &Snapshot) -> LocalFrame {
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
        LocalFrame::new(c.x, c.y)
    }

    /// Locates a WGS84 point in `s` (the snapshot the index was built from); a grid border within
    /// `tolerance_m` makes the answer ambiguous.
    pub fn locate(&self, s: &Snapshot, lon: f64, lat: f64, tolerance_m: f64) -> Located {
        let p = self.frame.to_xy(lon, lat);
        let geom = |g: usize| &s.grids[g].geometry;
        let grid = self
            .grid_boxes
            .locate_all_at_point(&p)
            .map(|b| b.data)
            .filter(|&g| contains(geom(g), lon, lat))
            .min();
        let village = match grid {
            Some(g) => Some(s.grids[g].village),
            None => self
                .village_boxes
                .locate_all_at_point(&p)
                .map(|b| b.data)
                .filter(|&v| contains(&s.villages[v].boundary, lon, lat))
                .min(),
        };
        let mut micro_grids: Vec<usize> = match grid {
            Some(g) => self
                .micro_boxes
                .locate_all_at_point(&p)
                .map(|b| b.data)
                .filter(|&m| {
                    s.micro_grids[m].grid == g && contains(&s.micro_grids[m].geometry, lon, lat)
                })
                .collect(),
            None => Vec::new(),
        };
        micro_grids.sort_unstable();
        let dist = |g: usize| border_distance_2(&self.frame, geom(g), p).sqrt();
        // inside a grid the nearest border is its own (the way out crosses it first); outside
        // every grid, the grids by the distance to their box, until a box is farther than the
        // nearest border found
        let border_m = match grid {
            Some(g) => Some(dist(g)),
            None => {
                let mut best: Option<f64> = None;
                for (b, d2) in self.grid_boxes.nearest_neighbor_iter_with_distance_2(&p) {
                    if best.is_some_and(|d| d2.sqrt() > d) {
                        break;
                    }
                    let d = dist(b.data);
                    best = Some(best.map_or(d, |x| x.min(d)));
                }
                best
            }
        };
        let mut near: Vec<(usize, f64)> = Vec::new();
        if border_m.is_some_and(|d| d <= tolerance_m) {
            let t = tolerance_m;
            let env = rstar::AABB::from_corners([p[0] - t, p[1] - t], [p[0] + t, p[1] + t]);
            for b in self.grid_boxes.locate_in_envelope_intersecting(&env) {
                let d = if Some(b.data) == grid {
                    0.0
                } else {
                    dist(b.data)
                };
                if d <= tolerance_m {
                    near.push((b.data, d));
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
