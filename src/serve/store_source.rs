//! The store as the map service's [`Source`]: the revision is one small query, the map and its
//! changes the store's own consistent reads ([`Store::map_snapshot`], [`Store::map_changes`]: a
//! newly activated plan reads that village's plan, nothing else), buildings come from its indexes
//! by area, village or address, and `plan=` views load one stored version. It keeps nothing: the
//! server's state is the only copy of the map.

use super::source::{AddressFound, BuildingFilter, MapChanges, PlanGrids, Source, SourceError};
use crate::model::{GridCode, MicroGridCode, VillageCode};
use crate::snapshot::{BuildingRecord, GridView, MicroView, Snapshot};
use crate::store::patrol::{Bbox, Inserted, PatrolBatch, Track, TrackCells};
use crate::store::{Store, StoreError};
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use geo::Rect;
use std::collections::HashMap;

/// Serves what a [`Store`] holds.
pub struct StoreSource {
    store: Store,
}

impl StoreSource {
    /// Serves `store`.
    pub fn new(store: Store) -> StoreSource {
        StoreSource { store }
    }
}

impl Source for StoreSource {
    fn store(&self) -> Option<&Store> {
        Some(&self.store)
    }

    fn revision(&self) -> BoxFuture<'_, Result<i64, SourceError>> {
        Box::pin(async move { self.store.revision().await.map_err(SourceError::new) })
    }

    fn snapshot(&self) -> BoxFuture<'_, Result<Snapshot, SourceError>> {
        Box::pin(async move { self.store.map_snapshot().await.map_err(SourceError::new) })
    }

    fn changes<'a>(&'a self, seen: &'a Snapshot) -> BoxFuture<'a, Result<MapChanges, SourceError>> {
        Box::pin(async move { self.store.map_changes(seen).await.map_err(SourceError::new) })
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
                    color: g.color,
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
                    color: m.color,
                });
            }
            Ok(Some(PlanGrids { grids, micro_grids }))
        })
    }

    fn buildings_in(
        &self,
        bbox: Rect<f64>,
    ) -> BoxFuture<'_, Result<Vec<BuildingRecord>, SourceError>> {
        Box::pin(async move {
            self.store
                .buildings_in(bbox)
                .await
                .map_err(SourceError::new)
        })
    }

    fn building_stream(
        &self,
        filter: BuildingFilter,
    ) -> BoxStream<'static, Result<BuildingRecord, SourceError>> {
        Box::pin(
            self.store
                .building_stream(filter)
                .map(|r| r.map_err(SourceError::new)),
        )
    }

    fn building_count(&self) -> BoxFuture<'_, Result<u64, SourceError>> {
        Box::pin(async move { self.store.building_count().await.map_err(SourceError::new) })
    }

    fn find_address<'a>(
        &'a self,
        query: &'a str,
    ) -> BoxFuture<'a, Result<AddressFound, SourceError>> {
        Box::pin(async move {
            self.store
                .find_address(query)
                .await
                .map_err(SourceError::new)
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

    fn patrol_revision(&self) -> BoxFuture<'_, Result<i64, SourceError>> {
        Box::pin(async move { self.store.patrol_revision().await.map_err(SourceError::new) })
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
