//! Planar topology of shared borders (拓扑): nodes, arcs and faces.
//!
//! This is the one structure the engine and the map share. Every border between two faces is stored
//! once, as an [`Arc`] with the face on its left and on its right. Grids are made by *dissolving*
//! faces: dropping the arcs whose two sides land in the same grid ([`Topology::dissolve`]). Because
//! neighbouring grids are traced from the very same arcs, they share the very same vertices and can
//! never gap or overlap.
//!
//! Coordinates are lon/lat quantised to integer picodegrees ([`Pt`], 10⁻¹² °, about 0.1 µm): input
//! vertices with up to twelve decimals round-trip exactly, every predicate on them (orientation,
//! intersection) is exact, and a crossing point rounded to the grid moves a border by far less than
//! the 10⁻⁹ relative area a plan is held to.
//! Metric figures (lengths, areas) use a local [`Frame`].
//!
//! ```
//! use wangge::topology::{Builder, EdgeClass, Pt};
//! // A unit square split in two by a vertical line.
//! let p = |x: f64, y: f64| Pt::from_lonlat(x, y);
//! let mut b = Builder::new();
//! b.add_ring(&[p(0.0, 0.0), p(0.002, 0.0), p(0.002, 0.001), p(0.0, 0.001)], EdgeClass::BOUNDARY, true);
//! b.add_line(&[p(0.001, -0.001), p(0.001, 0.002)], EdgeClass::MINOR_ROAD);
//! let topo = b.build();
//! assert_eq!(topo.faces.len(), 2);
//! // Dissolving both faces into one group gives back the square.
//! let polys = topo.dissolve(&[Some(0), Some(0)], 1);
//! assert_eq!(polys[0].len(), 1);
//! ```

mod build;
mod coverage;
mod dissolve;
mod frame;
pub mod join;
mod simplify;
mod straighten;

pub use build::Builder;
pub use coverage::Coverage;
pub use dissolve::RingSet;
pub use frame::Frame;
pub use straighten::Straighten;

/// A point in integer picodegrees of longitude (`x`) and latitude (`y`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Pt {
    /// Longitude × 10¹².
    pub x: i64,
    /// Latitude × 10¹².
    pub y: i64,
}

/// Grid units (picodegrees) per degree.
pub const SCALE: f64 = 1e12;

impl Pt {
    /// Quantises a lon/lat pair to the picodegree grid.
    pub fn from_lonlat(lon: f64, lat: f64) -> Pt {
        Pt {
            x: (lon * SCALE).round() as i64,
            y: (lat * SCALE).round() as i64,
        }
    }
    /// Longitude in degrees.
    pub fn lon(self) -> f64 {
        self.x as f64 / SCALE
    }
    /// Latitude in degrees.
    pub fn lat(self) -> f64 {
        self.y as f64 / SCALE
    }
}

/// Exact orientation of `c` relative to the directed line `a → b`: > 0 left, < 0 right, 0 on it.
pub(crate) fn orient(a: Pt, b: Pt, c: Pt) -> i128 {
    let (abx, aby) = ((b.x - a.x) as i128, (b.y - a.y) as i128);
    let (acx, acy) = ((c.x - a.x) as i128, (c.y - a.y) as i128);
    abx * acy - aby * acx
}

/// What a border is made of, as bit flags: one border can be several things at once
/// (a road that is also the village boundary).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default)]
pub struct EdgeClass(pub u16);

impl EdgeClass {
    /// Nothing in particular: an edge between two tessellation cells.
    pub const CELL: EdgeClass = EdgeClass(0);
    /// The village (or town) boundary.
    pub const BOUNDARY: EdgeClass = EdgeClass(1);
    /// A river or canal (河流).
    pub const RIVER: EdgeClass = EdgeClass(1 << 1);
    /// A railway (铁路).
    pub const RAIL: EdgeClass = EdgeClass(1 << 2);
    /// An expressway (高速公路).
    pub const EXPRESSWAY: EdgeClass = EdgeClass(1 << 3);
    /// A main road (主干道).
    pub const MAJOR_ROAD: EdgeClass = EdgeClass(1 << 4);
    /// A minor road or lane (支路).
    pub const MINOR_ROAD: EdgeClass = EdgeClass(1 << 5);
    /// A villager-group line (村民小组界线).
    pub const GROUP: EdgeClass = EdgeClass(1 << 6);
    /// The edge of a ready-made unit polygon (a census block, a parcel).
    pub const UNIT: EdgeClass = EdgeClass(1 << 7);

    /// Barriers that a grid must not cross unless there is no other way.
    pub const HARD: EdgeClass = EdgeClass(Self::RIVER.0 | Self::RAIL.0 | Self::EXPRESSWAY.0);
    /// Anything a grid border may follow on the ground: barriers, roads and group lines.
    pub const FOLLOWABLE: EdgeClass =
        EdgeClass(Self::HARD.0 | Self::MAJOR_ROAD.0 | Self::MINOR_ROAD.0 | Self::GROUP.0);

