//! Coordinate systems phones send (坐标系): WGS84/CGCS2000, GCJ-02 (Amap, Tencent) and BD-09 (Baidu).
//!
//! wangge stores WGS84/CGCS2000. Points from Amap/Tencent SDKs (GCJ-02, offset by up to ~700 m) and
//! Baidu's (BD-09) are converted before any point-in-grid test. The forward GCJ-02 formula is the
//! widely published one; its inverse here is iterative and reproduces the forward formula to 1e-9°,
//! but the published formula itself is only known to match the official one to a metre or two, so a
//! converted point that close to a border is ambiguous ([`CONVERSION_UNCERTAINTY_M`]).
//!
//! This is wangge's one place for coordinate systems: [`source`] names the CRS an input file is
//! in (EPSG codes, WKT, `--crs`) and converts it to lon/lat, with the Gauss–Krüger/UTM series in
//! [`tm`].

pub mod source;
pub mod tm;

use std::f64::consts::PI;
use std::fmt;
use std::str::FromStr;

/// How far (m) a point converted from GCJ-02 or BD-09 may be from where the phone really was.
pub const CONVERSION_UNCERTAINTY_M: f64 = 2.0;

/// A coordinate reference system a lon/lat pair may arrive in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Crs {
    /// WGS84, or CGCS2000 (within millimetres of it): raw GPS and Tianditu.
    #[default]
    Wgs84,
    /// GCJ-02 (火星坐标), used by Amap and Tencent maps.
    Gcj02,
    /// BD-09, used by Baidu maps.
    Bd09,
}

/// The text is not a CRS we know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown crs `{0}`: expected wgs84, cgcs2000, gcj02 or bd09")]
pub struct UnknownCrs(pub String);

impl FromStr for Crs {
    type Err = UnknownCrs;
    /// Parses `wgs84`, `cgcs2000`, `gcj02` or `bd09` (any case, `-` and `_` ignored).
    ///
    /// ```
    /// use wangge::crs::Crs;
    /// assert_eq!("GCJ-02".parse::<Crs>().unwrap(), Crs::Gcj02);
    /// assert_eq!("cgcs2000".parse::<Crs>().unwrap(), Crs::Wgs84);
    /// assert!("utm".parse::<Crs>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Crs, UnknownCrs> {
        let k: String = s
            .chars()
            .filter(|c| *c != '-' && *c != '_')
            .flat_map(char::to_lowercase)
            .collect();
        match k.as_str() {
            "wgs84" | "cgcs2000" | "epsg4326" | "epsg4490" => Ok(Crs::Wgs84),
            "gcj02" => Ok(Crs::Gcj02),
            "bd09" | "bd09ll" => Ok(Crs::Bd09),
            _ => Err(UnknownCrs(s.to_string())),
        }
    }
}

impl fmt::Display for Crs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Crs::Wgs84 => "wgs84",
            Crs::Gcj02 => "gcj02",
            Crs::Bd09 => "bd09",
        })
    }
}

impl Crs {
    /// Converts `(lon, lat)` in this CRS to WGS84.
    ///
    /// ```
    /// use wangge::crs::{Crs, wgs84_to_gcj02};
    /// let (lon, lat) = (121.4737, 31.2304); // People's Square, Shanghai
    /// let (glon, glat) = wgs84_to_gcj02(lon, lat);
    /// assert!((glon - lon).abs() > 1e-3); // the offset is hundreds of metres
    /// let (blon, blat) = Crs::Gcj02.to_wgs84(glon, glat);
    /// assert!((blon - lon).abs() < 1e-8 && (blat - lat).abs() < 1e-8);
    /// ```
    pub fn to_wgs84(self, lon: f64, lat: f64) -> (f64, f64) {
        match self {
            Crs::Wgs84 => (lon, lat),
            Crs::Gcj02 => gcj02_to_wgs84(lon, lat),
            Crs::Bd09 => {
                let (glon, glat) = bd09_to_gcj02(lon, lat);
                gcj02_to_wgs84(glon, glat)
            }
        }
    }
    /// How far (m) the converted point may be from the truth.
    pub fn uncertainty_m(self) -> f64 {
        match self {
            Crs::Wgs84 => 0.0,
            _ => CONVERSION_UNCERTAINTY_M,
        }
    }
}

const A: f64 = 6_378_245.0;
const EE: f64 = 0.006_693_421_622_965_943;

/// GCJ-02 applies only inside China's rough bounding box; outside it is WGS84.
fn out_of_china(lon: f64, lat: f64) -> bool {
    !(72.004..=137.8347).contains(&lon) || !(0.8293..=55.8271).contains(&lat)
}

