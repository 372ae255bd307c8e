//! Patrol points (巡查轨迹点) in the store: bulk insert that keeps a re-sent point once, and
//! reading a time window back.

use super::sql::Val;
use super::{Result, Store};
use geo::{Geometry, Point};
use sqlx::Row;

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
