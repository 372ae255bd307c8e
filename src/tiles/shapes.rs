//! The geometry of a polygon layer, or of one piece of it (面片), kept once for every zoom.
//!
//! Polygons that tile the ground (grids, micro-grids, villages) are stored as their planar topology
//! ([`Topology::from_polygons`]): every shared border is one arc, walked by the faces on both
//! sides. Each arc point carries the first zoom at which Douglas–Peucker keeps it: DP splits an
//! arc at its farthest point whatever the tolerance, so a point is kept at tolerance `t` exactly
//! when the smallest split distance on its way down the recursion is above `t` (its *importance*).
//! The tolerance halves with every zoom, so that importance becomes one byte, the first zoom it is
//! drawn at. A tile at zoom `z` draws each arc's points whose first zoom is at most `z`: every
//! arc is simplified once per zoom and both neighbours walk the very same points, so they never gap
//! or overlap, and nothing per zoom is stored but the rare arcs whose tolerance had to shrink so
//! that no ring collapses or turns over (the same rule as [`Topology::simplified_by`]).
//!
//! Points are kept in world Web Mercator coordinates, packed as `i32` offsets from the piece's
//! corner in a power-of-two unit (a village of 10 km: 2⁻⁴⁵ of the world, about a micrometre), so a
//! point costs 9 bytes (offsets and first zoom) for all zooms together.
//!
//! Footprints ([`Shapes::as_given`]) do not share borders: each ring is its own arc, drawn as
//! given at every zoom.

use super::tilemath::{pixel_deg, to_world, World};
use super::{MAX_SIMPLIFY_ZOOM, TOLERANCE_PX};
use crate::topology::{DirArc, Pt, Topology, SCALE};
use geo::{BoundingRect, MultiPolygon, Rect};
use std::collections::HashMap;

/// Zoom levels that are simplified (0 ..= [`MAX_SIMPLIFY_ZOOM`]).
const ZOOMS: usize = MAX_SIMPLIFY_ZOOM as usize + 1;

/// A point never kept by simplification (collinear with its neighbours): drawn only unsimplified.
const NEVER: u8 = u8::MAX;

/// Arcs with a face on one side only are simplified a quarter as much as shared ones: as at two
/// zooms deeper.
const OUTLINE_ZOOMS: u32 = 2;

/// Below this tolerance (grid units, 10⁻¹² °) an arc is drawn with every point.
const KEEP_ALL_BELOW: f64 = 4.0;

#[derive(Clone, Copy, Debug)]
struct ArcSpan {
    /// First point in [`Shapes::pts`].
    start: u32,
    /// Number of points.
    len: u32,
    /// A face on one side only: the layer's outline, or a neighbour that does not share its
    /// points (the grids of another village): simplified finely, as [`OUTLINE_ZOOMS`] deeper.
    one_sided: bool,
}

/// The polygons of a layer (or of one piece of it) in world coordinates, with what every zoom's
/// simplification needs. Immutable once built; cheap to share between revisions (`Arc`).
pub struct Shapes {
    /// Lon/lat box of every feature, `[min x, min y, max x, max y]` (the features a tile meets are
    /// those whose box meets it; a piece holds few enough that a scan beats a tree and its memory).
    boxes: Vec<[f64; 4]>,
    bounds: Option<Rect<f64>>,
    features: usize,
    /// World coordinates of the corner the points are offsets from.
    origin: World,
    /// World units per packed unit (a power of two).
    unit: f64,
    pts: Vec<[i32; 2]>,
    /// Per point: the first zoom (of a shared arc's tolerance) it is kept at, or [`NEVER`].
    first: Vec<u8>,
    arcs: Vec<ArcSpan>,
    /// Rings as runs of directed arcs; `ring_end[r]` ends ring `r` in `ring_arcs`.
    ring_arcs: Vec<DirArc>,
    ring_end: Vec<u32>,
    /// `face_end[f]` ends face `f`'s rings (outer ring first, then holes) in `ring_end`.
    face_end: Vec<u32>,
    /// `feature_end[i]` ends feature `i`'s faces (its polygon parts) in `face_end`.
    feature_end: Vec<u32>,
    /// Per simplified zoom, arcs (sorted) whose tolerance shrank so no ring collapses: how many
    /// times (each a quarter of the one before).
    fixups: Vec<Vec<(u32, u8)>>,
    /// Tolerance of a shared arc at zoom 0, in grid units.
    base_tol: f64,
    as_given: bool,
}