fn d_lat(x: f64, y: f64) -> f64 {
    let mut r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * x.abs().sqrt();
    r += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    r += (20.0 * (y * PI).sin() + 40.0 * (y / 3.0 * PI).sin()) * 2.0 / 3.0;
    r += (160.0 * (y / 12.0 * PI).sin() + 320.0 * (y * PI / 30.0).sin()) * 2.0 / 3.0;
    r
}

fn d_lon(x: f64, y: f64) -> f64 {
    let mut r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * x.abs().sqrt();
    r += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    r += (20.0 * (x * PI).sin() + 40.0 * (x / 3.0 * PI).sin()) * 2.0 / 3.0;
    r += (150.0 * (x / 12.0 * PI).sin() + 300.0 * (x / 30.0 * PI).sin()) * 2.0 / 3.0;
    r
}

/// WGS84 → GCJ-02 (the published forward formula).
pub fn wgs84_to_gcj02(lon: f64, lat: f64) -> (f64, f64) {
    if out_of_china(lon, lat) {
        return (lon, lat);
    }
    let dlat = d_lat(lon - 105.0, lat - 35.0);
    let dlon = d_lon(lon - 105.0, lat - 35.0);
    let rad = lat / 180.0 * PI;
    let magic = 1.0 - EE * rad.sin() * rad.sin();
    let sq = magic.sqrt();
    let dlat = (dlat * 180.0) / ((A * (1.0 - EE)) / (magic * sq) * PI);
    let dlon = (dlon * 180.0) / (A / sq * rad.cos() * PI);
    (lon + dlon, lat + dlat)
}

/// GCJ-02 → WGS84, by fixed-point iteration on the forward formula (to 1e-10°).
pub fn gcj02_to_wgs84(lon: f64, lat: f64) -> (f64, f64) {
    if out_of_china(lon, lat) {
        return (lon, lat);
    }
    let (mut wlon, mut wlat) = (lon, lat);
    for _ in 0..30 {
        let (glon, glat) = wgs84_to_gcj02(wlon, wlat);
        let (ex, ey) = (glon - lon, glat - lat);
        wlon -= ex;
        wlat -= ey;
        if ex.abs() < 1e-10 && ey.abs() < 1e-10 {
            break;
        }
    }
    (wlon, wlat)
}

const X_PI: f64 = PI * 3000.0 / 180.0;

/// BD-09 → GCJ-02: the published closed form (good to ~0.1 m), refined by fixed-point iteration
/// on [`gcj02_to_bd09`] until it reproduces the input to 1e-10°.
pub fn bd09_to_gcj02(lon: f64, lat: f64) -> (f64, f64) {
    let (x, y) = (lon - 0.0065, lat - 0.006);
    let z = (x * x + y * y).sqrt() - 0.00002 * (y * X_PI).sin();
    let theta = y.atan2(x) - 0.000003 * (x * X_PI).cos();
    let (mut glon, mut glat) = (z * theta.cos(), z * theta.sin());
    for _ in 0..10 {
        let (blon, blat) = gcj02_to_bd09(glon, glat);
        let (ex, ey) = (blon - lon, blat - lat);
        glon -= ex;
        glat -= ey;
        if ex.abs() < 1e-10 && ey.abs() < 1e-10 {
            break;
        }
    }
    (glon, glat)
}

/// GCJ-02 → BD-09.
pub fn gcj02_to_bd09(lon: f64, lat: f64) -> (f64, f64) {
    let z = (lon * lon + lat * lat).sqrt() + 0.00002 * (lat * X_PI).sin();
    let theta = lat.atan2(lon) + 0.000003 * (lon * X_PI).cos();
    (z * theta.cos() + 0.0065, z * theta.sin() + 0.006)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bd09_round_trip() {
        let (lon, lat) = (116.404, 39.915);
        let (blon, blat) = gcj02_to_bd09(lon, lat);
        assert!((blon - lon).abs() > 1e-3);
        let (g, h) = bd09_to_gcj02(blon, blat);
        assert!((g - lon).abs() < 1e-5 && (h - lat).abs() < 1e-5, "{g} {h}");
    }

    #[test]
    fn outside_china_is_unchanged() {
        assert_eq!(wgs84_to_gcj02(-71.4, 41.8), (-71.4, 41.8));
        assert_eq!(Crs::Gcj02.to_wgs84(-71.4, 41.8), (-71.4, 41.8));
    }

    #[test]
    fn known_offset_in_beijing() {
        // Tiananmen: the published formula moves it about 0.0062° east and 0.0014° north.
        let (g, h) = wgs84_to_gcj02(116.391_275, 39.907_5);
        assert!((g - 116.391_275 - 0.006_24).abs() < 3e-4, "{g}");
        assert!((h - 39.907_5 - 0.001_4).abs() < 3e-4, "{h}");
    }
}
