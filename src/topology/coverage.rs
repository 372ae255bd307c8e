//! Rebuilding the arcs and faces of a *coverage*: polygons that share exact vertices along their
//! common borders (grids written by the engine, villages of one town), TopoJSON-style.
//!
//! Vertices are quantised to the picodegree grid ([`Pt::from_lonlat`]) and every ring edge is
//! hashed by its two end points, so two polygons that walk the same edge (in opposite directions)
//! find each other in O(n) without any floating-point noding. A vertex is a *junction* where the
//! set of polygons along the border changes or where more or fewer than two edges meet; rings are
//! cut into arcs at junctions, and an arc walked by two polygons is stored once, with one polygon
//! on its left and the other on its right. A ring with no junction (an island, or the hole it
//! fills) becomes one closed arc.
//!
//! Neighbours whose vertices do not match exactly are not noded against each other: their borders
//! simply become different arcs.

use super::{orient, ring_area2, Arc, DirArc, EdgeClass, Face, FaceId, Pt, RingSet, Topology};
use geo::{LineString, MultiPolygon};
use std::collections::HashMap;

/// The topology of a coverage of polygons, with the polygon each face came from.
#[derive(Clone, Debug, Default)]
pub struct Coverage {
    /// Arcs and faces: one face per polygon part (outer ring counter-clockwise, then its holes).
    pub topology: Topology,
    /// For each face, the index of the input multipolygon it is a part of.
    pub feature_of_face: Vec<usize>,
    /// For each input multipolygon, its faces in input order (empty if every part was degenerate).
    pub faces_of_feature: Vec<Vec<FaceId>>,
}

impl Coverage {
    /// The polygons of input `feature` rebuilt from the arcs, as closed picodegree rings (outer ring
    /// counter-clockwise first, then holes clockwise), one entry per part.
    pub fn feature_rings(&self, feature: usize) -> Vec<Vec<Vec<Pt>>> {
        self.faces_of_feature[feature]
            .iter()
            .map(|&f| self.topology.face_rings(f))
            .collect()
    }
}

/// One use of an undirected edge by a ring: the face on the ring's left, and whether the ring walks
/// the edge from its smaller end point to its larger one.
#[derive(Clone, Copy)]
struct Use {
    face: FaceId,
    up: bool,
}

/// An edge after pairing: the faces on each side, seen walking from the smaller end point.
#[derive(Clone, Copy)]
struct Edge {
    left: Option<FaceId>,
    right: Option<FaceId>,
    /// The arc it became, and whether that arc walks it from its smaller end point.
    arc: Option<(u32, bool)>,
}

impl Edge {
    /// The faces on both sides, in a canonical order (what a junction test compares).
    fn sides(&self) -> (Option<FaceId>, Option<FaceId>) {
        if self.left <= self.right {
            (self.left, self.right)
        } else {
            (self.right, self.left)
        }
    }
}

/// A cleaned ring: quantised, consecutive duplicates and the closing point dropped, oriented so
/// that its face lies on its left (outer rings counter-clockwise, holes clockwise).
fn clean_ring(ls: &LineString<f64>, outer: bool) -> Option<Vec<Pt>> {
    let mut pts: Vec<Pt> = Vec::with_capacity(ls.0.len());
    for c in &ls.0 {
        if !(c.x.is_finite() && c.y.is_finite()) {
            return None;
        }
        pts.push(Pt::from_lonlat(c.x, c.y));
    }
    clean_pts(pts, outer)
}

/// [`clean_ring`] for a ring already on the grid.
fn clean_pts(mut pts: Vec<Pt>, outer: bool) -> Option<Vec<Pt>> {
    pts.dedup();
    while pts.len() > 1 && pts.first() == pts.last() {
        pts.pop();
    }
    if pts.len() < 3 {
        return None;
    }
    let mut closed = pts.clone();
    closed.push(pts[0]);
    let a = ring_area2(&closed);
    if a == 0 {
        return None;
    }
    if (a > 0) != outer {
        pts.reverse();
    }
    Some(pts)
}

