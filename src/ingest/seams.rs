//! Seams between a town's villages: where their boundaries leave a gap or overlap, and where a
//! border two villages share is digitised with different vertices on each side.
//!
//! Villages are drawn one at a time, often by different hands, so their boundaries rarely meet
//! exactly. After the villages are read and before anything is located in them:
//!
//! 1. **Found** ([`find`]): every overlap of two villages and every gap between villages of at
//!    least [`MIN_SEAM_M2`], each with its area, a point inside it and the villages involved. A
//!    hole in the union of the villages that borders one village only is that village's own hole
//!    (a lake, another town's enclave), not a gap.
//! 2. **Closed** on request (`--close-gaps`, [`close`]): a gap goes to the village with the
//!    longest border along it (ties: the one first in the file); an overlap stays with the village
//!    first in the file — the one its buildings are counted in anyway — and is cut from the others.
//!    Without it the seams are reported and the run goes on: grids of two overlapping villages
//!    both cover the overlap, and a gap belongs to no grid.
//! 3. **Noded** ([`node`]): a vertex of one village within [`SNAP_DEG`] of another village's vertex
//!    takes that vertex's exact coordinates (the village first in the file keeps its own), and one
//!    lying within [`SNAP_DEG`] of another village's edge is added to that edge. A border two
//!    villages share then runs through the very same points on both sides, so the grids on either
//!    side of it share exact vertices, and the wall map, tiles and exported files show no crack.
//!
//! ```
//! use geo::{polygon, MultiPolygon};
//! use wangge::ingest::seams::{self, SeamKind};
//! use wangge::model::{Mode, Village, VillageCode};
//! let village = |code: &str, p| Village {
//!     code: VillageCode::parse(code).unwrap(),
//!     name: String::new(),
//!     mode: Mode::Town,
//!     boundary: MultiPolygon(vec![p]),
//! };
//! // Two villages 0.01° wide, overlapping by 0.0001° along their border.
//! let mut vs = vec![
//!     village("310101001001", polygon![(x: 0.0, y: 0.0), (x: 0.0101, y: 0.0), (x: 0.0101, y: 0.01), (x: 0.0, y: 0.01)]),
//!     village("310101001002", polygon![(x: 0.01, y: 0.0), (x: 0.02, y: 0.0), (x: 0.02, y: 0.01), (x: 0.01, y: 0.01)]),
//! ];
//! let mut found = seams::find(&vs);
//! assert_eq!(found.len(), 1);
//! assert_eq!(found[0].kind, SeamKind::Overlap);
//! assert!((found[0].area_m2 - 12_364.0).abs() < 20.0, "{}", found[0].area_m2);
//! seams::close(&mut vs, &mut found).unwrap();
//! assert_eq!(found[0].given_to, Some(0));
//! assert!(seams::find(&vs).is_empty());
//! ```

use crate::model::Village;
use crate::spatial::box_tree;
use crate::topology::{Frame, Pt};
use geo::{
    BooleanOps, BoundingRect, Coord, InteriorPoint, LineString, MultiPolygon, Orient, Polygon,
};
use rstar::{primitives::GeomWithData, RTree, AABB};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Gaps and overlaps smaller than this many square metres are rounding, not seams (the same
/// tolerance `wangge check` gives a plan's tiling).
pub const MIN_SEAM_M2: f64 = 1.0;

/// How close (in degrees, about a centimetre) a vertex of one village must come to another
/// village's vertex or edge to be taken as lying on it.
pub const SNAP_DEG: f64 = 1e-7;

/// Whether a seam is land of no village or of two.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SeamKind {
    /// Land inside the town that no village holds.
    Gap,
    /// Land two villages both hold.
    Overlap,
}

/// A gap or an overlap between villages.
#[derive(Clone, Debug)]
pub struct Seam {
    /// Gap or overlap.
    pub kind: SeamKind,
    /// Its area in m².
    pub area_m2: f64,
    /// A point inside it (lon, lat).
    pub point: Coord<f64>,
    /// The villages involved (indices in the villages layer, ascending): for a gap those along
    /// its border, for an overlap the two that hold it.
    pub villages: Vec<usize>,
    /// For a gap: the length in metres of its border along each of `villages`.
    pub borders_m: Vec<f64>,
    /// The village the seam was given to by [`close`] (`None`: left as found).
    pub given_to: Option<usize>,
    /// Its shape.
    pub shape: Polygon<f64>,
}

