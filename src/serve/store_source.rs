//! The store as the map service's [`Source`]: the revision is one small query, the snapshot the
//! store's own consistent read, and `plan=` views load one stored version.

use super::source::{PlanGrids, Source, SourceError};
use crate::model::{GridCode, MicroGridCode, VillageCode};
use crate::snapshot::{GridView, MicroView, Snapshot};
use crate::store::patrol::{Bbox, Inserted, PatrolBatch, Track, TrackCells};
use crate::store::{Store, StoreError};
use futures_util::future::BoxFuture;
use std::collections::HashMap;

/// Serves what a [`Store`] holds. Keeps the last snapshot, so a reload after a plan change reads
/// only the villages whose active plan changed ([`Store::snapshot_after`]).
pub struct StoreSource {
    store: Store,
    last: tokio::sync::Mutex<Option<Snapshot>>,
}

impl StoreSource {
    /// Serves `store`.
    pub fn new(store: Store) -> StoreSource {
        StoreSource {
            store,
            last: tokio::sync::Mutex::new(None),
        }
    }
}

impl Source for StoreSource {
    fn revision(&self) -> BoxFuture<'_, Result<i64, SourceError>> {
        Box::pin(async move { self.store.revision().await.map_err(SourceError::new) })
    }

    fn snapshot(&self) -> BoxFuture<'_, Result<Snapshot, SourceError>> {
        Box::pin(async move {
            let mut last = self.last.lock().await;
            let snap = self
                .store
                .snapshot_after(last.as_ref())
                .await
                .map_err(SourceError::new)?;
            *last = Some(snap.clone());
            Ok(snap)
        })
    }

    fn plan_grids<'a>(
        &'a self,
        village: &'a VillageCode,
        village_index: usize,
        version: i64,
    ) -> BoxFuture<'a, Result<Option<PlanGrids>, SourceError>> {
        Box::pin(async move {
            let (_, p) = match self.store.load_plan(village.as_str(), version).await {
                Ok(p) => p,
                Err(StoreError::NotFound(_)) => return Ok(None),
                Err(e) => return Err(SourceError::new(e)),
            };
            let bad = |e: crate::model::CodeError| SourceError::new(e);
            let mut index: HashMap<&str, usize> = HashMap::new();
            let mut grids = Vec::with_capacity(p.grids.len());
            for (i, g) in p.grids.iter().enumerate() {
                index.insert(g.code.as_str(), i);
                grids.push(GridView {
                    code: GridCode::parse(&g.code).map_err(bad)?,
                    village: village_index,
                    geometry: g.geometry.clone(),
                    label: g.label,
                    figures: g.figures.clone(),
                    // People are kept per live code; a past version is shown without them.
                    people: Vec::new(),
                });
            }
            let mut micro_grids = Vec::with_capacity(p.micro_grids.len());
            for m in &p.micro_grids {
                let Some(&grid) = index.get(m.grid_code.as_str()) else {
                    continue;
                };
                micro_grids.push(MicroView {
                    code: MicroGridCode::parse(&m.code).map_err(bad)?,
                    grid,
                    geometry: m.geometry.clone(),
                    label: m.label,
                    figures: m.figures.clone(),
                    kind: m.kind,
                    stack: m.stack.clone(),
                });
            }
            Ok(Some(PlanGrids { grids, micro_grids }))
        })
    }

    fn insert_patrol(&self, batch: PatrolBatch) -> BoxFuture<'_, Result<Inserted, SourceError>> {
        Box::pin(async move {
            self.store
                .insert_batch(batch)
                .await
                .map_err(SourceError::new)
        })
    }

    fn patrol_tracks(
        &self,
        from_ms: i64,
        to_ms: i64,
        bbox: Option<Bbox>,
    ) -> BoxFuture<'_, Result<Vec<Track>, SourceError>> {
        Box::pin(async move {
            self.store
                .patrol_tracks(from_ms, to_ms, bbox)
                .await
                .map_err(SourceError::new)
        })
    }

    fn patrol_cells(
        &self,
        from_ms: i64,
        to_ms: i64,
        bbox: Option<Bbox>,
        res: h3o::Resolution,
    ) -> BoxFuture<'_, Result<Vec<TrackCells>, SourceError>> {
        Box::pin(async move {
            self.store
                .patrol_cells(from_ms, to_ms, bbox, res)
                .await
                .map_err(SourceError::new)
        })
    }
}
