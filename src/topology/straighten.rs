//! Straightening shared borders (拉直边界) without moving anything across them.
//!
//! A border traced from Voronoi cells zigzags from one cell corner to the next, though nothing on
//! the ground runs there: any line between the same buildings would do as well. Straightening
//! redraws such borders with fewer, straighter segments, under three rules:
//!
//! 1. **Nothing changes side.** A stretch of border is replaced by a chord only when the region
//!    swept between the two (old stretch and chord) holds no *pin* (a building) and no vertex of any
//!    other border, nor of the same border elsewhere. So every building stays in its face, and no
//!    border comes to cross another: a border entering the swept region would have to leave it
//!    through the chord it came in by, which a straight segment cannot, or end inside it.
//! 2. **Lines on the ground stay.** Segments that `fixed` names (roads, rivers, villager-group
//!    lines, unit edges) are kept point for point; only the runs between them move.
//! 3. **Near where it ran.** A chord replaces a stretch only when every point of the stretch lies
//!    within the tolerance of it (from each kept point, the longest such chord), and outer borders (a face on one side only)
//!    are not touched, so the area as a whole keeps its outline.
//!
//! Junctions (arc ends) never move, so every face keeps its neighbours. A ring that would lose
//! its orientation (two borders of a face with no pin between them, both straightened onto one
//! chord) gets its arcs back as they were.

use super::simplify::{on_flipped_ring, ring_signs};
use super::{orient, ring_contains, Arc, Frame, Pt, Topology};
use rstar::primitives::GeomWithData;
use rstar::{RTree, AABB};

/// What a straightening must keep (the rules are in this module's own docs, above).
pub struct Straighten<'a> {
    /// How far (metres) a border may move from where it ran.
    pub tolerance_m: f64,
    /// Points that must stay on their side of every border (buildings).
    pub pins: &'a [Pt],
    /// Whether the segment between two consecutive points of an arc is a line on the ground that
    /// must stay where it is.
    pub fixed: &'a dyn Fn(Pt, Pt) -> bool,
}

/// A point something must not be swept over: a pin (`None`) or the `index`th point of arc `arc`.
type Obstacle = GeomWithData<[i64; 2], Option<(u32, u32)>>;

impl Topology {
    /// The same faces with their inner borders straightened: nothing changes side, lines on the
    /// ground stay, and no border moves more than the tolerance.
    ///
    /// ```
    /// use wangge::topology::{Frame, Pt, Straighten, Topology};
    /// let p = |x: f64, y: f64| Pt::from_lonlat(x * 1e-4, y * 1e-4); // about 11 m per unit
    /// // Two squares whose shared border zigzags by ±0.2 units (about 2 m).
    /// let zig = [p(1.0, 0.0), p(1.2, 0.25), p(0.8, 0.5), p(1.2, 0.75), p(1.0, 1.0)];
    /// let mut a = vec![p(0.0, 0.0)];
    /// a.extend(zig);
    /// a.extend([p(0.0, 1.0), p(0.0, 0.0)]);
    /// let mut b: Vec<Pt> = zig.iter().rev().copied().collect();
    /// b.extend([p(2.0, 0.0), p(2.0, 1.0), p(1.0, 1.0)]);
    /// let cov = Topology::from_ringsets(&[vec![vec![a]], vec![vec![b]]]);
    /// let frame = Frame::new(p(1.0, 0.5));
    /// let free = |_: Pt, _: Pt| false;
    /// // A building at (1.1, 0.3) lies on the right of a straight border at x = 1.
    /// let pins = [p(0.5, 0.5), p(1.5, 0.5), p(1.1, 0.3)];
    /// let s = Straighten { tolerance_m: 5.0, pins: &pins[..2], fixed: &free };
    /// let straight = cov.topology.straightened(&frame, &s);
    /// let inner = straight.arcs.iter().find(|a| a.right.is_some()).unwrap();
    /// assert_eq!(inner.points.len(), 2); // one straight segment
    /// let kept = Straighten { pins: &pins, ..s };
    /// let around = cov.topology.straightened(&frame, &kept);
    /// let inner = around.arcs.iter().find(|a| a.right.is_some()).unwrap();
    /// assert!(inner.points.len() > 2); // the building keeps its side
    /// ```
    pub fn straightened(&self, frame: &Frame, s: &Straighten<'_>) -> Topology {
        let mut out = self.straightened_once(frame, s);
        // A pass takes a chord only past the borders as they were when it began; borders that
        // have since straightened may leave room for more. Each pass keeps every rule, so
        // stopping after any pass is safe.
        for _ in 1..PASSES {
            let next = out.straightened_once(frame, s);
            let changed = next
                .arcs
                .iter()
                .zip(&out.arcs)
                .any(|(a, b)| a.points.len() != b.points.len());
            out = next;
            if !changed {
                break;
            }
        }
        out
    }

