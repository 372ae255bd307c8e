//! Transverse Mercator (Gauss–Krüger, UTM) by the Krüger series to order n⁶ (Karney 2011, "Transverse
//! Mercator with an accuracy of a few nanometers"): within a zone (3° or 6° wide) the series is good
//! to well under a millimetre; `tests/projection.rs` checks it against PROJ's own outputs.
//!
//! ```
//! use wangge::crs::tm::{Ellipsoid, TransverseMercator};
//! // CGCS2000 3° Gauss–Krüger zone 39 (EPSG:4527): central meridian 117°E, zone number in the easting.
//! let zone = TransverseMercator::gauss_kruger(Ellipsoid::CGCS2000, 117.0, 39_500_000.0);
//! let (x, y) = zone.forward(117.5, 31.25);
//! let (lon, lat) = zone.inverse(x, y);
//! assert!((lon - 117.5).abs() < 1e-11 && (lat - 31.25).abs() < 1e-11);
//! assert!((x - 39_547_627.381).abs() < 0.001, "{x}"); // PROJ: 39 547 627.381
//! ```

/// A reference ellipsoid: semi-major axis (m) and flattening.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ellipsoid {
    /// Semi-major axis in metres.
    pub a: f64,
    /// Flattening f = (a − b) / a.
    pub f: f64,
}

impl Ellipsoid {
    /// CGCS2000 (China Geodetic Coordinate System 2000).
    pub const CGCS2000: Ellipsoid = Ellipsoid {
        a: 6_378_137.0,
        f: 1.0 / 298.257_222_101,
    };
    /// WGS 84.
    pub const WGS84: Ellipsoid = Ellipsoid {
        a: 6_378_137.0,
        f: 1.0 / 298.257_223_563,
    };
}

/// A Transverse Mercator projection with latitude of origin 0.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TransverseMercator {
    /// The ellipsoid.
    pub ellipsoid: Ellipsoid,
    /// Central meridian, degrees.
    pub lon0: f64,
    /// Scale factor on the central meridian (1 for Gauss–Krüger, 0.9996 for UTM).
    pub k0: f64,
    /// False easting, metres (with the zone number in front for "zone" CRSs: 39 500 000).
    pub false_easting: f64,
    /// False northing, metres.
    pub false_northing: f64,
}

/// The series constants of one ellipsoid.
struct Series {
    /// Rectifying radius A.
    big_a: f64,
    alpha: [f64; 6],
    beta: [f64; 6],
    /// First eccentricity.
    e: f64,
}

fn series(el: Ellipsoid) -> Series {
    let n = el.f / (2.0 - el.f);
    let (n2, n3) = (n * n, n * n * n);
    let (n4, n5, n6) = (n2 * n2, n2 * n3, n3 * n3);
    let big_a = el.a / (1.0 + n) * (1.0 + n2 / 4.0 + n4 / 64.0 + n6 / 256.0);
    let alpha = [
        n / 2.0 - 2.0 / 3.0 * n2 + 5.0 / 16.0 * n3 + 41.0 / 180.0 * n4 - 127.0 / 288.0 * n5
            + 7891.0 / 37800.0 * n6,
        13.0 / 48.0 * n2 - 3.0 / 5.0 * n3 + 557.0 / 1440.0 * n4 + 281.0 / 630.0 * n5
            - 1_983_433.0 / 1_935_360.0 * n6,
        61.0 / 240.0 * n3 - 103.0 / 140.0 * n4
            + 15061.0 / 26880.0 * n5
            + 167_603.0 / 181_440.0 * n6,
        49561.0 / 161_280.0 * n4 - 179.0 / 168.0 * n5 + 6_601_661.0 / 7_257_600.0 * n6,
        34729.0 / 80640.0 * n5 - 3_418_889.0 / 1_995_840.0 * n6,
        212_378_941.0 / 319_334_400.0 * n6,
    ];
    let beta = [
        n / 2.0 - 2.0 / 3.0 * n2 + 37.0 / 96.0 * n3 - 1.0 / 360.0 * n4 - 81.0 / 512.0 * n5
            + 96199.0 / 604_800.0 * n6,
        1.0 / 48.0 * n2 + 1.0 / 15.0 * n3 - 437.0 / 1440.0 * n4 + 46.0 / 105.0 * n5
            - 1_118_711.0 / 3_870_720.0 * n6,
        17.0 / 480.0 * n3 - 37.0 / 840.0 * n4 - 209.0 / 4480.0 * n5 + 5569.0 / 90720.0 * n6,
        4397.0 / 161_280.0 * n4 - 11.0 / 504.0 * n5 - 830_251.0 / 7_257_600.0 * n6,
        4583.0 / 161_280.0 * n5 - 108_847.0 / 3_991_680.0 * n6,
        20_648_693.0 / 638_668_800.0 * n6,
    ];
    Series {
        big_a,
        alpha,
        beta,
        e: (el.f * (2.0 - el.f)).sqrt(),
    }
}

