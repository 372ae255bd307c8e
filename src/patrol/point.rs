//! A patrol point (巡查轨迹点): one GPS fix of a grid worker, converted to WGS84.

use crate::crs::{Crs, UnknownCrs};
use chrono::{DateTime, FixedOffset};
use std::sync::Arc;

/// One GPS fix sent by a grid worker's terminal.
#[derive(Clone, Debug, PartialEq)]
pub struct PatrolPoint {
    /// The worker's id (shared between the points of one file or batch).
    pub worker: Arc<str>,
    /// When the fix was taken, in the zone the terminal sent (the day of a patrol is local).
    pub time: DateTime<FixedOffset>,
    /// Longitude, WGS84 when `crs` is known (converted from GCJ-02/BD-09), else as received.
    pub lon: f64,
    /// Latitude, WGS84 when `crs` is known, else as received.
    pub lat: f64,
    /// The coordinate system the point arrived in, or the unknown text (rejected by the checks).
    pub crs: Result<Crs, UnknownCrs>,
    /// Horizontal accuracy the terminal reported, in metres.
    pub accuracy_m: Option<f64>,
}

/// The stable identity of a fix: same worker, same instant, same position to 1e-7° (≈ 1 cm).
///
/// A terminal re-sending a batch after a timeout produces points with equal keys; they are kept
/// once. The instant is compared in UTC milliseconds, so `08:00+08:00` and `00:00Z` are the same.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DedupeKey {
    /// Worker id.
    pub worker: Arc<str>,
    /// UTC milliseconds since 1970.
    pub time_ms: i64,
    /// Longitude in 1e-7 degrees.
    pub lon_e7: i64,
    /// Latitude in 1e-7 degrees.
    pub lat_e7: i64,
}

impl PatrolPoint {
    /// A point received as `(lon, lat)` in `crs`: converted to WGS84 when the CRS is known and the
    /// coordinates are finite and on the globe; otherwise kept as received for the checks to reject.
    pub fn new(
        worker: Arc<str>,
        time: DateTime<FixedOffset>,
        lon: f64,
        lat: f64,
        crs: Result<Crs, UnknownCrs>,
        accuracy_m: Option<f64>,
    ) -> PatrolPoint {
        let (lon, lat) = match &crs {
            Ok(c) if on_globe(lon, lat) => c.to_wgs84(lon, lat),
            _ => (lon, lat),
        };
        PatrolPoint {
            worker,
            time,
            lon,
            lat,
            crs,
            accuracy_m,
        }
    }

    /// The key duplicates share (see [`DedupeKey`]).
    pub fn dedupe_key(&self) -> DedupeKey {
        DedupeKey {
            worker: self.worker.clone(),
            time_ms: self.time.timestamp_millis(),
            lon_e7: (self.lon * 1e7).round() as i64,
            lat_e7: (self.lat * 1e7).round() as i64,
        }
    }

    /// The local calendar day of the fix (in the zone it was sent with).
    pub fn local_day(&self) -> chrono::NaiveDate {
        self.time.date_naive()
    }
}

/// Finite and within ±180° longitude, ±90° latitude.
pub(crate) fn on_globe(lon: f64, lat: f64) -> bool {
    lon.is_finite() && lat.is_finite() && lon.abs() <= 180.0 && lat.abs() <= 90.0
}

/// Great-circle distance in metres (haversine, mean Earth radius).
pub fn distance_m(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    const R: f64 = 6_371_008.8;
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * R * a.sqrt().min(1.0).asin()
}