    /// One pass of [`straightened`](Topology::straightened).
    fn straightened_once(&self, frame: &Frame, s: &Straighten<'_>) -> Topology {
        let obstacles = obstacles(self, s.pins);
        let mut arcs: Vec<Arc> = self
            .arcs
            .iter()
            .enumerate()
            .map(|(i, a)| {
                if a.left.is_none() || a.right.is_none() || a.points.len() < 3 {
                    return a.clone();
                }
                let mut keep = vec![true; a.points.len()];
                for (lo, hi) in movable_runs(&a.points, s.fixed) {
                    keep[lo + 1..hi].fill(false);
                    let run = Run {
                        arc: i as u32,
                        pts: &a.points,
                        frame,
                        tolerance_m: s.tolerance_m,
                        obstacles: &obstacles,
                    };
                    run.keep(lo, hi, &mut keep);
                }
                let points = a
                    .points
                    .iter()
                    .zip(&keep)
                    .filter(|(_, &k)| k)
                    .map(|(p, _)| *p)
                    .collect();
                Arc {
                    points,
                    ..a.clone()
                }
            })
            .collect();
        restore_flipped_rings(self, &mut arcs);
        Topology::from_arcs(arcs, self.faces.clone())
    }
}

/// Passes at most: the second finds a little more, the third rarely anything.
const PASSES: usize = 3;

/// Every pin and every arc point, in one tree.
fn obstacles(topo: &Topology, pins: &[Pt]) -> RTree<Obstacle> {
    let mut all: Vec<Obstacle> = pins
        .iter()
        .map(|p| GeomWithData::new([p.x, p.y], None))
        .collect();
    for (i, a) in topo.arcs.iter().enumerate() {
        for (k, p) in a.points.iter().enumerate() {
            all.push(GeomWithData::new([p.x, p.y], Some((i as u32, k as u32))));
        }
    }
    RTree::bulk_load(all)
}

/// The stretches `(first, last)` of point indices whose segments are all free to move, as long as
/// they have a point between their ends.
fn movable_runs(pts: &[Pt], fixed: &dyn Fn(Pt, Pt) -> bool) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut start = 0;
    for i in 0..pts.len() - 1 {
        if fixed(pts[i], pts[i + 1]) {
            if i > start + 1 {
                runs.push((start, i));
            }
            start = i + 1;
        }
    }
    if pts.len() - 1 > start + 1 {
        runs.push((start, pts.len() - 1));
    }
    runs
}

/// One arc's points being straightened.
struct Run<'a> {
    arc: u32,
    pts: &'a [Pt],
    frame: &'a Frame,
    tolerance_m: f64,
    obstacles: &'a RTree<Obstacle>,
}

