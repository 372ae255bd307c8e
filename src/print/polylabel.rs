//! The pole of inaccessibility of a polygon (the inside point farthest from its border, where a
//! label has the most room; Mapbox's "polylabel" algorithm: a quadtree of cells searched best
//! first), and whether a label's box fits inside a polygon. Plane coordinates (page mm).
//!
//! ```
//! use wangge::print::polylabel::pole;
//! // an L of arms 2 wide: the most room is in the corner, a circle of radius 2√2/(1+√2) ≈ 1.17
//! let l = vec![vec![[0.0, 0.0], [10.0, 0.0], [10.0, 2.0], [2.0, 2.0], [2.0, 10.0], [0.0, 10.0]]];
//! let (p, d) = pole(&l, 0.001);
//! assert!((d - 1.1716).abs() < 0.01, "{d}");
//! assert!(p[0] < 2.0 && p[1] < 2.0, "{p:?}");
//! ```

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Rings of one polygon: the outer ring first, then holes; each ring's points without repeating
/// the first.
pub type Rings = [Vec<[f64; 2]>];

fn edges(rings: &Rings) -> impl Iterator<Item = ([f64; 2], [f64; 2])> + '_ {
    rings
        .iter()
        .flat_map(|r| (0..r.len()).map(move |i| (r[i], r[(i + 1) % r.len()])))
}

/// Whether `p` is inside (even-odd over every ring).
pub fn inside(rings: &Rings, p: [f64; 2]) -> bool {
    let mut c = false;
    for (a, b) in edges(rings) {
        if (a[1] > p[1]) != (b[1] > p[1]) {
            let x = a[0] + (p[1] - a[1]) / (b[1] - a[1]) * (b[0] - a[0]);
            if p[0] < x {
                c = !c;
            }
        }
    }
    c
}

fn seg_dist2(p: [f64; 2], a: [f64; 2], b: [f64; 2]) -> f64 {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let l2 = dx * dx + dy * dy;
    let t = if l2 > 0.0 {
        (((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / l2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (x, y) = (a[0] + t * dx - p[0], a[1] + t * dy - p[1]);
    x * x + y * y
}

/// Signed distance from `p` to the border: positive inside.
pub fn signed_dist(rings: &Rings, p: [f64; 2]) -> f64 {
    let d = edges(rings)
        .map(|(a, b)| seg_dist2(p, a, b))
        .fold(f64::INFINITY, f64::min)
        .sqrt();
    if inside(rings, p) {
        d
    } else {
        -d
    }
}

struct Cell {
    c: [f64; 2],
    h: f64,
    d: f64,
    max: f64,
}

impl Cell {
    fn new(c: [f64; 2], h: f64, rings: &Rings) -> Cell {
        let d = signed_dist(rings, c);
        Cell {
            c,
            h,
            d,
            max: d + h * std::f64::consts::SQRT_2,
        }
    }
}

impl PartialEq for Cell {
    fn eq(&self, o: &Cell) -> bool {
        self.max == o.max
    }
}
impl Eq for Cell {}
impl PartialOrd for Cell {
    fn partial_cmp(&self, o: &Cell) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Cell {
    fn cmp(&self, o: &Cell) -> Ordering {
        self.max.total_cmp(&o.max)
    }
}

/// The pole of inaccessibility of `rings` to within `precision`, and its distance to the border.
pub fn pole(rings: &Rings, precision: f64) -> ([f64; 2], f64) {
    let Some(outer) = rings.first().filter(|r| r.len() >= 3) else {
        return ([0.0, 0.0], 0.0);
    };
    let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for p in outer {
        x0 = x0.min(p[0]);
        y0 = y0.min(p[1]);
        x1 = x1.max(p[0]);
        y1 = y1.max(p[1]);
    }
    let size = (x1 - x0).min(y1 - y0);
    if size <= 0.0 {
        return (outer[0], 0.0);
    }
    let h = size / 2.0;
    let mut heap = BinaryHeap::new();
    let mut x = x0;
    while x < x1 {
        let mut y = y0;
        while y < y1 {
            heap.push(Cell::new([x + h, y + h], h, rings));
            y += size;
        }
        x += size;
    }
    // the area centroid is a good first guess
    let mut best = Cell::new(centroid(outer), 0.0, rings);
    let bbox = Cell::new([(x0 + x1) / 2.0, (y0 + y1) / 2.0], 0.0, rings);
    if bbox.d > best.d {
        best = bbox;
    }
    let mut steps = 0;
    while let Some(cell) = heap.pop() {
        if cell.d > best.d {
            best = Cell { ..cell };
            best.h = 0.0;
        }
        steps += 1;
        if cell.max - best.d <= precision || steps > 20_000 {
            continue;
        }
        let h = cell.h / 2.0;
        for (dx, dy) in [(-h, -h), (h, -h), (-h, h), (h, h)] {
            heap.push(Cell::new([cell.c[0] + dx, cell.c[1] + dy], h, rings));
        }
    }
    (best.c, best.d.max(0.0))
}

fn centroid(r: &[[f64; 2]]) -> [f64; 2] {
    let (mut a, mut cx, mut cy) = (0.0, 0.0, 0.0);
    for i in 0..r.len() {
        let (p, q) = (r[i], r[(i + 1) % r.len()]);
        let f = p[0] * q[1] - q[0] * p[1];
        a += f;
        cx += (p[0] + q[0]) * f;
        cy += (p[1] + q[1]) * f;
    }
    if a.abs() < 1e-12 {
        return r[0];
    }
    [cx / (3.0 * a), cy / (3.0 * a)]
}

fn segments_cross(a: [f64; 2], b: [f64; 2], c: [f64; 2], d: [f64; 2]) -> bool {
    let o = |p: [f64; 2], q: [f64; 2], r: [f64; 2]| {
        (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])
    };
    let (d1, d2) = (o(c, d, a), o(c, d, b));
    let (d3, d4) = (o(a, b, c), o(a, b, d));
    ((d1 > 0.0) != (d2 > 0.0)) && ((d3 > 0.0) != (d4 > 0.0))
}

/// Whether the box centred at `c`, `w` wide and `h` high, lies inside `rings`: its corners inside
/// and no border crossing its sides or lying within it.
pub fn box_fits(rings: &Rings, c: [f64; 2], w: f64, h: f64) -> bool {
    let (x0, y0, x1, y1) = (
        c[0] - w / 2.0,
        c[1] - h / 2.0,
        c[0] + w / 2.0,
        c[1] + h / 2.0,
    );
    let corners = [[x0, y0], [x1, y0], [x1, y1], [x0, y1]];
    if !corners.iter().all(|&p| inside(rings, p)) {
        return false;
    }
    for (a, b) in edges(rings) {
        if a[0] > x0 && a[0] < x1 && a[1] > y0 && a[1] < y1 {
            return false;
        }
        for i in 0..4 {
            if segments_cross(a, b, corners[i], corners[(i + 1) % 4]) {
                return false;
            }
        }
    }
    true
}
