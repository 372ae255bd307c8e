//! What the server holds (服务状态): the loaded [`State`] (the map without its buildings, the
//! locate index, tile layers) and the [`Service`] around it, which polls its [`Source`] and swaps in
//! a new state atomically when the revision changes, so requests in flight finish on the state they
//! started with and a newly activated plan shows within one poll.
//!
//! The state holds what is small and hot, once: villages, grids and micro-grids with their figures
//! and people (the outlines, in lon/lat), the boxes that find them, and their tile pieces (each
//! shared border once, see [`crate::tiles::Shapes`]). Buildings stay in the source and are asked
//! for by area, village or address when a request needs them. A change of plans is applied
//! village by village ([`State::apply`]): only the villages whose active plan changed get new tile
//! pieces, everything else is shared with the previous state, and only the tiles over those
//! villages leave the cache.

use super::cache::{Dirty, HeatCache, TileCache};
use super::config::Config;
use super::layers::{self, bit, LAYERS};
use super::locator::{Located, Locator};
use super::source::{MapChanges, Source, SourceError, StaticSource, VillageChange};
use crate::patrol::{CoverageIndex, CoverageRules};
use crate::snapshot::{BuildingView, GridView, MicroView, Person, Snapshot};
use crate::tiles::{FeatureProps, Key, Layer, Part, PropValue, TileId};
use geo::orient::{Direction, Orient};
use geo::{BoundingRect, Rect};
use rayon::prelude::*;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

/// Codes (digits, all of one length, as grid and micro-grid codes are) → their index in the
/// snapshot: sorted (code as a number, index) pairs, 16 bytes a code where a map of strings takes
/// some 80.
#[derive(Clone, Debug, Default)]
pub struct CodeIndex {
    digits: usize,
    codes: Vec<(u64, u32)>,
}

impl CodeIndex {
    /// Indexes `codes` by position (a code that is not all digits, or not as long as the first,
    /// is left out).
    pub fn new<'a>(codes: impl Iterator<Item = &'a str>) -> CodeIndex {
        let mut idx = CodeIndex::default();
        for (i, c) in codes.enumerate() {
            if idx.codes.is_empty() {
                idx.digits = c.len();
            }
            if let Some(k) = idx.key(c) {
                idx.codes.push((k, i as u32));
            }
        }
        idx.codes.sort_unstable();
        idx
    }
    fn key(&self, code: &str) -> Option<u64> {
        (code.len() == self.digits && code.len() <= 19 && code.bytes().all(|b| b.is_ascii_digit()))
            .then(|| code.parse().ok())
            .flatten()
    }
    /// The index of `code`.
    pub fn get(&self, code: &str) -> Option<usize> {
        let k = self.key(code)?;
        self.codes
            .binary_search_by_key(&k, |e| e.0)
            .ok()
            .map(|i| self.codes[i].1 as usize)
    }
    /// Number of codes.
    pub fn len(&self) -> usize {
        self.codes.len()
    }
    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }
}

/// A village's plan as map views: its grids, and its micro-grids (indexing those grids).
type PlanViews = (Vec<GridView>, Vec<MicroView>);

/// One village's tile pieces and where its grids and micro-grids are in the snapshot.
#[derive(Clone)]
struct VillageTiles {
    grids: Vec<usize>,
    micro: Vec<usize>,
    grid_part: Part,
    micro_part: Part,
}

/// A loaded map with everything built from it.
pub struct State {
    /// The map without its buildings, every polygon oriented as RFC 7946 wants (exterior
    /// counter-clockwise).
    pub snapshot: Snapshot,
    /// "Which grid am I in?" (boxes; the outlines are the snapshot's).
    pub locator: Locator,
    /// Tile layers, in [`LAYERS`] order; the buildings layer is empty here (building tiles are
    /// drawn from the buildings the source returns for each).
    pub layers: Vec<Arc<Layer>>,
    /// Extent of the villages, if any.
    pub bounds: Option<Rect<f64>>,
    /// Village code → index.
    pub village_by_code: BTreeMap<String, usize>,
    /// Grid code → index.
    pub grid_by_code: CodeIndex,
    /// Micro-grid code → index.
    pub micro_by_code: CodeIndex,
    /// How many buildings the source holds.
    pub buildings: u64,
    villages: Vec<VillageTiles>,
    village_part: Part,
    source: Arc<dyn Source>,
    /// What patrol coverage is computed against, built on first use (most revisions never need
    /// it) and dropped with the state.
    coverage: std::sync::OnceLock<CoverageIndex>,
}

