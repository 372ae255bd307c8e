//! Where the server reads the map from (数据源). A [`Source`] answers the current revision cheaply,
//! the map without its buildings ([`Source::snapshot`]), what changed since the map was read
//! ([`Source::changes`]: a village's newly activated plan, not the whole town), and the big, cold
//! data when a request needs it: buildings by area (building tiles), by village or all
//! (`/api/buildings`, streamed), and by address. The store implements it from its indexes
//! ([`super::StoreSource`]); tests and one-off runs serve a fixed snapshot with [`StaticSource`],
//! which keeps everything in memory behind the same methods.

use crate::address::AddressIndex;
use crate::model::VillageCode;
use crate::snapshot::{building_box, BuildingRecord, GridView, MicroView, Snapshot};
use crate::spatial::BoxTree;
use crate::store::patrol::codec::{row_days, Fixes, CELL_RES};
use crate::store::patrol::{Bbox, Inserted, PatrolBatch, Track, TrackCells};
use crate::store::{GridRecord, MicroRecord, VillagePlanRecord};
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use geo::Rect;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

pub use crate::store::{AddressFound, BuildingFilter, MapChanges, VillageChange};

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
    /// The store behind this source, for the routes that write plans (the planner's editor);
    /// `None` for a source that is not a store.
    fn store(&self) -> Option<&crate::store::Store> {
        None
    }
    /// The current revision: changes whenever anything the map shows changes. Polled every
    /// ~500 ms, so it must be cheap (one small query).
    fn revision(&self) -> BoxFuture<'_, Result<i64, SourceError>>;
    /// The map at the current revision without its buildings (those are asked for by area,
    /// village or address).
    fn snapshot(&self) -> BoxFuture<'_, Result<Snapshot, SourceError>>;
    /// What changed since `seen` (the map as last read): nothing, the villages whose active plan
    /// changed with every grid's people, or after an import the whole map again.
    fn changes<'a>(&'a self, seen: &'a Snapshot) -> BoxFuture<'a, Result<MapChanges, SourceError>>;
    /// The grids of plan `version` of `village` (active or not), or `None` when the village has no
    /// such version. `village_index` is the village's index in the current snapshot, to be put in
    /// `GridView::village`.
    fn plan_grids<'a>(
        &'a self,
        village: &'a VillageCode,
        village_index: usize,
        version: i64,
    ) -> BoxFuture<'a, Result<Option<PlanGrids>, SourceError>>;
    /// Buildings whose box (point and footprint) meets `bbox`, in a stable order, with where the
    /// active plans put them (building tiles).
    fn buildings_in(
        &self,
        bbox: Rect<f64>,
    ) -> BoxFuture<'_, Result<Vec<BuildingRecord>, SourceError>>;
    /// The buildings of `filter`, streamed as they are read.
    fn building_stream(
        &self,
        filter: BuildingFilter,
    ) -> BoxStream<'static, Result<BuildingRecord, SourceError>>;
    /// How many buildings there are.
    fn building_count(&self) -> BoxFuture<'_, Result<u64, SourceError>>;
    /// Buildings whose address matches a loosely written one ([`crate::address`]).
    fn find_address<'a>(
        &'a self,
        query: &'a str,
    ) -> BoxFuture<'a, Result<AddressFound, SourceError>>;
    /// Stores patrol points (巡查轨迹点) all or nothing; a point already stored (same worker,
    /// instant and position to 1e-7°) is counted as a duplicate, not repeated. Patrol points do
    /// not change the revision: the map of grids stays as it is.
    fn insert_patrol(&self, batch: PatrolBatch) -> BoxFuture<'_, Result<Inserted, SourceError>>;
    /// A number that changes whenever patrol points are stored (by this server or any other
    /// writer): heat tiles are cached against it.
    fn patrol_revision(&self) -> BoxFuture<'_, Result<i64, SourceError>>;
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

/// The snapshot without its buildings.
pub fn without_buildings(s: &Snapshot) -> Snapshot {
    Snapshot {
        villages: s.villages.clone(),
        grids: s.grids.clone(),
        micro_grids: s.micro_grids.clone(),
        buildings: Vec::new(),
        barriers: s.barriers.clone(),
        revision: s.revision,
        data_revision: s.data_revision,
    }
}