impl std::fmt::Debug for Shapes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shapes")
            .field("features", &self.features)
            .field("arcs", &self.arcs.len())
            .field("points", &self.pts.len())
            .field("as_given", &self.as_given)
            .finish()
    }
}

/// Builds the packed points, arcs and rings; what both constructors share.
struct Packer {
    origin: World,
    unit: f64,
    pts: Vec<[i32; 2]>,
}

impl Packer {
    /// A packer for world points within `lo..hi`.
    fn new(lo: World, hi: World) -> Packer {
        let extent = (hi[0] - lo[0]).max(hi[1] - lo[1]).max(1e-18);
        // the smallest power of two that keeps every offset under 2^30
        let unit = 2f64.powi((extent / (1u64 << 30) as f64).log2().ceil() as i32);
        Packer {
            origin: lo,
            unit,
            pts: Vec::new(),
        }
    }
    fn push(&mut self, w: World) {
        self.pts.push([
            ((w[0] - self.origin[0]) / self.unit).round() as i32,
            ((w[1] - self.origin[1]) / self.unit).round() as i32,
        ]);
    }
}

/// Each feature's lon/lat box; an empty feature gets one that meets nothing.
fn feature_boxes(polys: &[&MultiPolygon<f64>]) -> Vec<[f64; 4]> {
    polys
        .iter()
        .map(|p| match p.bounding_rect() {
            Some(r) => [r.min().x, r.min().y, r.max().x, r.max().y],
            None => [
                f64::INFINITY,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::NEG_INFINITY,
            ],
        })
        .collect()
}

/// The world box of lon/lat boxes.
fn world_box(bounds: Option<Rect<f64>>) -> (World, World) {
    match bounds {
        Some(b) => {
            // north is smaller y in world coordinates
            let a = to_world(b.min().x, b.max().y);
            let c = to_world(b.max().x, b.min().y);
            (a, c)
        }
        None => ([0.0, 0.0], [0.0, 0.0]),
    }
}

fn union(a: Option<Rect<f64>>, b: Rect<f64>) -> Rect<f64> {
    match a {
        None => b,
        Some(a) => Rect::new(
            (a.min().x.min(b.min().x), a.min().y.min(b.min().y)),
            (a.max().x.max(b.max().x), a.max().y.max(b.max().y)),
        ),
    }
}

impl Shapes {
    /// Polygons that tile the ground (neighbours share exact vertices along common borders):
    /// their topology, each arc simplified once per zoom.
    pub fn coverage(polys: &[&MultiPolygon<f64>]) -> Shapes {
        let mut bounds = None;
        for p in polys {
            if let Some(r) = p.bounding_rect() {
                bounds = Some(union(bounds, r));
            }
        }
        let owned: Vec<MultiPolygon<f64>> = polys.iter().map(|p| (*p).clone()).collect();
        let cov = Topology::from_polygons(&owned);
        drop(owned);
        let topo = &cov.topology;
        // degrees of latitude are longer on the map than degrees of longitude: scale the
        // tolerance by cos(latitude) so it is at most TOLERANCE_PX either way
        let lat = bounds
            .map(|b| b.center().y.to_radians().cos())
            .unwrap_or(1.0);
        let base_tol = TOLERANCE_PX * pixel_deg(0) * lat * SCALE;
        let (lo, hi) = world_box(bounds);
        let mut packer = Packer::new(lo, hi);
        let mut first: Vec<u8> = Vec::new();
        let mut arcs = Vec::with_capacity(topo.arcs.len());
        for a in &topo.arcs {
            let start = packer.pts.len() as u32;
            for p in &a.points {
                packer.push(to_world(p.lon(), p.lat()));
            }
            first.extend(
                importance(&a.points)
                    .into_iter()
                    .map(|i| first_zoom(i, base_tol)),
            );
            arcs.push(ArcSpan {
                start,
                len: a.points.len() as u32,
                one_sided: a.left.is_none() || a.right.is_none(),
            });
        }
        let mut ring_arcs = Vec::new();
        let mut ring_end = Vec::new();
        let mut face_end = Vec::with_capacity(topo.faces.len());
        for f in &topo.faces {
            for r in &f.rings {
                ring_arcs.extend_from_slice(r);
                ring_end.push(ring_arcs.len() as u32);
            }
            face_end.push(ring_end.len() as u32);
        }
        // faces are numbered feature by feature, in feature order
        let mut feature_end = Vec::with_capacity(polys.len());
        let mut n = 0u32;
        for faces in &cov.faces_of_feature {
            debug_assert!(faces.iter().all(|&f| f >= n));
            n += faces.len() as u32;
            feature_end.push(n);
        }
        let mut s = Shapes {
            boxes: feature_boxes(polys),
            bounds,
            features: polys.len(),
            origin: packer.origin,
            unit: packer.unit,
            pts: packer.pts,
            first,
            arcs,
            ring_arcs,
            ring_end,
            face_end,
            feature_end,
            fixups: vec![Vec::new(); ZOOMS],
            base_tol,
            as_given: false,
        };
        s.fixups = (0..ZOOMS as u8).map(|z| s.fix_zoom(topo, z)).collect();
        s.pts.shrink_to_fit();
        s.first.shrink_to_fit();
        s.ring_arcs.shrink_to_fit();
        s
    }

