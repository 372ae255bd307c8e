//! Where the server reads the map from (数据源): a [`Source`] answers the current revision cheaply
//! and loads a full [`Snapshot`] when the revision changes. The store implements it; tests and
//! one-off runs serve a fixed snapshot with [`StaticSource`].

use crate::model::VillageCode;
use crate::snapshot::{GridView, MicroView, Snapshot};
use crate::store::patrol::codec::{row_days, Fixes, CELL_RES};
use crate::store::patrol::{Bbox, Inserted, PatrolBatch, Track, TrackCells};
use futures_util::future::BoxFuture;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// The source could not answer (the database is down, a file is unreadable).
#[derive(Debug, thiserror::Error)]
#[error("data source: {0}")]
pub struct SourceError(pub Box<dyn std::error::Error + Send + Sync>);

impl SourceError {
    /// Wraps any error.
    pub fn new(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> SourceError {
        SourceError(e.into())
    }
}

/// The grids and micro-grids of one plan version of one village (for the `plan=` filter).
#[derive(Clone, Debug, Default)]
pub struct PlanGrids {
    /// Grids, in code order; `GridView::village` indexes the current snapshot's villages.
    pub grids: Vec<GridView>,
    /// Micro-grids, in code order; `MicroView::grid` indexes [`PlanGrids::grids`].
    pub micro_grids: Vec<MicroView>,
}

/// What the map service reads. Object-safe: the server holds an `Arc<dyn Source>`.
pub trait Source: Send + Sync + 'static {
    /// The current revision: changes whenever anything the map shows changes. Polled every
    /// ~500 ms, so it must be cheap (one small query).
    fn revision(&self) -> BoxFuture<'_, Result<i64, SourceError>>;
    /// The full picture at the current revision.
    fn snapshot(&self) -> BoxFuture<'_, Result<Snapshot, SourceError>>;
    /// The grids of plan `version` of `village` (active or not), or `None` when the village has no
    /// such version. `village_index` is the village's index in the current snapshot, to be put in
    /// `GridView::village`.
    fn plan_grids<'a>(
        &'a self,
        village: &'a VillageCode,
        village_index: usize,
        version: i64,
    ) -> BoxFuture<'a, Result<Option<PlanGrids>, SourceError>>;
    /// Stores patrol points (巡查轨迹点) all or nothing; a point already stored (same worker,
    /// instant and position to 1e-7°) is counted as a duplicate, not repeated. Patrol points do
    /// not change the revision: the map of grids stays as it is.
    fn insert_patrol(&self, batch: PatrolBatch) -> BoxFuture<'_, Result<Inserted, SourceError>>;
    /// The worker-days with points in `[from_ms, to_ms)` (UTC milliseconds) whose bounding box
    /// meets `bbox` (all if `None`), clipped to the window (see [`crate::store::Store::patrol_tracks`]).
    fn patrol_tracks(
        &self,
        from_ms: i64,
        to_ms: i64,
        bbox: Option<Bbox>,
    ) -> BoxFuture<'_, Result<Vec<Track>, SourceError>>;
    /// Unflagged points of `[from_ms, to_ms)` per worker-day and H3 cell at `res` (at most 10),
    /// for worker-days whose bounding box meets `bbox` (see [`crate::store::Store::patrol_cells`]).
    fn patrol_cells(
        &self,
        from_ms: i64,
        to_ms: i64,
        bbox: Option<Bbox>,
        res: h3o::Resolution,
    ) -> BoxFuture<'_, Result<Vec<TrackCells>, SourceError>>;
}

/// A worker-day's points in memory, as the store keeps them.
type PatrolKey = (String, chrono::NaiveDate);

fn meets(f: &Fixes, from_ms: i64, to_ms: i64, bbox: Option<Bbox>) -> bool {
    let Some((t0, t1, b)) = f.extent() else {
        return false;
    };
    t1 >= from_ms
        && t0 < to_ms
        && bbox.is_none_or(|q| b[2] >= q[0] && b[0] <= q[2] && b[3] >= q[1] && b[1] <= q[3])
}

/// A fixed snapshot (tests, one-off serving of a partition run). Its revision never changes
/// unless replaced with [`StaticSource::replace`].
/// Patrol points are kept in memory per worker-day, merged and read as the store does.
pub struct StaticSource {
    snapshot: std::sync::RwLock<Snapshot>,
    patrol: Mutex<BTreeMap<PatrolKey, Fixes>>,
}