/// Village `vi`'s grids and micro-grids of `s` as a plan record (what a store's plan read gives).
fn village_plan(s: &Snapshot, vi: usize) -> VillagePlanRecord {
    let mut rec = VillagePlanRecord {
        village: s.villages[vi].code.to_string(),
        grids: Vec::new(),
        micro_grids: Vec::new(),
        assignment: Vec::new(),
    };
    for g in s.grids.iter().filter(|g| g.village == vi) {
        rec.grids.push(GridRecord {
            code: g.code.to_string(),
            geometry: g.geometry.clone(),
            label: g.label,
            figures: g.figures.clone(),
            color: g.color,
        });
    }
    for m in &s.micro_grids {
        let g = &s.grids[m.grid];
        if g.village == vi {
            rec.micro_grids.push(MicroRecord {
                code: m.code.to_string(),
                grid_code: g.code.to_string(),
                geometry: m.geometry.clone(),
                label: m.label,
                figures: m.figures.clone(),
                kind: m.kind,
                stack: m.stack.clone(),
                color: m.color,
            });
        }
    }
    rec
}

/// What tells one village's plan from another in a snapshot: its version, codes and outlines.
fn same_plan(a: &Snapshot, b: &Snapshot, vi: usize) -> bool {
    if a.villages[vi].plan_version != b.villages[vi].plan_version {
        return false;
    }
    let grids = |s: &Snapshot| -> Vec<(String, geo::MultiPolygon<f64>)> {
        s.grids
            .iter()
            .filter(|g| g.village == vi)
            .map(|g| (g.code.to_string(), g.geometry.clone()))
            .collect()
    };
    let micro = |s: &Snapshot| -> Vec<(String, geo::MultiPolygon<f64>)> {
        s.micro_grids
            .iter()
            .filter(|m| s.grids[m.grid].village == vi)
            .map(|m| (m.code.to_string(), m.geometry.clone()))
            .collect()
    };
    grids(a) == grids(b) && micro(a) == micro(b)
}

/// What a [`StaticSource`] builds on first use to answer building queries.
struct BuildingIndex {
    tree: BoxTree<usize>,
    addresses: AddressIndex,
}

/// A fixed snapshot (tests, one-off serving of a partition run), buildings included, answering
/// every query from memory. Its revision never changes unless replaced with
/// [`StaticSource::replace`]. Patrol points are kept in memory per worker-day, merged and read as
/// the store does.
pub struct StaticSource {
    snapshot: RwLock<Arc<Snapshot>>,
    index: RwLock<Arc<OnceLock<BuildingIndex>>>,
    patrol: Mutex<BTreeMap<PatrolKey, Fixes>>,
    patrol_revision: std::sync::atomic::AtomicI64,
}

