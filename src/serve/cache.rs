//! The cache of rendered tiles (切片缓存): gzipped MVT bytes (or "empty") per layer and tile, for
//! one revision at a time (a new revision empties it, so a new plan is never served stale), bounded
//! in bytes (oldest entries go first).

use crate::tiles::TileId;
use axum::body::Bytes;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// What the cache holds for a tile: the gzipped MVT, or `None` for an empty tile.
pub type Cached = Option<Bytes>;

/// Bytes an entry costs beyond its tile (key, map slot, queue slot).
const ENTRY_OVERHEAD: usize = 64;

type Key = (u8, TileId);

struct Inner {
    revision: i64,
    map: HashMap<Key, Cached>,
    order: VecDeque<Key>,
    bytes: usize,
}

/// A bounded cache of rendered tiles.
pub struct TileCache {
    inner: Mutex<Inner>,
    limit: usize,
}

impl TileCache {
    /// A cache holding at most about `limit` bytes.
    pub fn new(limit: usize) -> TileCache {
        TileCache {
            inner: Mutex::new(Inner {
                revision: i64::MIN,
                map: HashMap::new(),
                order: VecDeque::new(),
                bytes: 0,
            }),
            limit,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cached tile of `layer` at `revision`, if rendered already.
    pub fn get(&self, revision: i64, layer: u8, tile: TileId) -> Option<Cached> {
        let g = self.lock();
        if g.revision != revision {
            return None;
        }
        g.map.get(&(layer, tile)).cloned()
    }

    /// Keeps a rendered tile; a newer revision empties the cache first, an older one is dropped.
    pub fn put(&self, revision: i64, layer: u8, tile: TileId, value: Cached) {
        let cost = ENTRY_OVERHEAD + value.as_ref().map_or(0, |b| b.len());
        if cost > self.limit {
            return;
        }
        let mut g = self.lock();
        if revision < g.revision {
            return;
        }
        if revision > g.revision {
            g.revision = revision;
            g.map.clear();
            g.order.clear();
            g.bytes = 0;
        }
        if g.map.insert((layer, tile), value).is_some() {
            // raced with another render of the same tile: the byte count was taken already
            return;
        }
        g.order.push_back((layer, tile));
        g.bytes += cost;
        while g.bytes > self.limit {
            let Some(k) = g.order.pop_front() else { break };
            if let Some(v) = g.map.remove(&k) {
                g.bytes -= ENTRY_OVERHEAD + v.as_ref().map_or(0, |b| b.len());
            }
        }
    }

    /// (entries, bytes) held.
    pub fn usage(&self) -> (usize, usize) {
        let g = self.lock();
        (g.map.len(), g.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(x: u32) -> TileId {
        TileId { z: 10, x, y: 0 }
    }

    #[test]
    fn bounded_and_keyed_by_revision() {
        let c = TileCache::new(3 * (ENTRY_OVERHEAD + 100));
        for x in 0..5 {
            c.put(1, 0, t(x), Some(Bytes::from(vec![0u8; 100])));
        }
        let (n, bytes) = c.usage();
        assert_eq!(n, 3);
        assert!(bytes <= 3 * (ENTRY_OVERHEAD + 100));
        assert!(c.get(1, 0, t(0)).is_none(), "oldest evicted");
        assert!(c.get(1, 0, t(4)).is_some());
        assert!(c.get(2, 0, t(4)).is_none(), "another revision misses");
        c.put(2, 0, t(7), None);
        assert_eq!(c.get(2, 0, t(7)), Some(None));
        assert!(
            c.get(1, 0, t(4)).is_none(),
            "new revision emptied the cache"
        );
        c.put(1, 0, t(1), None);
        assert!(c.get(1, 0, t(1)).is_none(), "an older revision is not kept");
    }
}