impl Seam {
    /// The village [`close`] gives the seam to: for a gap the one with the longest border along
    /// it (ties: first in the file), for an overlap the first in the file.
    pub fn receiver(&self) -> usize {
        match self.kind {
            SeamKind::Overlap => self.villages[0],
            SeamKind::Gap => {
                let mut best = 0;
                for (i, &m) in self.borders_m.iter().enumerate() {
                    if m > self.borders_m[best] {
                        best = i;
                    }
                }
                self.villages[best]
            }
        }
    }

    /// The seam in words, naming villages by code, e.g. "a gap of 1,234 m² between villages
    /// 310101001001 and 310101001002 at (121.4700000, 31.2300000) belongs to no village; …".
    pub fn describe(&self, villages: &[Village]) -> String {
        let code = |i: usize| villages[i].code.as_str().to_string();
        let mut names: Vec<String> = self.villages.iter().map(|&i| code(i)).collect();
        let last = names.pop().unwrap_or_default();
        let list = if names.is_empty() {
            last
        } else {
            format!("{} and {last}", names.join(", "))
        };
        let at = format!("({:.7}, {:.7})", self.point.x, self.point.y);
        let area = thousands(self.area_m2);
        let to = code(self.receiver());
        let mut s = String::new();
        match self.kind {
            SeamKind::Gap => {
                let _ = write!(
                    s,
                    "a gap of {area} m² between villages {list} at {at} belongs to no village's boundary; "
                );
                let border = self
                    .villages
                    .iter()
                    .position(|&v| v == self.receiver())
                    .map_or(0.0, |i| self.borders_m[i]);
                if self.given_to.is_some() {
                    let _ = write!(s, "it was given to {to}, which has the longest border with it ({border:.0} m)");
                } else {
                    let _ = write!(s, "no grid covers it (--close-gaps gives it to {to}, which has the longest border with it, {border:.0} m)");
                }
            }
            SeamKind::Overlap => {
                let _ = write!(
                    s,
                    "villages {list} overlap by {area} m² at {at}; its buildings are counted in {to}, first in the file; "
                );
                let others: Vec<String> = self.villages[1..].iter().map(|&i| code(i)).collect();
                if self.given_to.is_some() {
                    let _ = write!(s, "it was cut from {}", others.join(", "));
                } else {
                    let _ = write!(
                        s,
                        "grids of both villages cover it (--close-gaps cuts it from {})",
                        others.join(", ")
                    );
                }
            }
        }
        s
    }
}

