//! Simplifying a topology on its shared arcs (拓扑简化): each arc once, so the faces on its two
//! sides keep walking the very same points and can never gap or overlap.
//!
//! Douglas–Peucker on every arc, its end points (junctions) kept. A closed arc (a ring with no
//! junction) keeps at least a triangle. A ring that would lose its area (two arcs between the same
//! two junctions both straightened, say) gets its arcs simplified again with a smaller tolerance,
//! down to no simplification at all, until every ring keeps the orientation it had.

use super::{ring_area2, Arc, Face, Pt, Topology, SCALE};

impl Topology {
    /// The same arcs and faces with fewer points: every arc simplified once (Douglas–Peucker) to
    /// within `tolerance_deg` degrees, its end points kept; no ring collapses to zero area.
    pub fn simplified(&self, tolerance_deg: f64) -> Topology {
        self.simplified_by(|_| tolerance_deg)
    }

    /// [`simplified`](Topology::simplified) with a tolerance per arc, in degrees (say, a finer one
    /// for arcs with a face on one side only, whose neighbour across may not share its vertices).
    pub fn simplified_by(&self, tolerance_deg: impl Fn(&Arc) -> f64) -> Topology {
        let mut tol: Vec<f64> = self
            .arcs
            .iter()
            .map(|a| (tolerance_deg(a) * SCALE).max(0.0))
            .collect();
        let mut arcs: Vec<Arc> = self
            .arcs
            .iter()
            .zip(&tol)
            .map(|(a, &t)| Arc {
                points: simplify_arc(&a.points, t),
                ..a.clone()
            })
            .collect();
        let signs = ring_signs(self);
        loop {
            let view = Topology {
                arcs,
                faces: Vec::new(),
                junctions: Default::default(),
            };
            let flipped = on_flipped_ring(&self.faces, &signs, &view);
            let again: Vec<bool> = flipped
                .iter()
                .zip(&tol)
                .map(|(&f, &t)| f && t > 0.0)
                .collect();
            arcs = view.arcs;
            if !again.contains(&true) {
                break;
            }
            for (i, redo) in again.into_iter().enumerate() {
                if redo {
                    tol[i] = if tol[i] < 4.0 { 0.0 } else { tol[i] / 4.0 };
                    arcs[i].points = simplify_arc(&self.arcs[i].points, tol[i]);
                }
            }
        }
        Topology::from_arcs(arcs, self.faces.clone())
    }

    /// A topology of these arcs and faces, its junctions indexed.
    pub(super) fn from_arcs(arcs: Vec<Arc>, faces: Vec<Face>) -> Topology {
        let mut out = Topology {
            arcs,
            faces,
            junctions: Default::default(),
        };
        out.index_junctions();
        out
    }
}

/// The sign of each ring's area, face by face.
pub(super) fn ring_signs(t: &Topology) -> Vec<Vec<i8>> {
    t.faces
        .iter()
        .map(|f| {
            f.rings
                .iter()
                .map(|r| ring_area2(&t.ring_points(r)).signum() as i8)
                .collect()
        })
        .collect()
}

/// Per arc of `view`: whether it bounds a ring of `faces` whose area no longer has the sign
/// `signs` gives it (a ring turned inside out, or collapsed, by redrawing its arcs).
pub(super) fn on_flipped_ring(faces: &[Face], signs: &[Vec<i8>], view: &Topology) -> Vec<bool> {
    let mut out = vec![false; view.arcs.len()];
    for (face, signs) in faces.iter().zip(signs) {
        for (ring, &was) in face.rings.iter().zip(signs) {
            if ring_area2(&view.ring_points(ring)).signum() as i8 != was {
                for d in ring {
                    out[d.arc as usize] = true;
                }
            }
        }
    }
    out
}

