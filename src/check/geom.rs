//! Geometry of the check, on geo alone: areas in square metres, a point inside a polygon, the
//! pieces of a village and its *banks* (the land between rivers, railways and expressways).

use crate::model::{Barrier, BarrierClass, Village};
use geo::{
    Area, BooleanOps, Buffer, Contains, InteriorPoint, MultiLineString, MultiPolygon, Point,
};

/// Metres per degree of latitude (mean Earth radius 6,371,008.8 m).
const M_PER_DEG: f64 = 6_371_008.8 * std::f64::consts::PI / 180.0;

/// Square metres per square degree at latitude `lat`.
fn m2_per_deg2(lat: f64) -> f64 {
    M_PER_DEG * M_PER_DEG * lat.to_radians().cos()
}

/// The latitude a multipolygon is measured at (the middle of its box).
fn mid_lat(mp: &MultiPolygon<f64>) -> f64 {
    use geo::BoundingRect;
    mp.bounding_rect()
        .map_or(0.0, |r| (r.min().y + r.max().y) / 2.0)
}

/// Area of a lon/lat multipolygon in m² (equirectangular at its middle latitude: within 0.1% of
/// the ellipsoid for a village).
///
/// ```
/// use geo::{polygon, MultiPolygon};
/// // a 0.001° square at the equator is about 111.2 m × 111.2 m
/// let sq = MultiPolygon(vec![polygon![(x: 0.0, y: 0.0), (x: 0.001, y: 0.0), (x: 0.001, y: 0.001), (x: 0.0, y: 0.001)]]);
/// let a = wangge::check::geom::area_m2(&sq);
/// assert!((a - 12_364.0).abs() < 10.0, "{a}");
/// ```
pub fn area_m2(mp: &MultiPolygon<f64>) -> f64 {
    mp.unsigned_area() * m2_per_deg2(mid_lat(mp))
}

/// `a` minus `b`, in m² (measured at `a`'s latitude).
pub fn difference_m2(a: &MultiPolygon<f64>, b: &MultiPolygon<f64>) -> f64 {
    a.difference(b).unsigned_area() * m2_per_deg2(mid_lat(a))
}

/// The area `a` and `b` share, in m².
pub fn intersection_m2(a: &MultiPolygon<f64>, b: &MultiPolygon<f64>) -> f64 {
    a.intersection(b).unsigned_area() * m2_per_deg2(mid_lat(a))
}

/// Whether two multipolygons' boxes meet.
pub fn boxes_meet(a: &MultiPolygon<f64>, b: &MultiPolygon<f64>) -> bool {
    use geo::{BoundingRect, Intersects};
    match (a.bounding_rect(), b.bounding_rect()) {
        (Some(x), Some(y)) => x.intersects(&y),
        _ => false,
    }
}

/// The union of `pieces` (oriented first: i_overlay takes its fill rule from the first ring).
pub fn union(pieces: &[&MultiPolygon<f64>]) -> MultiPolygon<f64> {
    use geo::{unary_union, Orient};
    let polys: Vec<geo::Polygon<f64>> = pieces
        .iter()
        .flat_map(|m| {
            m.0.iter()
                .map(|p| p.orient(geo::orient::Direction::Default))
        })
        .collect();
    unary_union(&polys)
}

/// A point strictly inside `mp` (geo's interior point), if it has area.
pub fn inside_point(mp: &MultiPolygon<f64>) -> Option<Point<f64>> {
    mp.interior_point()
}

/// Strictly inside (not on the border).
pub fn holds(mp: &MultiPolygon<f64>, p: &Point<f64>) -> bool {
    mp.contains(p)
}

/// Whether a barrier class divides land into banks that grids should not cross.
pub fn is_hard(class: BarrierClass) -> bool {
    matches!(
        class,
        BarrierClass::River | BarrierClass::Rail | BarrierClass::Expressway
    )
}

/// Half the width of the strip a hard barrier is drawn as when land is cut into banks, in degrees
/// (about 0.1 m).
const STRIP_HALF_DEG: f64 = 1e-6;

/// The village's land cut into *banks*: its pieces, each cut by every hard barrier across it, as
/// geo's difference of the village and a thin strip along each barrier. Each bank is one polygon.
pub fn banks(village: &Village, barriers: &[Barrier]) -> Vec<MultiPolygon<f64>> {
    let lines: Vec<geo::LineString<f64>> = barriers
        .iter()
        .filter(|b| is_hard(b.class))
        .flat_map(|b| b.lines.iter().cloned())
        .filter(|l| {
            use geo::{BoundingRect, Intersects};
            match (l.bounding_rect(), village.boundary.bounding_rect()) {
                (Some(a), Some(b)) => a.intersects(&b),
                _ => false,
            }
        })
        .collect();
    let land = if lines.is_empty() {
        village.boundary.clone()
    } else {
        let strip = MultiLineString(lines).buffer(STRIP_HALF_DEG);
        village.boundary.difference(&strip)
    };
    land.0.into_iter().map(|p| MultiPolygon(vec![p])).collect()
}

/// The pieces of a village: its polygons once touching ones are joined.
pub fn pieces(village: &Village) -> Vec<MultiPolygon<f64>> {
    union(&[&village.boundary])
        .0
        .into_iter()
        .map(|p| MultiPolygon(vec![p]))
        .collect()
}

/// Index of the region of `regions` holding `p`, if one does.
pub fn region_of(regions: &[MultiPolygon<f64>], p: &Point<f64>) -> Option<usize> {
    regions.iter().position(|r| r.contains(p))
}
