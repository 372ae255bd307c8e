//! The cache of rendered tiles (切片缓存): gzipped MVT bytes (or "empty") per layer and tile with
//! a hash of them (the ETag), bounded in bytes (oldest entries go first).
//!
//! A new revision does not empty it: the tiles it changes are dropped, layer by layer, where the
//! map changed (a village whose plan was activated, a grid whose leader changed), and the others
//! stay, so a new plan is never served stale and the rest of the map stays warm. An import of the
//! base data empties it ([`TileCache::reset`]). A tile rendered from a state older than a change
//! that touches it is not kept (a request in flight during the swap).

use crate::tiles::{TileId, BUFFER};
use axum::body::Bytes;
use geo::{Intersects, Rect};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// What the cache holds for a tile: the gzipped MVT, or `None` for an empty tile.
pub type Cached = Option<Bytes>;

/// Bytes an entry costs beyond its tile (key, map slot, queue slot).
const ENTRY_OVERHEAD: usize = 80;

/// How many recent changes are remembered to turn away tiles rendered before them.
const CHANGES_KEPT: usize = 64;

type Key = (u8, TileId);

/// Where the map changed at a revision: the layers (bit `1 << layer index`) and the lon/lat area.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dirty {
    /// Layers touched, one bit per index in [`super::layers::LAYERS`].
    pub layers: u16,
    /// The area changed.
    pub area: Rect<f64>,
}

impl Dirty {
    /// Whether tile `tile` of layer `layer` shows part of this change.
    pub fn touches(&self, layer: u8, tile: TileId) -> bool {
        self.layers & (1 << layer) != 0 && tile.buffered_bounds(BUFFER).intersects(&self.area)
    }
}

/// A cached tile: its bytes and their hash (the tile's ETag).
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The gzipped MVT, or `None` when the tile is empty.
    pub value: Cached,
    /// A hash of the bytes.
    pub etag: u64,
}

struct Slot {
    entry: Entry,
    seq: u64,
}

struct Inner {
    map: HashMap<Key, Slot>,
    /// Insertion order, oldest first; a key whose slot has another `seq` was dropped since.
    order: VecDeque<(Key, u64)>,
    seq: u64,
    bytes: usize,
    /// Tiles rendered from a revision older than this are not kept (the cache was emptied, or a
    /// change was forgotten).
    floor: i64,
    /// Recent changes: (revision, where).
    changes: VecDeque<(i64, Vec<Dirty>)>,
}

/// A bounded cache of rendered tiles.
pub struct TileCache {
    inner: Mutex<Inner>,
    limit: usize,
    /// Lookups answered from the cache, and not (for `/metrics`).
    hits: std::sync::atomic::AtomicU64,
    misses: std::sync::atomic::AtomicU64,
}

fn cost(e: &Entry) -> usize {
    ENTRY_OVERHEAD + e.value.as_ref().map_or(0, |b| b.len())
}

/// 64-bit FNV-1a of the bytes: the tile's ETag.
pub fn etag_of(value: &Cached) -> u64 {
    value
        .as_deref()
        .unwrap_or(b"")
        .iter()
        .fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ *b as u64).wrapping_mul(0x0100_0000_01b3)
        })
}

impl TileCache {
    /// A cache holding at most about `limit` bytes.
    pub fn new(limit: usize) -> TileCache {
        TileCache {
            inner: Mutex::new(Inner {
                map: HashMap::new(),
                order: VecDeque::new(),
                seq: 0,
                bytes: 0,
                floor: i64::MIN,
                changes: VecDeque::new(),
            }),
            limit,
            hits: Default::default(),
            misses: Default::default(),
        }
    }

    /// Lookups answered from the cache and lookups that were not, since the server started.
    pub fn hits_misses(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.hits.load(Relaxed), self.misses.load(Relaxed))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cached tile of `layer`, if rendered already (every tile held is current).
    pub fn get(&self, layer: u8, tile: TileId) -> Option<Entry> {
        let found = self.lock().map.get(&(layer, tile)).map(|s| s.entry.clone());
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        found
    }

