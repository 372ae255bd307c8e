//! A map colouring (地图着色) of grids and micro-grids: neighbours never share a colour.
//!
//! Every grid gets a colour index `0..5` into [`PALETTE`] so that no two grids that share a border
//! — across village borders too — share one; two grids that only touch at a point may. Four
//! colours are always tried first; the fifth ([`FIFTH`]) is used only where the bounded search
//! below does not find four quickly, and every such grid is reported ([`Colouring::fifth`]).
//!
//! - **Who borders whom** ([`borders`]): from the outlines alone, so grids of two villages whose
//!   topologies were built apart (no shared vertices along the village border) are still found to
//!   border each other: a border is the total length, over 0.5 m, along which the outlines run
//!   within 0.1 m of each other ([`BORDER_TOLERANCE_M`], [`MIN_BORDER_M`]). This counts every
//!   pair the check ([`crate::check::colours`], 1 m within 0.05 m) counts, and a few more.
//! - **The colours** ([`colour`]): first every grid keeps the colour it had before (by code, the
//!   previous version's colours are an input), lower index first when two neighbours had the same;
//!   grids whose colours may not change at all (another village's active plan) are *pinned*. The
//!   rest are coloured greedily in DSATUR order (most distinct neighbour colours first, ties by
//!   degree, then by a seeded hash, then by index). A grid with no free colour of four gets one by
//!   Kempe-chain swaps (exchanging two colours along a connected chain of neighbours, never through
//!   a pinned grid), then by a bounded backtracking search of its neighbourhood; only if both fail
//!   does it take the fifth colour.
//!
//! Deterministic: the same graph, previous colours and seed give the same colours.
//!
//! ```
//! use wangge::partition::colour::{colour, Graph};
//! // A wheel: a hub bordered by a ring of five, which needs four colours.
//! let mut g = Graph::new(6);
//! for i in 1..6 {
//!     g.add_edge(0, i);
//!     g.add_edge(i, if i == 5 { 1 } else { i + 1 });
//! }
//! let c = colour(&g, &[None; 6], &[false; 6], 7);
//! assert!(g.edges().all(|(a, b)| c.colors[a] != c.colors[b]));
//! assert!(c.colors.iter().all(|&k| k < 4));
//! assert!(c.fifth.is_empty());
//! // The hub had colour 2 before: it keeps it, and so the same input gives the same output.
//! let mut prev = [None; 6];
//! prev[0] = Some(2);
//! let again = colour(&g, &prev, &[false; 6], 7);
//! assert_eq!(again.colors[0], 2);
//! assert_eq!(again.colors, colour(&g, &prev, &[false; 6], 7).colors);
//! ```

use geo::MultiPolygon;
use rstar::{RTree, RTreeObject, AABB};
use std::collections::BTreeMap;

/// The colours, ColorBrewer Set2 (colour-blind safe), shared by the viewer, the planner and print.
pub const PALETTE: [&str; 5] = ["#66c2a5", "#fc8d62", "#8da0cb", "#ffd92f", "#e78ac3"];

/// The index of the fifth colour, used only where four were not found.
pub const FIFTH: u8 = 4;

/// Two outlines closer than this (metres) run along each other.
pub const BORDER_TOLERANCE_M: f64 = 0.1;

/// A shared border shorter than this (metres) is a touch at a point (two outlines meeting at a
/// point at an angle θ run within [`BORDER_TOLERANCE_M`] of each other for about
/// `BORDER_TOLERANCE_M / sin θ`, under this unless θ < 11°).
pub const MIN_BORDER_M: f64 = 0.5;

/// Steps a backtracking search of one neighbourhood may take before the fifth colour is used.
const SEARCH_BUDGET: usize = 20_000;

/// An undirected graph of who borders whom, vertices `0..n`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Graph {
    adj: Vec<Vec<usize>>,
}

