//! Patrol points (巡查轨迹) in the store: one row per worker and day in `patrol_tracks`, its points
//! a compact blob ([`codec`]), its track a MultiLineString that QGIS draws, its H3 cell counts
//! ready for heat maps.
//!
//! - **Insert** ([`Store::insert_patrol`], [`Store::insert_batch`]) is one transaction: the rows a
//!   batch touches are read, merged with it in memory (a point already stored, same worker,
//!   instant and position to 1e-7°, is kept once: the stored one) and written back. A re-sent
//!   batch stores nothing new; points may arrive in any order. On failure nothing changes.
//! - **Read** a window ([`Store::patrol_tracks`]): only the rows of the days it meets (an index on
//!   `day` and the track's bounding box), only the points inside it.
//! - **Heat** ([`Store::patrol_cells`]): the per-row cell counts of rows wholly inside the window,
//!   points only for rows the window cuts.
//!
//! Why rows of a day and not a row per point: a month of a 1.5M-household district is ≈ 65M points
//! but ≈ 90k rows; a point costs ≈ 9 bytes instead of a row with a unique index, and reading a day
//! decodes a few thousand blobs instead of millions of rows.

pub mod codec;

use super::{Backend, Result, Store, StoreError};
use crate::crs::{Crs, UnknownCrs};
use crate::patrol::{Checked, PatrolPoint, Reason};
use chrono::{DateTime, NaiveDate};
use codec::{
    coarsen_cells, decode_cells, encode_cells, row_day, row_day_ms, row_days, CodecError, DayHeat,
    Fixes, CELL_RES, COARSE_RES,
};
use geo::Geometry;
use h3o::{CellIndex, Resolution};
use rayon::prelude::*;
use sqlx::{AnyConnection, AssertSqlSafe, Row};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// A patrol point as text: WGS84 position, the CRS it arrived in, and a flag when a check
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
    /// The rows to store from a [`check`](crate::patrol::check())ed batch: the accepted points,
    /// then the flagged ones with their reasons (rejected points are not stored).
    pub fn from_checked(checked: &Checked) -> Vec<PatrolRow> {
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

    /// The point back (WGS84, as stored). A time that no longer parses falls back to `epoch_ms`
    /// in UTC; an unknown CRS text stays unknown.
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

/// The text stored as a point's flag: `code: words`.
pub fn flag_text(reason: &Reason) -> String {
    format!("{}: {reason}", reason.code())
}

/// The points of `rows` (see [`PatrolRow::to_point`]), the points of one worker sharing one
/// `Arc<str>` id.
pub fn rows_to_points<'a>(rows: impl IntoIterator<Item = &'a PatrolRow>) -> Vec<PatrolPoint> {
    let mut ids: BTreeMap<&str, Arc<str>> = BTreeMap::new();
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
    /// Points already stored, or given twice (same worker, instant and position to 1e-7°):
    /// kept once.
    pub duplicates: usize,
}

/// Points to store, grouped by worker and row day (see [`codec`]).
#[derive(Clone, Debug, Default)]
pub struct PatrolBatch {
    parts: Vec<(Arc<str>, NaiveDate, Fixes)>,
    index: HashMap<(Arc<str>, NaiveDate), usize>,
    last: Option<usize>,
    points: usize,
}

impl PatrolBatch {
    /// Adds a point, flagged with `flag`'s text when a check doubted it. Fails (with why) for a
    /// point the store cannot keep: an unknown CRS, coordinates off the globe, a negative accuracy.
    pub fn add(&mut self, p: &PatrolPoint, flag: Option<&str>) -> std::result::Result<(), String> {
        let day = row_day(p.time.timestamp_millis());
        let i = match self.last {
            Some(i) if self.parts[i].1 == day && *self.parts[i].0 == *p.worker => i,
            _ => match self.index.get(&(p.worker.clone(), day)) {
                Some(&i) => i,
                None => {
                    self.parts.push((p.worker.clone(), day, Fixes::default()));
                    let i = self.parts.len() - 1;
                    self.index.insert((p.worker.clone(), day), i);
                    i
                }
            },
        };
        self.last = Some(i);
        self.parts[i].2.push(p, flag)?;
        self.points += 1;
        Ok(())
    }

    /// The accepted and flagged points of a checked batch (rejected ones are not stored).
    pub fn from_checked(checked: &Checked) -> std::result::Result<PatrolBatch, String> {
        let mut b = PatrolBatch::default();
        for p in &checked.accepted {
            b.add(p, None)?;
        }
        for is in &checked.flagged {
            b.add(&is.point, Some(&flag_text(&is.reason)))?;
        }
        Ok(b)
    }