impl Run<'_> {
    /// Marks the points of `lo..=hi` to keep: from each kept point, the longest chord onward
    /// that stays within the tolerance and sweeps nothing (greedy, as a planner would draw it).
    /// The walk starts from the smaller end (by point, then by the next point for a closed run),
    /// so the same border gives the same chords whichever way its arc happens to run.
    fn keep(&self, lo: usize, hi: usize, keep: &mut [bool]) {
        let p = self.pts;
        let forward = (p[lo], p[lo + 1]) <= (p[hi], p[hi - 1]);
        let fits = |a: usize, b: usize| {
            let (i, j) = (a.min(b), a.max(b));
            self.farthest(i, j).1 <= self.tolerance_m && self.sweeps_nothing(i, j)
        };
        let (start, end) = if forward { (lo, hi) } else { (hi, lo) };
        let step = |k: usize| if forward { k + 1 } else { k - 1 };
        keep[start] = true;
        let mut i = start;
        while i != end {
            let mut j = step(i);
            while j != end && fits(i, step(j)) {
                j = step(j);
            }
            keep[j] = true;
            i = j;
        }
    }

    /// The point of `i+1..j` farthest from the chord `i → j`, and its distance in metres.
    fn farthest(&self, i: usize, j: usize) -> (usize, f64) {
        let [ax, ay] = self.frame.to_xy(self.pts[i]);
        let [bx, by] = self.frame.to_xy(self.pts[j]);
        let (dx, dy) = (bx - ax, by - ay);
        let len2 = dx * dx + dy * dy;
        let mut best = (i + 1, -1.0);
        for k in i + 1..j {
            let [px, py] = self.frame.to_xy(self.pts[k]);
            let t = if len2 > 0.0 {
                (((px - ax) * dx + (py - ay) * dy) / len2).clamp(0.0, 1.0)
            } else {
                0.0
            };
            let d = (px - ax - t * dx).hypot(py - ay - t * dy);
            if d > best.1 {
                best = (k, d);
            }
        }
        best
    }

    /// Whether the region between the stretch `i..=j` and its chord holds no pin and no point of
    /// any border (the stretch's own inner points aside), the chord's ends aside.
    fn sweeps_nothing(&self, i: usize, j: usize) -> bool {
        let stretch = &self.pts[i..=j];
        let (mut lo, mut hi) = ([i64::MAX; 2], [i64::MIN; 2]);
        for p in stretch {
            lo = [lo[0].min(p.x), lo[1].min(p.y)];
            hi = [hi[0].max(p.x), hi[1].max(p.y)];
        }
        let mut ring = stretch.to_vec();
        ring.push(self.pts[i]);
        let (a, b) = (self.pts[i], self.pts[j]);
        let env = AABB::from_corners(lo, hi);
        !self.obstacles.locate_in_envelope(&env).any(|o| {
            let q = Pt {
                x: o.geom()[0],
                y: o.geom()[1],
            };
            if q == a || q == b {
                return false;
            }
            if let Some((arc, k)) = o.data {
                if arc == self.arc && (k as usize) > i && (k as usize) < j {
                    return false;
                }
            }
            on_segment(a, b, q) || ring_contains(&ring, q)
        })
    }
}

/// Whether `q` lies on the closed segment `a–b`.
fn on_segment(a: Pt, b: Pt, q: Pt) -> bool {
    orient(a, b, q) == 0
        && q.x >= a.x.min(b.x)
        && q.x <= a.x.max(b.x)
        && q.y >= a.y.min(b.y)
        && q.y <= a.y.max(b.y)
}

/// Gives the arcs of any ring whose orientation changed (or whose area vanished) their points back.
fn restore_flipped_rings(before: &Topology, arcs: &mut [Arc]) {
    let signs = ring_signs(before);
    loop {
        let view = Topology {
            arcs: arcs.to_vec(),
            faces: Vec::new(),
            junctions: Default::default(),
        };
        let mut restored = false;
        for (a, flipped) in on_flipped_ring(&before.faces, &signs, &view)
            .into_iter()
            .enumerate()
        {
            if flipped && arcs[a].points.len() != before.arcs[a].points.len() {
                arcs[a].points.clone_from(&before.arcs[a].points);
                restored = true;
            }
        }
        if !restored {
            return;
        }
    }
}