/// Faces of a coverage before its arcs are made: each face's rings (outer first), each ring
/// cleaned ([`clean_pts`]) and kept once in `rings` with its face.
#[derive(Default)]
struct Parts {
    rings: Vec<(FaceId, Vec<Pt>)>,
    face_rings: Vec<Vec<usize>>,
    feature_of_face: Vec<usize>,
    faces_of_feature: Vec<Vec<FaceId>>,
}

impl Parts {
    fn new(features: usize) -> Parts {
        Parts {
            faces_of_feature: vec![Vec::new(); features],
            ..Parts::default()
        }
    }

    /// Adds a polygon part of feature `fi`: its outer ring, then its holes (`None` for a ring
    /// that did not clean).
    fn add(
        &mut self,
        fi: usize,
        outer: Option<Vec<Pt>>,
        holes: impl Iterator<Item = Option<Vec<Pt>>>,
    ) {
        let Some(outer) = outer else {
            return;
        };
        let face = self.feature_of_face.len() as FaceId;
        self.feature_of_face.push(fi);
        self.faces_of_feature[fi].push(face);
        let mut rs = vec![self.rings.len()];
        self.rings.push((face, outer));
        for h in holes.flatten() {
            rs.push(self.rings.len());
            self.rings.push((face, h));
        }
        self.face_rings.push(rs);
    }
}

impl Topology {
    /// Builds the topology of a coverage of polygons whose neighbours share exact vertices along
    /// their common borders. Each polygon part becomes a face; rings with fewer than three distinct
    /// points or no area are left out (a part whose outer ring is left out has no face).
    ///
    /// ```
    /// use geo::{polygon, MultiPolygon};
    /// use wangge::topology::Topology;
    /// // Two unit squares side by side: one shared border, one arc around each other side.
    /// let a = polygon![(x: 0.0, y: 0.0), (x: 1.0, y: 0.0), (x: 1.0, y: 1.0), (x: 0.0, y: 1.0)];
    /// let b = polygon![(x: 1.0, y: 0.0), (x: 2.0, y: 0.0), (x: 2.0, y: 1.0), (x: 1.0, y: 1.0)];
    /// let cov = Topology::from_polygons(&[MultiPolygon(vec![a]), MultiPolygon(vec![b])]);
    /// assert_eq!(cov.topology.faces.len(), 2);
    /// assert_eq!(cov.topology.arcs.len(), 3);
    /// ```
    pub fn from_polygons(polys: &[MultiPolygon<f64>]) -> Coverage {
        let mut parts = Parts::new(polys.len());
        for (fi, mp) in polys.iter().enumerate() {
            for p in &mp.0 {
                let holes = p.interiors().iter().map(|h| clean_ring(h, false));
                parts.add(fi, clean_ring(p.exterior(), true), holes);
            }
        }
        Self::from_parts(parts)
    }

    /// [`from_polygons`](Topology::from_polygons) for polygons already on the grid, as traced
    /// ([`Topology::dissolve`]): one [`RingSet`] per feature.
    ///
    /// ```
    /// use wangge::topology::{Pt, Topology};
    /// let p = |x: f64, y: f64| Pt::from_lonlat(x, y);
    /// let a = vec![vec![vec![p(0., 0.), p(1., 0.), p(1., 1.), p(0., 1.), p(0., 0.)]]];
    /// let b = vec![vec![vec![p(1., 0.), p(2., 0.), p(2., 1.), p(1., 1.), p(1., 0.)]]];
    /// let cov = Topology::from_ringsets(&[a, b]);
    /// assert_eq!((cov.topology.faces.len(), cov.topology.arcs.len()), (2, 3));
    /// ```
    pub fn from_ringsets(sets: &[RingSet]) -> Coverage {
        let mut parts = Parts::new(sets.len());
        for (fi, rs) in sets.iter().enumerate() {
            for poly in rs {
                let Some((outer, holes)) = poly.split_first() else {
                    continue;
                };
                let holes = holes.iter().map(|h| clean_pts(h.clone(), false));
                parts.add(fi, clean_pts(outer.clone(), true), holes);
            }
        }
        Self::from_parts(parts)
    }