    /// Polygons drawn as given at every zoom (building footprints): no topology, no
    /// simplification, cheap for a great many small polygons.
    pub fn as_given(polys: &[&MultiPolygon<f64>]) -> Shapes {
        let mut bounds = None;
        for p in polys {
            if let Some(r) = p.bounding_rect() {
                bounds = Some(union(bounds, r));
            }
        }
        let (lo, hi) = world_box(bounds);
        let mut packer = Packer::new(lo, hi);
        let mut arcs = Vec::new();
        let mut ring_arcs = Vec::new();
        let mut ring_end = Vec::new();
        let mut face_end = Vec::new();
        let mut feature_end = Vec::with_capacity(polys.len());
        for mp in polys {
            for p in &mp.0 {
                for r in std::iter::once(p.exterior()).chain(p.interiors()) {
                    let start = packer.pts.len() as u32;
                    for c in &r.0 {
                        packer.push(to_world(c.x, c.y));
                    }
                    ring_arcs.push(DirArc {
                        arc: arcs.len() as u32,
                        forward: true,
                    });
                    arcs.push(ArcSpan {
                        start,
                        len: r.0.len() as u32,
                        one_sided: true,
                    });
                    ring_end.push(ring_arcs.len() as u32);
                }
                face_end.push(ring_end.len() as u32);
            }
            feature_end.push(face_end.len() as u32);
        }
        Shapes {
            boxes: feature_boxes(polys),
            bounds,
            features: polys.len(),
            origin: packer.origin,
            unit: packer.unit,
            first: vec![0; packer.pts.len()],
            pts: packer.pts,
            arcs,
            ring_arcs,
            ring_end,
            face_end,
            feature_end,
            fixups: vec![Vec::new(); ZOOMS],
            base_tol: 0.0,
            as_given: true,
        }
    }

    /// Number of features.
    pub fn len(&self) -> usize {
        self.features
    }

    /// Whether there is no feature.
    pub fn is_empty(&self) -> bool {
        self.features == 0
    }

    /// The lon/lat box around every feature, `None` when there is none.
    pub fn bounds(&self) -> Option<Rect<f64>> {
        self.bounds
    }

    /// Bytes held (for the record: what the server's memory goes to).
    pub fn heap_bytes(&self) -> usize {
        self.pts.capacity() * 8
            + self.first.capacity()
            + self.arcs.capacity() * std::mem::size_of::<ArcSpan>()
            + self.ring_arcs.capacity() * std::mem::size_of::<DirArc>()
            + (self.ring_end.capacity() + self.face_end.capacity() + self.feature_end.capacity())
                * 4
            + self.fixups.iter().map(|f| f.capacity() * 8).sum::<usize>()
            + self.boxes.capacity() * 32
    }