    /// Rows as text; a row whose time or CRS does not parse is an error naming it (0-based).
    pub fn from_rows(rows: &[PatrolRow]) -> std::result::Result<PatrolBatch, String> {
        let mut b = PatrolBatch::default();
        let mut ids: BTreeMap<&str, Arc<str>> = BTreeMap::new();
        for (i, r) in rows.iter().enumerate() {
            let time = DateTime::parse_from_rfc3339(&r.time)
                .map_err(|e| format!("patrol row {i}: field `time`: `{}`: {e}", r.time))?;
            let crs = r
                .crs
                .parse::<Crs>()
                .map_err(|e| format!("patrol row {i}: field `crs`: {e}"))?;
            let worker = ids
                .entry(r.worker.as_str())
                .or_insert_with(|| Arc::from(r.worker.as_str()))
                .clone();
            let p = PatrolPoint {
                worker,
                time,
                lon: r.lon,
                lat: r.lat,
                crs: Ok(crs),
                accuracy_m: r.accuracy_m,
            };
            b.add(&p, r.flag.as_deref())
                .map_err(|e| format!("patrol row {i}: {e}"))?;
        }
        Ok(b)
    }

    /// Points added.
    pub fn len(&self) -> usize {
        self.points
    }
    /// No point added.
    pub fn is_empty(&self) -> bool {
        self.points == 0
    }
    /// The (worker, row day) groups and their points, sorted and de-duplicated (the first
    /// added of equal keys kept); how many duplicates were dropped.
    pub fn into_parts(mut self) -> (Vec<(Arc<str>, NaiveDate, Fixes)>, usize) {
        let dups: usize = self
            .parts
            .par_iter_mut()
            .map(|(_, _, f)| f.normalise())
            .sum();
        (self.parts, dups)
    }
}

/// One worker's points of one row day inside a window, as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Track {
    /// The worker.
    pub worker: Arc<str>,
    /// The row day (China Standard Time, see [`codec`]).
    pub day: NaiveDate,
    /// The points, by time.
    pub points: Fixes,
}

impl Track {
    /// The unflagged points (used for coverage), by time.
    pub fn accepted(&self) -> impl Iterator<Item = PatrolPoint> + '_ {
        self.points.unflagged().map(|f| f.to_point(&self.worker))
    }
    /// Every point as text, by time.
    pub fn rows(&self) -> impl Iterator<Item = PatrolRow> + '_ {
        self.points.fixes.iter().map(|f| {
            let time = f.time();
            PatrolRow {
                worker: self.worker.to_string(),
                time: time.to_rfc3339(),
                epoch_ms: f.ms,
                lon: f.lon(),
                lat: f.lat(),
                crs: f.crs.to_string(),
                accuracy_m: f.accuracy_cm.map(|c| c as f64 / 100.0),
                flag: self.points.flag_text(f).map(str::to_string),
            }
        })
    }
    /// Keeps only the points with `from_ms <= ms < to_ms`.
    pub fn clip(&mut self, from_ms: i64, to_ms: i64) {
        self.points
            .fixes
            .retain(|f| f.ms >= from_ms && f.ms < to_ms);
    }
}

/// The accepted points of tracks, by worker then time.
pub fn accepted_points(tracks: &[Track]) -> Vec<PatrolPoint> {
    let mut v: Vec<&Track> = tracks.iter().collect();
    v.sort_by(|a, b| (&*a.worker, a.day).cmp(&(&*b.worker, b.day)));
    v.into_iter().flat_map(|t| t.accepted()).collect()
}

pub use crate::patrol::heat_tile::{Bbox, TrackCells};

/// A row ready to write.
struct Prepared {
    /// The row day's heat changes from `was` to `now` for this worker.
    was: Vec<(CellIndex, u32)>,
    now: Vec<(CellIndex, u32)>,
    fid: Option<i64>,
    worker: String,
    day: String,
    t_min: i64,
    t_max: i64,
    bbox: Bbox,
    points: i64,
    flagged: i64,
    coarse: Vec<u8>,
    cells: Vec<u8>,
    fixes: Vec<u8>,
    geom: Vec<u8>,
}

/// The columns written, in the order [`Prepared`] binds them (`geom` last).
const COLUMNS: &str = "worker, day, t_min, t_max, min_lon, min_lat, max_lon, max_lat, points, \
                       flagged, cells_coarse, cells, fixes, geom";
const N_COLUMNS: usize = 14;

impl Store {
    fn codec_err(&self, worker: &str, day: &str, e: CodecError) -> StoreError {
        StoreError::Invalid {
            what: format!(
                "{}: patrol_tracks row of worker {worker}, day {day}",
                self.target
            ),
            why: e.to_string(),
        }
    }