/// Orients every outline as RFC 7946 wants.
fn orient(snapshot: &mut Snapshot) {
    snapshot
        .villages
        .par_iter_mut()
        .for_each(|v| v.boundary = v.boundary.orient(Direction::Default));
    snapshot
        .grids
        .par_iter_mut()
        .for_each(|g| g.geometry = g.geometry.orient(Direction::Default));
    snapshot
        .micro_grids
        .par_iter_mut()
        .for_each(|m| m.geometry = m.geometry.orient(Direction::Default));
}

fn union(a: Option<Rect<f64>>, r: Rect<f64>) -> Rect<f64> {
    match a {
        None => r,
        Some(b) => Rect::new(
            (b.min().x.min(r.min().x), b.min().y.min(r.min().y)),
            (b.max().x.max(r.max().x), b.max().y.max(r.max().y)),
        ),
    }
}

/// The grids and micro-grids of each village, by index.
fn by_village(s: &Snapshot) -> Vec<(Vec<usize>, Vec<usize>)> {
    let mut out = vec![(Vec::new(), Vec::new()); s.villages.len()];
    for (i, g) in s.grids.iter().enumerate() {
        if let Some(v) = out.get_mut(g.village) {
            v.0.push(i);
        }
    }
    for (i, m) in s.micro_grids.iter().enumerate() {
        if let Some(v) = s.grids.get(m.grid).and_then(|g| out.get_mut(g.village)) {
            v.1.push(i);
        }
    }
    out
}

/// A tile piece whose properties come from the state when a tile draws it.
fn part(shapes: crate::tiles::Shapes) -> Part {
    Part {
        shapes: Arc::new(shapes),
        meta: Arc::new(Vec::new()),
    }
}

/// Properties of the grids, micro-grids or villages layer of a state, by piece and feature.
struct Props<'a> {
    st: &'a State,
    layer: &'static str,
}

impl FeatureProps for Props<'_> {
    fn props(&self, part: usize, i: usize, props: &mut Vec<(Key, PropValue)>) -> u64 {
        let (st, snap) = (self.st, &self.st.snapshot);
        match self.layer {
            "grids" => layers::grid_props(snap, st.villages[part].grids[i], props),
            "micro_grids" => layers::micro_props(snap, st.villages[part].micro[i], props),
            _ => layers::village_props(snap, i, props),
        }
    }
}

impl State {
    /// Builds the state of `snapshot` with a [`StaticSource`] of it for buildings (tests, one-off
    /// uses; CPU-heavy: run it off the async threads).
    pub fn new(snapshot: Snapshot) -> State {
        let n = snapshot.buildings.len() as u64;
        let source: Arc<dyn Source> = Arc::new(StaticSource::new(snapshot.clone()));
        State::build(snapshot, source, n)
    }

    /// Builds the indexes and layers of `snapshot`, whose buildings `source` holds (`buildings`
    /// of them). Buildings in the snapshot itself are dropped. CPU-heavy: run it off the async
    /// threads.
    pub fn build(mut snapshot: Snapshot, source: Arc<dyn Source>, buildings: u64) -> State {
        snapshot.buildings = Vec::new();
        orient(&mut snapshot);
        let groups = by_village(&snapshot);
        let snap = &snapshot;
        let villages: Vec<VillageTiles> = groups
            .into_par_iter()
            .map(|(grids, micro)| VillageTiles {
                grid_part: part(layers::grid_shapes(snap, &grids)),
                micro_part: part(layers::micro_shapes(snap, &micro)),
                grids,
                micro,
            })
            .collect();
        let village_part = part(layers::village_shapes(snap));
        let roads = Arc::new(layers::lines(snap, false));
        let rivers = Arc::new(layers::lines(snap, true));
        roads.prepare();
        rivers.prepare();
        State::assemble(
            snapshot,
            villages,
            village_part,
            roads,
            rivers,
            source,
            buildings,
        )
    }