impl StaticSource {
    /// Serves `snapshot`.
    pub fn new(snapshot: Snapshot) -> StaticSource {
        StaticSource {
            snapshot: RwLock::new(Arc::new(snapshot)),
            index: RwLock::new(Arc::new(OnceLock::new())),
            patrol: Mutex::new(BTreeMap::new()),
            patrol_revision: std::sync::atomic::AtomicI64::new(0),
        }
    }
    /// Replaces the snapshot (as activating a plan would); the server picks it up at its next
    /// poll if the revision differs.
    pub fn replace(&self, snapshot: Snapshot) {
        let mut s = self.snapshot.write().unwrap_or_else(|p| p.into_inner());
        let mut i = self.index.write().unwrap_or_else(|p| p.into_inner());
        *s = Arc::new(snapshot);
        *i = Arc::new(OnceLock::new());
    }
    fn read(&self) -> Arc<Snapshot> {
        self.snapshot
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
    /// The snapshot with its building index (built on first use).
    fn indexed(&self) -> (Arc<Snapshot>, Arc<OnceLock<BuildingIndex>>) {
        let s = self.snapshot.read().unwrap_or_else(|p| p.into_inner());
        let i = self.index.read().unwrap_or_else(|p| p.into_inner());
        (s.clone(), i.clone())
    }
    fn with_index<T>(&self, f: impl FnOnce(&Snapshot, &BuildingIndex) -> T) -> T {
        let (s, cell) = self.indexed();
        let idx = cell.get_or_init(|| BuildingIndex {
            tree: rstar::RTree::bulk_load(
                s.buildings
                    .iter()
                    .enumerate()
                    .map(|(i, b)| {
                        let r = building_box(b.building.point, b.building.footprint.as_ref());
                        rstar::primitives::GeomWithData::new(
                            rstar::primitives::Rectangle::from_corners(
                                [r.min().x, r.min().y],
                                [r.max().x, r.max().y],
                            ),
                            i,
                        )
                    })
                    .collect(),
            ),
            addresses: AddressIndex::new(s.buildings.iter().enumerate().filter_map(|(i, b)| {
                let a = b.building.address.as_deref()?;
                let v = s
                    .villages
                    .get(b.building.village)
                    .map(|v| v.name.as_str())
                    .unwrap_or("");
                Some((i, a, v))
            })),
        });
        f(&s, idx)
    }
}

/// Whether building record `b` is one `filter` asks for.
fn wanted(b: &BuildingRecord, filter: &BuildingFilter) -> bool {
    use geo::Intersects;
    filter.village.as_ref().is_none_or(|v| *v == b.village_code)
        && filter.bbox.is_none_or(|r| r.intersects(&b.bbox()))
        && filter.after.is_none_or(|a| b.fid > a)
}

impl Source for StaticSource {
    fn revision(&self) -> BoxFuture<'_, Result<i64, SourceError>> {
        let r = self.read().revision;
        Box::pin(async move { Ok(r) })
    }
    fn snapshot(&self) -> BoxFuture<'_, Result<Snapshot, SourceError>> {
        let s = without_buildings(&self.read());
        Box::pin(async move { Ok(s) })
    }
    fn changes<'a>(&'a self, seen: &'a Snapshot) -> BoxFuture<'a, Result<MapChanges, SourceError>> {
        let s = self.read();
        let same_villages = s.villages.len() == seen.villages.len()
            && s.villages
                .iter()
                .zip(&seen.villages)
                .all(|(a, b)| a.code == b.code && a.boundary == b.boundary);
        let out = if s.revision == seen.revision {
            MapChanges::None
        } else if s.data_revision != seen.data_revision || !same_villages {
            MapChanges::Reload(without_buildings(&s))
        } else {
            let mut people = HashMap::new();
            for g in &s.grids {
                people.insert(g.code.to_string(), g.people.clone());
            }
            MapChanges::Plans {
                revision: s.revision,
                people,
                villages: (0..s.villages.len())
                    .filter(|&vi| !same_plan(&s, seen, vi))
                    .map(|vi| VillageChange {
                        index: vi,
                        plan: s.villages[vi]
                            .plan_version
                            .map(|v| (v, village_plan(&s, vi))),
                    })
                    .collect(),
            }
        };
        Box::pin(async move { Ok(out) })
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
    fn buildings_in(
        &self,
        bbox: Rect<f64>,
    ) -> BoxFuture<'_, Result<Vec<BuildingRecord>, SourceError>> {
        let out = self.with_index(|s, idx| {
            let env = rstar::AABB::from_corners(
                [bbox.min().x, bbox.min().y],
                [bbox.max().x, bbox.max().y],
            );
            let mut hits: Vec<usize> = idx
                .tree
                .locate_in_envelope_intersecting(&env)
                .map(|g| g.data)
                .collect();
            hits.sort_unstable();
            hits.into_iter()
                .map(|i| s.building_record(i))
                .filter(|b| {
                    wanted(
                        b,
                        &BuildingFilter {
                            bbox: Some(bbox),
                            ..BuildingFilter::default()
                        },
                    )
                })
                .collect()
        });
        Box::pin(async move { Ok(out) })
    }
    fn building_stream(
        &self,
        filter: BuildingFilter,
    ) -> BoxStream<'static, Result<BuildingRecord, SourceError>> {
        let s = self.read();
        let rows: Vec<Result<BuildingRecord, SourceError>> = (0..s.buildings.len())
            .map(|i| s.building_record(i))
            .filter(|b| wanted(b, &filter))
            .map(Ok)
            .collect();
        Box::pin(futures_util::stream::iter(rows))
    }
    fn building_count(&self) -> BoxFuture<'_, Result<u64, SourceError>> {
        let n = self.read().buildings.len() as u64;
        Box::pin(async move { Ok(n) })
    }
    fn find_address<'a>(
        &'a self,
        query: &'a str,
    ) -> BoxFuture<'a, Result<AddressFound, SourceError>> {
        let out = self.with_index(|s, idx| {
            let m = idx.addresses.lookup(query);
            AddressFound {
                candidates: m
                    .candidates
                    .iter()
                    .map(|c| (s.building_record(c.building), c.score))
                    .collect(),
                sure: m.sure,
            }
        });
        Box::pin(async move { Ok(out) })
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
        if inserted > 0 {
            self.patrol_revision
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        let out = Inserted {
            inserted,
            duplicates: total - inserted,
        };
        Box::pin(async move { Ok(out) })
    }
    fn patrol_revision(&self) -> BoxFuture<'_, Result<i64, SourceError>> {
        let r = self
            .patrol_revision
            .load(std::sync::atomic::Ordering::SeqCst);
        Box::pin(async move { Ok(r) })
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
