//! Quality figures of a plan: weights, Polsby–Popper compactness, borders on barriers.

use super::cells::Cells;
use super::Figures;
use crate::topology::{EdgeClass, RingSet};
use geo::{InteriorPoint, LineString, MultiPolygon, Polygon};

/// A geo multipolygon in lon/lat from traced rings.
pub fn to_multipolygon(rs: &RingSet) -> MultiPolygon<f64> {
    let ls = |r: &Vec<crate::topology::Pt>| {
        LineString::from(r.iter().map(|p| (p.lon(), p.lat())).collect::<Vec<_>>())
    };
    MultiPolygon(
        rs.iter()
            .map(|poly| Polygon::new(ls(&poly[0]), poly[1..].iter().map(ls).collect()))
            .collect(),
    )
}

/// A point inside the region (lon, lat): inside its largest polygon, never outside a concave one.
pub fn label_point(rs: &RingSet) -> [f64; 2] {
    let Some(first) = rs.first() else {
        return [0.0, 0.0];
    };
    let mp = to_multipolygon(&vec![first.clone()]);
    match mp.interior_point() {
        Some(p) => [p.x(), p.y()],
        None => [first[0][0].lon(), first[0][0].lat()],
    }
}

/// Polsby–Popper compactness 4πA/P².
pub fn polsby_popper(area: f64, perimeter: f64) -> f64 {
    if perimeter > 0.0 {
        4.0 * std::f64::consts::PI * area / (perimeter * perimeter)
    } else {
        0.0
    }
}

/// Perimeter in metres of traced rings (holes included).
pub fn perimeter(cells: &Cells, rs: &RingSet) -> f64 {
    rs.iter()
        .flat_map(|p| p.iter())
        .map(|r| cells.frame.length(r))
        .sum()
}

/// Area in m² inside traced rings (holes, walked clockwise, count against it).
pub fn area(cells: &Cells, rs: &RingSet) -> f64 {
    rs.iter()
        .flat_map(|p| p.iter())
        .map(|r| cells.frame.ring_area(r))
        .sum()
}

/// Figures of each of `n` regions given the region of each face.
pub fn figures(
    cells: &Cells,
    region_of_face: &[Option<u32>],
    n: usize,
    traced: &[RingSet],
) -> Vec<Figures> {
    let mut out = vec![Figures::default(); n];
    for (f, r) in region_of_face.iter().enumerate() {
        let Some(r) = r else { continue };
        let fig = &mut out[*r as usize];
        fig.weight += cells.weight[f];
        fig.households += cells.households[f];
        fig.residents += cells.residents[f];
        fig.area_m2 += cells.area[f];
        fig.buildings += cells.buildings[f].len();
    }
    let mut units: Vec<std::collections::BTreeSet<u32>> = vec![Default::default(); n];
    for (f, r) in region_of_face.iter().enumerate() {
        if let (Some(r), Some(u)) = (r, cells.unit[f]) {
            units[*r as usize].insert(u);
        }
    }
    for (i, fig) in out.iter_mut().enumerate() {
        fig.units = units[i].len();
        fig.perimeter_m = perimeter(cells, &traced[i]);
        fig.polsby_popper = polsby_popper(fig.area_m2, fig.perimeter_m);
        // figures are sums of shares: keep them free of float noise
        fig.weight = round6(fig.weight);
        fig.households = round6(fig.households);
        fig.residents = round6(fig.residents);
        fig.area_m2 = round6(fig.area_m2);
        fig.perimeter_m = round6(fig.perimeter_m);
        fig.polsby_popper = round6(fig.polsby_popper);
    }
    out
}

/// Rounds to six decimals.
pub fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// The heaviest single face of grid `gi`.
pub fn heaviest_face(cells: &Cells, grid_of_face: &[Option<u32>], gi: usize) -> f64 {
    grid_of_face
        .iter()
        .enumerate()
        .filter(|(_, g)| **g == Some(gi as u32))
        .map(|(f, _)| cells.weight[f])
        .fold(0.0, f64::max)
}

/// Length of borders between different regions, and how much of it lies on a barrier or group line.
pub fn border_share(cells: &Cells, region_of_face: &[Option<u32>]) -> (f64, f64) {
    let (mut all, mut on) = (0.0, 0.0);
    for (a, &len) in cells.topo.arcs.iter().zip(&cells.arc_len) {
        let (Some(l), Some(r)) = (a.left, a.right) else {
            continue;
        };
        let (gl, gr) = (region_of_face[l as usize], region_of_face[r as usize]);
        if gl.is_some() && gr.is_some() && gl != gr {
            all += len;
            if a.class.intersects(EdgeClass::FOLLOWABLE) {
                on += len;
            }
        }
    }
    (all, on)
}