    /// The state from its parts: the layers of the pieces, the locate index, the code maps.
    fn assemble(
        snapshot: Snapshot,
        villages: Vec<VillageTiles>,
        village_part: Part,
        roads: Arc<Layer>,
        rivers: Arc<Layer>,
        source: Arc<dyn Source>,
        buildings: u64,
    ) -> State {
        let mut bounds: Option<Rect<f64>> = None;
        for r in snapshot
            .villages
            .iter()
            .filter_map(|v| v.boundary.bounding_rect())
        {
            bounds = Some(union(bounds, r));
        }
        let labels = layers::labels(&snapshot);
        labels.prepare();
        let mut labels = Some(labels);
        let mut layers: Vec<Arc<Layer>> = Vec::with_capacity(LAYERS.len());
        for name in LAYERS {
            layers.push(match name {
                "villages" => Arc::new(Layer::from_parts(name, vec![village_part.clone()])),
                "grids" => Arc::new(Layer::from_parts(
                    name,
                    villages.iter().map(|v| v.grid_part.clone()).collect(),
                )),
                "micro_grids" => Arc::new(Layer::from_parts(
                    name,
                    villages.iter().map(|v| v.micro_part.clone()).collect(),
                )),
                "roads" => roads.clone(),
                "rivers" => rivers.clone(),
                "labels" => Arc::new(labels.take().expect("one labels layer")),
                _ => Arc::new(Layer::footprints(name, Vec::new())),
            });
        }
        State {
            locator: Locator::new(&snapshot),
            layers,
            bounds,
            village_by_code: snapshot
                .villages
                .iter()
                .enumerate()
                .map(|(i, v)| (v.code.as_str().to_string(), i))
                .collect(),
            grid_by_code: CodeIndex::new(snapshot.grids.iter().map(|g| g.code.as_str())),
            micro_by_code: CodeIndex::new(snapshot.micro_grids.iter().map(|m| m.code.as_str())),
            buildings,
            villages,
            village_part,
            snapshot,
            source,
            coverage: std::sync::OnceLock::new(),
        }
    }

    /// The state after plans changed (`revision`, every grid's `people`, the villages whose
    /// active plan changed), and where the map changed (what the tile cache must drop). The
    /// other villages' outlines and tile pieces are shared, not rebuilt. CPU-heavy for the
    /// villages that changed: run it off the async threads.
    pub fn apply(
        &self,
        revision: i64,
        mut people: HashMap<String, Vec<Person>>,
        changed: Vec<VillageChange>,
    ) -> Result<(State, Vec<Dirty>), SourceError> {
        let old = &self.snapshot;
        let mut plans: HashMap<usize, Option<PlanViews>> = HashMap::new();
        let mut versions: HashMap<usize, Option<i64>> = HashMap::new();
        for c in changed {
            if c.index >= old.villages.len() {
                continue;
            }
            let views = match c.plan {
                Some((version, rec)) => {
                    versions.insert(c.index, Some(version));
                    let (mut g, mut m) = crate::store::plan_views(rec, c.index, &mut people)
                        .map_err(SourceError::new)?;
                    g.par_iter_mut()
                        .for_each(|g| g.geometry = g.geometry.orient(Direction::Default));
                    m.par_iter_mut()
                        .for_each(|m| m.geometry = m.geometry.orient(Direction::Default));
                    Some((g, m))
                }
                None => {
                    versions.insert(c.index, None);
                    None
                }
            };
            plans.insert(c.index, views);
        }
        // The new map: changed villages' new grids, the others' as they were (people updated).
        let mut snap = Snapshot {
            villages: old.villages.clone(),
            grids: Vec::with_capacity(old.grids.len()),
            micro_grids: Vec::with_capacity(old.micro_grids.len()),
            buildings: Vec::new(),
            barriers: old.barriers.clone(),
            revision,
            data_revision: old.data_revision,
        };
        let mut tiles: Vec<Option<VillageTiles>> = Vec::with_capacity(old.villages.len());
        let mut dirty: Vec<Dirty> = Vec::new();
        let plan_bits =
            bit("villages") | bit("grids") | bit("micro_grids") | bit("labels") | bit("buildings");
        for (vi, vt) in self.villages.iter().enumerate() {
            let g0 = snap.grids.len();
            let m0 = snap.micro_grids.len();
            match plans.remove(&vi) {
                Some(views) => {
                    snap.villages[vi].plan_version = versions.get(&vi).copied().flatten();
                    let mut area = old.villages[vi].boundary.bounding_rect();
                    for &g in &vt.grids {
                        if let Some(r) = old.grids[g].geometry.bounding_rect() {
                            area = Some(union(area, r));
                        }
                    }
                    if let Some((g, m)) = views {
                        for x in &g {
                            if let Some(r) = x.geometry.bounding_rect() {
                                area = Some(union(area, r));
                            }
                        }
                        snap.grids.extend(g);
                        snap.micro_grids.extend(m.into_iter().map(|mut m| {
                            m.grid += g0;
                            m
                        }));
                    }
                    if let Some(area) = area {
                        dirty.push(Dirty {
                            layers: plan_bits,
                            area,
                        });
                    }
                    tiles.push(None);
                }
                None => {
                    let mut new_index = HashMap::with_capacity(vt.grids.len());
                    for &g in &vt.grids {
                        let mut view = old.grids[g].clone();
                        view.people = people.remove(view.code.as_str()).unwrap_or_default();
                        // grid tiles show the leader
                        if layers::leader(&view.people) != layers::leader(&old.grids[g].people) {
                            if let Some(area) = view.geometry.bounding_rect() {
                                dirty.push(Dirty {
                                    layers: bit("grids"),
                                    area,
                                });
                            }
                        }
                        new_index.insert(g, snap.grids.len());
                        snap.grids.push(view);
                    }
                    for &m in &vt.micro {
                        let mut view = old.micro_grids[m].clone();
                        view.grid = new_index[&view.grid];
                        snap.micro_grids.push(view);
                    }
                    tiles.push(Some(VillageTiles {
                        grids: (g0..snap.grids.len()).collect(),
                        micro: (m0..snap.micro_grids.len()).collect(),
                        grid_part: vt.grid_part.clone(),
                        micro_part: vt.micro_part.clone(),
                    }));
                }
            }
        }
        // Tile pieces: new for the villages that changed.
        let groups = by_village(&snap);
        let s = &snap;
        let villages: Vec<VillageTiles> = tiles
            .into_par_iter()
            .zip(groups)
            .map(|(t, (grids, micro))| match t {
                Some(t) => t,
                None => VillageTiles {
                    grid_part: part(layers::grid_shapes(s, &grids)),
                    micro_part: part(layers::micro_shapes(s, &micro)),
                    grids,
                    micro,
                },
            })
            .collect();
        let village_part = self.village_part.clone();
        let roads = self.layers[layers::index("roads").expect("a layer")].clone();
        let rivers = self.layers[layers::index("rivers").expect("a layer")].clone();
        let state = State::assemble(
            snap,
            villages,
            village_part,
            roads,
            rivers,
            self.source.clone(),
            self.buildings,
        );
        Ok((state, dirty))
    }

