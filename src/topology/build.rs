//! Building a [`Topology`] from line work: noding, face tracing, inside/outside, arcs.
//!
//! 1. Every segment is split where it meets another (exact integer predicates; a crossing point is
//!    rounded to the grid and noding repeats until nothing new is split).
//! 2. Duplicate segments merge (their classes are OR-ed); dangling and bridging edges, which bound
//!    no area, are dropped.
//! 3. Faces are traced on the half-edge structure; holes are matched to the face around them.
//! 4. The area is the part on the inner side of the boundary rings (the side given when they were
//!    added), flood-filled across every non-boundary edge.
//! 5. Chains of edges between junctions with the same faces and class become [`Arc`]s.

use super::{orient, ring_area2, ring_contains, Arc, DirArc, EdgeClass, Face, Pt, Topology};
use rstar::{primitives::GeomWithData, primitives::Rectangle, RTree, AABB};
use std::collections::HashMap;

/// Collects line work, then [`build`](Builder::build)s the topology.
#[derive(Default)]
pub struct Builder {
    segs: Vec<Seg>,
}

#[derive(Clone, Copy, Debug)]
struct Seg {
    a: Pt,
    b: Pt,
    class: EdgeClass,
    /// For boundary segments: the area lies on the left of `a → b`.
    inside_left: bool,
}

impl Builder {
    /// An empty builder.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Adds a closed ring (first point need not be repeated). For boundary rings,
    /// `inside_left` says the area is on the left walking the ring in the given order
    /// (counter-clockwise exteriors and clockwise holes have it on the left).
    pub fn add_ring(&mut self, ring: &[Pt], class: EdgeClass, inside_left: bool) {
        let n = ring.len();
        if n < 2 {
            return;
        }
        let closed = ring[0] == ring[n - 1];
        let m = if closed { n - 1 } else { n };
        for i in 0..m {
            let (a, b) = (ring[i], ring[(i + 1) % m]);
            self.push(a, b, class, inside_left);
        }
    }

    /// Adds an open polyline.
    pub fn add_line(&mut self, line: &[Pt], class: EdgeClass) {
        for w in line.windows(2) {
            self.push(w[0], w[1], class, false);
        }
    }

    fn push(&mut self, a: Pt, b: Pt, class: EdgeClass, inside_left: bool) {
        if a != b {
            self.segs.push(Seg {
                a,
                b,
                class,
                inside_left,
            });
        }
    }

    /// Nodes the line work and traces the faces of the area inside the boundary rings.
    pub fn build(self) -> Topology {
        let segs = node(self.segs);
        Graph::new(segs).into_topology()
    }
}

type SegBox = GeomWithData<Rectangle<[i64; 2]>, usize>;

fn seg_box(s: &Seg, i: usize) -> SegBox {
    GeomWithData::new(Rectangle::from_corners([s.a.x, s.a.y], [s.b.x, s.b.y]), i)
}

fn on_segment_interior(a: Pt, b: Pt, p: Pt) -> bool {
    p != a
        && p != b
        && orient(a, b, p) == 0
        && p.x >= a.x.min(b.x)
        && p.x <= a.x.max(b.x)
        && p.y >= a.y.min(b.y)
        && p.y <= a.y.max(b.y)
}

/// Rounded intersection of two properly crossing segments.
fn crossing(a: Pt, b: Pt, c: Pt, d: Pt) -> Pt {
    let (rx, ry) = ((b.x - a.x) as i128, (b.y - a.y) as i128);
    let (sx, sy) = ((d.x - c.x) as i128, (d.y - c.y) as i128);
    let den = rx * sy - ry * sx;
    let num = ((c.x - a.x) as i128) * sy - ((c.y - a.y) as i128) * sx;
    // t = num / den in (0, 1); the products stay in f64 so nothing can overflow, and the error
    // (~1e-3 grid units) is far below the rounding to the grid.
    let t = num as f64 / den as f64;
    Pt {
        x: a.x + (t * rx as f64).round() as i64,
        y: a.y + (t * ry as f64).round() as i64,
    }
}