    /// Stores patrol rows in one transaction; points already stored are counted, not repeated.
    /// A row the store cannot keep (a time that is not RFC 3339, an unknown CRS) is an error
    /// naming it, and nothing is stored.
    pub async fn insert_patrol(
        &self,
        rows: &[PatrolRow],
        progress: &mut (dyn FnMut(usize) + Send),
    ) -> Result<Inserted> {
        let batch = PatrolBatch::from_rows(rows).map_err(|why| StoreError::Invalid {
            what: self.target.clone(),
            why,
        })?;
        let out = self.insert_batch(batch).await?;
        progress(rows.len());
        Ok(out)
    }

    /// Stores a checked batch's accepted and flagged points in one transaction.
    pub async fn insert_checked(&self, checked: &Checked) -> Result<Inserted> {
        let batch = PatrolBatch::from_checked(checked).map_err(|why| StoreError::Invalid {
            what: self.target.clone(),
            why,
        })?;
        self.insert_batch(batch).await
    }

    /// Stores a batch in one transaction (see the [module docs](self)).
    pub async fn insert_batch(&self, batch: PatrolBatch) -> Result<Inserted> {
        let mut conn = self.pool.acquire().await.map_err(|e| self.db(e))?;
        let mut tx = self.begin_write(&mut conn).await?;
        let out = self.write_batch(&mut tx, batch).await?;
        tx.commit().await.map_err(|e| self.db(e))?;
        Ok(out)
    }

