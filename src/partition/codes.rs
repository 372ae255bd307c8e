//! Numbering: grids west→east, then north→south (reading order), within their village.
//!
//! Rows are bands as tall as a typical grid (√(area ÷ count)); within a row, west to east. The
//! position of a grid is its label point, which always lies inside it.

use super::cells::Cells;
use super::quality::label_point;
use crate::topology::{Pt, RingSet};

/// The order in which `regions` get their sequence numbers: indices into `regions`.
pub fn reading_order(regions: &[RingSet], cells: &Cells) -> Vec<usize> {
    let n = regions.len();
    if n == 0 {
        return Vec::new();
    }
    let pos: Vec<[f64; 2]> = regions
        .iter()
        .map(|rs| {
            let [lon, lat] = label_point(rs);
            cells.frame.to_xy(Pt::from_lonlat(lon, lat))
        })
        .collect();
    let total_area: f64 = cells.area.iter().sum();
    order_by_rows(&pos, (total_area / n as f64).sqrt())
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