impl Graph {
    /// A graph of `n` vertices and no edges.
    pub fn new(n: usize) -> Graph {
        Graph {
            adj: vec![Vec::new(); n],
        }
    }
    /// Adds the edge `a`–`b` (once, whatever the order; a loop is ignored).
    pub fn add_edge(&mut self, a: usize, b: usize) {
        if a == b {
            return;
        }
        for (x, y) in [(a, b), (b, a)] {
            if let Err(i) = self.adj[x].binary_search(&y) {
                self.adj[x].insert(i, y);
            }
        }
    }
    /// Number of vertices.
    pub fn len(&self) -> usize {
        self.adj.len()
    }
    /// Whether there are no vertices.
    pub fn is_empty(&self) -> bool {
        self.adj.is_empty()
    }
    /// The neighbours of `v`, ascending.
    pub fn neighbours(&self, v: usize) -> &[usize] {
        &self.adj[v]
    }
    /// Every edge once, `(a, b)` with `a < b`, in order.
    pub fn edges(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.adj
            .iter()
            .enumerate()
            .flat_map(|(a, ns)| ns.iter().filter(move |&&b| b > a).map(move |&b| (a, b)))
    }
}

/// A colouring: one index into [`PALETTE`] per vertex.
#[derive(Clone, Debug, PartialEq)]
pub struct Colouring {
    /// The colour of each vertex.
    pub colors: Vec<u8>,
    /// Vertices given the fifth colour because four were not found quickly (ascending).
    pub fifth: Vec<usize>,
    /// Vertices that kept their previous colour.
    pub kept: usize,
}

/// A segment of an outline in local metres, with its owner.
struct Seg {
    a: [f64; 2],
    b: [f64; 2],
    owner: usize,
}

impl RTreeObject for Seg {
    type Envelope = AABB<[f64; 2]>;
    fn envelope(&self) -> Self::Envelope {
        AABB::from_corners(
            [self.a[0].min(self.b[0]), self.a[1].min(self.b[1])],
            [self.a[0].max(self.b[0]), self.a[1].max(self.b[1])],
        )
    }
}

/// Length (m) of segment `t` that lies within `tol` of segment `s`: the part of `t` inside the
/// band `tol` wide on each side of `s`'s line, between the perpendiculars at `s`'s ends. Two
/// collinear pieces of border count their overlap; two outlines meeting at a corner count only
/// the metres over which they run within `tol` of each other (nothing at a right angle, a little
/// at a very sharp one).
fn overlap(s: &Seg, t: &Seg, tol: f64) -> f64 {
    let (dx, dy) = (s.b[0] - s.a[0], s.b[1] - s.a[1]);
    let len = dx.hypot(dy);
    let tlen = (t.b[0] - t.a[0]).hypot(t.b[1] - t.a[1]);
    if len == 0.0 || tlen == 0.0 {
        return 0.0;
    }
    let u = [dx / len, dy / len];
    let proj = |p: [f64; 2]| (p[0] - s.a[0]) * u[0] + (p[1] - s.a[1]) * u[1];
    let perp = |p: [f64; 2]| (p[1] - s.a[1]) * u[0] - (p[0] - s.a[0]) * u[1];
    // t(τ) = t.a + τ (t.b − t.a), τ ∈ [0, 1]; projection and offset are linear in τ
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    let mut within = |v0: f64, v1: f64, a: f64, b: f64| {
        if (v1 - v0).abs() < 1e-12 {
            if v0 < a || v0 > b {
                hi = lo - 1.0;
            }
        } else {
            let (ta, tb) = ((a - v0) / (v1 - v0), (b - v0) / (v1 - v0));
            lo = lo.max(ta.min(tb));
            hi = hi.min(ta.max(tb));
        }
    };
    within(proj(t.a), proj(t.b), 0.0, len);
    within(perp(t.a), perp(t.b), -tol, tol);
    if hi <= lo {
        return 0.0;
    }
    (hi - lo) * tlen
}

/// Metres per degree of latitude on the mean sphere.
const M_PER_DEG: f64 = 6_371_008.8 * std::f64::consts::PI / 180.0;