/// τ′ (tangent of the conformal latitude) from τ = tan φ.
fn taupf(tau: f64, e: f64) -> f64 {
    let tau1 = tau.hypot(1.0);
    let sig = (e * (e * tau / tau1).atanh()).sinh();
    tau * sig.hypot(1.0) - sig * tau1
}

/// τ = tan φ from τ′, by Newton's method (Karney 2011, eq. 19–21).
fn tauf(taup: f64, e: f64) -> f64 {
    let e2m = 1.0 - e * e;
    let mut tau = taup / e2m;
    for _ in 0..8 {
        let tau1 = tau.hypot(1.0);
        let taupa = taupf(tau, e);
        let dtau = (taup - taupa) * (1.0 + e2m * tau * tau) / (e2m * tau1 * taupa.hypot(1.0));
        tau += dtau;
        if dtau.abs() < 1e-15 * tau.abs().max(1.0) {
            break;
        }
    }
    tau
}

impl TransverseMercator {
    /// A Gauss–Krüger zone: scale 1 on the central meridian `lon0`, false northing 0.
    pub fn gauss_kruger(ellipsoid: Ellipsoid, lon0: f64, false_easting: f64) -> Self {
        TransverseMercator {
            ellipsoid,
            lon0,
            k0: 1.0,
            false_easting,
            false_northing: 0.0,
        }
    }

    /// Projects `(lon, lat)` in degrees to `(easting, northing)` in metres.
    pub fn forward(&self, lon: f64, lat: f64) -> (f64, f64) {
        let s = series(self.ellipsoid);
        let lam = (lon - self.lon0).to_radians();
        let tau = lat.to_radians().tan();
        let taup = taupf(tau, s.e);
        let xip = taup.atan2(lam.cos());
        let etap = (lam.sin() / taup.hypot(lam.cos())).asinh();
        let (mut xi, mut eta) = (xip, etap);
        for (j, a) in s.alpha.iter().enumerate() {
            let k = 2.0 * (j as f64 + 1.0);
            xi += a * (k * xip).sin() * (k * etap).cosh();
            eta += a * (k * xip).cos() * (k * etap).sinh();
        }
        let scale = self.k0 * s.big_a;
        (
            self.false_easting + scale * eta,
            self.false_northing + scale * xi,
        )
    }

    /// Unprojects `(easting, northing)` in metres to `(lon, lat)` in degrees.
    pub fn inverse(&self, x: f64, y: f64) -> (f64, f64) {
        let s = series(self.ellipsoid);
        let scale = self.k0 * s.big_a;
        let xi = (y - self.false_northing) / scale;
        let eta = (x - self.false_easting) / scale;
        let (mut xip, mut etap) = (xi, eta);
        for (j, b) in s.beta.iter().enumerate() {
            let k = 2.0 * (j as f64 + 1.0);
            xip -= b * (k * xi).sin() * (k * eta).cosh();
            etap -= b * (k * xi).cos() * (k * eta).sinh();
        }
        let taup = xip.sin() / etap.sinh().hypot(xip.cos());
        let lam = etap.sinh().atan2(xip.cos());
        let lat = tauf(taup, s.e).atan();
        (self.lon0 + lam.to_degrees(), lat.to_degrees())
    }
}

/// Web Mercator (EPSG:3857) metres to lon/lat degrees.
pub fn web_mercator_inverse(x: f64, y: f64) -> (f64, f64) {
    const R: f64 = 6_378_137.0;
    ((x / R).to_degrees(), (y / R).sinh().atan().to_degrees())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_at_the_zone_edge() {
        let z = TransverseMercator::gauss_kruger(Ellipsoid::CGCS2000, 120.0, 500_000.0);
        for &(lon, lat) in &[(121.5, 18.0), (118.5, 53.5), (120.0, 0.0), (120.7, 40.1)] {
            let (x, y) = z.forward(lon, lat);
            let (l2, p2) = z.inverse(x, y);
            assert!(
                (l2 - lon).abs() < 1e-10 && (p2 - lat).abs() < 1e-10,
                "{lon} {lat}"
            );
        }
    }

    #[test]
    fn central_meridian_maps_to_false_easting() {
        let z = TransverseMercator::gauss_kruger(Ellipsoid::CGCS2000, 117.0, 39_500_000.0);
        let (x, y) = z.forward(117.0, 0.0);
        assert!((x - 39_500_000.0).abs() < 1e-6 && y.abs() < 1e-6, "{x} {y}");
    }
}
