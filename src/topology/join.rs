//! Joining the topologies of neighbouring areas (the villages of a town) along their borders.
//!
//! Each village's topology is built alone, so where a village border runs between two villages,
//! each side has the vertices of its own tessellation on it (where its cell edges met the border)
//! and not the other side's: the border is the same line, walked through different points, and a
//! renderer or a GIS sees T-junctions and hairline cracks. [`join`] adds to every outline segment
//! of each area the points that other areas' outlines have on it, so a border two areas share
//! runs through the very same points on both sides.
//!
//! ```
//! use std::collections::HashMap;
//! use wangge::topology::{join, Pt};
//! let p = |x: f64, y: f64| Pt::from_lonlat(x, y);
//! // Two squares sharing the edge x = 1; the right one has a vertex halfway up it.
//! let mut left = vec![vec![vec![p(0.0, 0.0), p(1.0, 0.0), p(1.0, 1.0), p(0.0, 1.0), p(0.0, 0.0)]]];
//! let right = vec![vec![vec![p(1.0, 0.0), p(2.0, 0.0), p(2.0, 1.0), p(1.0, 1.0), p(1.0, 0.5), p(1.0, 0.0)]]];
//! let outlines = [join::outline([&left].into_iter()), join::outline([&right].into_iter())];
//! let added = join::join(&outlines);
//! assert_eq!(join::insert(&mut left, &added[0]), 1);
//! assert_eq!(left[0][0][2], p(1.0, 0.5));
//! ```

use super::dissolve::RingSet;
use super::Pt;
use rstar::{primitives::GeomWithData, RTree, AABB};
use std::collections::{HashMap, HashSet};

/// How far (in picodegrees, 10⁻⁹ °, about 0.1 mm) a point may lie from a segment and be taken as
/// on it: crossing points are rounded to the picodegree grid, so one side's point on a shared
/// border is within a picodegree or two of the other side's segment.
pub const ON_SEGMENT_PD: f64 = 1000.0;

/// An undirected segment, its lesser end first.
pub type Segment = (Pt, Pt);

fn key(a: Pt, b: Pt) -> Segment {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

/// The segments of a ring, `(start, end)` in ring order (closed or not).
fn segments(ring: &[Pt]) -> impl Iterator<Item = (Pt, Pt)> + '_ {
    let n = if ring.len() > 1 && ring[0] == ring[ring.len() - 1] {
        ring.len() - 1
    } else {
        ring.len()
    };
    (0..n).map(move |i| (ring[i], ring[(i + 1) % n]))
}

/// The outline of an area tiled by `pieces`: the segments only one piece's rings use (the others
/// lie between two pieces).
pub fn outline<'a>(pieces: impl Iterator<Item = &'a RingSet>) -> HashSet<Segment> {
    let mut uses: HashMap<Segment, u32> = HashMap::new();
    for rs in pieces {
        for ring in rs.iter().flatten() {
            for (a, b) in segments(ring) {
                if a != b {
                    *uses.entry(key(a, b)).or_default() += 1;
                }
            }
        }
    }
    uses.into_iter()
        .filter(|&(_, n)| n == 1)
        .map(|(s, _)| s)
        .collect()
}

/// For each area, the points to add to its outline segments: other areas' outline points lying
/// on them (within [`ON_SEGMENT_PD`], strictly between the ends), in order from the lesser end.
pub fn join(outlines: &[HashSet<Segment>]) -> Vec<HashMap<Segment, Vec<Pt>>> {
    let mut pts: Vec<(Pt, usize)> = outlines
        .iter()
        .enumerate()
        .flat_map(|(o, segs)| segs.iter().flat_map(move |&(a, b)| [(a, o), (b, o)]))
        .collect();
    pts.sort_unstable();
    pts.dedup();
    let tree = RTree::bulk_load(
        pts.iter()
            .map(|&(p, o)| GeomWithData::new([p.x as f64, p.y as f64], (p, o)))
            .collect(),
    );
    outlines
        .iter()
        .enumerate()
        .map(|(o, segs)| {
            let mut added = HashMap::new();
            for &(a, b) in segs {
                let on = on_segment(&tree, o, a, b);
                if !on.is_empty() {
                    added.insert((a, b), on);
                }
            }
            added
        })
        .collect()
}

/// Points of areas other than `own` lying on segment `a → b` (`a < b`), in order from `a`.
fn on_segment(
    tree: &RTree<GeomWithData<[f64; 2], (Pt, usize)>>,
    own: usize,
    a: Pt,
    b: Pt,
) -> Vec<Pt> {
    let (ax, ay, bx, by) = (a.x as f64, a.y as f64, b.x as f64, b.y as f64);
    let (dx, dy) = (bx - ax, by - ay);
    let len2 = dx * dx + dy * dy;
    let env = AABB::from_corners(
        [ax.min(bx) - ON_SEGMENT_PD, ay.min(by) - ON_SEGMENT_PD],
        [ax.max(bx) + ON_SEGMENT_PD, ay.max(by) + ON_SEGMENT_PD],
    );
    let mut on: Vec<(f64, Pt)> = tree
        .locate_in_envelope(&env)
        .filter(|g| g.data.1 != own && g.data.0 != a && g.data.0 != b)
        .filter_map(|g| {
            let [x, y] = *g.geom();
            let t = ((x - ax) * dx + (y - ay) * dy) / len2;
            let off = (x - (ax + t * dx)).hypot(y - (ay + t * dy));
            (t > 0.0 && t < 1.0 && off <= ON_SEGMENT_PD).then_some((t, g.data.0))
        })
        .collect();
    on.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
    let mut out: Vec<Pt> = on.into_iter().map(|(_, p)| p).collect();
    out.dedup();
    out
}

/// Adds the points of `added` (from [`join`]) to the segments of `rings` they lie on; returns how
/// many were added.
pub fn insert(rings: &mut RingSet, added: &HashMap<Segment, Vec<Pt>>) -> usize {
    if added.is_empty() {
        return 0;
    }
    let mut n = 0;
    for ring in rings.iter_mut().flatten() {
        let mut out = Vec::with_capacity(ring.len());
        for (a, b) in segments(ring) {
            out.push(a);
            if let Some(on) = added.get(&key(a, b)) {
                n += on.len();
                if a < b {
                    out.extend(on.iter().copied());
                } else {
                    out.extend(on.iter().rev().copied());
                }
            }
        }
        if ring.len() > 1 && ring[0] == ring[ring.len() - 1] {
            out.push(out[0]);
        }
        *ring = out;
    }
    n
}