    /// Keeps a tile rendered from the state at `revision`, unless a later change touches it (or
    /// the cache was emptied since). Returns whether it was kept.
    pub fn put(&self, revision: i64, layer: u8, tile: TileId, entry: Entry) -> bool {
        let c = cost(&entry);
        if c > self.limit {
            return false;
        }
        let mut g = self.lock();
        if revision < g.floor
            || g.changes
                .iter()
                .any(|(r, ds)| *r > revision && ds.iter().any(|d| d.touches(layer, tile)))
        {
            return false;
        }
        g.seq += 1;
        let seq = g.seq;
        if let Some(old) = g.map.insert((layer, tile), Slot { entry, seq }) {
            g.bytes -= cost(&old.entry);
        }
        g.order.push_back(((layer, tile), seq));
        g.bytes += c;
        while g.bytes > self.limit {
            let Some((k, s)) = g.order.pop_front() else {
                break;
            };
            if g.map.get(&k).is_some_and(|slot| slot.seq == s) {
                if let Some(old) = g.map.remove(&k) {
                    g.bytes -= cost(&old.entry);
                }
            }
        }
        // drop the queue's dead slots now and then
        if g.order.len() > 2 * g.map.len() + 1024 {
            let Inner { map, order, .. } = &mut *g;
            order.retain(|(k, s)| map.get(k).is_some_and(|slot| slot.seq == *s));
        }
        true
    }

    /// The map changed at `revision` where `dirty` says: drops the tiles it touches and turns away
    /// tiles rendered before it that it touches.
    pub fn invalidate(&self, revision: i64, dirty: Vec<Dirty>) {
        let mut g = self.lock();
        let Inner {
            map,
            bytes,
            changes,
            floor,
            ..
        } = &mut *g;
        map.retain(|&(layer, tile), slot| {
            let keep = !dirty.iter().any(|d| d.touches(layer, tile));
            if !keep {
                *bytes -= cost(&slot.entry);
            }
            keep
        });
        changes.push_back((revision, dirty));
        while changes.len() > CHANGES_KEPT {
            if let Some((r, _)) = changes.pop_front() {
                *floor = (*floor).max(r);
            }
        }
    }

    /// Empties the cache (the base data changed at `revision`): tiles rendered before it are
    /// turned away.
    pub fn reset(&self, revision: i64) {
        let mut g = self.lock();
        g.map.clear();
        g.order.clear();
        g.bytes = 0;
        g.changes.clear();
        g.floor = g.floor.max(revision);
    }

    /// (entries, bytes) held.
    pub fn usage(&self) -> (usize, usize) {
        let g = self.lock();
        (g.map.len(), g.bytes)
    }
}

/// A heat tile's key: the window (UTC milliseconds, `[from, to)`) and the tile.
pub type HeatKey = (i64, i64, TileId);

/// Heat tiles (巡查热力切片) of one patrol revision, per window and tile, bounded in bytes. Stored
/// patrol points change the revision ([`super::source::Source::patrol_revision`]) and so empty it:
/// a heat tile is never older than the points it was asked after.
pub struct HeatCache {
    limit: usize,
    inner: Mutex<HeatInner>,
}

#[derive(Default)]
struct HeatInner {
    revision: i64,
    bytes: usize,
    tiles: HashMap<HeatKey, Entry>,
}

impl HeatCache {
    /// A cache holding at most about `limit` bytes.
    pub fn new(limit: usize) -> HeatCache {
        HeatCache {
            limit,
            inner: Mutex::new(HeatInner::default()),
        }
    }