    /// The arcs and faces of cleaned polygon parts.
    // One pass after another over the same edges (pair, find junctions, cut into arcs): long,
    // but each step needs the tables of the one before.
    fn from_parts(parts: Parts) -> Coverage {
        let Parts {
            rings,
            face_rings,
            feature_of_face,
            faces_of_feature,
        } = parts;
        // Undirected edges, and who walks them.
        let key = |a: Pt, b: Pt| if a < b { (a, b) } else { (b, a) };
        let mut slot_of: HashMap<(Pt, Pt), u32> = HashMap::new();
        let mut uses: Vec<Vec<Use>> = Vec::new();
        // For each ring, the slot of each edge i → i+1.
        let mut ring_slots: Vec<Vec<u32>> = Vec::with_capacity(rings.len());
        for (face, r) in &rings {
            let n = r.len();
            let mut slots = Vec::with_capacity(n);
            for i in 0..n {
                let (a, b) = (r[i], r[(i + 1) % n]);
                let s = *slot_of.entry(key(a, b)).or_insert_with(|| {
                    uses.push(Vec::new());
                    (uses.len() - 1) as u32
                });
                uses[s as usize].push(Use {
                    face: *face,
                    up: a < b,
                });
                slots.push(s);
            }
            ring_slots.push(slots);
        }
        drop(slot_of);

        // Pair the uses of each slot into edges: one use, or two in opposite directions, make one
        // edge; anything else (overlapping input) gives each use an edge of its own.
        let mut edges: Vec<Edge> = Vec::new();
        // For each slot, the edge of each of its uses, in the order the uses were recorded.
        let mut slot_edges: Vec<Vec<u32>> = Vec::with_capacity(uses.len());
        for us in &uses {
            let paired = us.len() == 2 && us[0].up != us[1].up;
            if us.len() == 1 || paired {
                let mut e = Edge {
                    left: None,
                    right: None,
                    arc: None,
                };
                for u in us {
                    if u.up {
                        e.left = Some(u.face);
                    } else {
                        e.right = Some(u.face);
                    }
                }
                let id = edges.len() as u32;
                edges.push(e);
                slot_edges.push(vec![id; us.len()]);
            } else {
                let mut ids = Vec::with_capacity(us.len());
                for u in us {
                    ids.push(edges.len() as u32);
                    edges.push(Edge {
                        left: u.up.then_some(u.face),
                        right: (!u.up).then_some(u.face),
                        arc: None,
                    });
                }
                slot_edges.push(ids);
            }
        }
        // The edge of each ring edge: walk the rings in the same order as the uses were recorded.
        let mut next_use = vec![0usize; uses.len()];
        let ring_edges: Vec<Vec<u32>> = ring_slots
            .iter()
            .map(|slots| {
                slots
                    .iter()
                    .map(|&s| {
                        let k = next_use[s as usize];
                        next_use[s as usize] += 1;
                        slot_edges[s as usize][k]
                    })
                    .collect()
            })
            .collect();
        drop(uses);
        drop(slot_edges);

        // Junctions: vertices where other than two edges meet, or the two edges have different
        // faces on their sides.
        let mut at: HashMap<Pt, (u32, Option<u32>, Option<u32>)> = HashMap::new(); // degree, first two edges
        let mut seen_edge = vec![false; edges.len()];
        for (r, es) in rings.iter().zip(&ring_edges) {
            let n = r.1.len();
            for (i, &e) in es.iter().enumerate() {
                if std::mem::replace(&mut seen_edge[e as usize], true) {
                    continue;
                }
                for p in [r.1[i], r.1[(i + 1) % n]] {
                    let v = at.entry(p).or_insert((0, None, None));
                    v.0 += 1;
                    if v.1.is_none() {
                        v.1 = Some(e);
                    } else if v.2.is_none() {
                        v.2 = Some(e);
                    }
                }
            }
        }
        drop(seen_edge);
        let is_junction = |p: &Pt| match at.get(p) {
            Some(&(2, Some(e1), Some(e2))) => {
                edges[e1 as usize].sides() != edges[e2 as usize].sides()
            }
            _ => true,
        };
        let ring_junctions: Vec<Vec<usize>> = rings
            .iter()
            .map(|(_, r)| (0..r.len()).filter(|&i| is_junction(&r[i])).collect())
            .collect();
        drop(at);

        // Cut rings into arcs at junctions; an arc met again from the other side is reused.
        let mut arcs: Vec<Arc> = Vec::new();
        let mut ring_arcs: Vec<Vec<DirArc>> = Vec::with_capacity(rings.len());
        for (((face, r), es), junctions) in rings.iter().zip(&ring_edges).zip(ring_junctions) {
            let n = r.len();
            let mut out: Vec<DirArc> = Vec::new();
            if junctions.is_empty() {
                // A closed ring with no junction: one closed arc, from its smallest point.
                let e0 = es[0] as usize;
                let up0 = r[0] < r[1 % n];
                if let Some((arc, arc_up)) = edges[e0].arc {
                    out.push(DirArc {
                        arc,
                        forward: up0 == arc_up,
                    });
                } else {
                    let start = (0..n).min_by_key(|&i| r[i]).unwrap_or(0);
                    let pts: Vec<Pt> = (0..=n).map(|k| r[(start + k) % n]).collect();
                    let id = arcs.len() as u32;
                    for k in 0..n {
                        let i = (start + k) % n;
                        let up = r[i] < r[(i + 1) % n];
                        edges[es[i] as usize].arc = Some((id, up));
                    }
                    let e = &edges[e0];
                    let other = if up0 { e.right } else { e.left };
                    arcs.push(new_arc(pts, *face, other));
                    out.push(DirArc {
                        arc: id,
                        forward: true,
                    });
                }
            } else {
                for (k, &j0) in junctions.iter().enumerate() {
                    let j1 = junctions[(k + 1) % junctions.len()];
                    // edges j0 .. j1 (wrapping; a single junction gives the whole ring)
                    let len = if j1 > j0 { j1 - j0 } else { j1 + n - j0 };
                    let e0 = es[j0] as usize;
                    let up0 = r[j0] < r[(j0 + 1) % n];
                    if let Some((arc, arc_up)) = edges[e0].arc {
                        out.push(DirArc {
                            arc,
                            forward: up0 == arc_up,
                        });
                        continue;
                    }
                    let id = arcs.len() as u32;
                    let mut pts = Vec::with_capacity(len + 1);
                    for s in 0..len {
                        let i = (j0 + s) % n;
                        pts.push(r[i]);
                        let up = r[i] < r[(i + 1) % n];
                        edges[es[i] as usize].arc = Some((id, up));
                    }
                    pts.push(r[(j0 + len) % n]);
                    let e = &edges[e0];
                    let other = if up0 { e.right } else { e.left };
                    arcs.push(new_arc(pts, *face, other));
                    out.push(DirArc {
                        arc: id,
                        forward: true,
                    });
                }
            }
            ring_arcs.push(out);
        }

        let faces = face_rings
            .iter()
            .map(|rs| Face {
                rings: rs.iter().map(|&r| ring_arcs[r].clone()).collect(),
            })
            .collect();
        let topology = Topology::from_arcs(arcs, faces);
        Coverage {
            topology,
            feature_of_face,
            faces_of_feature,
        }
    }

