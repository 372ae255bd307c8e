//! Heat tiles: the heat of stored per worker-day cell counts ([`TrackCells`]) drawn as a
//! one-layer vector tile (`heat`), at a resolution chosen by zoom, and the box of worker-days a
//! tile has to read.

use super::heat::{HeatCell, HeatMap};
use crate::tiles::{Feature, Layer, PropValue, TileId};
use geo::{Coord, MultiPolygon, Polygon};
use h3o::{CellIndex, Resolution};
use std::sync::Arc;

/// One worker's unflagged points of one day counted per H3 cell (ascending), as a store keeps them.
#[derive(Clone, Debug, PartialEq)]
pub struct TrackCells {
    /// The worker.
    pub worker: Arc<str>,
    /// (cell, points).
    pub cells: Vec<(CellIndex, u32)>,
}

/// A lon/lat box: `[min lon, min lat, max lon, max lat]`.
pub type Bbox = [f64; 4];

/// The heat map of per worker-day cell counts at `res` (at most 10).
pub fn heat_of_counts(tracks: &[TrackCells], res: Resolution) -> HeatMap {
    HeatMap::from_counts(
        tracks
            .iter()
            .flat_map(|t| t.cells.iter().map(|&(c, n)| (c, &*t.worker, n as u64))),
        res,
    )
}

/// The heat resolution drawn at zoom `z`: coarser when zoomed out.
pub fn tile_res(z: u8) -> u8 {
    (z as i32 - 5).clamp(4, 10) as u8
}

/// The box of worker-days whose points may fall in a heat cell reaching into tile `id`: the
/// tile grown by two and a half cell edges of its resolution (a cell is about two edges across;
/// a point's resolution-10 cell reaches out of its ancestor by less than half an edge).
pub fn heat_tile_box(id: TileId) -> Bbox {
    let b = id.bounds();
    let res = Resolution::try_from(tile_res(id.z)).unwrap_or(Resolution::Ten);
    let km = 2.5 * res.edge_length_km();
    let lat = b.max().y.abs().max(b.min().y.abs()).min(85.0);
    let dy = km / 111.2;
    let dx = km / (111.2 * lat.to_radians().cos());
    [
        b.min().x - dx,
        b.min().y - dy,
        b.max().x + dx,
        b.max().y + dy,
    ]
}

/// The heat layer of `cells` on tile `id` (uncompressed MVT), `None` when empty. Cells are drawn
/// as given (no shared-border topology: a heat map needs none).
pub fn render_heat_tile(cells: &[HeatCell], id: TileId) -> Option<Vec<u8>> {
    let b = id.bounds();
    let features: Vec<Feature<MultiPolygon<f64>>> = cells
        .iter()
        .filter_map(|h| {
            let mut ring: Vec<Coord> = h
                .cell
                .boundary()
                .iter()
                .map(|ll| Coord {
                    x: ll.lng(),
                    y: ll.lat(),
                })
                .collect();
            let (x0, x1) = ring
                .iter()
                .fold((f64::MAX, f64::MIN), |a, c| (a.0.min(c.x), a.1.max(c.x)));
            let (y0, y1) = ring
                .iter()
                .fold((f64::MAX, f64::MIN), |a, c| (a.0.min(c.y), a.1.max(c.y)));
            if x1 < b.min().x || x0 > b.max().x || y1 < b.min().y || y0 > b.max().y {
                return None;
            }
            if let Some(first) = ring.first().copied() {
                ring.push(first);
            }
            Some(Feature {
                id: u64::from(h.cell),
                geometry: MultiPolygon(vec![Polygon::new(ring.into(), vec![])]),
                props: vec![
                    ("h3".into(), PropValue::Str(h.cell.to_string())),
                    (
                        "res".into(),
                        PropValue::Int(u8::from(h.cell.resolution()) as i64),
                    ),
                    ("points".into(), PropValue::Int(h.points as i64)),
                    ("workers".into(), PropValue::Int(h.workers as i64)),
                ],
            })
        })
        .collect();
    if features.is_empty() {
        return None;
    }
    Layer::footprints("heat", features)
        .render(id)
        .filter(|t| !t.is_empty())
}

/// The heat tile `id` from per worker-day cell counts (read for [`heat_tile_box`]).
pub fn heat_tile_of_counts(tracks: &[TrackCells], id: TileId) -> Option<Vec<u8>> {
    let res = Resolution::try_from(tile_res(id.z)).ok()?;
    render_heat_tile(&heat_of_counts(tracks, res).cells(), id)
}