    /// The tile `key` rendered at patrol revision `revision`, if kept.
    pub fn get(&self, revision: i64, key: &HeatKey) -> Option<Entry> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.revision != revision {
            return None;
        }
        inner.tiles.get(key).cloned()
    }

    /// Keeps tile `key` rendered from the points of patrol revision `revision` (read before they
    /// were). A newer revision empties the cache first; a tile of an older one is not kept; when
    /// full, the cache starts again empty.
    pub fn put(&self, revision: i64, key: HeatKey, entry: Entry) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if revision < inner.revision {
            return;
        }
        let size = cost(&entry);
        if size > self.limit {
            return;
        }
        if revision > inner.revision || inner.bytes + size > self.limit {
            inner.tiles.clear();
            inner.bytes = 0;
            inner.revision = revision;
        }
        inner.bytes += size;
        if let Some(old) = inner.tiles.insert(key, entry) {
            inner.bytes -= cost(&old);
        }
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(x: u32) -> TileId {
        TileId { z: 10, x, y: 400 }
    }

    fn e(n: usize) -> Entry {
        let value = Some(Bytes::from(vec![0u8; n]));
        Entry {
            etag: etag_of(&value),
            value,
        }
    }

    #[test]
    fn bounded_oldest_first() {
        let c = TileCache::new(3 * (ENTRY_OVERHEAD + 100));
        for x in 0..5 {
            assert!(c.put(1, 0, t(x), e(100)));
        }
        let (n, bytes) = c.usage();
        assert_eq!(n, 3);
        assert!(bytes <= 3 * (ENTRY_OVERHEAD + 100));
        assert!(c.get(0, t(0)).is_none(), "oldest evicted");
        assert!(c.get(0, t(4)).is_some());
        assert!(c.get(1, t(4)).is_none(), "another layer misses");
        // the same tile again replaces it, counted once
        c.put(1, 0, t(4), e(50));
        assert_eq!(
            c.usage().1,
            2 * (ENTRY_OVERHEAD + 100) + ENTRY_OVERHEAD + 50
        );
        let empty = Entry {
            value: None,
            etag: etag_of(&None),
        };
        c.put(1, 0, t(7), empty.clone());
        assert_eq!(c.get(0, t(7)), Some(empty));
    }

    #[test]
    fn a_change_drops_only_the_tiles_it_touches_and_turns_away_older_renders() {
        let c = TileCache::new(1 << 20);
        let (here, there) = (t(852), t(900));
        for layer in 0..3 {
            c.put(1, layer, here, e(10));
            c.put(1, layer, there, e(10));
        }
        let area = here.bounds();
        c.invalidate(
            2,
            vec![Dirty {
                layers: 0b010,
                area,
            }],
        );
        assert!(c.get(1, here).is_none(), "changed layer, changed place");
        assert!(c.get(0, here).is_some(), "other layer stays");
        assert!(c.get(1, there).is_some(), "other place stays");
        // a render from revision 1 that finishes now is stale: turned away; from 2 it is kept
        assert!(!c.put(1, 1, here, e(10)));
        assert!(
            c.put(1, 1, there, e(10)),
            "untouched tiles of revision 1 are still right"
        );
        assert!(c.put(2, 1, here, e(10)));
        // an import empties it all and turns away anything older
        c.reset(3);
        assert_eq!(c.usage(), (0, 0));
        assert!(!c.put(2, 0, there, e(10)));
        assert!(c.put(3, 0, there, e(10)));
    }

    #[test]
    fn heat_tiles_last_until_the_patrol_revision_changes() {
        let t = TileId::new(10, 856, 418).unwrap();
        let e = |n: usize| Entry {
            value: Some(Bytes::from(vec![7u8; n])),
            etag: n as u64,
        };
        let c = HeatCache::new(1000);
        c.put(3, (0, 10, t), e(100));
        assert_eq!(c.get(3, &(0, 10, t)), Some(e(100)));
        assert_eq!(c.get(3, &(0, 11, t)), None, "another window");
        assert_eq!(c.get(4, &(0, 10, t)), None, "newer points");
        c.put(2, (0, 11, t), e(50));
        assert_eq!(
            c.get(2, &(0, 11, t)),
            None,
            "rendered from older points: not kept"
        );
        c.put(4, (0, 11, t), e(50));
        assert_eq!(c.get(3, &(0, 10, t)), None, "a newer revision empties it");
        assert_eq!(c.bytes(), 50 + ENTRY_OVERHEAD);
        c.put(4, (0, 12, t), e(900));
        assert!(c.bytes() <= 1000, "bounded: {}", c.bytes());
        assert_eq!(c.get(4, &(0, 12, t)), Some(e(900)));
        c.put(4, (0, 13, t), e(2000));
        assert_eq!(c.get(4, &(0, 13, t)), None, "larger than the whole cache");
    }
}

// -- screen (issue 16) --
/// What a big screen's summary was computed from: area, zone (seconds east), local day, patrol
/// revision and map revision. A summary is the same while its key is.
/// (area, zone offset s, day, patrol revision, map revision, events revision, minute): the
/// minute because events fall overdue as time passes, with no write.
pub type ScreenKey = (
    crate::screen::Area,
    i32,
    chrono::NaiveDate,
    i64,
    i64,
    String,
    i64,
);

/// The newest summaries of the big screens (one per area and zone shown), each with its JSON,
/// so many screens on one wall cost one computation per change. Computations are one at a time.
#[derive(Default)]
pub struct ScreenCache {
    entries: tokio::sync::Mutex<Vec<(ScreenKey, std::sync::Arc<String>)>>,
}

/// Areas kept (the oldest computed leaves first).
const SCREEN_AREAS: usize = 8;

impl ScreenCache {
    /// The summary JSON of `key`, computed by `make` when not kept (holding the lock, so a change
    /// seen by several screens at once is computed once).
    pub async fn get_or<E, F>(&self, key: ScreenKey, make: F) -> Result<std::sync::Arc<String>, E>
    where
        F: std::future::Future<Output = Result<String, E>>,
    {
        let mut e = self.entries.lock().await;
        if let Some((_, v)) = e.iter().find(|(k, _)| *k == key) {
            return Ok(v.clone());
        }
        let v = std::sync::Arc::new(make.await?);
        // a newer revision of the same area replaces the older
        e.retain(|(k, _)| (&k.0, k.1) != (&key.0, key.1));
        if e.len() >= SCREEN_AREAS {
            e.remove(0);
        }
        e.push((key, v.clone()));
        Ok(v)
    }
}
// -- end screen --