/// The length of border each pair of outlines (lon/lat) shares, metres, for pairs sharing more
/// than `min_m` (outlines within `tol_m` of each other count as one border). Pairs `(i, j)` with
/// `i < j`, in order.
pub fn shared_borders(
    shapes: &[&MultiPolygon<f64>],
    tol_m: f64,
    min_m: f64,
) -> BTreeMap<(usize, usize), f64> {
    let Some(first) = shapes
        .iter()
        .flat_map(|mp| mp.0.iter())
        .flat_map(|p| p.exterior().0.first())
        .next()
    else {
        return BTreeMap::new();
    };
    let (lon0, lat0) = (first.x, first.y);
    let kx = M_PER_DEG * lat0.to_radians().cos();
    let xy = |c: &geo::Coord<f64>| [(c.x - lon0) * kx, (c.y - lat0) * M_PER_DEG];
    let mut segs = Vec::new();
    for (owner, mp) in shapes.iter().enumerate() {
        for poly in &mp.0 {
            for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
                for w in ring.0.windows(2) {
                    if w[0] != w[1] {
                        segs.push(Seg {
                            a: xy(&w[0]),
                            b: xy(&w[1]),
                            owner,
                        });
                    }
                }
            }
        }
    }
    let tree = RTree::bulk_load(segs);
    let mut shared: BTreeMap<(usize, usize), f64> = BTreeMap::new();
    for s in tree.iter() {
        let env = s.envelope();
        let (lo, hi) = (env.lower(), env.upper());
        let q = AABB::from_corners(
            [lo[0] - tol_m, lo[1] - tol_m],
            [hi[0] + tol_m, hi[1] + tol_m],
        );
        for t in tree.locate_in_envelope_intersecting(&q) {
            if t.owner > s.owner {
                let l = overlap(s, t, tol_m);
                if l > 0.0 {
                    *shared.entry((s.owner, t.owner)).or_default() += l;
                }
            }
        }
    }
    shared.retain(|_, l| *l > min_m);
    shared
}

/// Who borders whom among `shapes` (lon/lat outlines): pairs sharing more than [`MIN_BORDER_M`]
/// of border, outlines within [`BORDER_TOLERANCE_M`] counting as one.
pub fn borders(shapes: &[&MultiPolygon<f64>]) -> Graph {
    let mut g = Graph::new(shapes.len());
    for (a, b) in shared_borders(shapes, BORDER_TOLERANCE_M, MIN_BORDER_M).into_keys() {
        g.add_edge(a, b);
    }
    g
}

/// A ring set (picodegrees) as a lon/lat multipolygon.
fn ring_set_polygon(rs: &crate::topology::RingSet) -> MultiPolygon<f64> {
    let ring = |r: &Vec<crate::topology::Pt>| {
        geo::LineString::from(r.iter().map(|p| (p.lon(), p.lat())).collect::<Vec<_>>())
    };
    MultiPolygon::new(
        rs.iter()
            .map(|poly| {
                let mut it = poly.iter();
                let ext = it
                    .next()
                    .map(ring)
                    .unwrap_or_else(|| geo::LineString::new(vec![]));
                geo::Polygon::new(ext, it.map(ring).collect())
            })
            .collect(),
    )
}

/// What colouring a plan did: the codes given the fifth colour.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct PlanColours {
    /// Grids given the fifth colour (four not found quickly around them).
    pub fifth_grids: Vec<String>,
    /// Micro-grids given the fifth colour.
    pub fifth_micro_grids: Vec<String>,
}

/// Colours every grid of a plan town-wide (neighbours across village borders differ too) and
/// every micro-grid (parts of one split building share one colour, as they share one outline),
/// setting [`GridPlan::color`](super::GridPlan::color) and
/// [`MicroPlan::color`](super::MicroPlan::color).
pub fn colour_plan(villages: &mut [super::VillagePlan], seed: u64) -> PlanColours {
    // grids
    let shapes: Vec<MultiPolygon<f64>> = villages
        .iter()
        .flat_map(|v| v.grids.iter().map(|g| ring_set_polygon(&g.rings)))
        .collect();
    let refs: Vec<&MultiPolygon<f64>> = shapes.iter().collect();
    let g = borders(&refs);
    let c = colour(&g, &vec![None; g.len()], &vec![false; g.len()], seed);
    let mut out = PlanColours::default();
    let mut i = 0;
    for v in villages.iter_mut() {
        for gp in v.grids.iter_mut() {
            gp.color = c.colors[i];
            if c.fifth.binary_search(&i).is_ok() {
                out.fifth_grids.push(gp.code.to_string());
            }
            i += 1;
        }
    }
    // micro-grids: one vertex per footprint
    let mut keys: BTreeMap<(usize, usize), usize> = BTreeMap::new();
    let mut shapes = Vec::new();
    for (vi, v) in villages.iter().enumerate() {
        for m in &v.micro_grids {
            keys.entry((vi, m.footprint)).or_insert_with(|| {
                shapes.push(ring_set_polygon(&m.rings));
                shapes.len() - 1
            });
        }
    }
    let refs: Vec<&MultiPolygon<f64>> = shapes.iter().collect();
    let g = borders(&refs);
    let c = colour(&g, &vec![None; g.len()], &vec![false; g.len()], seed);
    for (vi, v) in villages.iter_mut().enumerate() {
        for m in v.micro_grids.iter_mut() {
            let k = keys[&(vi, m.footprint)];
            m.color = c.colors[k];
            if c.fifth.binary_search(&k).is_ok() {
                out.fifth_micro_grids.push(m.code.to_string());
            }
        }
    }
    out
}