    /// Merges a batch into the stored rows inside the caller's transaction.
    pub(crate) async fn write_batch(
        &self,
        conn: &mut AnyConnection,
        batch: PatrolBatch,
    ) -> Result<Inserted> {
        let total = batch.len();
        let (parts, _) = batch.into_parts();
        if self.backend == Backend::Postgis {
            // Patrol writes one at a time (a GeoPackage writer holds SQLite's lock already):
            // two batches merging into the same row must not both start from its old points.
            sqlx::query("SELECT pg_advisory_xact_lock(2026050101)")
                .execute(&mut *conn)
                .await
                .map_err(|e| self.db(e))?;
        }
        // The stored rows of the batch's keys, one query per day.
        let mut by_day: BTreeMap<NaiveDate, Vec<&str>> = BTreeMap::new();
        for (w, d, _) in &parts {
            by_day.entry(*d).or_default().push(w);
        }
        let lookup = match self.backend {
            Backend::Gpkg => {
                "SELECT fid, worker, fixes, cells_coarse FROM patrol_tracks WHERE day = $1 \
                 AND worker IN (SELECT value FROM json_each($2))"
            }
            Backend::Postgis => {
                "SELECT fid, worker, fixes, cells_coarse FROM patrol_tracks WHERE day = $1 \
                 AND worker IN (SELECT jsonb_array_elements_text($2::jsonb))"
            }
        };
        type Stored = (i64, Vec<u8>, Vec<u8>);
        let mut stored: HashMap<(String, NaiveDate), Stored> = HashMap::new();
        for (day, workers) in &by_day {
            for chunk in workers.chunks(5000) {
                let list = serde_json::to_string(chunk).expect("strings serialise");
                let rows = sqlx::query(lookup)
                    .bind(day.to_string())
                    .bind(list)
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(|e| self.db(e))?;
                for r in rows {
                    let fid: i64 = r.try_get("fid").map_err(|e| self.db(e))?;
                    let w: String = r.try_get("worker").map_err(|e| self.db(e))?;
                    let blob: Vec<u8> = r.try_get("fixes").map_err(|e| self.db(e))?;
                    let coarse: Vec<u8> = r.try_get("cells_coarse").map_err(|e| self.db(e))?;
                    stored.insert((w, *day), (fid, blob, coarse));
                }
            }
        }
        // Merge and encode, in parallel.
        let prepared: Vec<(usize, Option<Prepared>)> = parts
            .into_par_iter()
            .map(|(w, d, new)| {
                let day = d.to_string();
                let err = |e| self.codec_err(&w, &day, e);
                let (fid, merged, added, was) = match stored.get(&(w.to_string(), d)) {
                    Some((fid, blob, coarse)) => {
                        let mut old = Fixes::decode(blob).map_err(err)?;
                        let (_, was) = decode_cells(coarse).map_err(err)?;
                        let added = old.merge(new);
                        (Some(*fid), old, added, was)
                    }
                    None => {
                        let n = new.fixes.len();
                        (None, new, n, Vec::new())
                    }
                };
                if added == 0 {
                    return Ok((0, None));
                }
                let mut p = self.prepare(w.to_string(), day, fid, &merged);
                p.was = was;
                Ok((added, Some(p)))
            })
            .collect::<Result<Vec<_>>>()?;
        let inserted: usize = prepared.iter().map(|(a, _)| a).sum();
        let (updates, inserts): (Vec<Prepared>, Vec<Prepared>) = prepared
            .into_iter()
            .filter_map(|(_, p)| p)
            .partition(|p| p.fid.is_some());
        for p in &updates {
            let sql = format!(
                "UPDATE patrol_tracks SET t_min = $1, t_max = $2, min_lon = $3, min_lat = $4, \
                 max_lon = $5, max_lat = $6, points = $7, flagged = $8, cells_coarse = $9, \
                 cells = $10, fixes = $11, geom = {} WHERE fid = $13",
                self.geom_param(12)
            );
            sqlx::query(AssertSqlSafe(sql))
                .bind(p.t_min)
                .bind(p.t_max)
                .bind(p.bbox[0])
                .bind(p.bbox[1])
                .bind(p.bbox[2])
                .bind(p.bbox[3])
                .bind(p.points)
                .bind(p.flagged)
                .bind(p.coarse.clone())
                .bind(p.cells.clone())
                .bind(p.fixes.clone())
                .bind(p.geom.clone())
                .bind(p.fid.unwrap_or_default())
                .execute(&mut *conn)
                .await
                .map_err(|e| self.db(e))?;
        }
        // The GeoPackage's R*Tree follows the rows (PostGIS indexes itself).
        let before_max: i64 = if self.backend == Backend::Gpkg && !inserts.is_empty() {
            sqlx::query("SELECT coalesce(max(fid), 0) FROM patrol_tracks")
                .fetch_one(&mut *conn)
                .await
                .map_err(|e| self.db(e))?
                .try_get(0)
                .map_err(|e| self.db(e))?
        } else {
            0
        };
        if self.backend == Backend::Gpkg && !updates.is_empty() {
            let fids: Vec<i64> = updates.iter().filter_map(|p| p.fid).collect();
            let list = serde_json::to_string(&fids).expect("numbers serialise");
            for sql in [
                "DELETE FROM patrol_tracks_box WHERE id IN (SELECT value FROM json_each($1))",
                "INSERT INTO patrol_tracks_box SELECT fid, min_lon, max_lon, min_lat, max_lat, \
                 t_min, t_max FROM patrol_tracks WHERE fid IN (SELECT value FROM json_each($1))",
            ] {
                sqlx::query(sql)
                    .bind(list.clone())
                    .execute(&mut *conn)
                    .await
                    .map_err(|e| self.db(e))?;
            }
        }
        const PER_STATEMENT: usize = 50;
        for chunk in inserts.chunks(PER_STATEMENT) {
            let values: Vec<String> = (0..chunk.len())
                .map(|r| {
                    let b = r * N_COLUMNS;
                    let mut v: Vec<String> =
                        (1..N_COLUMNS).map(|c| format!("${}", b + c)).collect();
                    v.push(self.geom_param(b + N_COLUMNS));
                    format!("({})", v.join(", "))
                })
                .collect();
            let sql = format!(
                "INSERT INTO patrol_tracks ({COLUMNS}) VALUES {}",
                values.join(", ")
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for p in chunk {
                q = q
                    .bind(p.worker.clone())
                    .bind(p.day.clone())
                    .bind(p.t_min)
                    .bind(p.t_max)
                    .bind(p.bbox[0])
                    .bind(p.bbox[1])
                    .bind(p.bbox[2])
                    .bind(p.bbox[3])
                    .bind(p.points)
                    .bind(p.flagged)
                    .bind(p.coarse.clone())
                    .bind(p.cells.clone())
                    .bind(p.fixes.clone())
                    .bind(p.geom.clone());
            }
            q.execute(&mut *conn).await.map_err(|e| self.db(e))?;
        }
        if self.backend == Backend::Gpkg && !inserts.is_empty() {
            // AUTOINCREMENT: the new rows are the ones above the largest fid before.
            sqlx::query(
                "INSERT INTO patrol_tracks_box SELECT fid, min_lon, max_lon, min_lat, max_lat, \
                 t_min, t_max FROM patrol_tracks WHERE fid > $1",
            )
            .bind(before_max)
            .execute(&mut *conn)
            .await
            .map_err(|e| self.db(e))?;
        }
        self.write_days(conn, updates.iter().chain(&inserts))
            .await?;
        if inserted > 0 {
            // what a heat cache checks (an older store has no row yet)
            sqlx::query(
                "INSERT INTO store_state (key, value) VALUES ('patrol_revision', 1) \
                 ON CONFLICT (key) DO UPDATE SET value = store_state.value + 1",
            )
            .execute(&mut *conn)
            .await
            .map_err(|e| self.db(e))?;
        }
        Ok(Inserted {
            inserted,
            duplicates: total - inserted,
        })
    }

    /// A number that changes whenever patrol points are stored (0 before the first): what the
    /// map service's heat tiles are cached against.
    pub async fn patrol_revision(&self) -> Result<i64> {
        let row = sqlx::query("SELECT value FROM store_state WHERE key = 'patrol_revision'")
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.db(e))?;
        match row {
            Some(r) => r.try_get(0).map_err(|e| self.db(e)),
            None => Ok(0),
        }
    }