    /// Features whose box meets `env` (lon/lat), in feature order.
    pub(crate) fn hits(&self, env: &rstar::AABB<[f64; 2]>) -> Vec<usize> {
        let (lo, hi) = (env.lower(), env.upper());
        self.boxes
            .iter()
            .enumerate()
            .filter(|(_, b)| b[0] <= hi[0] && b[2] >= lo[0] && b[1] <= hi[1] && b[3] >= lo[1])
            .map(|(i, _)| i)
            .collect()
    }

    /// Tolerance (grid units) at effective zoom `e` of a shared arc.
    fn tol(&self, e: u32) -> f64 {
        self.base_tol / 2f64.powi(e as i32)
    }

    /// The effective zoom of `arc` at zoom `z` after `k` quarterings of its tolerance (`None`:
    /// every point is drawn).
    fn effective_k(&self, arc: u32, z: u8, k: u8) -> Option<u32> {
        if self.as_given || z > MAX_SIMPLIFY_ZOOM {
            return None;
        }
        let e =
            z as u32 + OUTLINE_ZOOMS * u32::from(self.arcs[arc as usize].one_sided) + 2 * k as u32;
        (self.tol(e) >= KEEP_ALL_BELOW).then_some(e)
    }

    /// The effective zoom of `arc` at zoom `z`, with that zoom's fixups.
    fn effective(&self, arc: u32, z: u8) -> Option<u32> {
        let k = match self.fixups.get(z as usize) {
            Some(fix) => fix
                .binary_search_by_key(&arc, |f| f.0)
                .map_or(0, |i| fix[i].1),
            None => 0,
        };
        self.effective_k(arc, z, k)
    }

    /// The rings of feature `i`'s parts at zoom `z`, closed, in world coordinates, into `rings`
    /// (cleared first): per part its outer ring, then its holes. Returns per part its number of
    /// rings.
    pub(crate) fn feature_rings(&self, i: usize, z: u8, rings: &mut Vec<Vec<World>>) -> Vec<usize> {
        rings.clear();
        let faces = span(&self.feature_end, i);
        let mut per_part = Vec::with_capacity(faces.len());
        for f in faces {
            let rs = span(&self.face_end, f);
            per_part.push(rs.len());
            for r in rs {
                let mut ring: Vec<World> = Vec::new();
                for d in &self.ring_arcs[span(&self.ring_end, r)] {
                    self.walk(*d, self.effective(d.arc, z), &mut ring);
                }
                if let (Some(a), Some(b)) = (ring.first().copied(), ring.last().copied()) {
                    if a != b {
                        ring.push(a);
                    }
                }
                rings.push(ring);
            }
        }
        per_part
    }

