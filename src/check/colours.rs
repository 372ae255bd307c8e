//! Map colours: two grids (or two micro-grids) that share a border must not share a colour.
//!
//! Measured on geo alone, independently of the engine's own border finding: each outline is
//! taken to local metres around the pair, the other's outline is drawn as a strip
//! [`STRIP_HALF_M`] wide on each side (geo's buffer) and the length of this outline inside the
//! strip is the border they share. Pairs sharing more than [`MIN_SHARED_M`] must differ (a touch
//! at a point, or a sliver of border shorter than that, need not). Parts of one split building
//! (the same outline) are one area on the map and are not compared. A plan that carries no
//! colours (drawn in another tool, stored before colours were) is not checked here.

use super::{Finding, Level};
use geo::algorithm::line_measures::{Euclidean, Length};
use geo::{
    BooleanOps, BoundingRect, Buffer, Coord, Intersects, LineString, MultiLineString, MultiPolygon,
};

/// Half the width of the strip along an outline, metres.
pub const STRIP_HALF_M: f64 = 0.05;

/// Shared border (metres) over which two areas must have different colours.
pub const MIN_SHARED_M: f64 = 1.0;

/// Metres per degree of latitude (mean Earth radius 6,371,008.8 m).
const M_PER_DEG: f64 = 6_371_008.8 * std::f64::consts::PI / 180.0;

/// An area to compare: its code, colour and outline.
pub struct Coloured<'a> {
    /// Its code.
    pub code: &'a str,
    /// Its colour, if the plan gives one.
    pub color: Option<u8>,
    /// Its outline.
    pub geometry: &'a MultiPolygon<f64>,
}

/// The outline's rings as lines in metres around (`lon0`, `lat0`).
fn rings_m(mp: &MultiPolygon<f64>, lon0: f64, lat0: f64) -> MultiLineString<f64> {
    let kx = M_PER_DEG * lat0.to_radians().cos();
    let to = |c: &Coord<f64>| Coord {
        x: (c.x - lon0) * kx,
        y: (c.y - lat0) * M_PER_DEG,
    };
    MultiLineString(
        mp.0.iter()
            .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
            .map(|r| LineString(r.0.iter().map(to).collect()))
            .collect(),
    )
}

/// The length of border `a` and `b` share, metres.
pub fn shared_m(a: &MultiPolygon<f64>, b: &MultiPolygon<f64>) -> f64 {
    let Some(r) = a.bounding_rect() else {
        return 0.0;
    };
    let (lon0, lat0) = (r.min().x, r.min().y);
    let la = rings_m(a, lon0, lat0);
    let strip = rings_m(b, lon0, lat0).buffer(STRIP_HALF_M);
    Euclidean.length(&strip.clip(&la, false))
}

/// Whether two boxes meet once widened by a metre or so.
fn near(a: &MultiPolygon<f64>, b: &MultiPolygon<f64>) -> bool {
    const PAD: f64 = 2e-5;
    match (a.bounding_rect(), b.bounding_rect()) {
        (Some(x), Some(y)) => {
            let x = geo::Rect::new(
                (x.min().x - PAD, x.min().y - PAD),
                (x.max().x + PAD, x.max().y + PAD),
            );
            x.intersects(&y)
        }
        _ => false,
    }
}

/// Every pair of `areas` that shares a border and a colour.
pub fn check(level: Level, areas: &[Coloured<'_>]) -> Vec<Finding> {
    let mut out = Vec::new();
    for (i, a) in areas.iter().enumerate() {
        let Some(ca) = a.color else { continue };
        for b in &areas[i + 1..] {
            if b.color != Some(ca) || a.geometry == b.geometry || !near(a.geometry, b.geometry) {
                continue;
            }
            let m = shared_m(a.geometry, b.geometry);
            if m > MIN_SHARED_M {
                out.push(Finding::SameColourNeighbours {
                    level,
                    a: a.code.to_string(),
                    b: b.code.to_string(),
                    color: ca,
                    border_m: (m * 10.0).round() / 10.0,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sq(x0: f64, y0: f64, x1: f64, y1: f64) -> MultiPolygon<f64> {
        MultiPolygon::new(vec![geo::Polygon::new(
            LineString::from(vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]),
            vec![],
        )])
    }

    #[test]
    fn bordering_areas_of_one_colour_are_found_and_corner_touches_are_not() {
        let a = sq(120.0, 30.0, 120.001, 30.001);
        let b = sq(120.001, 30.0002, 120.002, 30.0008); // ~67 m of border with a
        let c = sq(120.001, 30.001, 120.002, 30.002); // a's corner only
        let shared = shared_m(&a, &b);
        assert!((shared - 66.7).abs() < 1.0, "{shared}");
        assert!(shared_m(&a, &c) < MIN_SHARED_M);
        let areas = |cb: u8| {
            vec![
                Coloured {
                    code: "a",
                    color: Some(0),
                    geometry: &a,
                },
                Coloured {
                    code: "b",
                    color: Some(cb),
                    geometry: &b,
                },
                Coloured {
                    code: "c",
                    color: Some(0),
                    geometry: &c,
                },
            ]
        };
        let f = check(Level::Grid, &areas(0));
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(
            matches!(&f[0], Finding::SameColourNeighbours { a, b, .. } if a == "a" && b == "b")
        );
        assert!(check(Level::Grid, &areas(1)).is_empty());
    }
}