/// Splits segments where they meet, until no segment crosses or touches another's interior.
fn node(mut segs: Vec<Seg>) -> Vec<Seg> {
    for _round in 0..8 {
        let tree: RTree<SegBox> = RTree::bulk_load(
            segs.iter()
                .enumerate()
                .map(|(i, s)| seg_box(s, i))
                .collect(),
        );
        let mut splits: Vec<Vec<Pt>> = vec![Vec::new(); segs.len()];
        let mut any = false;
        for (i, s) in segs.iter().enumerate() {
            let env = AABB::from_corners([s.a.x, s.a.y], [s.b.x, s.b.y]);
            for cand in tree.locate_in_envelope_intersecting(&env) {
                let j = cand.data;
                if j <= i {
                    continue;
                }
                let t = &segs[j];
                let (a, b, c, d) = (s.a, s.b, t.a, t.b);
                let o1 = orient(a, b, c);
                let o2 = orient(a, b, d);
                let o3 = orient(c, d, a);
                let o4 = orient(c, d, b);
                if o1 != 0 && o2 != 0 && o3 != 0 && o4 != 0 {
                    if (o1 > 0) != (o2 > 0) && (o3 > 0) != (o4 > 0) {
                        let p = crossing(a, b, c, d);
                        for (k, (e0, e1)) in [(i, (a, b)), (j, (c, d))] {
                            if p != e0 && p != e1 {
                                splits[k].push(p);
                                any = true;
                            }
                        }
                    }
                    continue;
                }
                for (k, (e0, e1), p) in [
                    (i, (a, b), c),
                    (i, (a, b), d),
                    (j, (c, d), a),
                    (j, (c, d), b),
                ] {
                    if on_segment_interior(e0, e1, p) {
                        splits[k].push(p);
                        any = true;
                    }
                }
            }
        }
        if !any {
            break;
        }
        let mut out = Vec::with_capacity(segs.len() * 2);
        for (s, mut sp) in segs.into_iter().zip(splits) {
            if sp.is_empty() {
                out.push(s);
                continue;
            }
            let key = |p: &Pt| {
                ((p.x - s.a.x) as i128) * ((s.b.x - s.a.x) as i128)
                    + ((p.y - s.a.y) as i128) * ((s.b.y - s.a.y) as i128)
            };
            sp.sort_by_key(key);
            sp.dedup();
            let mut prev = s.a;
            for p in sp.into_iter().chain(std::iter::once(s.b)) {
                if p != prev {
                    out.push(Seg { a: prev, b: p, ..s });
                }
                prev = p;
            }
        }
        segs = out;
    }
    segs
}

/// The noded graph with half-edges: edge `e` has half-edges `2e` (u → v) and `2e + 1` (v → u).
struct Graph {
    pts: Vec<Pt>,
    /// (u, v, class) with u < v by point order.
    edges: Vec<(u32, u32, EdgeClass)>,
    /// Half-edges whose left side is inside the area (from boundary rings).
    inside_left: Vec<bool>,
    /// Half-edges whose left side is outside the area.
    outside_left: Vec<bool>,
    alive: Vec<bool>,
}

impl Graph {
    fn new(segs: Vec<Seg>) -> Graph {
        let mut pts: Vec<Pt> = segs.iter().flat_map(|s| [s.a, s.b]).collect();
        pts.sort_unstable();
        pts.dedup();
        let idx = |p: Pt| pts.binary_search(&p).expect("noded point") as u32;
        // Merge duplicates: key (u, v) with u < v.
        let mut keyed: Vec<(u32, u32, EdgeClass, i8)> = segs
            .iter()
            .map(|s| {
                let (u, v) = (idx(s.a), idx(s.b));
                // side: +1 = area on the left of u→v (u<v order), -1 = on the right, 0 = unknown
                let side = if s.class.intersects(EdgeClass::BOUNDARY) {
                    let fwd = u < v;
                    match (fwd, s.inside_left) {
                        (true, true) | (false, false) => 1,
                        _ => -1,
                    }
                } else {
                    0
                };
                if u < v {
                    (u, v, s.class, side)
                } else {
                    (v, u, s.class, side)
                }
            })
            .collect();
        keyed.sort_unstable_by_key(|k| (k.0, k.1));
        let mut edges = Vec::new();
        let mut inside_left = Vec::new();
        let mut outside_left = Vec::new();
        let mut i = 0;
        while i < keyed.len() {
            let (u, v) = (keyed[i].0, keyed[i].1);
            let mut class = EdgeClass::CELL;
            let mut side = 0i32;
            while i < keyed.len() && keyed[i].0 == u && keyed[i].1 == v {
                class = class.union(keyed[i].2);
                side += keyed[i].3 as i32;
                i += 1;
            }
            // Two boundary rings meeting along an edge from both sides (adjacent village pieces)
            // cancel out: the edge is then interior to the area.
            let (il_fwd, il_bwd) = match side.signum() {
                1 => (true, false),
                -1 => (false, true),
                _ => (false, false),
            };
            if class.intersects(EdgeClass::BOUNDARY) && side == 0 {
                class = EdgeClass(class.0 & !EdgeClass::BOUNDARY.0);
            }
            edges.push((u, v, class));
            inside_left.extend([il_fwd, il_bwd]);
            outside_left.extend([il_bwd, il_fwd]);
        }
        let alive = vec![true; edges.len()];
        Graph {
            pts,
            edges,
            inside_left,
            outside_left,
            alive,
        }
    }