    /// Rebuilds [`Topology::junctions`]: the directed arcs leaving each arc end point,
    /// counter-clockwise by the direction of their first segment (ties by arc, for determinism).
    pub(super) fn index_junctions(&mut self) {
        let mut junctions: HashMap<Pt, Vec<(Pt, DirArc)>> = HashMap::new();
        for (i, a) in self.arcs.iter().enumerate() {
            let n = a.points.len();
            if n < 2 {
                continue;
            }
            for (forward, p, q) in [
                (true, a.points[0], a.points[1]),
                (false, a.points[n - 1], a.points[n - 2]),
            ] {
                let d = DirArc {
                    arc: i as u32,
                    forward,
                };
                junctions.entry(p).or_default().push((q, d));
            }
        }
        self.junctions = junctions
            .into_iter()
            .map(|(o, mut ds)| {
                ds.sort_by(|(p1, d1), (p2, d2)| angle_cmp(o, *p1, *p2).then(d1.cmp(d2)));
                (o, ds.into_iter().map(|(_, d)| d).collect())
            })
            .collect();
    }
}

fn new_arc(points: Vec<Pt>, face: FaceId, other: Option<FaceId>) -> Arc {
    Arc {
        points,
        left: Some(face),
        right: other,
        class: if other.is_some() {
            EdgeClass::CELL
        } else {
            EdgeClass::BOUNDARY
        },
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
    half(p1)
        .cmp(&half(p2))
        .then_with(|| 0.cmp(&orient(o, p1, p2)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Coord, LineString, Polygon};
    use std::collections::BTreeSet;

    fn sq(x0: f64, y0: f64, x1: f64, y1: f64) -> LineString<f64> {
        LineString::from(vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)])
    }

    fn mp(p: Polygon<f64>) -> MultiPolygon<f64> {
        MultiPolygon(vec![p])
    }

    /// A 2×2 block of unit squares, the lower-left one with a square hole, and an island filling
    /// that hole.
    fn block() -> Vec<MultiPolygon<f64>> {
        let hole = LineString::from(vec![
            (0.25, 0.25),
            (0.25, 0.75),
            (0.75, 0.75),
            (0.75, 0.25),
            (0.25, 0.25),
        ]);
        vec![
            mp(Polygon::new(sq(0.0, 0.0, 1.0, 1.0), vec![hole])),
            mp(Polygon::new(sq(1.0, 0.0, 2.0, 1.0), vec![])),
            mp(Polygon::new(sq(0.0, 1.0, 1.0, 2.0), vec![])),
            // clockwise on purpose: input orientation must not matter
            mp(Polygon::new(
                LineString::from(vec![
                    (1.0, 1.0),
                    (1.0, 2.0),
                    (2.0, 2.0),
                    (2.0, 1.0),
                    (1.0, 1.0),
                ]),
                vec![],
            )),
            mp(Polygon::new(sq(0.25, 0.25, 0.75, 0.75), vec![])),
        ]
    }

    fn pts(ring: &LineString<f64>) -> BTreeSet<Pt> {
        ring.0
            .iter()
            .map(|c: &Coord<f64>| Pt::from_lonlat(c.x, c.y))
            .collect()
    }

    #[test]
    fn block_with_hole_and_island() {
        let polys = block();
        let cov = Topology::from_polygons(&polys);
        let t = &cov.topology;
        assert_eq!(t.faces.len(), 5);
        assert_eq!(cov.feature_of_face, vec![0, 1, 2, 3, 4]);
        // 4 inner borders from the centre, 4 outer arcs (one around each outer corner, cut at the
        // junctions in the middle of each side) and the island ring.
        assert_eq!(t.arcs.len(), 9);
        // every shared border stored once: exactly 5 arcs have a face on both sides
        let shared: Vec<&Arc> = t
            .arcs
            .iter()
            .filter(|a| a.left.is_some() && a.right.is_some())
            .collect();
        assert_eq!(shared.len(), 5);
        let island = t
            .arcs
            .iter()
            .find(|a| a.points[0] == *a.points.last().unwrap());
        let island = island.expect("the island is one closed arc");
        assert_eq!(island.points.len(), 5);
        let sides: BTreeSet<Option<u32>> = [island.left, island.right].into();
        assert_eq!(sides, [Some(0), Some(4)].into());
        // each face's rings reproduce the input rings
        for (f, p) in polys.iter().enumerate() {
            let rings = t.face_rings(f as u32);
            let want: Vec<&LineString<f64>> = std::iter::once(p.0[0].exterior())
                .chain(p.0[0].interiors())
                .collect();
            assert_eq!(rings.len(), want.len(), "face {f}");
            for (r, w) in rings.iter().zip(want) {
                assert_eq!(r.first(), r.last(), "face {f}: ring closed");
                assert_eq!(
                    r.iter().copied().collect::<BTreeSet<_>>(),
                    pts(w),
                    "face {f}"
                );
                assert_eq!(r.len(), w.0.len(), "face {f}: no point twice");
            }
            // outer counter-clockwise, holes clockwise
            for (i, r) in rings.iter().enumerate() {
                assert_eq!(ring_area2(r) > 0, i == 0, "face {f} ring {i}");
            }
        }
        // every arc's left face walks it forward and its right face backward
        for (i, a) in t.arcs.iter().enumerate() {
            for (side, fwd) in [(a.left, true), (a.right, false)] {
                let Some(f) = side else { continue };
                let used = t.faces[f as usize].rings.iter().flatten().any(|d| {
                    *d == DirArc {
                        arc: i as u32,
                        forward: fwd,
                    }
                });
                assert!(used, "arc {i} not walked by face {f}");
            }
        }
        // the junction index is complete: dissolving all faces into one gives the outer square
        let whole = t.dissolve(&[Some(0); 5], 1);
        assert_eq!(whole[0].len(), 1);
        assert_eq!(whole[0][0].len(), 1, "island fills the hole");
        assert_eq!(
            ring_area2(&whole[0][0][0]),
            2 * 4 * (super::super::SCALE as i128).pow(2)
        );
    }

    #[test]
    fn touching_at_a_vertex_and_mismatched_neighbours() {
        // a and b touch at (1, 1) only; c lies against a's right side but has an extra vertex
        // at (1, 0.5) that a does not have.
        let a = mp(Polygon::new(sq(0.0, 0.0, 1.0, 1.0), vec![]));
        let b = mp(Polygon::new(sq(1.0, 1.0, 2.0, 2.0), vec![]));
        let c = mp(Polygon::new(
            LineString::from(vec![
                (1.0, 0.0),
                (2.0, 0.0),
                (2.0, 1.0),
                (1.0, 1.0),
                (1.0, 0.5),
            ]),
            vec![],
        ));
        let cov = Topology::from_polygons(&[a, b, c]);
        let t = &cov.topology;
        assert_eq!(t.faces.len(), 3);
        // a's side and c's side differ, so they share no arc; b and c share their common side
        let pairs: Vec<(Option<u32>, Option<u32>)> = t
            .arcs
            .iter()
            .filter(|a| a.right.is_some())
            .map(|a| (a.left.min(a.right), a.left.max(a.right)))
            .collect();
        assert_eq!(pairs, vec![(Some(1), Some(2))]);
        for f in 0..3 {
            let r = t.face_rings(f);
            assert_eq!(r.len(), 1);
            assert!(ring_area2(&r[0]) > 0);
        }
        assert_eq!(t.face_rings(2)[0].len(), 6);
        // the touching corner is a junction of a and b (it has four edges)
        assert!(t.junctions.contains_key(&Pt::from_lonlat(1.0, 1.0)));
    }

    #[test]
    fn multipart_and_degenerate_parts() {
        let two = MultiPolygon(vec![
            Polygon::new(sq(0.0, 0.0, 1.0, 1.0), vec![]),
            Polygon::new(sq(3.0, 0.0, 4.0, 1.0), vec![]),
            // no area: left out
            Polygon::new(
                LineString::from(vec![(5.0, 0.0), (6.0, 0.0), (5.0, 0.0)]),
                vec![],
            ),
        ]);
        let cov = Topology::from_polygons(&[two, MultiPolygon(vec![])]);
        assert_eq!(cov.faces_of_feature, vec![vec![0, 1], vec![]]);
        assert_eq!(cov.topology.arcs.len(), 2);
        assert_eq!(cov.feature_rings(0).len(), 2);
    }
}