const NONE: u8 = u8::MAX;

/// A seeded tie-break key for vertex `v` (splitmix64).
fn tie(seed: u64, v: usize) -> u64 {
    let mut z = seed ^ (v as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Colours `g` with four colours where it can, the fifth where four are not found quickly.
///
/// `previous[v]` is the colour `v` had before (kept unless a neighbour forces a change); a
/// `pinned[v]` vertex keeps `previous[v]` whatever happens (it must have one). `seed` breaks ties.
pub fn colour(g: &Graph, previous: &[Option<u8>], pinned: &[bool], seed: u64) -> Colouring {
    let n = g.len();
    let mut c = vec![NONE; n];
    for v in 0..n {
        if pinned[v] {
            c[v] = previous[v].unwrap_or(0).min(FIFTH);
        }
    }
    // Keep previous colours (of four) where no neighbour already holds them.
    let mut kept = 0;
    for v in 0..n {
        if pinned[v] {
            continue;
        }
        if let Some(p) = previous[v].filter(|&p| p < FIFTH) {
            if g.neighbours(v).iter().all(|&w| c[w] != p) {
                c[v] = p;
                kept += 1;
            }
        }
    }
    // DSATUR for the rest.
    let mut todo: Vec<usize> = (0..n).filter(|&v| c[v] == NONE).collect();
    let mut fifth = Vec::new();
    while !todo.is_empty() {
        let key = |v: usize, c: &[u8]| {
            let mut seen = 0u8;
            let mut free_deg = 0usize;
            for &w in g.neighbours(v) {
                if c[w] == NONE {
                    free_deg += 1;
                } else {
                    seen |= 1 << c[w];
                }
            }
            (
                seen.count_ones(),
                free_deg,
                tie(seed, v),
                std::cmp::Reverse(v),
            )
        };
        let (i, &v) = todo
            .iter()
            .enumerate()
            .max_by_key(|(_, &v)| key(v, &c))
            .expect("not empty");
        todo.swap_remove(i);
        if let Some(k) = free_colour(g, &c, v) {
            c[v] = k;
        } else if kempe(g, &mut c, pinned, v) || search(g, &mut c, pinned, v) {
            // coloured with four
        } else {
            c[v] = FIFTH;
            fifth.push(v);
        }
    }
    // A vertex given the fifth colour may have become colourable with four since.
    fifth.retain(|&v| match free_colour(g, &c, v) {
        Some(k) => {
            c[v] = k;
            false
        }
        None => true,
    });
    fifth.sort_unstable();
    Colouring {
        colors: c,
        fifth,
        kept,
    }
}

/// The lowest of four colours no neighbour of `v` has.
fn free_colour(g: &Graph, c: &[u8], v: usize) -> Option<u8> {
    let mut seen = 0u8;
    for &w in g.neighbours(v) {
        if c[w] < 8 {
            seen |= 1 << c[w];
        }
    }
    (0..FIFTH).find(|k| seen & (1 << k) == 0)
}

/// Frees a colour for `v` by swapping colours `a` and `b` along the Kempe chains of `v`'s
/// `a`-coloured neighbours, when no chain reaches a `b`-coloured neighbour or a pinned vertex.
fn kempe(g: &Graph, c: &mut [u8], pinned: &[bool], v: usize) -> bool {
    for a in 0..FIFTH {
        for b in 0..FIFTH {
            if a == b {
                continue;
            }
            let starts: Vec<usize> = g
                .neighbours(v)
                .iter()
                .copied()
                .filter(|&w| c[w] == a)
                .collect();
            let mut chain = vec![false; g.len()];
            let mut members = Vec::new();
            let mut ok = true;
            'chains: for &s in &starts {
                if chain[s] {
                    continue;
                }
                chain[s] = true;
                let mut stack = vec![s];
                while let Some(x) = stack.pop() {
                    if pinned[x] || (c[x] == b && g.neighbours(v).contains(&x)) {
                        ok = false;
                        break 'chains;
                    }
                    members.push(x);
                    for &y in g.neighbours(x) {
                        if y != v && !chain[y] && (c[y] == a || c[y] == b) {
                            chain[y] = true;
                            stack.push(y);
                        }
                    }
                }
            }
            if !ok {
                continue;
            }
            for &x in &members {
                c[x] = if c[x] == a { b } else { a };
            }
            debug_assert!(free_colour(g, c, v) == Some(a) || free_colour(g, c, v).is_some());
            if let Some(k) = free_colour(g, c, v) {
                c[v] = k;
                return true;
            }
        }
    }
    false
}

/// Colours `v` by recolouring its neighbourhood (vertices within two steps, not pinned) with a
/// backtracking search of at most [`SEARCH_BUDGET`] steps; the rest of the graph stays as it is.
fn search(g: &Graph, c: &mut [u8], pinned: &[bool], v: usize) -> bool {
    let mut ball = vec![v];
    let mut inside = vec![false; g.len()];
    inside[v] = true;
    for _ in 0..2 {
        let frontier: Vec<usize> = ball.clone();
        for x in frontier {
            for &y in g.neighbours(x) {
                if !inside[y] && !pinned[y] && c[y] != NONE {
                    inside[y] = true;
                    ball.push(y);
                }
            }
        }
    }
    ball.sort_unstable();
    let saved: Vec<u8> = ball.iter().map(|&x| c[x]).collect();
    for &x in &ball {
        c[x] = NONE;
    }
    let mut steps = 0;
    if backtrack(g, c, &ball, &mut steps) {
        return true;
    }
    for (&x, &k) in ball.iter().zip(&saved) {
        c[x] = k;
    }
    c[v] = NONE;
    false
}

fn backtrack(g: &Graph, c: &mut [u8], ball: &[usize], steps: &mut usize) -> bool {
    // most constrained uncoloured vertex of the ball
    let mut best: Option<(u32, usize)> = None;
    for &x in ball {
        if c[x] != NONE {
            continue;
        }
        let mut seen = 0u8;
        for &w in g.neighbours(x) {
            if c[w] < 8 {
                seen |= 1 << c[w];
            }
        }
        let s = (seen & 0b1111).count_ones();
        if best.is_none_or(|(bs, _)| s > bs) {
            best = Some((s, x));
        }
    }
    let Some((_, x)) = best else { return true };
    for k in 0..FIFTH {
        *steps += 1;
        if *steps > SEARCH_BUDGET {
            return false;
        }
        if g.neighbours(x).iter().all(|&w| c[w] != k) {
            c[x] = k;
            if backtrack(g, c, ball, steps) {
                return true;
            }
            c[x] = NONE;
        }
    }
    false
}

/// Whether a colouring is proper: the edges whose two ends share a colour.
pub fn clashes(g: &Graph, colors: &[u8]) -> Vec<(usize, usize)> {
    g.edges().filter(|&(a, b)| colors[a] == colors[b]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(n: usize) -> Graph {
        let mut g = Graph::new(n);
        for a in 0..n {
            for b in a + 1..n {
                g.add_edge(a, b);
            }
        }
        g
    }

    #[test]
    fn k5_needs_the_fifth_colour_and_says_so() {
        let g = complete(5);
        let c = colour(&g, &[None; 5], &[false; 5], 1);
        assert!(clashes(&g, &c.colors).is_empty());
        assert_eq!(c.fifth.len(), 1);
        assert_eq!(c.colors[c.fifth[0]], FIFTH);
    }

    #[test]
    fn k4_takes_four() {
        let g = complete(4);
        let c = colour(&g, &[None; 4], &[false; 4], 1);
        assert!(clashes(&g, &c.colors).is_empty());
        assert!(c.fifth.is_empty());
    }

    #[test]
    fn pinned_neighbours_of_four_colours_force_the_fifth() {
        // vertex 4 borders four pinned vertices of four colours
        let mut g = Graph::new(5);
        for i in 0..4 {
            g.add_edge(4, i);
        }
        let prev = [Some(0), Some(1), Some(2), Some(3), None];
        let pinned = [true, true, true, true, false];
        let c = colour(&g, &prev, &pinned, 0);
        assert_eq!(&c.colors[..4], &[0, 1, 2, 3]);
        assert_eq!(c.fifth, vec![4]);
        // not pinned: one of them gives way and four suffice
        let c = colour(&g, &prev, &[false; 5], 0);
        assert!(clashes(&g, &c.colors).is_empty());
        assert!(c.fifth.is_empty());
    }

    #[test]
    fn kempe_swap_frees_a_colour() {
        // An octahedron-like planar graph whose greedy order would need a fifth colour:
        // the search must find four. Grid graph with diagonals (king's graph 3x3) is 4-chromatic.
        let mut g = Graph::new(9);
        for r in 0..3 {
            for q in 0..3 {
                let v = r * 3 + q;
                if q < 2 {
                    g.add_edge(v, v + 1);
                }
                if r < 2 {
                    g.add_edge(v, v + 3);
                }
                if q < 2 && r < 2 {
                    g.add_edge(v, v + 4);
                    g.add_edge(v + 1, v + 3);
                }
            }
        }
        // previous colours that clash everywhere (all 0) must not matter
        let c = colour(&g, &[Some(0); 9], &[false; 9], 3);
        assert!(clashes(&g, &c.colors).is_empty());
        assert!(c.fifth.is_empty());
        assert!(c.colors.iter().all(|&k| k < 4));
    }

    #[test]
    fn random_planar_triangulations_take_four() {
        // Triangulated grids with random diagonals: planar, maximal-ish.
        for seed in 0..40u64 {
            let (w, h) = (9, 7);
            let mut g = Graph::new(w * h);
            for r in 0..h {
                for q in 0..w {
                    let v = r * w + q;
                    if q + 1 < w {
                        g.add_edge(v, v + 1);
                    }
                    if r + 1 < h {
                        g.add_edge(v, v + w);
                    }
                    if q + 1 < w && r + 1 < h {
                        if tie(seed, v).is_multiple_of(2) {
                            g.add_edge(v, v + w + 1);
                        } else {
                            g.add_edge(v + 1, v + w);
                        }
                    }
                }
            }
            let c = colour(&g, &vec![None; w * h], &vec![false; w * h], seed);
            assert!(clashes(&g, &c.colors).is_empty(), "seed {seed}");
            assert!(c.fifth.is_empty(), "seed {seed}");
        }
    }

    #[test]
    fn borders_ignore_point_touches_and_find_unshared_vertices() {
        let sq = |x0: f64, y0: f64, x1: f64, y1: f64| {
            MultiPolygon::new(vec![geo::Polygon::new(
                geo::LineString::from(vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]),
                vec![],
            )])
        };
        let a = sq(120.0, 30.0, 120.001, 30.001);
        // b borders a along x = 120.001 from 30.0002 to 30.0008, with vertices a does not have
        let b = sq(120.001, 30.0002, 120.002, 30.0008);
        // c touches a only at its corner
        let c = sq(120.001, 30.001, 120.002, 30.002);
        let shared = shared_borders(&[&a, &b, &c], BORDER_TOLERANCE_M, MIN_BORDER_M);
        let ab = shared[&(0, 1)];
        assert!((ab - 0.0006 * M_PER_DEG).abs() < 0.5, "{ab}");
        assert!(!shared.contains_key(&(0, 2)));
        let g = borders(&[&a, &b, &c]);
        assert_eq!(g.neighbours(0), &[1]);
    }
}
