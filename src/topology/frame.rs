//! A local metric frame: lon/lat to metres around a reference latitude (equirectangular).
//!
//! Over a town (tens of kilometres) its scale error is far below what balancing households needs;
//! it is used for lengths, areas and the Voronoi tessellation, never for stored coordinates.

use super::{Pt, SCALE};

/// Mean Earth radius in metres (IUGG).
const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Converts between grid unit points and local metres.
#[derive(Clone, Copy, Debug)]
pub struct Frame {
    origin: Pt,
    /// Metres per grid unit of longitude.
    kx: f64,
    /// Metres per grid unit of latitude.
    ky: f64,
}

impl Frame {
    /// A frame centred on `origin`.
    pub fn new(origin: Pt) -> Frame {
        let m_per_deg = EARTH_RADIUS_M * std::f64::consts::PI / 180.0;
        let ky = m_per_deg / SCALE;
        let kx = ky * origin.lat().to_radians().cos();
        Frame { origin, kx, ky }
    }

    /// A point in metres east and north of the origin.
    pub fn to_xy(&self, p: Pt) -> [f64; 2] {
        [
            (p.x - self.origin.x) as f64 * self.kx,
            (p.y - self.origin.y) as f64 * self.ky,
        ]
    }

    /// The grid unit point nearest to `xy` metres.
    pub fn to_pt(&self, xy: [f64; 2]) -> Pt {
        Pt {
            x: self.origin.x + (xy[0] / self.kx).round() as i64,
            y: self.origin.y + (xy[1] / self.ky).round() as i64,
        }
    }

    /// Length of a segment in metres.
    pub fn dist(&self, a: Pt, b: Pt) -> f64 {
        let dx = (b.x - a.x) as f64 * self.kx;
        let dy = (b.y - a.y) as f64 * self.ky;
        dx.hypot(dy)
    }

    /// Length of a polyline in metres.
    pub fn length(&self, pts: &[Pt]) -> f64 {
        pts.windows(2).map(|w| self.dist(w[0], w[1])).sum()
    }

    /// Signed area of a closed ring in square metres (counter-clockwise positive).
    pub fn ring_area(&self, ring: &[Pt]) -> f64 {
        super::ring_area2(ring) as f64 * 0.5 * self.kx * self.ky
    }
}
