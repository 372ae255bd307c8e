//! What the server holds (服务状态): the loaded [`State`] (snapshot, locate and address indexes,
//! tile layers) and the [`Service`] around it, which polls its [`Source`] and swaps in a new state
//! atomically when the revision changes, so requests in flight finish on the state they started
//! with and a newly activated plan shows within one poll.

use super::cache::TileCache;
use super::config::Config;
use super::layers::{build_layers, LAYERS};
use super::locator::Locator;
use super::source::{Source, SourceError};
use crate::address::AddressIndex;
use crate::patrol::{CoverageIndex, CoverageRules};
use crate::snapshot::Snapshot;
use crate::tiles::Layer;
use geo::orient::{Direction, Orient};
use geo::{BoundingRect, Rect};
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// A loaded snapshot with everything built from it.
pub struct State {
    /// The snapshot, every polygon oriented as RFC 7946 wants (exterior counter-clockwise).
    pub snapshot: Snapshot,
    /// "Which grid am I in?"
    pub locator: Locator,
    /// Buildings' addresses.
    pub addresses: AddressIndex,
    /// Tile layers, in [`LAYERS`] order.
    pub layers: Vec<Layer>,
    /// Extent of the villages, if any.
    pub bounds: Option<Rect<f64>>,
    /// Village code → index.
    pub village_by_code: BTreeMap<String, usize>,
    /// Grid code → index.
    pub grid_by_code: BTreeMap<String, usize>,
    /// Micro-grid code → index.
    pub micro_by_code: BTreeMap<String, usize>,
    /// What patrol coverage is computed against, built on first use (most revisions never need
    /// it) and dropped with the state.
    coverage: std::sync::OnceLock<CoverageIndex>,
}

impl State {
    /// Builds the indexes and layers of `snapshot` (CPU-heavy: run it off the async threads).
    pub fn new(mut snapshot: Snapshot) -> State {
        for v in &mut snapshot.villages {
            v.boundary = v.boundary.orient(Direction::Default);
        }
        for g in &mut snapshot.grids {
            g.geometry = g.geometry.orient(Direction::Default);
        }
        for m in &mut snapshot.micro_grids {
            m.geometry = m.geometry.orient(Direction::Default);
        }
        for b in &mut snapshot.buildings {
            if let Some(fp) = &b.building.footprint {
                b.building.footprint = Some(fp.orient(Direction::Default));
            }
        }
        let mut bounds: Option<Rect<f64>> = None;
        for r in snapshot
            .villages
            .iter()
            .filter_map(|v| v.boundary.bounding_rect())
        {
            bounds = Some(match bounds {
                None => r,
                Some(b) => Rect::new(
                    (b.min().x.min(r.min().x), b.min().y.min(r.min().y)),
                    (b.max().x.max(r.max().x), b.max().y.max(r.max().y)),
                ),
            });
        }
        let addresses =
            AddressIndex::new(snapshot.buildings.iter().enumerate().filter_map(|(i, b)| {
                let a = b.building.address.as_deref()?;
                let v = snapshot
                    .villages
                    .get(b.building.village)
                    .map(|v| v.name.as_str())
                    .unwrap_or("");
                Some((i, a, v))
            }));
        // Indexes and shared-border topologies now, in parallel, not on the first tile.
        let layers = build_layers(&snapshot);
        rayon::prelude::ParallelIterator::for_each(
            rayon::prelude::IntoParallelRefIterator::par_iter(&layers),
            Layer::prepare,
        );
        State {
            locator: Locator::new(&snapshot),
            addresses,
            layers,
            bounds,
            village_by_code: snapshot
                .villages
                .iter()
                .enumerate()
                .map(|(i, v)| (v.code.as_str().to_string(), i))
                .collect(),
            grid_by_code: snapshot
                .grids
                .iter()
                .enumerate()
                .map(|(i, g)| (g.code.as_str().to_string(), i))
                .collect(),
            micro_by_code: snapshot
                .micro_grids
                .iter()
                .enumerate()
                .map(|(i, m)| (m.code.as_str().to_string(), i))
                .collect(),
            snapshot,
            coverage: std::sync::OnceLock::new(),
        }
    }

    /// The patrol coverage index of this revision (默认规则), built on the first call (CPU-heavy:
    /// call it off the async threads); later calls return the same index.
    pub fn coverage_index(&self) -> &CoverageIndex {
        self.coverage
            .get_or_init(|| CoverageIndex::new(&self.snapshot, CoverageRules::default()))
    }

    /// The revision this state shows.
    pub fn revision(&self) -> i64 {
        self.snapshot.revision
    }

    /// Index of layer `name` in [`LAYERS`].
    pub fn layer_index(name: &str) -> Option<usize> {
        LAYERS.iter().position(|l| *l == name)
    }
}

/// The running service: the current state, the tile cache, the source and the settings.
pub struct Service {
    current: RwLock<Arc<State>>,
    /// Rendered tiles.
    pub cache: TileCache,
    /// Where the map comes from.
    pub source: Arc<dyn Source>,
    /// Settings.
    pub config: Config,
    refreshing: tokio::sync::Mutex<()>,
}

impl Service {
    /// Loads the source's current snapshot and builds its state.
    pub async fn load(source: Arc<dyn Source>, config: Config) -> Result<Service, SourceError> {
        let snap = source.snapshot().await?;
        let state = build(snap).await?;
        Ok(Service {
            current: RwLock::new(Arc::new(state)),
            cache: TileCache::new(config.tile_cache_bytes),
            source,
            config,
            refreshing: tokio::sync::Mutex::new(()),
        })
    }

    /// The state requests are answered from now.
    pub fn state(&self) -> Arc<State> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Asks the source for its revision and, if it changed, loads and swaps in the new state.
    /// Returns whether the state changed.
    pub async fn refresh(&self) -> Result<bool, SourceError> {
        let _one_at_a_time = self.refreshing.lock().await;
        let rev = self.source.revision().await?;
        if rev == self.state().revision() {
            return Ok(false);
        }
        let snap = self.source.snapshot().await?;
        let state = build(snap).await?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(state);
        Ok(true)
    }

    /// Polls [`Service::refresh`] every `config.poll_interval` until the service is dropped.
    pub async fn poll(service: std::sync::Weak<Service>) {
        let interval = match service.upgrade() {
            Some(s) => s.config.poll_interval,
            None => return,
        };
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(s) = service.upgrade() else { return };
            match s.refresh().await {
                Ok(true) => tracing::info!(revision = s.state().revision(), "new map revision"),
                Ok(false) => {}
                Err(e) => tracing::warn!("polling the map source: {e}"),
            }
        }
    }
}

async fn build(snap: Snapshot) -> Result<State, SourceError> {
    tokio::task::spawn_blocking(move || State::new(snap))
        .await
        .map_err(SourceError::new)
}