    fn head(&self, h: usize) -> u32 {
        let (u, v, _) = self.edges[h / 2];
        if h.is_multiple_of(2) {
            v
        } else {
            u
        }
    }
    fn tail(&self, h: usize) -> u32 {
        self.head(h ^ 1)
    }

    /// Outgoing half-edges per node, counter-clockwise by angle.
    fn rotation(&self) -> Vec<Vec<u32>> {
        let mut out: Vec<Vec<u32>> = vec![Vec::new(); self.pts.len()];
        for (e, &(u, v, _)) in self.edges.iter().enumerate() {
            if self.alive[e] {
                out[u as usize].push((2 * e) as u32);
                out[v as usize].push((2 * e + 1) as u32);
            }
        }
        for (n, hs) in out.iter_mut().enumerate() {
            let o = self.pts[n];
            hs.sort_by(|&h1, &h2| {
                let p1 = self.pts[self.head(h1 as usize) as usize];
                let p2 = self.pts[self.head(h2 as usize) as usize];
                angle_cmp(o, p1, p2)
            });
        }
        out
    }

    /// Drops edges with a free end, repeatedly.
    fn prune_dangles(&mut self) {
        let mut deg = vec![0u32; self.pts.len()];
        for (e, &(u, v, _)) in self.edges.iter().enumerate() {
            if self.alive[e] {
                deg[u as usize] += 1;
                deg[v as usize] += 1;
            }
        }
        let mut inc: Vec<Vec<u32>> = vec![Vec::new(); self.pts.len()];
        for (e, &(u, v, _)) in self.edges.iter().enumerate() {
            if self.alive[e] {
                inc[u as usize].push(e as u32);
                inc[v as usize].push(e as u32);
            }
        }
        let mut stack: Vec<u32> = (0..self.pts.len() as u32)
            .filter(|&n| deg[n as usize] == 1)
            .collect();
        while let Some(n) = stack.pop() {
            if deg[n as usize] != 1 {
                continue;
            }
            for &e in &inc[n as usize] {
                if self.alive[e as usize] {
                    self.alive[e as usize] = false;
                    let (u, v, _) = self.edges[e as usize];
                    for m in [u, v] {
                        deg[m as usize] -= 1;
                        if deg[m as usize] == 1 {
                            stack.push(m);
                        }
                    }
                }
            }
        }
    }

    /// Traces the cycles of half-edges (face on the left). Returns cycle id per half-edge.
    fn cycles(&self, rot: &[Vec<u32>]) -> (Vec<u32>, Vec<Vec<u32>>) {
        // position of each half-edge in its tail's rotation
        let mut pos = vec![u32::MAX; self.edges.len() * 2];
        for hs in rot {
            for (i, &h) in hs.iter().enumerate() {
                pos[h as usize] = i as u32;
            }
        }
        let next = |h: usize| -> usize {
            let t = h ^ 1; // twin, leaving head(h)
            let v = self.tail(t) as usize;
            let hs = &rot[v];
            let i = pos[t] as usize;
            hs[(i + hs.len() - 1) % hs.len()] as usize
        };
        let mut cyc = vec![u32::MAX; self.edges.len() * 2];
        let mut cycles = Vec::new();
        for e in 0..self.edges.len() {
            if !self.alive[e] {
                continue;
            }
            for h0 in [2 * e, 2 * e + 1] {
                if cyc[h0] != u32::MAX {
                    continue;
                }
                let id = cycles.len() as u32;
                let mut c = Vec::new();
                let mut h = h0;
                loop {
                    cyc[h] = id;
                    c.push(h as u32);
                    h = next(h);
                    if h == h0 {
                        break;
                    }
                }
                cycles.push(c);
            }
        }
        (cyc, cycles)
    }

    fn cycle_points(&self, c: &[u32]) -> Vec<Pt> {
        let mut r: Vec<Pt> = c
            .iter()
            .map(|&h| self.pts[self.tail(h as usize) as usize])
            .collect();
        r.push(r[0]);
        r
    }

