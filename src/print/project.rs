//! Lon/lat to page millimetres at a round scale (1:N), north up.
//!
//! Metres come from the engine's local metric frame ([`crate::topology::Frame`], equirectangular
//! about the area's middle: over a town its scale error is far below a printed line's width).

use crate::topology::{Frame, Pt};
use geo::Rect;

/// Round scale denominators are these times a power of ten.
const NICE: [f64; 9] = [1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 7.5];

/// The smallest round denominator at least `d`.
///
/// ```
/// use wangge::print::project::round_scale;
/// assert_eq!(round_scale(8123.0), 10000.0);
/// assert_eq!(round_scale(2400.0), 2500.0);
/// ```
pub fn round_scale(d: f64) -> f64 {
    let p = 10f64.powf(d.max(1.0).log10().floor());
    for m in NICE {
        if m * p >= d * (1.0 - 1e-9) {
            return m * p;
        }
    }
    10.0 * p
}

/// A projection of lon/lat into a rectangle of the page.
#[derive(Clone, Copy, Debug)]
pub struct Projection {
    frame: Frame,
    /// Scale denominator: metres on the ground per metre on paper.
    pub denominator: f64,
    /// Page millimetres of the frame's origin.
    ox: f64,
    oy: f64,
}

impl Projection {
    /// The largest round scale showing `bbox` whole inside the page rectangle `x, y, w, h` (mm),
    /// centred in it.
    pub fn fit(bbox: Rect<f64>, x: f64, y: f64, w: f64, h: f64) -> Projection {
        let c = bbox.center();
        let frame = Frame::new(Pt::from_lonlat(c.x, c.y));
        let a = frame.to_xy(Pt::from_lonlat(bbox.min().x, bbox.min().y));
        let b = frame.to_xy(Pt::from_lonlat(bbox.max().x, bbox.max().y));
        let (wm, hm) = ((b[0] - a[0]).abs().max(1.0), (b[1] - a[1]).abs().max(1.0));
        // metres per millimetre × 1000 = the denominator
        let need = (wm / w.max(1.0)).max(hm / h.max(1.0)) * 1000.0;
        let denominator = round_scale(need);
        Projection {
            frame,
            denominator,
            ox: x + w / 2.0,
            oy: y + h / 2.0,
        }
    }

    /// Page millimetres per metre on the ground.
    pub fn mm_per_m(&self) -> f64 {
        1000.0 / self.denominator
    }

    /// The page point (mm, y down) of `lon, lat`.
    pub fn to_page(&self, lon: f64, lat: f64) -> [f64; 2] {
        let m = self.frame.to_xy(Pt::from_lonlat(lon, lat));
        let k = self.mm_per_m();
        [self.ox + m[0] * k, self.oy - m[1] * k]
    }

    /// The page point of a picodegree point.
    pub fn pt(&self, p: Pt) -> [f64; 2] {
        let m = self.frame.to_xy(p);
        let k = self.mm_per_m();
        [self.ox + m[0] * k, self.oy - m[1] * k]
    }

    /// Degrees of latitude per page millimetre (a simplification tolerance in degrees).
    pub fn deg_per_mm(&self) -> f64 {
        let a = self.frame.to_xy(Pt::from_lonlat(0.0, 0.0));
        let b = self.frame.to_xy(Pt::from_lonlat(0.0, 1.0));
        1.0 / ((b[1] - a[1]).abs() * self.mm_per_m())
    }
}
