//! Web Mercator tile arithmetic: lon/lat to world coordinates, world to tile pixels, tile boxes.

use super::TileId;
use geo::Rect;
use std::f64::consts::PI;

/// Tile extent in pixels (MVT coordinate units).
pub const EXTENT: u32 = 4096;
/// Pixels drawn around a tile so that strokes and labels across its edge are not cut.
pub const BUFFER: u32 = 64;

/// A point in world Web Mercator coordinates: `[0, 1]` from west to east and north to south.
pub type World = [f64; 2];

/// Latitude limit of Web Mercator.
const MAX_LAT: f64 = 85.051_128_779_806_59;

/// Projects lon/lat degrees to world coordinates (latitudes clamped to ±85.05°).
pub fn to_world(lon: f64, lat: f64) -> World {
    let lat = lat.clamp(-MAX_LAT, MAX_LAT).to_radians();
    [(lon + 180.0) / 360.0, (1.0 - lat.tan().asinh() / PI) / 2.0]
}

/// Lon/lat degrees of world coordinates: the inverse of [`to_world`].
pub fn from_world(w: World) -> (f64, f64) {
    (lon_of(w[0]), lat_of(w[1]))
}

/// Longitude of a world x.
fn lon_of(x: f64) -> f64 {
    x * 360.0 - 180.0
}

/// Latitude of a world y.
fn lat_of(y: f64) -> f64 {
    (PI * (1.0 - 2.0 * y)).sinh().atan().to_degrees()
}

/// Turns world coordinates into one tile's pixels (y down, `0..EXTENT` inside the tile).
#[derive(Clone, Copy, Debug)]
pub struct TileFrame {
    scale: f64,
    x0: f64,
    y0: f64,
}

impl TileFrame {
    /// The frame of `tile`.
    pub fn new(tile: TileId) -> TileFrame {
        let n = (1u64 << tile.z) as f64;
        TileFrame {
            scale: n * EXTENT as f64,
            x0: tile.x as f64 * EXTENT as f64,
            y0: tile.y as f64 * EXTENT as f64,
        }
    }
    /// Tile pixel coordinates (not rounded) of a world point.
    pub fn px(&self, w: World) -> [f64; 2] {
        [w[0] * self.scale - self.x0, w[1] * self.scale - self.y0]
    }
}

impl TileId {
    /// The tile's extent in lon/lat grown by `buffer` pixels on every side (as served: the
    /// features of a tile are those meeting this box).
    pub fn buffered_bounds(&self, buffer: u32) -> Rect<f64> {
        let n = (1u64 << self.z) as f64;
        let b = buffer as f64 / EXTENT as f64;
        let (x0, x1) = ((self.x as f64 - b) / n, (self.x as f64 + 1.0 + b) / n);
        let (y0, y1) = ((self.y as f64 - b) / n, (self.y as f64 + 1.0 + b) / n);
        Rect::new(
            (lon_of(x0.max(0.0)), lat_of(y1.min(1.0))),
            (lon_of(x1.min(1.0)), lat_of(y0.max(0.0))),
        )
    }
}

/// The tiles of zoom `z` that meet a lon/lat box, row by row from the north-west.
pub fn tiles_covering(bounds: &Rect<f64>, z: u8) -> Vec<TileId> {
    let n = 1u64 << z.min(super::MAX_ZOOM);
    // a box ending exactly on a tile edge does not reach into the next tile
    let first = |v: f64| ((v * n as f64).floor().max(0.0) as u64).min(n - 1) as u32;
    let last = |v: f64| ((v * n as f64).ceil().max(1.0) as u64 - 1).min(n - 1) as u32;
    let nw = to_world(bounds.min().x, bounds.max().y);
    let se = to_world(bounds.max().x, bounds.min().y);
    let mut out = Vec::new();
    for y in first(nw[1])..=last(se[1]).max(first(nw[1])) {
        for x in first(nw[0])..=last(se[0]).max(first(nw[0])) {
            out.push(TileId {
                z: z.min(super::MAX_ZOOM),
                x,
                y,
            });
        }
    }
    out
}

/// The size of one tile pixel at zoom `z`, in degrees of longitude.
pub fn pixel_deg(z: u8) -> f64 {
    360.0 / (1u64 << z) as f64 / EXTENT as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn world_and_pixels() {
        let w = to_world(0.0, 0.0);
        assert!((w[0] - 0.5).abs() < 1e-15 && (w[1] - 0.5).abs() < 1e-15);
        // a tile's own corners land on 0 and EXTENT
        let t = TileId::new(13, 6826, 3385).unwrap();
        let b = t.bounds();
        let f = TileFrame::new(t);
        let nw = f.px(to_world(b.min().x, b.max().y));
        let se = f.px(to_world(b.max().x, b.min().y));
        for (v, want) in [(nw[0], 0.0), (nw[1], 0.0), (se[0], 4096.0), (se[1], 4096.0)] {
            assert!((v - want).abs() < 1e-6, "{v} vs {want}");
        }
        // the buffered box is 64 px wider on each side
        let bb = t.buffered_bounds(BUFFER);
        let nw = f.px(to_world(bb.min().x, bb.max().y));
        assert!((nw[0] + 64.0).abs() < 1e-6 && (nw[1] + 64.0).abs() < 1e-6);
        assert!((pixel_deg(0) - 360.0 / 4096.0).abs() < 1e-15);
        // the tile's own box is covered by itself alone; a box around a corner by four tiles
        let inner = Rect::new(
            (b.min().x + 1e-9, b.min().y + 1e-9),
            (b.max().x - 1e-9, b.max().y - 1e-9),
        );
        assert_eq!(tiles_covering(&inner, 13), vec![t]);
        let c = Rect::new(
            (b.max().x - 1e-4, b.max().y - 1e-4),
            (b.max().x + 1e-4, b.max().y + 1e-4),
        );
        let ts = tiles_covering(&c, 13);
        assert_eq!(ts.len(), 4);
        assert_eq!((ts[0].x, ts[0].y), (6826, 3384));
    }
}