    /// Indexes of the points of a directed arc kept at effective zoom `e`, in walking order.
    fn kept(&self, d: DirArc, e: Option<u32>) -> impl Iterator<Item = usize> + '_ {
        let a = self.arcs[d.arc as usize];
        let (s, n) = (a.start as usize, a.len as usize);
        (0..n)
            .map(move |j| if d.forward { s + j } else { s + n - 1 - j })
            .filter(move |&k| e.is_none_or(|e| (self.first[k] as u32) <= e))
    }

    /// Appends the kept points of a directed arc (a point equal to the last one is left out: the
    /// junction where the previous arc ended).
    fn walk(&self, d: DirArc, e: Option<u32>, out: &mut Vec<World>) {
        for k in self.kept(d, e) {
            let p = self.pts[k];
            let w = [
                self.origin[0] + p[0] as f64 * self.unit,
                self.origin[1] + p[1] as f64 * self.unit,
            ];
            if out.last() != Some(&w) {
                out.push(w);
            }
        }
    }

    /// The arcs whose tolerance must shrink at zoom `z` so that no ring of `topo` loses its area or
    /// turns over, sorted, with how many times it was quartered (as [`Topology::simplified_by`]
    /// does: the arcs of a ring that turned over are simplified again more finely, down to no
    /// simplification at all, until every ring keeps its orientation).
    fn fix_zoom(&self, topo: &Topology, z: u8) -> Vec<(u32, u8)> {
        let rings: Vec<&[DirArc]> = topo
            .faces
            .iter()
            .flat_map(|f| f.rings.iter().map(|r| r.as_slice()))
            .collect();
        let mut k: HashMap<u32, u8> = HashMap::new();
        let sign = |ring: &[DirArc], k: &HashMap<u32, u8>| -> i8 {
            let mut pts: Vec<Pt> = Vec::new();
            for d in ring {
                let e = self.effective_k(d.arc, z, k.get(&d.arc).copied().unwrap_or(0));
                let a = self.arcs[d.arc as usize].start as usize;
                let src = &topo.arcs[d.arc as usize].points;
                for i in self.kept(*d, e) {
                    let p = src[i - a];
                    if pts.last() != Some(&p) {
                        pts.push(p);
                    }
                }
            }
            crate::topology::ring_area2(&pts).signum() as i8
        };
        let want: Vec<i8> = rings
            .iter()
            .map(|r| crate::topology::ring_area2(&topo.ring_points(r)).signum() as i8)
            .collect();
        // Rings to check: all at first, then those along an arc that changed.
        let mut todo: Vec<usize> = (0..rings.len()).collect();
        let mut rings_of_arc: Option<HashMap<u32, Vec<usize>>> = None;
        while !todo.is_empty() {
            let mut changed: Vec<u32> = Vec::new();
            for &r in &todo {
                if sign(rings[r], &k) == want[r] {
                    continue;
                }
                for d in rings[r] {
                    let n = k.get(&d.arc).copied().unwrap_or(0);
                    if self.effective_k(d.arc, z, n).is_some() {
                        k.insert(d.arc, n + 1);
                        changed.push(d.arc);
                    }
                }
            }
            if changed.is_empty() {
                break;
            }
            let by_arc = rings_of_arc.get_or_insert_with(|| {
                let mut m: HashMap<u32, Vec<usize>> = HashMap::new();
                for (r, ring) in rings.iter().enumerate() {
                    for d in ring.iter() {
                        m.entry(d.arc).or_default().push(r);
                    }
                }
                m
            });
            todo = changed
                .iter()
                .flat_map(|a| by_arc.get(a).into_iter().flatten().copied())
                .collect();
            todo.sort_unstable();
            todo.dedup();
        }
        let mut out: Vec<(u32, u8)> = k.into_iter().collect();
        out.sort_unstable();
        out
    }
}

/// Entries `ends[i-1]..ends[i]` (from 0 for the first).
fn span(ends: &[u32], i: usize) -> std::ops::Range<usize> {
    let start = if i == 0 { 0 } else { ends[i - 1] as usize };
    start..ends[i] as usize
}

/// Douglas–Peucker importance of every point of an arc, in grid units: a point is kept at
/// tolerance `t` exactly when its importance is above `t`. End points, and the triangle a closed
/// arc keeps, are infinitely important.
fn importance(pts: &[Pt]) -> Vec<f64> {
    let n = pts.len();
    let mut imp = vec![f64::INFINITY; n];
    if n <= 2 {
        return imp;
    }
    let mut forced = vec![false; n];
    forced[0] = true;
    forced[n - 1] = true;
    if pts[0] == pts[n - 1] {
        if n <= 4 {
            return imp;
        }
        // the point farthest from the start, then the one farthest from that chord
        let k = (1..n - 1)
            .max_by(|&i, &j| dist2(pts[0], pts[i]).total_cmp(&dist2(pts[0], pts[j])))
            .unwrap_or(1);
        let m = (1..n - 1)
            .filter(|&i| i != k)
            .max_by(|&i, &j| {
                seg_dist(pts[i], pts[0], pts[k]).total_cmp(&seg_dist(pts[j], pts[0], pts[k]))
            })
            .unwrap_or(if k == 1 { 2 } else { 1 });
        forced[k] = true;
        forced[m] = true;
    }
    let kept: Vec<usize> = (0..n).filter(|&i| forced[i]).collect();
    let mut stack: Vec<(usize, usize, f64)> = kept
        .windows(2)
        .map(|w| (w[0], w[1], f64::INFINITY))
        .collect();
    for (i, f) in forced.iter().enumerate() {
        if !f {
            imp[i] = 0.0;
        }
    }
    while let Some((lo, hi, cap)) = stack.pop() {
        if hi <= lo + 1 {
            continue;
        }
        let (mut best, mut far) = (lo + 1, -1.0);
        for i in lo + 1..hi {
            let d = seg_dist(pts[i], pts[lo], pts[hi]);
            if d > far {
                (best, far) = (i, d);
            }
        }
        let v = far.min(cap);
        imp[best] = v;
        stack.push((lo, best, v));
        stack.push((best, hi, v));
    }
    imp
}