    /// The uncompressed MVT of `tile` of layer `li` (in [`LAYERS`]), `None` when empty. The
    /// buildings layer is drawn from the buildings the source returns for the tile (see
    /// [`layers::buildings`]), not here.
    pub fn render(&self, li: usize, tile: TileId) -> Option<Vec<u8>> {
        let layer = &self.layers[li];
        match LAYERS[li] {
            name @ ("grids" | "micro_grids" | "villages") => layer.render_with(
                tile,
                Some(&Props {
                    st: self,
                    layer: name,
                }),
            ),
            _ => layer.render(tile),
        }
    }

    /// Locates a WGS84 point (see [`Locator::locate`]).
    pub fn locate(&self, lon: f64, lat: f64, tolerance_m: f64) -> Located {
        self.locator.locate(&self.snapshot, lon, lat, tolerance_m)
    }

    /// The patrol coverage index of this revision (默认规则), built on the first call with the
    /// buildings fetched from the source (CPU-heavy and blocking: call it off the async threads);
    /// later calls return the same index.
    pub fn coverage_index(&self) -> &CoverageIndex {
        self.coverage.get_or_init(|| {
            let mut snap = Snapshot {
                villages: self.snapshot.villages.clone(),
                grids: self.snapshot.grids.clone(),
                micro_grids: Vec::new(),
                buildings: Vec::new(),
                barriers: self.snapshot.barriers.clone(),
                revision: self.snapshot.revision,
                data_revision: self.snapshot.data_revision,
            };
            match self.fetch_buildings() {
                Ok(b) => snap.buildings = b,
                Err(e) => tracing::warn!("patrol coverage without buildings: {e}"),
            }
            CoverageIndex::new(&snap, CoverageRules::default())
        })
    }

    /// Every building with its grid index in this state (for the coverage index), read from the
    /// source (blocking on it).
    fn fetch_buildings(&self) -> Result<Vec<BuildingView>, SourceError> {
        use futures_util::TryStreamExt;
        let stream = self
            .source
            .building_stream(super::source::BuildingFilter::default());
        let fetch = stream.try_collect::<Vec<_>>();
        let records = match tokio::runtime::Handle::try_current() {
            Ok(h) => h.block_on(fetch)?,
            Err(_) => tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(SourceError::new)?
                .block_on(fetch)?,
        };
        Ok(records
            .iter()
            .map(|b| BuildingView {
                grid: b
                    .grid_code
                    .as_deref()
                    .and_then(|g| self.grid_by_code.get(g)),
                micro: b
                    .micro_codes
                    .iter()
                    .filter_map(|m| self.micro_by_code.get(m))
                    .collect(),
                building: b.to_building(
                    self.village_by_code
                        .get(&b.village_code)
                        .copied()
                        .unwrap_or(usize::MAX),
                ),
            })
            .collect())
    }

