//! Point clusters on a zoom's fixed grid of square bins, so that a tile of many points stays
//! small and neighbouring tiles agree on every cluster.
//!
//! Bins are [`BIN`] tile pixels wide and aligned to the world, not to a tile: a bin lying in the
//! buffer of two tiles holds the same points, and so the same cluster at the same place, in
//! both. [`BUFFER`](super::BUFFER) is a whole number of bins, so the points fetched for a
//! buffered tile fill every bin it draws.

use super::tilemath::{from_world, to_world, World, EXTENT};
use super::TileId;
use std::collections::BTreeMap;

/// The side of a bin in tile pixels (of [`EXTENT`]): 4 screen pixels on a 256-pixel tile.
pub const BIN: u32 = 64;

/// Points sharing one bin: the indices of its points in the order given, and their mean place.
#[derive(Clone, Debug, PartialEq)]
pub struct Bin {
    /// Indices into the points given, ascending.
    pub members: Vec<usize>,
    /// The mean of the members' places in Web Mercator, as lon/lat degrees.
    pub at: (f64, f64),
}

/// The points (lon/lat) in the bins of `tile`'s zoom, bin by bin from the north-west; a bin
/// holds at least one point. Points anywhere are binned: the caller gives those of the buffered
/// tile.
///
/// ```
/// use wangge::tiles::{cluster::bins, TileId};
/// let tile = TileId::new(12, 3428, 1673).unwrap();
/// // two points a metre apart share a bin; one 2 km away has its own
/// let pts = [(121.4700, 31.2300), (121.47001, 31.23001), (121.49, 31.23)];
/// let b = bins(pts.iter().copied(), tile);
/// assert_eq!(b.len(), 2);
/// assert_eq!(b[0].members, vec![0, 1]);
/// assert_eq!(b[1].members, vec![2]);
/// assert!((b[0].at.0 - 121.470005).abs() < 1e-9);
/// ```
pub fn bins(points: impl Iterator<Item = (f64, f64)>, tile: TileId) -> Vec<Bin> {
    let per_world = (1u64 << tile.z) as f64 * (EXTENT / BIN) as f64;
    let mut by_bin: BTreeMap<(i64, i64), (Vec<usize>, World)> = BTreeMap::new();
    for (i, (lon, lat)) in points.enumerate() {
        let w = to_world(lon, lat);
        let key = (
            (w[1] * per_world).floor() as i64,
            (w[0] * per_world).floor() as i64,
        );
        let (members, sum) = by_bin.entry(key).or_default();
        members.push(i);
        sum[0] += w[0];
        sum[1] += w[1];
    }
    by_bin
        .into_values()
        .map(|(members, sum)| {
            let n = members.len() as f64;
            Bin {
                at: from_world([sum[0] / n, sum[1] / n]),
                members,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tiles::BUFFER;

    #[test]
    fn the_buffer_is_whole_bins() {
        assert_eq!(BUFFER % BIN, 0);
        assert_eq!(EXTENT % BIN, 0);
    }

    /// A bin across the edge of two tiles has the same members and place in both.
    #[test]
    fn neighbours_agree_on_a_bin_across_their_edge() {
        let a = TileId::new(14, 13715, 6692).unwrap();
        let b = TileId::new(14, 13716, 6692).unwrap();
        let edge = a.bounds().max().x;
        let pts = [
            (edge - 1e-6, 31.2),
            (edge + 1e-6, 31.2),
            (edge + 2e-6, 31.2),
        ];
        let (ba, bb) = (bins(pts.iter().copied(), a), bins(pts.iter().copied(), b));
        assert_eq!(ba, bb);
        // the edge is a bin edge: the point west of it is alone
        assert_eq!(ba.len(), 2);
        assert_eq!(ba[0].members, vec![0]);
        assert_eq!(ba[1].members, vec![1, 2]);
    }

    #[test]
    fn no_points_no_bins() {
        assert!(bins(std::iter::empty(), TileId::new(3, 1, 1).unwrap()).is_empty());
    }
}