/// The first zoom at which a point of importance `imp` is kept on a shared arc whose tolerance is
/// `base` at zoom 0 and halves with every zoom; [`NEVER`] when it never is.
fn first_zoom(imp: f64, base: f64) -> u8 {
    if imp > base {
        return 0;
    }
    if imp.is_nan() || imp <= 0.0 || base <= 0.0 {
        return NEVER;
    }
    let tol = |z: i32| base / 2f64.powi(z);
    let mut z = (base / imp).log2().floor() as i32;
    while z > 0 && imp > tol(z - 1) {
        z -= 1;
    }
    while imp <= tol(z) {
        z += 1;
    }
    if z >= NEVER as i32 {
        NEVER
    } else {
        z as u8
    }
}

fn dist2(a: Pt, b: Pt) -> f64 {
    let (dx, dy) = ((b.x - a.x) as f64, (b.y - a.y) as f64);
    dx * dx + dy * dy
}

/// Distance from `p` to the segment `a`–`b`, in grid units.
fn seg_dist(p: Pt, a: Pt, b: Pt) -> f64 {
    let (dx, dy) = ((b.x - a.x) as f64, (b.y - a.y) as f64);
    let (px, py) = ((p.x - a.x) as f64, (p.y - a.y) as f64);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 {
        ((px * dx + py * dy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (qx, qy) = (px - t * dx, py - t * dy);
    (qx * qx + qy * qy).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Douglas–Peucker as a loop at one tolerance (what `topology::simplify` does per arc).
    fn dp(pts: &[Pt], tol: f64) -> Vec<usize> {
        let n = pts.len();
        let mut keep = vec![false; n];
        keep[0] = true;
        keep[n - 1] = true;
        let mut stack = vec![(0, n - 1)];
        while let Some((lo, hi)) = stack.pop() {
            if hi <= lo + 1 {
                continue;
            }
            let (mut best, mut far) = (0, -1.0);
            for i in lo + 1..hi {
                let d = seg_dist(pts[i], pts[lo], pts[hi]);
                if d > far {
                    (best, far) = (i, d);
                }
            }
            if far > tol {
                keep[best] = true;
                stack.push((lo, best));
                stack.push((best, hi));
            }
        }
        (0..n).filter(|&i| keep[i]).collect()
    }

    #[test]
    fn importance_is_douglas_peucker_at_every_tolerance() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        for _ in 0..50 {
            let n = rng.random_range(3..60);
            let pts: Vec<Pt> = (0..n)
                .map(|i| Pt {
                    x: i as i64 * 1000,
                    y: rng.random_range(-3000..3000),
                })
                .collect();
            let imp = importance(&pts);
            for tol in [0.0, 10.0, 100.0, 500.0, 1000.0, 2000.0, 1e9] {
                let want = dp(&pts, tol);
                let got: Vec<usize> = (0..n).filter(|&i| imp[i] > tol).collect();
                assert_eq!(got, want, "tol {tol}");
            }
        }
    }

    /// A jittered `n × n` grid of cells whose shared sides are wiggly lines walked by both
    /// neighbours through the same points.
    fn wiggly(n: usize, k: usize) -> Vec<MultiPolygon<f64>> {
        use geo::{LineString, Polygon};
        let step = 0.002;
        let h = |a: usize, b: usize, c: usize| {
            let mut x = (a as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
                ^ (b as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
                ^ (c as u64).wrapping_mul(0x1656_67B1_9E37_79F9);
            x ^= x >> 29;
            x = x.wrapping_mul(0x94D0_49BB_1331_11EB);
            (x >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let corner = |i: usize, j: usize| (120.0 + i as f64 * step, 30.0 + j as f64 * step);
        let side = |a: (usize, usize), b: (usize, usize)| -> Vec<(f64, f64)> {
            let (c0, c1, rev) = if a < b { (a, b, false) } else { (b, a, true) };
            let (p, q) = (corner(c0.0, c0.1), corner(c1.0, c1.1));
            let mut v: Vec<(f64, f64)> = (1..=k)
                .map(|s| {
                    let t = s as f64 / (k + 1) as f64;
                    let w = h(c0.0 * 97 + c1.0, c0.1 * 97 + c1.1, s) * 2e-4;
                    (p.0 + t * (q.0 - p.0) + w, p.1 + t * (q.1 - p.1) - w)
                })
                .collect();
            if rev {
                v.reverse();
            }
            v
        };
        let mut out = Vec::new();
        for i in 0..n {
            for j in 0..n {
                let cs = [(i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1)];
                let mut ring = Vec::new();
                for s in 0..4 {
                    ring.push(corner(cs[s].0, cs[s].1));
                    ring.extend(side(cs[s], cs[(s + 1) % 4]));
                }
                ring.push(ring[0]);
                out.push(MultiPolygon(vec![Polygon::new(
                    LineString::from(ring),
                    vec![],
                )]));
            }
        }
        out
    }

    /// At every zoom each ring is the one [`Topology::simplified_by`] traces (Douglas–Peucker of
    /// each arc at the zoom's tolerance, a quarter of it on the outline), point for point.
    #[test]
    fn rings_are_those_of_the_simplified_topology_at_every_zoom() {
        let polys = wiggly(5, 40);
        let refs: Vec<&MultiPolygon<f64>> = polys.iter().collect();
        let s = Shapes::coverage(&refs);
        let cov = Topology::from_polygons(&polys);
        let lat = s.bounds().unwrap().center().y.to_radians().cos();
        let mut rings = Vec::new();
        let mut simplified_somewhere = false;
        for z in 0..=MAX_SIMPLIFY_ZOOM + 2 {
            assert!(s.fixups.get(z as usize).is_none_or(|f| f.is_empty()));
            let want_topo = (z <= MAX_SIMPLIFY_ZOOM).then(|| {
                let tol = TOLERANCE_PX * pixel_deg(z) * lat;
                cov.topology
                    .simplified_by(|a| if a.right.is_some() { tol } else { tol / 4.0 })
            });
            let topo = want_topo.as_ref().unwrap_or(&cov.topology);
            for f in 0..polys.len() {
                s.feature_rings(f, z, &mut rings);
                let want: Vec<Vec<Pt>> = cov.faces_of_feature[f]
                    .iter()
                    .flat_map(|&face| topo.face_rings(face))
                    .collect();
                assert_eq!(rings.len(), want.len());
                for (got, want) in rings.iter().zip(&want) {
                    assert_eq!(got.len(), want.len(), "z{z} feature {f}");
                    for (g, w) in got.iter().zip(want) {
                        let w = to_world(w.lon(), w.lat());
                        assert!((g[0] - w[0]).abs() < 1e-12 && (g[1] - w[1]).abs() < 1e-12);
                    }
                    simplified_somewhere |= z < 8 && got.len() < 4 * 41;
                }
            }
        }
        assert!(simplified_somewhere, "low zooms should drop points");
    }

    #[test]
    fn first_zoom_is_the_first_tolerance_under_the_importance() {
        let base = 1000.0;
        for (imp, want) in [
            (f64::INFINITY, 0),
            (1001.0, 0),
            (1000.0, 1),
            (500.1, 1),
            (500.0, 2),
            (0.0, NEVER),
        ] {
            assert_eq!(first_zoom(imp, base), want, "{imp}");
        }
        for imp in [3.7, 42.0, 999.9, 123.456] {
            let z = first_zoom(imp, base) as i32;
            assert!(imp > base / 2f64.powi(z));
            assert!(z == 0 || imp <= base / 2f64.powi(z - 1));
        }
    }
}