    /// Whether any flag of `other` is set here.
    pub fn intersects(self, other: EdgeClass) -> bool {
        self.0 & other.0 != 0
    }
    /// Both sets of flags.
    pub fn union(self, other: EdgeClass) -> EdgeClass {
        EdgeClass(self.0 | other.0)
    }
    /// How much a grid border along this edge costs, per metre (1 = open ground). Borders on the
    /// ground's own lines are cheap, so the partitioner prefers them.
    pub fn border_cost(self) -> f64 {
        if self.intersects(Self::HARD) {
            0.2
        } else if self.intersects(EdgeClass(Self::MAJOR_ROAD.0 | Self::GROUP.0)) {
            0.4
        } else if self.intersects(Self::MINOR_ROAD) {
            0.7
        } else {
            1.0
        }
    }
}

/// Index of a face in [`Topology::faces`].
pub type FaceId = u32;

/// A border between two faces, stored once: a chain of points from one junction to another.
#[derive(Clone, Debug)]
pub struct Arc {
    /// The points from the start junction to the end junction (at least two).
    pub points: Vec<Pt>,
    /// The face on the left walking from the first point to the last; `None` outside the area.
    pub left: Option<FaceId>,
    /// The face on the right; `None` outside the area.
    pub right: Option<FaceId>,
    /// What this border is on the ground.
    pub class: EdgeClass,
}

/// An arc used in one direction.
#[derive(Clone, Copy, PartialEq, Eq, Debug, PartialOrd, Ord, Hash)]
pub struct DirArc {
    /// The arc.
    pub arc: u32,
    /// `true` walks it from its first point to its last.
    pub forward: bool,
}

/// A face: the smallest piece of the area that the lines cut it into.
#[derive(Clone, Debug)]
pub struct Face {
    /// Rings of directed arcs: the first is the outer ring (counter-clockwise), the rest holes.
    pub rings: Vec<Vec<DirArc>>,
}

/// Faces, and the arcs between them, of one area (a village).
#[derive(Clone, Debug, Default)]
pub struct Topology {
    /// All arcs. Arcs with neither side inside are not kept.
    pub arcs: Vec<Arc>,
    /// All faces inside the area.
    pub faces: Vec<Face>,
    /// For each junction point, the directed arcs leaving it, counter-clockwise by angle.
    pub(crate) junctions: std::collections::HashMap<Pt, Vec<DirArc>>,
}

impl Topology {
    /// The points of a directed arc, in walking order.
    pub fn dir_points(&self, d: DirArc) -> impl DoubleEndedIterator<Item = Pt> + '_ {
        let pts = &self.arcs[d.arc as usize].points;
        let (fwd, bwd) = if d.forward {
            (Some(pts.iter().copied()), None)
        } else {
            (None, Some(pts.iter().rev().copied()))
        };
        fwd.into_iter().flatten().chain(bwd.into_iter().flatten())
    }

    /// A closed ring of points (first point repeated at the end) from a ring of directed arcs.
    pub fn ring_points(&self, ring: &[DirArc]) -> Vec<Pt> {
        let mut out = Vec::new();
        for d in ring {
            let mut it = self.dir_points(*d);
            if !out.is_empty() {
                it.next();
            }
            out.extend(it);
        }
        out
    }

    /// The face on the left of a directed arc.
    pub fn left_of(&self, d: DirArc) -> Option<FaceId> {
        let a = &self.arcs[d.arc as usize];
        if d.forward {
            a.left
        } else {
            a.right
        }
    }

    /// The face on the right of a directed arc.
    pub fn right_of(&self, d: DirArc) -> Option<FaceId> {
        let a = &self.arcs[d.arc as usize];
        if d.forward {
            a.right
        } else {
            a.left
        }
    }

    /// The outer ring of a face as closed points.
    pub fn face_rings(&self, f: FaceId) -> Vec<Vec<Pt>> {
        self.faces[f as usize]
            .rings
            .iter()
            .map(|r| self.ring_points(r))
            .collect()
    }
}

/// Twice the signed area of a closed ring, in grid units² (exact). Positive = counter-clockwise.
pub(crate) fn ring_area2(ring: &[Pt]) -> i128 {
    if ring.len() < 4 {
        return 0;
    }
    let o = ring[0];
    let mut s: i128 = 0;
    for w in ring.windows(2) {
        let (ax, ay) = ((w[0].x - o.x) as i128, (w[0].y - o.y) as i128);
        let (bx, by) = ((w[1].x - o.x) as i128, (w[1].y - o.y) as i128);
        s += ax * by - bx * ay;
    }
    s
}

/// Whether `p` lies strictly inside the closed ring (even-odd rule, exact).
pub(crate) fn ring_contains(ring: &[Pt], p: Pt) -> bool {
    let mut inside = false;
    for w in ring.windows(2) {
        let (a, b) = (w[0], w[1]);
        if (a.y > p.y) != (b.y > p.y) {
            // x of the crossing compared with p.x, exactly.
            let o = orient(a, b, p);
            let upward = b.y > a.y;
            if (o > 0) == upward && o != 0 {
                inside = !inside;
            }
        }
    }
    inside
}
