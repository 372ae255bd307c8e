//! Where the server reads the map from (数据源): a [`Source`] answers the current revision cheaply
//! and loads a full [`Snapshot`] when the revision changes. The store implements it; tests and
//! one-off runs serve a fixed snapshot with [`StaticSource`].

use crate::model::VillageCode;
use crate::snapshot::{GridView, MicroView, Snapshot};
use crate::store::patrol::{Inserted, PatrolRow};
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
    fn insert_patrol(&self, rows: Vec<PatrolRow>) -> BoxFuture<'_, Result<Inserted, SourceError>>;
    /// Patrol points with `from_ms <= epoch_ms < to_ms` (UTC milliseconds), by worker then time.
    fn patrol_points(
        &self,
        from_ms: i64,
        to_ms: i64,
    ) -> BoxFuture<'_, Result<Vec<PatrolRow>, SourceError>>;
}

/// The key a stored patrol point is unique on: worker, UTC ms, lon and lat in 1e-7°.
type PatrolKey = (String, i64, i64, i64);

fn patrol_key(r: &PatrolRow) -> PatrolKey {
    (
        r.worker.clone(),
        r.epoch_ms,
        (r.lon * 1e7).round() as i64,
        (r.lat * 1e7).round() as i64,
    )
}

/// A fixed snapshot (tests, one-off serving of a partition run). Its revision never changes
/// unless replaced with [`StaticSource::replace`].
/// Patrol points are kept in memory, unique on the store's key, in the store's order.
pub struct StaticSource {
    snapshot: std::sync::RwLock<Snapshot>,
    patrol: Mutex<BTreeMap<PatrolKey, PatrolRow>>,
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
    fn insert_patrol(&self, rows: Vec<PatrolRow>) -> BoxFuture<'_, Result<Inserted, SourceError>> {
        let mut stored = self.patrol.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = Inserted::default();
        for r in rows {
            match stored.entry(patrol_key(&r)) {
                std::collections::btree_map::Entry::Occupied(_) => out.duplicates += 1,
                std::collections::btree_map::Entry::Vacant(v) => {
                    v.insert(r);
                    out.inserted += 1;
                }
            }
        }
        Box::pin(async move { Ok(out) })
    }
    fn patrol_points(
        &self,
        from_ms: i64,
        to_ms: i64,
    ) -> BoxFuture<'_, Result<Vec<PatrolRow>, SourceError>> {
        let stored = self.patrol.lock().unwrap_or_else(|p| p.into_inner());
        let rows: Vec<PatrolRow> = stored
            .values()
            .filter(|r| r.epoch_ms >= from_ms && r.epoch_ms < to_ms)
            .cloned()
            .collect();
        Box::pin(async move { Ok(rows) })
    }
}
