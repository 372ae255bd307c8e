//! Clipping rings and lines to a box in tile pixels.
//!
//! A segment is always cut from its smaller end point (by coordinates), so the shared border of two
//! neighbours, walked in opposite directions, is cut at bit-identical points: identical clipping of
//! identical edges keeps neighbours exact. Rings are clipped with Sutherland–Hodgman, which may
//! leave zero-width runs along the box edge: those lie in the buffer, outside the drawn tile.

/// A point in tile pixels.
pub type P = [f64; 2];

/// An axis-aligned box in tile pixels.
#[derive(Clone, Copy, Debug)]
pub struct Box2 {
    /// Smallest x and y.
    pub min: P,
    /// Largest x and y.
    pub max: P,
}

impl Box2 {
    /// Whether `p` lies inside or on the box.
    pub fn contains(&self, p: P) -> bool {
        p[0] >= self.min[0] && p[0] <= self.max[0] && p[1] >= self.min[1] && p[1] <= self.max[1]
    }

    /// The four half-planes, as (axis, bound, keep-above).
    fn planes(&self) -> [(usize, f64, bool); 4] {
        [
            (0, self.min[0], true),
            (0, self.max[0], false),
            (1, self.min[1], true),
            (1, self.max[1], false),
        ]
    }
}

fn inside(p: P, (axis, bound, above): (usize, f64, bool)) -> bool {
    if above {
        p[axis] >= bound
    } else {
        p[axis] <= bound
    }
}

/// Where segment `p`–`q` crosses `coord[axis] = bound`, computed from the smaller end point.
fn cut(p: P, q: P, axis: usize, bound: f64) -> P {
    let (a, b) = if (p[0], p[1]) <= (q[0], q[1]) {
        (p, q)
    } else {
        (q, p)
    };
    let t = (bound - a[axis]) / (b[axis] - a[axis]);
    let o = 1 - axis;
    let mut r = [0.0; 2];
    r[axis] = bound;
    r[o] = a[o] + t * (b[o] - a[o]);
    r
}

/// Clips a closed ring (first point repeated at the end, or not) to the box. Returns the clipped
/// ring, not closed; empty when nothing is left.
pub fn clip_ring(ring: &[P], bx: &Box2) -> Vec<P> {
    let mut pts: Vec<P> = ring.to_vec();
    if pts.len() > 1 && pts.first() == pts.last() {
        pts.pop();
    }
    if pts.iter().all(|&p| bx.contains(p)) {
        return pts;
    }
    for plane in bx.planes() {
        if pts.is_empty() {
            break;
        }
        let n = pts.len();
        let mut out = Vec::with_capacity(n + 4);
        for i in 0..n {
            let (p, q) = (pts[i], pts[(i + 1) % n]);
            let (pi, qi) = (inside(p, plane), inside(q, plane));
            if pi {
                out.push(p);
            }
            if pi != qi {
                out.push(cut(p, q, plane.0, plane.1));
            }
        }
        pts = out;
    }
    pts
}

/// Clips a line to the box: the parts of it inside, in order.
pub fn clip_line(line: &[P], bx: &Box2) -> Vec<Vec<P>> {
    let mut parts: Vec<Vec<P>> = Vec::new();
    let mut cur: Vec<P> = Vec::new();
    for w in line.windows(2) {
        match clip_segment(w[0], w[1], bx) {
            Some((a, b)) => {
                if cur.last() != Some(&a) {
                    if cur.len() > 1 {
                        parts.push(std::mem::take(&mut cur));
                    }
                    cur.clear();
                    cur.push(a);
                }
                cur.push(b);
            }
            None => {
                if cur.len() > 1 {
                    parts.push(std::mem::take(&mut cur));
                }
                cur.clear();
            }
        }
    }
    if cur.len() > 1 {
        parts.push(cur);
    }
    parts
}

/// The part of segment `p`–`q` inside the box, if any (end points inside are kept exactly).
fn clip_segment(mut p: P, mut q: P, bx: &Box2) -> Option<(P, P)> {
    for plane in bx.planes() {
        match (inside(p, plane), inside(q, plane)) {
            (true, true) => {}
            (false, false) => return None,
            (true, false) => q = cut(p, q, plane.0, plane.1),
            (false, true) => p = cut(p, q, plane.0, plane.1),
        }
    }
    Some((p, q))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BX: Box2 = Box2 {
        min: [0.0, 0.0],
        max: [10.0, 10.0],
    };

    #[test]
    fn ring_across_the_box() {
        let r = clip_ring(&[[-5.0, 2.0], [5.0, 2.0], [5.0, 8.0], [-5.0, 8.0]], &BX);
        let area: f64 = (0..r.len())
            .map(|i| {
                let (a, b) = (r[i], r[(i + 1) % r.len()]);
                a[0] * b[1] - b[0] * a[1]
            })
            .sum::<f64>()
            / 2.0;
        assert_eq!(area, 30.0);
        assert!(r.iter().all(|&p| BX.contains(p)));
        assert!(clip_ring(&[[20.0, 2.0], [25.0, 2.0], [25.0, 8.0]], &BX).is_empty());
    }

    #[test]
    fn shared_edge_cut_the_same_both_ways() {
        let (p, q) = ([-3.3, 1.7], [7.1, 13.9]);
        let a = clip_segment(p, q, &BX).unwrap();
        let b = clip_segment(q, p, &BX).unwrap();
        assert_eq!((a.0, a.1), (b.1, b.0));
    }

    #[test]
    fn line_leaving_and_coming_back() {
        let parts = clip_line(
            &[[1.0, 1.0], [15.0, 1.0], [15.0, 5.0], [1.0, 5.0], [1.0, 9.0]],
            &BX,
        );
        assert_eq!(
            parts,
            vec![
                vec![[1.0, 1.0], [10.0, 1.0]],
                vec![[10.0, 5.0], [1.0, 5.0], [1.0, 9.0]]
            ]
        );
    }
}