/// Douglas–Peucker of one arc in grid units; end points kept, a closed arc keeps a triangle.
fn simplify_arc(pts: &[Pt], tol: f64) -> Vec<Pt> {
    let n = pts.len();
    if n <= 2 || tol <= 0.0 {
        return pts.to_vec();
    }
    let mut keep = vec![false; n];
    keep[0] = true;
    keep[n - 1] = true;
    if pts[0] == pts[n - 1] {
        if n <= 4 {
            return pts.to_vec();
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
        keep[k] = true;
        keep[m] = true;
    }
    let forced: Vec<usize> = (0..n).filter(|&i| keep[i]).collect();
    let mut stack: Vec<(usize, usize)> = forced.windows(2).map(|w| (w[0], w[1])).collect();
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
    pts.iter()
        .zip(keep)
        .filter_map(|(p, k)| k.then_some(*p))
        .collect()
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
    use crate::topology::DirArc;
    use geo::{LineString, MultiPolygon, Polygon};
    use rand::{Rng, SeedableRng};
    use std::collections::HashMap;

    /// A jittered `n × n` grid of cells whose shared sides are wiggly lines of `k` points, every
    /// side walked by both neighbours through the same points.
    fn wiggly_grid(n: usize, k: usize, seed: u64) -> Vec<MultiPolygon<f64>> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let step = 0.001;
        let corner: Vec<Vec<(f64, f64)>> = (0..=n)
            .map(|i| {
                (0..=n)
                    .map(|j| {
                        let inner = |v: usize| v > 0 && v < n;
                        let jit = |r: &mut rand_chacha::ChaCha8Rng, on: bool| {
                            if on {
                                r.random_range(-0.2..0.2) * step
                            } else {
                                0.0
                            }
                        };
                        (
                            120.0 + i as f64 * step + jit(&mut rng, inner(i)),
                            30.0 + j as f64 * step + jit(&mut rng, inner(j)),
                        )
                    })
                    .collect()
            })
            .collect();
        // side between two corners: k wiggly points strictly between them, keyed by corner pair
        type Corner = (usize, usize);
        let mut sides: HashMap<(Corner, Corner), Vec<(f64, f64)>> = HashMap::new();
        let mut side = |a: (usize, usize), b: (usize, usize), rng: &mut rand_chacha::ChaCha8Rng| {
            let (key, rev) = if a < b {
                ((a, b), false)
            } else {
                ((b, a), true)
            };
            let pts = sides
                .entry(key)
                .or_insert_with(|| {
                    let (p, q) = (corner[key.0 .0][key.0 .1], corner[key.1 .0][key.1 .1]);
                    (1..=k)
                        .map(|s| {
                            let t = s as f64 / (k + 1) as f64;
                            let w = rng.random_range(-0.03..0.03) * step;
                            (p.0 + t * (q.0 - p.0) + w, p.1 + t * (q.1 - p.1) - w)
                        })
                        .collect()
                })
                .clone();
            if rev {
                pts.into_iter().rev().collect::<Vec<_>>()
            } else {
                pts
            }
        };
        let mut out = Vec::new();
        for i in 0..n {
            for j in 0..n {
                let cs = [(i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1)];
                let mut ring = Vec::new();
                for s in 0..4 {
                    let (a, b) = (cs[s], cs[(s + 1) % 4]);
                    ring.push(corner[a.0][a.1]);
                    ring.extend(side(a, b, &mut rng));
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

    /// Every directed edge of every ring is walked the other way by exactly one other face, or is
    /// on the outer boundary (walked once, by nobody else).
    fn check_no_gap(t: &Topology) -> Result<usize, String> {
        let mut uses: HashMap<(Pt, Pt), Vec<u32>> = HashMap::new();
        let mut n = 0;
        for f in 0..t.faces.len() as u32 {
            for r in t.face_rings(f) {
                if ring_area2(&r) == 0 {
                    return Err(format!("face {f}: ring of zero area"));
                }
                for w in r.windows(2) {
                    uses.entry((w[0], w[1])).or_default().push(f);
                    n += 1;
                }
            }
        }
        for ((a, b), fs) in &uses {
            if fs.len() > 1 {
                return Err(format!("edge {a:?}→{b:?} walked the same way by {fs:?}"));
            }
            if let Some(back) = uses.get(&(*b, *a)) {
                if back[0] == fs[0] {
                    return Err(format!("face {} walks {a:?}–{b:?} both ways", fs[0]));
                }
            }
        }
        Ok(n)
    }

    #[test]
    fn simplified_coverage_stays_gap_free() {
        let polys = wiggly_grid(8, 12, 7);
        let t = Topology::from_polygons(&polys).topology;
        let before = check_no_gap(&t).expect("input is a clean coverage");
        // the wiggles are ±0.03 step = 3e-5°; simplify above that
        let s = t.simplified(5e-5);
        let after = check_no_gap(&s).expect("simplified coverage is gap-free");
        assert!(after * 3 < before, "points {before} → {after}");
        assert_eq!(s.arcs.len(), t.arcs.len());
        // shared arcs: the boundary edges of the simplified faces are exactly the boundary arcs
        let boundary_pts: usize = s
            .arcs
            .iter()
            .filter(|a| a.right.is_none())
            .map(|a| a.points.len() - 1)
            .sum();
        let mut lonely = 0;
        let mut set = std::collections::HashSet::new();
        for f in 0..s.faces.len() as u32 {
            for r in s.face_rings(f) {
                for w in r.windows(2) {
                    set.insert((w[0], w[1]));
                }
            }
        }
        for &(a, b) in &set {
            if !set.contains(&(b, a)) {
                lonely += 1;
            }
        }
        assert_eq!(lonely, boundary_pts);
        // a zero tolerance changes nothing
        let same = t.simplified(0.0);
        for (a, b) in same.arcs.iter().zip(&t.arcs) {
            assert_eq!(a.points, b.points);
        }
    }

    #[test]
    fn rings_never_collapse() {
        // Two faces between the same two junctions, plus an island: a huge tolerance must still
        // leave every ring with area of the right sign.
        let lens = LineString::from(vec![
            (0.0, 0.0),
            (0.5, 0.01),
            (1.0, 0.0),
            (0.5, -0.01),
            (0.0, 0.0),
        ]);
        let top = LineString::from(vec![
            (0.0, 0.0),
            (0.5, 0.3),
            (1.0, 0.0),
            (0.5, 0.01),
            (0.0, 0.0),
        ]);
        let island = LineString::from(vec![
            (5.0, 5.0),
            (5.1, 5.0),
            (5.2, 5.05),
            (5.1, 5.1),
            (5.0, 5.1),
            (5.0, 5.0),
        ]);
        let polys: Vec<MultiPolygon<f64>> = [lens, top, island]
            .into_iter()
            .map(|r| MultiPolygon(vec![Polygon::new(r, vec![])]))
            .collect();
        let t = Topology::from_polygons(&polys).topology;
        let s = t.simplified(10.0);
        for f in 0..s.faces.len() as u32 {
            let r = &s.face_rings(f)[0];
            assert!(ring_area2(r) > 0, "face {f}: {r:?}");
        }
        // the island keeps a triangle (3 points + closing)
        let isl: DirArc = s.faces[2].rings[0][0];
        assert_eq!(s.faces[2].rings[0].len(), 1);
        assert_eq!(s.arcs[isl.arc as usize].points.len(), 4);
        check_no_gap(&s).expect("gap-free");
    }
}