    fn into_topology(mut self) -> Topology {
        // Drop dangles and bridges until every edge separates two different cycles.
        let (cyc, cycles, rot) = loop {
            self.prune_dangles();
            let rot = self.rotation();
            let (cyc, cycles) = self.cycles(&rot);
            let mut bridged = false;
            for e in 0..self.edges.len() {
                if self.alive[e] && cyc[2 * e] == cyc[2 * e + 1] {
                    self.alive[e] = false;
                    bridged = true;
                }
            }
            if !bridged {
                break (cyc, cycles, rot);
            }
        };

        // Positive cycles are face outlines; the others are holes or outer shells of components.
        let rings: Vec<Vec<Pt>> = cycles.iter().map(|c| self.cycle_points(c)).collect();
        let area2: Vec<i128> = rings.iter().map(|r| ring_area2(r)).collect();
        let mut face_of_cycle: Vec<Option<usize>> = vec![None; cycles.len()];
        let mut face_cycles: Vec<Vec<usize>> = Vec::new();
        for (c, &a) in area2.iter().enumerate() {
            if a > 0 {
                face_of_cycle[c] = Some(face_cycles.len());
                face_cycles.push(vec![c]);
            }
        }
        // Match each non-positive cycle to the smallest positive ring strictly around it.
        let boxes: Vec<GeomWithData<Rectangle<[i64; 2]>, usize>> = face_cycles
            .iter()
            .enumerate()
            .map(|(f, cs)| {
                let r = &rings[cs[0]];
                let (mut lo, mut hi) = ([i64::MAX; 2], [i64::MIN; 2]);
                for p in r {
                    lo = [lo[0].min(p.x), lo[1].min(p.y)];
                    hi = [hi[0].max(p.x), hi[1].max(p.y)];
                }
                GeomWithData::new(Rectangle::from_corners(lo, hi), f)
            })
            .collect();
        let tree = RTree::bulk_load(boxes);
        for c in 0..cycles.len() {
            if area2[c] > 0 {
                continue;
            }
            let p = rings[c][0];
            let mut best: Option<(i128, usize)> = None;
            for cand in tree.locate_all_at_point(&[p.x, p.y]) {
                let f = cand.data;
                let outer = face_cycles[f][0];
                // a ring through `p` belongs to the same component: never its container
                if !rings[outer].contains(&p)
                    && ring_contains(&rings[outer], p)
                    && best.is_none_or(|(a, _)| area2[outer] < a)
                {
                    best = Some((area2[outer], f));
                }
            }
            if let Some((_, f)) = best {
                face_of_cycle[c] = Some(f);
                face_cycles[f].push(c);
            }
        }

        // Inside/outside: seed from boundary half-edges, flood across non-boundary edges.
        let nf = face_cycles.len();
        let mut state = vec![0i8; nf]; // 1 inside, -1 outside, 0 unknown
        let mut queue = Vec::new();
        for h in 0..self.edges.len() * 2 {
            if !self.alive[h / 2] {
                continue;
            }
            if let Some(f) = face_of_cycle[cyc[h] as usize] {
                if self.inside_left[h] && state[f] == 0 {
                    state[f] = 1;
                    queue.push(f);
                } else if self.outside_left[h] && state[f] == 0 {
                    state[f] = -1;
                }
            }
        }
        while let Some(f) = queue.pop() {
            for &c in &face_cycles[f] {
                for &h in &cycles[c] {
                    let h = h as usize;
                    if self.edges[h / 2].2.intersects(EdgeClass::BOUNDARY) {
                        continue;
                    }
                    if let Some(g) = face_of_cycle[cyc[h ^ 1] as usize] {
                        if state[g] == 0 {
                            state[g] = 1;
                            queue.push(g);
                        }
                    }
                }
            }
        }
        let mut face_id: Vec<Option<u32>> = vec![None; nf];
        let mut kept = 0u32;
        for f in 0..nf {
            if state[f] == 1 {
                face_id[f] = Some(kept);
                kept += 1;
            }
        }
        let side = |h: usize| face_of_cycle[cyc[h] as usize].and_then(|f| face_id[f]);

        // Arcs: chains of edges through nodes of degree 2 with the same class.
        let deg: Vec<usize> = rot.iter().map(|r| r.len()).collect();
        let keep_edge =
            |e: usize| self.alive[e] && (side(2 * e).is_some() || side(2 * e + 1).is_some());
        let mut arc_of_half: Vec<Option<DirArc>> = vec![None; self.edges.len() * 2];
        let mut arcs: Vec<Arc> = Vec::new();
        let mut junction = vec![false; self.pts.len()];
        for (n, r) in rot.iter().enumerate() {
            if deg[n] != 2 {
                junction[n] = true;
            } else {
                let (e1, e2) = (r[0] as usize / 2, r[1] as usize / 2);
                if self.edges[e1].2 != self.edges[e2].2 || keep_edge(e1) != keep_edge(e2) {
                    junction[n] = true;
                }
            }
        }
        // continue through a degree-2 node: the other outgoing half-edge
        let through = |h: usize| -> usize {
            let v = self.head(h) as usize;
            let r = &rot[v];
            let t = (h ^ 1) as u32;
            if r[0] == t {
                r[1] as usize
            } else {
                r[0] as usize
            }
        };
        let start_arc = |h0: usize, arcs: &mut Vec<Arc>, arc_of_half: &mut Vec<Option<DirArc>>| {
            let id = arcs.len() as u32;
            let mut pts = vec![self.pts[self.tail(h0) as usize]];
            let mut h = h0;
            loop {
                arc_of_half[h] = Some(DirArc {
                    arc: id,
                    forward: true,
                });
                arc_of_half[h ^ 1] = Some(DirArc {
                    arc: id,
                    forward: false,
                });
                let v = self.head(h) as usize;
                pts.push(self.pts[v]);
                if junction[v] {
                    break;
                }
                h = through(h);
                if h == h0 {
                    break;
                }
            }
            arcs.push(Arc {
                points: pts,
                left: side(h0),
                right: side(h0 ^ 1),
                class: self.edges[h0 / 2].2,
            });
        };
        for (n, r) in rot.iter().enumerate() {
            if !junction[n] {
                continue;
            }
            for &h in r {
                let h = h as usize;
                if keep_edge(h / 2) && arc_of_half[h].is_none() {
                    start_arc(h, &mut arcs, &mut arc_of_half);
                }
            }
        }
        // Closed loops without any junction (an island ring): start at their smallest point.
        for e in 0..self.edges.len() {
            if keep_edge(e) && arc_of_half[2 * e].is_none() {
                start_arc(2 * e, &mut arcs, &mut arc_of_half);
            }
        }

        // Faces as rings of directed arcs.
        let mut faces: Vec<Face> = vec![Face { rings: Vec::new() }; kept as usize];
        for (f, cs) in face_cycles.iter().enumerate() {
            let Some(id) = face_id[f] else { continue };
            for &c in cs {
                let mut ring: Vec<DirArc> = Vec::new();
                for &h in &cycles[c] {
                    let d = arc_of_half[h as usize].expect("arc for kept edge");
                    if ring.last() != Some(&d) {
                        ring.push(d);
                    }
                }
                // a ring may start mid-arc: merge a split first/last arc
                while ring.len() > 1 && ring.first() == ring.last() {
                    ring.pop();
                }
                faces[id as usize].rings.push(ring);
            }
        }

        let mut junctions: HashMap<Pt, Vec<DirArc>> = HashMap::new();
        for (n, r) in rot.iter().enumerate() {
            if !junction[n] {
                continue;
            }
            let ds: Vec<DirArc> = r.iter().filter_map(|&h| arc_of_half[h as usize]).collect();
            if !ds.is_empty() {
                junctions.insert(self.pts[n], ds);
            }
        }
        let mut topo = Topology {
            arcs,
            faces,
            junctions,
        };
        topo.fix_loop_junctions();
        topo
    }
}

impl Topology {
    /// Closed arcs with no junction on them get a rotation entry of their own.
    fn fix_loop_junctions(&mut self) {
        for (i, a) in self.arcs.iter().enumerate() {
            let p0 = a.points[0];
            if p0 == *a.points.last().unwrap() {
                let e = self.junctions.entry(p0).or_default();
                for fwd in [true, false] {
                    let d = DirArc {
                        arc: i as u32,
                        forward: fwd,
                    };
                    if !e.contains(&d) {
                        e.push(d);
                    }
                }
            }
        }
    }
}

/// Compares the directions `o → p1` and `o → p2` counter-clockwise from the positive x axis.
fn angle_cmp(o: Pt, p1: Pt, p2: Pt) -> std::cmp::Ordering {
    let half = |p: Pt| -> u8 {
        let (dx, dy) = (p.x - o.x, p.y - o.y);
        if dy > 0 || (dy == 0 && dx > 0) {
            0
        } else {
            1
        }
    };
    let (h1, h2) = (half(p1), half(p2));
    if h1 != h2 {
        return h1.cmp(&h2);
    }
    // same half-plane: p1 before p2 if p2 is to the left of o→p1
    0.cmp(&orient(o, p1, p2))
}