/// `1234.5` as "1,235".
fn thousands(x: f64) -> String {
    let digits = format!("{:.0}", x.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Area of a lon/lat polygon in m², in the engine's local frame.
fn area_m2(p: &Polygon<f64>) -> f64 {
    let Some(c) = p.exterior().0.first() else {
        return 0.0;
    };
    let frame = Frame::new(Pt::from_lonlat(c.x, c.y));
    let ring = |r: &LineString<f64>| {
        let pts: Vec<Pt> = r.0.iter().map(|c| Pt::from_lonlat(c.x, c.y)).collect();
        frame.ring_area(&pts).abs()
    };
    ring(p.exterior()) - p.interiors().iter().map(ring).sum::<f64>()
}

/// Length of a lon/lat segment in metres.
fn length_m(a: Coord<f64>, b: Coord<f64>) -> f64 {
    let (pa, pb) = (Pt::from_lonlat(a.x, a.y), Pt::from_lonlat(b.x, b.y));
    Frame::new(pa).dist(pa, pb)
}

fn envelope(r: geo::Rect<f64>, pad: f64) -> AABB<[f64; 2]> {
    AABB::from_corners(
        [r.min().x - pad, r.min().y - pad],
        [r.max().x + pad, r.max().y + pad],
    )
}

fn inside(p: &Polygon<f64>) -> Coord<f64> {
    p.interior_point()
        .map_or_else(|| p.exterior().0[0], |q| q.0)
}

/// Every gap between villages and every overlap of two, overlaps first (each in village order).
pub fn find(villages: &[Village]) -> Vec<Seam> {
    let mut seams = overlaps(villages);
    seams.extend(gaps(villages));
    seams
}

fn overlaps(villages: &[Village]) -> Vec<Seam> {
    let tree = box_tree(villages.iter().enumerate().map(|(i, v)| (i, &v.boundary)));
    let mut out = Vec::new();
    for (i, v) in villages.iter().enumerate() {
        let Some(r) = v.boundary.bounding_rect() else {
            continue;
        };
        let mut near: Vec<usize> = tree
            .locate_in_envelope_intersecting(&envelope(r, 0.0))
            .map(|c| c.data)
            .filter(|&j| j > i)
            .collect();
        near.sort_unstable();
        for j in near {
            for p in v.boundary.intersection(&villages[j].boundary).0 {
                let area_m2 = area_m2(&p);
                if area_m2 >= MIN_SEAM_M2 {
                    out.push(Seam {
                        kind: SeamKind::Overlap,
                        area_m2,
                        point: inside(&p),
                        villages: vec![i, j],
                        borders_m: Vec::new(),
                        given_to: None,
                        shape: p,
                    });
                }
            }
        }
    }
    out
}

fn gaps(villages: &[Village]) -> Vec<Seam> {
    let polys: Vec<Polygon<f64>> = villages
        .iter()
        .flat_map(|v| v.boundary.0.iter().cloned())
        .collect();
    let all = geo::unary_union(&polys);
    let mut out = Vec::new();
    for hole in all.0.iter().flat_map(|p| p.interiors()) {
        let ring = Polygon::new(hole.clone(), Vec::new()).orient(geo::orient::Direction::Default);
        // villages standing inside the hole are islands, not gap
        let islands: Vec<Polygon<f64>> = match ring.bounding_rect() {
            Some(r) => all
                .0
                .iter()
                .filter(|p| {
                    p.bounding_rect().is_some_and(|b| {
                        b.min().x >= r.min().x
                            && b.min().y >= r.min().y
                            && b.max().x <= r.max().x
                            && b.max().y <= r.max().y
                    })
                })
                .cloned()
                .collect(),
            None => continue,
        };
        let pieces = if islands.is_empty() {
            vec![ring]
        } else {
            MultiPolygon(vec![ring])
                .difference(&MultiPolygon(islands))
                .0
        };
        for gap in pieces {
            let area_m2 = area_m2(&gap);
            if area_m2 < MIN_SEAM_M2 {
                continue;
            }
            let along = borders_along(&gap, villages);
            if along.len() < 2 {
                continue;
            }
            out.push(Seam {
                kind: SeamKind::Gap,
                area_m2,
                point: inside(&gap),
                villages: along.keys().copied().collect(),
                borders_m: along.values().copied().collect(),
                given_to: None,
                shape: gap,
            });
        }
    }
    out.sort_by_key(|s| s.villages.clone());
    out
}

/// Metres of `gap`'s border along each village's boundary (villages with none left out).
fn borders_along(gap: &Polygon<f64>, villages: &[Village]) -> BTreeMap<usize, f64> {
    use geo::{Distance, Euclidean};
    let mut along = BTreeMap::new();
    let Some(r) = gap.bounding_rect() else {
        return along;
    };
    let near: Vec<usize> = (0..villages.len())
        .filter(|&i| {
            villages[i]
                .boundary
                .bounding_rect()
                .is_some_and(|b| geo::Intersects::intersects(&b, &envelope_rect(r)))
        })
        .collect();
    let rings: Vec<(usize, &LineString<f64>)> = near
        .iter()
        .flat_map(|&i| {
            villages[i]
                .boundary
                .0
                .iter()
                .flat_map(move |p| std::iter::once(p.exterior()).chain(p.interiors()))
                .map(move |r| (i, r))
        })
        .collect();
    for ring in std::iter::once(gap.exterior()).chain(gap.interiors()) {
        for w in ring.0.windows(2) {
            let mid = geo::Point::new((w[0].x + w[1].x) / 2.0, (w[0].y + w[1].y) / 2.0);
            let len = length_m(w[0], w[1]);
            let mut hit: Vec<usize> = rings
                .iter()
                .filter(|(_, r)| Euclidean.distance(&mid, *r) <= SNAP_DEG)
                .map(|(i, _)| *i)
                .collect();
            hit.dedup();
            for i in hit {
                *along.entry(i).or_insert(0.0) += len;
            }
        }
    }
    along
}

fn envelope_rect(r: geo::Rect<f64>) -> geo::Rect<f64> {
    geo::Rect::new(
        Coord {
            x: r.min().x - SNAP_DEG,
            y: r.min().y - SNAP_DEG,
        },
        Coord {
            x: r.max().x + SNAP_DEG,
            y: r.max().y + SNAP_DEG,
        },
    )
}

/// A village that closing the overlaps would leave without land: it lies wholly inside villages
/// earlier in the file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("lies wholly inside village(s) earlier in the file ({}); closing the overlaps would leave it no land", .inside.join(", "))]
pub struct Swallowed {
    /// The village (index in the villages layer).
    pub village: usize,
    /// The codes of the villages it lies inside.
    pub inside: Vec<String>,
}

/// Gives every seam to its [`receiver`](Seam::receiver): a gap is added to it, an overlap cut
/// from the other villages. Sets each seam's `given_to`. Nothing is changed if a village would be
/// left without land.
pub fn close(villages: &mut [Village], seams: &mut [Seam]) -> Result<(), Swallowed> {
    let mut cut: BTreeMap<usize, Vec<Polygon<f64>>> = BTreeMap::new();
    let mut add: BTreeMap<usize, Vec<Polygon<f64>>> = BTreeMap::new();
    for s in seams.iter_mut() {
        let to = s.receiver();
        s.given_to = Some(to);
        match s.kind {
            SeamKind::Overlap => {
                for &j in &s.villages[1..] {
                    cut.entry(j).or_default().push(s.shape.clone());
                }
            }
            SeamKind::Gap => add.entry(to).or_default().push(s.shape.clone()),
        }
    }
    // The boolean operations round every coordinate a little and leave hairline spikes where a
    // cut runs along a border: vertices go back onto the villages' own, spikes are dropped.
    let own = RTree::bulk_load(
        vertices(villages)
            .into_iter()
            .map(|(_, c)| [c.x, c.y])
            .collect(),
    );
    let mut cut_to = Vec::new();
    for (j, polys) in cut {
        let left = snap_clean(villages[j].boundary.difference(&MultiPolygon(polys)), &own);
        if left.0.iter().map(area_m2).sum::<f64>() < MIN_SEAM_M2 {
            let mut inside: Vec<String> = seams
                .iter()
                .filter(|s| s.kind == SeamKind::Overlap && s.villages[1..].contains(&j))
                .map(|s| villages[s.villages[0]].code.as_str().to_string())
                .collect();
            inside.dedup();
            for s in seams.iter_mut() {
                s.given_to = None;
            }
            return Err(Swallowed { village: j, inside });
        }
        cut_to.push((j, left));
    }
    for (j, left) in cut_to {
        villages[j].boundary = left;
    }
    for (k, polys) in add {
        let b = &mut villages[k].boundary;
        *b = snap_clean(b.union(&MultiPolygon(polys)), &own);
    }
    for v in villages.iter_mut() {
        v.boundary = v.boundary.orient(geo::orient::Direction::Default);
    }
    Ok(())
}

/// `mp` with each vertex within [`SNAP_DEG`] of one of `own` moved onto it, repeated points and
/// spikes (a point whose neighbours are the same point) dropped, and rings left without area
/// dropped.
fn snap_clean(mp: MultiPolygon<f64>, own: &RTree<[f64; 2]>) -> MultiPolygon<f64> {
    let snap = |c: Coord<f64>| match own.nearest_neighbor(&[c.x, c.y]) {
        Some(o) if (o[0] - c.x).hypot(o[1] - c.y) <= SNAP_DEG => Coord { x: o[0], y: o[1] },
        _ => c,
    };
    let clean = |r: &LineString<f64>| -> Option<LineString<f64>> {
        let n = r.0.len().saturating_sub(1);
        let mut out: Vec<Coord<f64>> = Vec::with_capacity(n + 1);
        for c in r.0[..n].iter().map(|&c| snap(c)) {
            if out.last() == Some(&c) {
                continue;
            }
            // a spike: the point before the last comes back
            if out.len() >= 2 && out[out.len() - 2] == c {
                out.pop();
                continue;
            }
            out.push(c);
        }
        // the same at the seam where the ring closes
        loop {
            let k = out.len();
            // a repeated closing point, or a spike whose tip is the last point
            if (k >= 2 && out[0] == out[k - 1]) || (k >= 3 && out[k - 2] == out[0]) {
                out.pop();
            } else if k >= 3 && out[1] == out[k - 1] {
                out.remove(0);
            } else {
                break;
            }
        }
        if out.len() < 3 {
            return None;
        }
        out.push(out[0]);
        let ls = LineString(out);
        (area_m2(&Polygon::new(ls.clone(), Vec::new())) > 0.0).then_some(ls)
    };
    MultiPolygon(
        mp.0.iter()
            .filter_map(|p| {
                let ext = clean(p.exterior())?;
                Some(Polygon::new(
                    ext,
                    p.interiors().iter().filter_map(clean).collect(),
                ))
            })
            .collect(),
    )
}

/// What [`node`] changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Noded {
    /// Vertices moved onto another village's vertex.
    pub snapped: usize,
    /// Vertices added to an edge another village's vertex lies on.
    pub inserted: usize,
}

/// Where a vertex is: village, polygon, ring, position.
type At = (usize, usize, usize, usize);

fn vertices(villages: &[Village]) -> Vec<(At, Coord<f64>)> {
    let mut out = Vec::new();
    for (vi, v) in villages.iter().enumerate() {
        for (pi, p) in v.boundary.0.iter().enumerate() {
            for (ri, r) in std::iter::once(p.exterior())
                .chain(p.interiors())
                .enumerate()
            {
                let n = r.0.len().saturating_sub(1); // the closing point repeats the first
                for (k, c) in r.0[..n].iter().enumerate() {
                    out.push(((vi, pi, ri, k), *c));
                }
            }
        }
    }
    out
}

/// Makes borders that villages share run through the same points on both sides (see the module
/// doc): snaps vertices within [`SNAP_DEG`] of an earlier village's vertex onto it, then adds to
/// every edge the other villages' vertices lying within [`SNAP_DEG`] of it.
pub fn node(villages: &mut [Village]) -> Noded {
    let mut noded = Noded::default();
    let verts = vertices(villages);
    // 1. snap, in file order: an earlier village's vertex is final when a later one looks at it
    let tree = RTree::bulk_load(
        verts
            .iter()
            .enumerate()
            .map(|(id, (_, c))| GeomWithData::new([c.x, c.y], id))
            .collect(),
    );
    let mut fin: Vec<Coord<f64>> = verts.iter().map(|(_, c)| *c).collect();
    for (id, ((vi, ..), c)) in verts.iter().enumerate() {
        let best = tree
            .locate_within_distance([c.x, c.y], SNAP_DEG * SNAP_DEG)
            .filter(|o| verts[o.data].0 .0 < *vi)
            .min_by(|a, b| {
                let d = |o: &GeomWithData<[f64; 2], usize>| {
                    (o.geom()[0] - c.x).hypot(o.geom()[1] - c.y)
                };
                d(a).total_cmp(&d(b)).then(a.data.cmp(&b.data))
            });
        if let Some(o) = best {
            if fin[o.data] != *c {
                fin[id] = fin[o.data];
                noded.snapped += 1;
            }
        }
    }
    // 2. insert: every edge takes the other villages' vertices lying on it
    let tree = RTree::bulk_load(
        fin.iter()
            .enumerate()
            .map(|(id, c)| GeomWithData::new([c.x, c.y], id))
            .collect(),
    );
    let mut rings: BTreeMap<(usize, usize, usize), Vec<Coord<f64>>> = BTreeMap::new();
    for (id, ((vi, pi, ri, _), _)) in verts.iter().enumerate() {
        rings.entry((*vi, *pi, *ri)).or_default().push(fin[id]);
    }
    for ((vi, pi, ri), ring) in rings {
        let n = ring.len();
        let mut out = Vec::with_capacity(n + 1);
        for k in 0..n {
            let (a, b) = (ring[k], ring[(k + 1) % n]);
            out.push(a);
            let on = on_edge(&tree, &fin, &verts, vi, a, b);
            noded.inserted += on.len();
            out.extend(on);
        }
        out.dedup();
        if out.len() > 1 && out.first() == out.last() {
            out.pop();
        }
        if out.len() < 3 {
            continue;
        }
        out.push(out[0]);
        set_ring(&mut villages[vi], pi, ri, LineString(out));
    }
    noded
}

/// Vertices of villages other than `vi` lying within [`SNAP_DEG`] of the inside of edge `a → b`,
/// in order from `a`.
fn on_edge(
    tree: &RTree<GeomWithData<[f64; 2], usize>>,
    fin: &[Coord<f64>],
    verts: &[(At, Coord<f64>)],
    vi: usize,
    a: Coord<f64>,
    b: Coord<f64>,
) -> Vec<Coord<f64>> {
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    let len2 = dx * dx + dy * dy;
    if len2 == 0.0 {
        return Vec::new();
    }
    let env = AABB::from_corners(
        [a.x.min(b.x) - SNAP_DEG, a.y.min(b.y) - SNAP_DEG],
        [a.x.max(b.x) + SNAP_DEG, a.y.max(b.y) + SNAP_DEG],
    );
    let mut on: Vec<(f64, Coord<f64>)> = tree
        .locate_in_envelope(&env)
        .filter(|o| verts[o.data].0 .0 != vi)
        .map(|o| fin[o.data])
        .filter(|c| *c != a && *c != b)
        .filter_map(|c| {
            let t = ((c.x - a.x) * dx + (c.y - a.y) * dy) / len2;
            let (px, py) = (a.x + t * dx, a.y + t * dy);
            let near = (c.x - px).hypot(c.y - py) <= SNAP_DEG;
            let inner = t > 0.0 && t < 1.0;
            let clear =
                (c.x - a.x).hypot(c.y - a.y) > SNAP_DEG && (c.x - b.x).hypot(c.y - b.y) > SNAP_DEG;
            (near && inner && clear).then_some((t, c))
        })
        .collect();
    on.sort_by(|x, y| {
        x.0.total_cmp(&y.0)
            .then(x.1.x.total_cmp(&y.1.x))
            .then(x.1.y.total_cmp(&y.1.y))
    });
    let mut out: Vec<Coord<f64>> = on.into_iter().map(|(_, c)| c).collect();
    out.dedup();
    out
}

fn set_ring(v: &mut Village, pi: usize, ri: usize, ring: LineString<f64>) {
    let p = &mut v.boundary.0[pi];
    if ri == 0 {
        p.exterior_mut(|e| *e = ring);
    } else {
        p.interiors_mut(|hs| hs[ri - 1] = ring);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Mode, VillageCode};
    use geo::polygon;

    fn village(code: &str, p: Polygon<f64>) -> Village {
        Village {
            code: VillageCode::parse(code).unwrap(),
            name: String::new(),
            mode: Mode::Town,
            boundary: MultiPolygon(vec![p]),
        }
    }

    #[test]
    fn a_village_inside_another_is_not_cut_to_nothing() {
        let a = village(
            "310101001001",
            polygon![(x: 121.40, y: 31.20), (x: 121.41, y: 31.20), (x: 121.41, y: 31.21), (x: 121.40, y: 31.21)],
        );
        let b = village(
            "310101001002",
            polygon![(x: 121.402, y: 31.202), (x: 121.404, y: 31.202), (x: 121.404, y: 31.204), (x: 121.402, y: 31.204)],
        );
        let mut vs = vec![a, b];
        let before = vs.clone();
        let mut s = find(&vs);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].kind, SeamKind::Overlap);
        let e = close(&mut vs, &mut s).unwrap_err();
        assert_eq!(e.village, 1);
        assert_eq!(e.inside, ["310101001001"]);
        assert!(e
            .to_string()
            .contains("wholly inside village(s) earlier in the file (310101001001)"));
        assert_eq!(vs[1].boundary, before[1].boundary, "nothing changed");
        assert_eq!(s[0].given_to, None);
    }

    #[test]
    fn an_overlap_cut_leaves_no_spike() {
        let a = village(
            "310101001001",
            polygon![(x: 121.40, y: 31.20), (x: 121.41, y: 31.20), (x: 121.41, y: 31.21), (x: 121.40, y: 31.21)],
        );
        let b = village(
            "310101001002",
            polygon![(x: 121.41, y: 31.20), (x: 121.42, y: 31.20), (x: 121.42, y: 31.21), (x: 121.41, y: 31.21), (x: 121.41, y: 31.204), (x: 121.409, y: 31.204), (x: 121.409, y: 31.202), (x: 121.41, y: 31.202)],
        );
        let mut vs = vec![a, b];
        let mut s = find(&vs);
        assert_eq!(s.len(), 1);
        close(&mut vs, &mut s).unwrap();
        node(&mut vs);
        // B is its own rectangle again, on its own exact coordinates: no hairline spike
        let ring: Vec<(f64, f64)> = vs[1].boundary.0[0]
            .exterior()
            .0
            .iter()
            .map(|c| (c.x, c.y))
            .collect();
        assert_eq!(vs[1].boundary.0.len(), 1);
        assert!(vs[1].boundary.0[0].interiors().is_empty());
        for c in &ring {
            assert!(
                [121.41, 121.42].contains(&c.0) && [31.20, 31.204, 31.21].contains(&c.1),
                "{ring:?}"
            );
        }
        assert!(find(&vs).is_empty());
        // A keeps its corners and, noded, shares B's corner on their border
        let a: Vec<(f64, f64)> = vs[0].boundary.0[0]
            .exterior()
            .0
            .iter()
            .map(|c| (c.x, c.y))
            .collect();
        assert_eq!(a.len(), 6, "{a:?}");
        assert!(a.contains(&(121.41, 31.204)), "{a:?}");
    }
}