    /// Brings the day heat of the rows written up to date (see [`DayHeat`]).
    async fn write_days(
        &self,
        conn: &mut AnyConnection,
        rows: impl Iterator<Item = &Prepared>,
    ) -> Result<()> {
        let mut by_day: BTreeMap<&str, Vec<&Prepared>> = BTreeMap::new();
        for p in rows {
            by_day.entry(p.day.as_str()).or_default().push(p);
        }
        if by_day.is_empty() {
            return Ok(());
        }
        let days: Vec<&str> = by_day.keys().copied().collect();
        let sql = match self.backend {
            Backend::Gpkg => {
                "SELECT day, heat FROM patrol_days WHERE day IN (SELECT value FROM json_each($1))"
            }
            Backend::Postgis => {
                "SELECT day, heat FROM patrol_days WHERE day IN \
                 (SELECT jsonb_array_elements_text($1::jsonb))"
            }
        };
        let mut heat: BTreeMap<String, DayHeat> = BTreeMap::new();
        for r in sqlx::query(sql)
            .bind(serde_json::to_string(&days).expect("strings serialise"))
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| self.db(e))?
        {
            let day: String = r.try_get("day").map_err(|e| self.db(e))?;
            let blob: Vec<u8> = r.try_get("heat").map_err(|e| self.db(e))?;
            let h = DayHeat::decode(&blob).map_err(|e| StoreError::Invalid {
                what: format!("{}: patrol_days row of day {day}", self.target),
                why: e.to_string(),
            })?;
            heat.insert(day, h);
        }
        for (day, rows) in by_day {
            let h = heat.entry(day.to_string()).or_default();
            for p in rows {
                h.replace(&p.worker, &p.was, &p.now);
            }
            sqlx::query(
                "INSERT INTO patrol_days (day, workers, points, heat) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (day) DO UPDATE SET workers = excluded.workers, \
                 points = excluded.points, heat = excluded.heat",
            )
            .bind(day.to_string())
            .bind(h.workers.len() as i64)
            .bind(h.points() as i64)
            .bind(h.encode())
            .execute(&mut *conn)
            .await
            .map_err(|e| self.db(e))?;
        }
        Ok(())
    }

    /// The row of a worker-day's points.
    fn prepare(&self, worker: String, day: String, fid: Option<i64>, f: &Fixes) -> Prepared {
        let (t_min, t_max, bbox) = f.extent().unwrap_or((0, 0, [0.0; 4]));
        let cells = f.cells(CELL_RES, i64::MIN, i64::MAX);
        let coarse = coarsen_cells(&cells, COARSE_RES);
        let flagged = f.fixes.iter().filter(|x| x.flag.is_some()).count();
        let fixes = f.encode();
        let geom = self.encode_geom(&Geometry::MultiLineString(f.geometry()));
        Prepared {
            was: Vec::new(),
            fid,
            worker,
            day,
            t_min,
            t_max,
            bbox,
            points: f.fixes.len() as i64,
            flagged: flagged as i64,
            coarse: encode_cells(COARSE_RES, &coarse),
            now: coarse,
            cells: encode_cells(CELL_RES, &cells),
            fixes,
            geom,
        }
    }

    /// `WHERE` of the rows meeting a window and a box: `$1`..`$8` are first day, last day,
    /// from ms, to ms, min lon, max lon, min lat, max lat. With a box, the (lon, lat, time)
    /// index finds the candidates first; the columns decide.
    fn meets(&self, bbox: bool) -> String {
        let exact = "day >= $1 AND day <= $2 AND t_max >= $3 AND t_min < $4 \
             AND max_lon >= $5 AND min_lon <= $6 AND max_lat >= $7 AND min_lat <= $8";
        match (bbox, self.backend) {
            (false, _) => exact.to_string(),
            (true, Backend::Gpkg) => format!(
                "fid IN (SELECT id FROM patrol_tracks_box WHERE max_lon >= $5 AND min_lon <= $6 \
                 AND max_lat >= $7 AND min_lat <= $8 AND t_max >= $3 AND t_min < $4) AND {exact}"
            ),
            (true, Backend::Postgis) => format!(
                "box(point(min_lon, min_lat), point(max_lon, max_lat)) && \
                 box(point($5, $7), point($6, $8)) AND {exact}"
            ),
        }
    }

    fn bind_meets<'q>(
        q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
        days: (NaiveDate, NaiveDate),
        from_ms: i64,
        to_ms: i64,
        bbox: Option<Bbox>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
        let b = bbox.unwrap_or([-1000.0, -1000.0, 1000.0, 1000.0]);
        q.bind(days.0.to_string())
            .bind(days.1.to_string())
            .bind(from_ms)
            .bind(to_ms)
            .bind(b[0])
            .bind(b[2])
            .bind(b[1])
            .bind(b[3])
    }

    /// The tracks with points in `[from_ms, to_ms)` (UTC milliseconds) whose bounding box meets
    /// `bbox` (all when `None`), each clipped to the window, by worker then day.
    pub async fn patrol_tracks(
        &self,
        from_ms: i64,
        to_ms: i64,
        bbox: Option<Bbox>,
    ) -> Result<Vec<Track>> {
        let Some(days) = row_days(from_ms, to_ms) else {
            return Ok(Vec::new());
        };
        let sql = format!(
            "SELECT worker, day, fixes FROM patrol_tracks WHERE {}",
            self.meets(bbox.is_some())
        );
        let rows = Self::bind_meets(sqlx::query(AssertSqlSafe(sql)), days, from_ms, to_ms, bbox)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.db(e))?;
        let mut raw: Vec<(String, String, Vec<u8>)> = Vec::with_capacity(rows.len());
        for r in rows {
            raw.push((
                r.try_get("worker").map_err(|e| self.db(e))?,
                r.try_get("day").map_err(|e| self.db(e))?,
                r.try_get("fixes").map_err(|e| self.db(e))?,
            ));
        }
        raw.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        let mut ids: HashMap<&str, Arc<str>> = HashMap::new();
        let named: Vec<(Arc<str>, &str, &[u8])> = raw
            .iter()
            .map(|(w, d, b)| {
                let id = ids
                    .entry(w.as_str())
                    .or_insert_with(|| Arc::from(w.as_str()))
                    .clone();
                (id, d.as_str(), b.as_slice())
            })
            .collect();
        named
            .into_par_iter()
            .map(|(worker, day, blob)| {
                let points = Fixes::decode(blob).map_err(|e| self.codec_err(&worker, day, e))?;
                let day = NaiveDate::parse_from_str(day, "%Y-%m-%d").map_err(|_| {
                    self.codec_err(&worker, day, CodecError("`day` is not a date".into()))
                })?;
                let mut t = Track {
                    worker,
                    day,
                    points,
                };
                t.clip(from_ms, to_ms);
                Ok(t)
            })
            .collect()
    }

    /// Patrol points with `from_ms <= epoch_ms < to_ms`, by worker then time, as text.
    pub async fn patrol_points(&self, from_ms: i64, to_ms: i64) -> Result<Vec<PatrolRow>> {
        let tracks = self.patrol_tracks(from_ms, to_ms, None).await?;
        Ok(tracks.iter().flat_map(|t| t.rows()).collect())
    }

    /// Unflagged points of `[from_ms, to_ms)` counted per worker-day and H3 cell at `res`
    /// (at most 10), for worker-days whose bounding box meets `bbox`. A point's cell at `res` is
    /// the ancestor of its resolution-10 cell (see [`crate::patrol::heat()`]). At resolution 7 and
    /// coarser, the row days wholly inside the window answer from their day heat (one row a day,
    /// cells kept when their centre is within a cell's radius of `bbox`); otherwise rows wholly
    /// inside the window answer from their stored counts and only rows the window cuts are
    /// decoded.
    pub async fn patrol_cells(
        &self,
        from_ms: i64,
        to_ms: i64,
        bbox: Option<Bbox>,
        res: Resolution,
    ) -> Result<Vec<TrackCells>> {
        if res > CELL_RES {
            return Err(StoreError::Invalid {
                what: format!("heat resolution {res}"),
                why: format!("stored cell counts go down to resolution {CELL_RES}"),
            });
        }
        let Some((d0, d1)) = row_days(from_ms, to_ms) else {
            return Ok(Vec::new());
        };
        if res > COARSE_RES {
            return self.row_cells(from_ms, to_ms, bbox, res).await;
        }
        let whole = |d: NaiveDate| {
            let (a, b) = row_day_ms(d);
            a >= from_ms && b <= to_ms
        };
        let mut out = Vec::new();
        let first_whole = if whole(d0) { Some(d0) } else { d0.succ_opt() };
        let last_whole = if whole(d1) { Some(d1) } else { d1.pred_opt() };
        if let (Some(a), Some(b)) = (first_whole, last_whole) {
            if a <= b {
                out.extend(self.day_cells(a, b, bbox, res).await?);
            }
        }
        // The first and last days when the window cuts them: from their rows.
        let mut cut = Vec::new();
        if !whole(d0) {
            cut.push(d0);
        }
        if d1 != d0 && !whole(d1) {
            cut.push(d1);
        }
        for d in cut {
            let (a, b) = row_day_ms(d);
            out.extend(
                self.row_cells(from_ms.max(a), to_ms.min(b), bbox, res)
                    .await?,
            );
        }
        Ok(out)
    }

    /// The day heat of row days `first..=last`, per worker and day, at `res` (7 or coarser).
    async fn day_cells(
        &self,
        first: NaiveDate,
        last: NaiveDate,
        bbox: Option<Bbox>,
        res: Resolution,
    ) -> Result<Vec<TrackCells>> {
        let rows = sqlx::query("SELECT day, heat FROM patrol_days WHERE day >= $1 AND day <= $2")
            .bind(first.to_string())
            .bind(last.to_string())
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.db(e))?;
        let mut blobs: Vec<(String, Vec<u8>)> = Vec::with_capacity(rows.len());
        for r in rows {
            blobs.push((
                r.try_get("day").map_err(|e| self.db(e))?,
                r.try_get("heat").map_err(|e| self.db(e))?,
            ));
        }
        // A coarse cell is kept when its centre is within its radius of the box.
        let r_km = 1.6 * COARSE_RES.edge_length_km();
        let keep = |c: CellIndex, memo: &mut HashMap<CellIndex, bool>| -> bool {
            let Some(b) = bbox else { return true };
            *memo.entry(c).or_insert_with(|| {
                let ll = h3o::LatLng::from(c);
                let dy = r_km / 111.2;
                let dx = r_km / (111.2 * ll.lat().to_radians().cos().max(0.01));
                ll.lng() >= b[0] - dx
                    && ll.lng() <= b[2] + dx
                    && ll.lat() >= b[1] - dy
                    && ll.lat() <= b[3] + dy
            })
        };
        // The days are decoded in parallel, each into (worker, cells), then joined in day order.
        type DayCells = Vec<(String, Vec<(CellIndex, u32)>)>;
        let days: Vec<DayCells> = {
            use rayon::prelude::*;
            blobs
                .par_iter()
                .map(|(day, blob)| -> Result<DayCells> {
                    let workers = DayHeat::read(blob).map_err(|e| StoreError::Invalid {
                        what: format!("{}: patrol_days row of day {day}", self.target),
                        why: e.to_string(),
                    })?;
                    let mut memo: HashMap<CellIndex, bool> = HashMap::new();
                    Ok(workers
                        .into_iter()
                        .filter_map(|(w, cells)| {
                            let cells: Vec<(CellIndex, u32)> = cells
                                .into_iter()
                                .filter(|(c, _)| keep(*c, &mut memo))
                                .collect();
                            if cells.is_empty() {
                                return None;
                            }
                            let cells = if res == COARSE_RES {
                                cells
                            } else {
                                coarsen_cells(&cells, res)
                            };
                            Some((w, cells))
                        })
                        .collect())
                })
                .collect::<Result<_>>()?
        };
        let mut ids: HashMap<String, Arc<str>> = HashMap::new();
        let mut out = Vec::new();
        for (w, cells) in days.into_iter().flatten() {
            let worker = ids
                .entry(w)
                .or_insert_with_key(|k| Arc::from(k.as_str()))
                .clone();
            out.push(TrackCells { worker, cells });
        }
        Ok(out)
    }

    /// Per worker-day counts from the rows (see [`Store::patrol_cells`]).
    async fn row_cells(
        &self,
        from_ms: i64,
        to_ms: i64,
        bbox: Option<Bbox>,
        res: Resolution,
    ) -> Result<Vec<TrackCells>> {
        let Some(days) = row_days(from_ms, to_ms) else {
            return Ok(Vec::new());
        };
        let col = if res <= COARSE_RES {
            "cells_coarse"
        } else {
            "cells"
        };
        let sql = format!(
            "SELECT worker, day, CASE WHEN t_min >= $3 AND t_max < $4 THEN NULL ELSE fixes END \
             AS part, {col} AS counts FROM patrol_tracks WHERE {}",
            self.meets(bbox.is_some())
        );
        let rows = Self::bind_meets(sqlx::query(AssertSqlSafe(sql)), days, from_ms, to_ms, bbox)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.db(e))?;
        // (worker, day, the points when the window cuts the row, the stored counts)
        type Raw = (String, String, Option<Vec<u8>>, Vec<u8>);
        let mut raw: Vec<Raw> = Vec::with_capacity(rows.len());
        for r in rows {
            raw.push((
                r.try_get("worker").map_err(|e| self.db(e))?,
                r.try_get("day").map_err(|e| self.db(e))?,
                r.try_get("part").map_err(|e| self.db(e))?,
                r.try_get("counts").map_err(|e| self.db(e))?,
            ));
        }
        let mut ids: HashMap<&str, Arc<str>> = HashMap::new();
        let named: Vec<(Arc<str>, &Raw)> = raw
            .iter()
            .map(|r| {
                let id = ids
                    .entry(r.0.as_str())
                    .or_insert_with(|| Arc::from(r.0.as_str()))
                    .clone();
                (id, r)
            })
            .collect();
        named
            .into_par_iter()
            .map(|(worker, (_, day, part, counts))| {
                let err = |e| self.codec_err(&worker, day, e);
                let cells = match part {
                    Some(blob) => {
                        let f = Fixes::decode(blob).map_err(err)?;
                        coarsen_cells(&f.cells(CELL_RES, from_ms, to_ms), res)
                    }
                    None => {
                        let (stored_res, c) = decode_cells(counts).map_err(err)?;
                        if stored_res == res {
                            c
                        } else {
                            coarsen_cells(&c, res)
                        }
                    }
                };
                Ok(TrackCells { worker, cells })
            })
            .collect()
    }

    /// Rows of `patrol_tracks` (worker-days).
    pub async fn patrol_track_count(&self) -> Result<i64> {
        sqlx::query("SELECT count(*) FROM patrol_tracks")
            .fetch_one(&self.pool)
            .await
            .map_err(|e| self.db(e))?
            .try_get(0)
            .map_err(|e| self.db(e))
    }

    /// Bytes the patrol tracks take: the whole file for a GeoPackage, the table with its indexes
    /// and TOAST for PostGIS.
    pub async fn patrol_storage_bytes(&self) -> Result<i64> {
        let sql = match self.backend {
            Backend::Gpkg => {
                "SELECT (SELECT page_count FROM pragma_page_count()) * \
                 (SELECT page_size FROM pragma_page_size())"
            }
            Backend::Postgis => "SELECT pg_total_relation_size('patrol_tracks')",
        };
        sqlx::query(sql)
            .fetch_one(&self.pool)
            .await
            .map_err(|e| self.db(e))?
            .try_get(0)
            .map_err(|e| self.db(e))
    }

    /// Migration 2: moves the rows of the old one-row-per-point `patrol_points` table into
    /// `patrol_tracks` (in chunks, merged as any insert is), then drops it and its GeoPackage
    /// registration. Runs inside the migration's transaction: on failure the store stays at
    /// migration 1 with its points where they were.
    pub(crate) async fn move_patrol_points(&self, conn: &mut AnyConnection) -> Result<()> {
        const CHUNK: i64 = 200_000;
        let mut after = i64::MIN;
        loop {
            let rows = sqlx::query(
                "SELECT fid, worker, time, epoch_ms, lon, lat, crs, accuracy_m, flag \
                 FROM patrol_points WHERE fid > $1 ORDER BY fid LIMIT $2",
            )
            .bind(after)
            .bind(CHUNK)
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| self.db(e))?;
            if rows.is_empty() {
                break;
            }
            let mut batch = PatrolBatch::default();
            for r in &rows {
                let fid: i64 = r.try_get("fid").map_err(|e| self.db(e))?;
                after = fid;
                let row = PatrolRow {
                    worker: r.try_get("worker").map_err(|e| self.db(e))?,
                    time: r.try_get("time").map_err(|e| self.db(e))?,
                    epoch_ms: r.try_get("epoch_ms").map_err(|e| self.db(e))?,
                    lon: r.try_get("lon").map_err(|e| self.db(e))?,
                    lat: r.try_get("lat").map_err(|e| self.db(e))?,
                    crs: r.try_get("crs").map_err(|e| self.db(e))?,
                    accuracy_m: r.try_get("accuracy_m").map_err(|e| self.db(e))?,
                    flag: r.try_get("flag").map_err(|e| self.db(e))?,
                };
                let bad = |why: String| StoreError::Invalid {
                    what: format!("{}: patrol_points row fid {fid}", self.target),
                    why: format!("{why}; it cannot move to patrol_tracks (migration 2)"),
                };
                // The time as stored; if its text was edited, the instant in UTC.
                let mut p = row.to_point();
                if p.time.timestamp_millis() != row.epoch_ms {
                    p.time = DateTime::from_timestamp_millis(row.epoch_ms)
                        .ok_or_else(|| bad("field `epoch_ms` is not a time".into()))?
                        .fixed_offset();
                }
                batch
                    .add(&p, row.flag.as_deref())
                    .map_err(|e| bad(format!("field `crs` or position: {e}")))?;
            }
            self.write_batch(conn, batch).await?;
        }
        let mut drop = vec!["DROP TABLE patrol_points"];
        if self.backend == Backend::Gpkg {
            drop.insert(
                0,
                "DELETE FROM gpkg_geometry_columns WHERE table_name = 'patrol_points'",
            );
            drop.insert(
                1,
                "DELETE FROM gpkg_contents WHERE table_name = 'patrol_points'",
            );
        }
        for s in drop {
            sqlx::query(s)
                .execute(&mut *conn)
                .await
                .map_err(|e| self.db(e))?;
        }
        Ok(())
    }
}
