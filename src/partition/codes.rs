//! Numbering: grids west→east, then north→south (reading order), within their village.
//!
//! Rows are bands as tall as a typical grid (√(area ÷ count)); within a row, west to east. The
//! position of a grid is its label point, which always lies inside it.

use super::cells::Cells;
use super::quality::label_point;
use crate::topology::{Pt, RingSet};

/// The order in which `regions` get their sequence numbers: indices into `regions`.
pub fn reading_order(regions: &[RingSet], cells: &Cells) -> Vec<usize> {
    let (pos, row_h) = positions(regions, cells);
    order_by_rows(&pos, row_h)
}

/// The regions, already numbered in order, that the next one should come before (and that
/// next one), and the northernmost region, whose position places every row: what keeps
/// `regions` from being in [`reading_order`]. Empty when they are in it.
pub fn out_of_order(regions: &[RingSet], cells: &Cells) -> Vec<usize> {
    let (pos, row_h) = positions(regions, cells);
    let order = order_by_rows(&pos, row_h);
    let mut rank = vec![0; order.len()];
    for (r, &i) in order.iter().enumerate() {
        rank[i] = r;
    }
    let mut out = Vec::new();
    for i in 1..regions.len() {
        if rank[i] < rank[i - 1] {
            out.extend([i - 1, i]);
        }
    }
    if !out.is_empty() {
        let north = (0..pos.len()).max_by(|&a, &b| pos[a][1].total_cmp(&pos[b][1]));
        out.extend(north);
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Each region's position (its label point, in metres) and the row height.
fn positions(regions: &[RingSet], cells: &Cells) -> (Vec<[f64; 2]>, f64) {
    let n = regions.len();
    let pos: Vec<[f64; 2]> = regions
        .iter()
        .map(|rs| {
            let [lon, lat] = label_point(rs);
            cells.frame.to_xy(Pt::from_lonlat(lon, lat))
        })
        .collect();
    let total_area: f64 = cells.area.iter().sum();
    (pos, (total_area / n.max(1) as f64).sqrt())
}

/// Reading order of points (metres): rows of height `row_h` from the north, west to east in a row.
pub fn order_by_rows(pos: &[[f64; 2]], row_h: f64) -> Vec<usize> {
    let north = pos.iter().map(|p| p[1]).fold(f64::NEG_INFINITY, f64::max);
    let h = if row_h > 0.0 { row_h } else { 1.0 };
    let row = |p: &[f64; 2]| ((north - p[1]) / h).floor() as i64;
    let mut order: Vec<usize> = (0..pos.len()).collect();
    order.sort_by(|&a, &b| {
        row(&pos[a])
            .cmp(&row(&pos[b]))
            .then(pos[a][0].total_cmp(&pos[b][0]))
            .then(a.cmp(&b))
    });
    order
}

#[cfg(test)]
mod tests {
    use super::order_by_rows;

    #[test]
    fn rows_then_west_to_east() {
        // two rows of two: NW, NE, SW, SE given in scrambled order
        let pos = [[10.0, 0.0], [0.0, 10.0], [10.0, 10.0], [0.0, 0.0]];
        assert_eq!(order_by_rows(&pos, 5.0), vec![1, 2, 3, 0]);
    }
}