    /// The revision this state shows.
    pub fn revision(&self) -> i64 {
        self.snapshot.revision
    }

    /// Index of layer `name` in [`LAYERS`].
    pub fn layer_index(name: &str) -> Option<usize> {
        layers::index(name)
    }

    /// Bytes held by the tile layers' geometry (an estimate, for the health check).
    pub fn tile_bytes(&self) -> usize {
        self.layers.iter().map(|l| l.heap_bytes()).sum()
    }
}

/// The running service: the current state, the tile cache, the source and the settings.
pub struct Service {
    current: RwLock<Arc<State>>,
    /// Rendered tiles.
    pub cache: TileCache,
    /// Rendered heat tiles of the current patrol points.
    pub heat_cache: HeatCache,
    /// Where the map comes from.
    pub source: Arc<dyn Source>,
    /// Settings.
    pub config: Config,
    /// Request counts and latencies (`/metrics`).
    pub metrics: super::metrics::Metrics,
    /// The big screens' newest summaries.
    pub screen_cache: super::cache::ScreenCache,
    refreshing: tokio::sync::Mutex<()>,
}

impl Service {
    /// Where accounts and the audit log are kept: the configured store, else the source's.
    pub fn accounts(&self) -> Option<&crate::store::Store> {
        self.config
            .accounts
            .as_ref()
            .or_else(|| self.source.store())
    }

    /// Loads the source's current map and builds its state.
    pub async fn load(source: Arc<dyn Source>, config: Config) -> Result<Service, SourceError> {
        let snap = source.snapshot().await?;
        let state = build(snap, source.clone()).await?;
        tokio::task::spawn_blocking(super::memory::release);
        Ok(Service {
            current: RwLock::new(Arc::new(state)),
            cache: TileCache::new(config.tile_cache_bytes),
            heat_cache: HeatCache::new(config.heat_cache_bytes),
            source,
            config,
            metrics: Default::default(),
            screen_cache: Default::default(),
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

    fn swap(&self, state: State) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(state);
    }

    /// Asks the source for its revision and, if it changed, what changed, and swaps in the new
    /// state: after a change of plans, only the villages that changed are rebuilt and only their
    /// tiles leave the cache; after an import, everything. Returns whether the state changed.
    pub async fn refresh(&self) -> Result<bool, SourceError> {
        let changed = self.refresh_state().await;
        if matches!(changed, Ok(true)) {
            // what building the new state left free (and the old state, once requests let go)
            tokio::task::spawn_blocking(super::memory::release);
        }
        changed
    }

    async fn refresh_state(&self) -> Result<bool, SourceError> {
        let _one_at_a_time = self.refreshing.lock().await;
        let rev = self.source.revision().await?;
        let st = self.state();
        if rev == st.revision() {
            return Ok(false);
        }
        match self.source.changes(&st.snapshot).await? {
            MapChanges::None => Ok(false),
            MapChanges::Reload(snap) => {
                let state = build(snap, self.source.clone()).await?;
                self.cache.reset(state.revision());
                self.swap(state);
                Ok(true)
            }
            MapChanges::Plans {
                revision,
                people,
                villages,
            } => {
                let (state, dirty) =
                    tokio::task::spawn_blocking(move || st.apply(revision, people, villages))
                        .await
                        .map_err(SourceError::new)??;
                // first turn away tiles of the old state, then answer from the new one
                self.cache.invalidate(revision, dirty);
                self.swap(state);
                Ok(true)
            }
        }
    }

    /// Polls [`Service::refresh`] every `config.poll_interval` until the service is dropped.
    pub async fn poll(service: std::sync::Weak<Service>) {
        let interval = match service.upgrade() {
            Some(s) => s.config.poll_interval,
            None => return,
        };
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut n = 0u64;
        loop {
            tick.tick().await;
            let Some(s) = service.upgrade() else { return };
            // now and then, what big answers (a district's GeoJSON) left free goes back
            n += 1;
            if n.is_multiple_of(20) {
                tokio::task::spawn_blocking(super::memory::release);
            }
            match s.refresh().await {
                Ok(true) => tracing::info!(revision = s.state().revision(), "new map revision"),
                Ok(false) => {}
                Err(e) => tracing::warn!("polling the map source: {e}"),
            }
        }
    }
}

/// The state of `snap` (buildings counted in `source`), built off the async threads.
async fn build(snap: Snapshot, source: Arc<dyn Source>) -> Result<State, SourceError> {
    let n = source.building_count().await?;
    tokio::task::spawn_blocking(move || State::build(snap, source, n))
        .await
        .map_err(SourceError::new)
}
