//! Patrol points (巡查轨迹点) in the store: bulk insert that keeps a re-sent point once, and
//! reading a time window back.

use super::sql::Val;
use super::{Result, Store};
use crate::crs::{Crs, UnknownCrs};
use crate::patrol::{PatrolPoint, Reason};
use chrono::DateTime;
use geo::{Geometry, Point};
use sqlx::Row;
use std::sync::Arc;

/// A patrol point as stored: WGS84 position, the CRS it arrived in, and a flag when a check
/// questioned it (kept, not dropped).
#[derive(Clone, Debug, PartialEq)]
pub struct PatrolRow {
    /// The worker's id.
    pub worker: String,
    /// The time as sent (RFC 3339 with its zone).
    pub time: String,
    /// The same instant in UTC milliseconds.
    pub epoch_ms: i64,
    /// Longitude, WGS84.
    pub lon: f64,
    /// Latitude, WGS84.
    pub lat: f64,
    /// The CRS it arrived in (`wgs84`, `gcj02`, `bd09`).
    pub crs: String,
    /// Reported accuracy, metres.
    pub accuracy_m: Option<f64>,
    /// Why a check flagged it, if one did.
    pub flag: Option<String>,
}

impl PatrolRow {
    /// The rows to store from a [`check`](crate::patrol::check)ed batch: the accepted points,
    /// then the flagged ones with their reasons (rejected points are not stored).
    pub fn from_checked(checked: &crate::patrol::Checked) -> Vec<PatrolRow> {
        checked
            .accepted
            .iter()
            .map(|p| PatrolRow::from_point(p, None))
            .chain(
                checked
                    .flagged
                    .iter()
                    .map(|is| PatrolRow::from_point(&is.point, Some(&is.reason))),
            )
            .collect()
    }

    /// The row of `point`, flagged with `flag`'s text (its [`Reason`] code and words, e.g.
    /// `inaccurate: accuracy 250 m is too poor`) when a check questioned it.
    pub fn from_point(point: &PatrolPoint, flag: Option<&Reason>) -> PatrolRow {
        PatrolRow {
            worker: point.worker.to_string(),
            time: point.time.to_rfc3339(),
            epoch_ms: point.time.timestamp_millis(),
            lon: point.lon,
            lat: point.lat,
            crs: match &point.crs {
                Ok(c) => c.to_string(),
                Err(e) => e.0.clone(),
            },
            accuracy_m: point.accuracy_m,
            flag: flag.map(flag_text),
        }
    }

    /// The point back (WGS84, as stored). A time that no longer parses (edited by hand) falls
    /// back to `epoch_ms` in UTC; an unknown CRS text stays unknown.
    pub fn to_point(&self) -> PatrolPoint {
        let time = DateTime::parse_from_rfc3339(&self.time).unwrap_or_else(|_| {
            DateTime::from_timestamp_millis(self.epoch_ms)
                .unwrap_or_default()
                .fixed_offset()
        });
        PatrolPoint {
            worker: Arc::from(self.worker.as_str()),
            time,
            lon: self.lon,
            lat: self.lat,
            crs: self
                .crs
                .parse::<Crs>()
                .map_err(|_| UnknownCrs(self.crs.clone())),
            accuracy_m: self.accuracy_m,
        }
    }

    /// Whether a check flagged the point (flagged points are kept but not used for coverage).
    pub fn is_flagged(&self) -> bool {
        self.flag.is_some()
    }
}

/// The text stored in `flag`: `code: words`.
pub fn flag_text(reason: &Reason) -> String {
    format!("{}: {reason}", reason.code())
}

/// The points of `rows` (see [`PatrolRow::to_point`]), the points of one worker sharing one
/// `Arc<str>` id.
pub fn rows_to_points<'a>(rows: impl IntoIterator<Item = &'a PatrolRow>) -> Vec<PatrolPoint> {
    let mut ids: std::collections::BTreeMap<&str, Arc<str>> = std::collections::BTreeMap::new();
    rows.into_iter()
        .map(|r| {
            let mut p = r.to_point();
            p.worker = ids
                .entry(r.worker.as_str())
                .or_insert_with(|| p.worker.clone())
                .clone();
            p
        })
        .collect()
}

/// What an insert did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Inserted {
    /// New points stored.
    pub inserted: usize,
    /// Points already stored (same worker, instant and position to 1e-7°): kept once.
    pub duplicates: usize,
}

impl Store {
    /// Stores patrol points in one transaction; points already stored are counted, not repeated.
    pub async fn insert_patrol(
        &self,
        rows: &[PatrolRow],
        progress: &mut (dyn FnMut(usize) + Send),
    ) -> Result<Inserted> {
        let mut conn = self.pool.acquire().await.map_err(|e| self.db(e))?;
        let mut tx = self.begin_write(&mut conn).await?;
        let n = self
            .insert_many(
                &mut tx,
                "patrol_points",
                &[
                    "geom",
                    "worker",
                    "time",
                    "epoch_ms",
                    "lon",
                    "lat",
                    "lon_e7",
                    "lat_e7",
                    "crs",
                    "accuracy_m",
                    "flag",
                ],
                Some("ON CONFLICT (worker, epoch_ms, lon_e7, lat_e7) DO NOTHING"),
                &mut rows.iter().map(|r| {
                    vec![
                        Val::Geom(Geometry::Point(Point::new(r.lon, r.lat))),
                        Val::Text(r.worker.clone()),
                        Val::Text(r.time.clone()),
                        Val::Int(r.epoch_ms),
                        Val::Real(r.lon),
                        Val::Real(r.lat),
                        Val::Int((r.lon * 1e7).round() as i64),
                        Val::Int((r.lat * 1e7).round() as i64),
                        Val::Text(r.crs.clone()),
                        Val::OptReal(r.accuracy_m),
                        Val::OptText(r.flag.clone()),
                    ]
                }),
                progress,
            )
            .await?;
        tx.commit().await.map_err(|e| self.db(e))?;
        Ok(Inserted {
            inserted: n,
            duplicates: rows.len() - n,
        })
    }

    /// Patrol points with `from_ms <= epoch_ms < to_ms`, by worker then time.
    pub async fn patrol_points(&self, from_ms: i64, to_ms: i64) -> Result<Vec<PatrolRow>> {
        let rows = sqlx::query(
            "SELECT worker, time, epoch_ms, lon, lat, crs, accuracy_m, flag FROM patrol_points \
             WHERE epoch_ms >= $1 AND epoch_ms < $2 ORDER BY worker, epoch_ms, lon_e7, lat_e7",
        )
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.db(e))?;
        rows.iter()
            .map(|r| {
                Ok(PatrolRow {
                    worker: r.try_get("worker").map_err(|e| self.db(e))?,
                    time: r.try_get("time").map_err(|e| self.db(e))?,
                    epoch_ms: r.try_get("epoch_ms").map_err(|e| self.db(e))?,
                    lon: r.try_get("lon").map_err(|e| self.db(e))?,
                    lat: r.try_get("lat").map_err(|e| self.db(e))?,
                    crs: r.try_get("crs").map_err(|e| self.db(e))?,
                    accuracy_m: r.try_get("accuracy_m").map_err(|e| self.db(e))?,
                    flag: r.try_get("flag").map_err(|e| self.db(e))?,
                })
            })
            .collect()
    }
}