impl StaticSource {
    /// Serves `snapshot`.
    pub fn new(snapshot: Snapshot) -> StaticSource {
        StaticSource {
            snapshot: std::sync::RwLock::new(snapshot),
            patrol: Mutex::new(BTreeMap::new()),
        }
    }
    /// Replaces the snapshot (as activating a plan would); the server picks it up at its next
    /// poll if the revision differs.
    pub fn replace(&self, snapshot: Snapshot) {
        match self.snapshot.write() {
            Ok(mut s) => *s = snapshot,
            Err(poisoned) => *poisoned.into_inner() = snapshot,
        }
    }
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Snapshot> {
        self.snapshot.read().unwrap_or_else(|p| p.into_inner())
    }
}

impl Source for StaticSource {
    fn revision(&self) -> BoxFuture<'_, Result<i64, SourceError>> {
        let r = self.read().revision;
        Box::pin(async move { Ok(r) })
    }
    fn snapshot(&self) -> BoxFuture<'_, Result<Snapshot, SourceError>> {
        let s = self.read().clone();
        Box::pin(async move { Ok(s) })
    }
    fn plan_grids<'a>(
        &'a self,
        village: &'a VillageCode,
        village_index: usize,
        version: i64,
    ) -> BoxFuture<'a, Result<Option<PlanGrids>, SourceError>> {
        let s = self.read();
        let found = s
            .villages
            .iter()
            .position(|v| &v.code == village && v.plan_version == Some(version))
            .map(|vi| {
                let mut pg = PlanGrids::default();
                let mut new_index = std::collections::BTreeMap::new();
                for (gi, g) in s.grids.iter().enumerate().filter(|(_, g)| g.village == vi) {
                    new_index.insert(gi, pg.grids.len());
                    pg.grids.push(GridView {
                        village: village_index,
                        ..g.clone()
                    });
                }
                for m in &s.micro_grids {
                    if let Some(&g) = new_index.get(&m.grid) {
                        pg.micro_grids.push(MicroView {
                            grid: g,
                            ..m.clone()
                        });
                    }
                }
                pg
            });
        Box::pin(async move { Ok(found) })
    }
    fn insert_patrol(&self, batch: PatrolBatch) -> BoxFuture<'_, Result<Inserted, SourceError>> {
        let total = batch.len();
        let (parts, _) = batch.into_parts();
        let mut stored = self.patrol.lock().unwrap_or_else(|p| p.into_inner());
        let mut inserted = 0;
        for (w, d, new) in parts {
            match stored.entry((w.to_string(), d)) {
                std::collections::btree_map::Entry::Occupied(mut o) => {
                    inserted += o.get_mut().merge(new)
                }
                std::collections::btree_map::Entry::Vacant(v) => {
                    inserted += new.fixes.len();
                    v.insert(new);
                }
            }
        }
        let out = Inserted {
            inserted,
            duplicates: total - inserted,
        };
        Box::pin(async move { Ok(out) })
    }
    fn patrol_tracks(
        &self,
        from_ms: i64,
        to_ms: i64,
        bbox: Option<Bbox>,
    ) -> BoxFuture<'_, Result<Vec<Track>, SourceError>> {
        let stored = self.patrol.lock().unwrap_or_else(|p| p.into_inner());
        let tracks: Vec<Track> = match row_days(from_ms, to_ms) {
            None => Vec::new(),
            Some((d0, d1)) => stored
                .iter()
                .filter(|((_, d), f)| *d >= d0 && *d <= d1 && meets(f, from_ms, to_ms, bbox))
                .map(|((w, d), f)| {
                    let mut t = Track {
                        worker: std::sync::Arc::from(w.as_str()),
                        day: *d,
                        points: f.clone(),
                    };
                    t.clip(from_ms, to_ms);
                    t
                })
                .collect(),
        };
        Box::pin(async move { Ok(tracks) })
    }
    fn patrol_cells(
        &self,
        from_ms: i64,
        to_ms: i64,
        bbox: Option<Bbox>,
        res: h3o::Resolution,
    ) -> BoxFuture<'_, Result<Vec<TrackCells>, SourceError>> {
        let stored = self.patrol.lock().unwrap_or_else(|p| p.into_inner());
        let out: Result<Vec<TrackCells>, SourceError> = if res > CELL_RES {
            Err(SourceError::new(format!(
                "heat resolution {res}: cell counts go down to resolution {CELL_RES}"
            )))
        } else {
            Ok(match row_days(from_ms, to_ms) {
                None => Vec::new(),
                Some((d0, d1)) => stored
                    .iter()
                    .filter(|((_, d), f)| *d >= d0 && *d <= d1 && meets(f, from_ms, to_ms, bbox))
                    .map(|((w, _), f)| TrackCells {
                        worker: std::sync::Arc::from(w.as_str()),
                        cells: crate::store::patrol::codec::coarsen_cells(
                            &f.cells(CELL_RES, from_ms, to_ms),
                            res,
                        ),
                    })
                    .collect(),
            })
        };
        Box::pin(async move { out })
    }
}
