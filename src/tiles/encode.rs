//! From clipped geometry in tile pixels to MVT features: rounding to the integer grid, dropping
//! repeated points and collapsed rings, winding rings as the MVT spec wants, encoding.

use super::clip::P;
use super::{Key, PropValue};
use mvt::{GeomData, GeomEncoder, GeomType};

/// A point on the tile's integer grid.
pub type IPt = [i32; 2];

/// Rounds to the integer grid (coordinates are already clipped to the buffered tile).
fn round(p: P) -> IPt {
    [p[0].round() as i32, p[1].round() as i32]
}

/// Twice the signed area of an open ring by the MVT spec's formula (tile coordinates, y down):
/// positive for an exterior ring.
pub fn area2(ring: &[IPt]) -> i64 {
    let n = ring.len();
    (0..n)
        .map(|i| {
            let (a, b) = (ring[i], ring[(i + 1) % n]);
            a[0] as i64 * b[1] as i64 - b[0] as i64 * a[1] as i64
        })
        .sum()
}

/// A clipped ring on the integer grid: repeated points dropped, not closed, wound as the spec wants
/// (exterior positive, holes negative); `None` when it collapsed to no area.
pub fn finish_ring(ring: &[P], exterior: bool) -> Option<Vec<IPt>> {
    let mut out: Vec<IPt> = Vec::with_capacity(ring.len());
    for &p in ring {
        let q = round(p);
        if out.last() != Some(&q) {
            out.push(q);
        }
    }
    while out.len() > 1 && out.first() == out.last() {
        out.pop();
    }
    if out.len() < 3 {
        return None;
    }
    let a = area2(&out);
    if a == 0 {
        return None;
    }
    if (a > 0) != exterior {
        out.reverse();
    }
    Some(out)
}

/// A clipped line on the integer grid, repeated points dropped; `None` when fewer than two are left.
pub fn finish_line(line: &[P]) -> Option<Vec<IPt>> {
    let mut out: Vec<IPt> = Vec::with_capacity(line.len());
    for &p in line {
        let q = round(p);
        if out.last() != Some(&q) {
            out.push(q);
        }
    }
    (out.len() >= 2).then_some(out)
}

/// Encodes polygons (each: exterior ring, then holes; rings open, already wound).
pub fn polygon_geom(polys: &[Vec<Vec<IPt>>]) -> Result<GeomData, mvt::Error> {
    let mut enc = GeomEncoder::<i32>::new(GeomType::Polygon);
    let mut last: Option<IPt> = None;
    for ring in polys.iter().flatten() {
        // mvt 0.15 drops the MoveTo of a ring starting where the previous one ended (it merges
        // line parts that way), which breaks a polygon: start such a ring one point later.
        let start = usize::from(last == Some(ring[0]));
        for k in 0..ring.len() {
            let p = ring[(start + k) % ring.len()];
            enc.add_point(p[0], p[1])?;
        }
        last = Some(ring[(start + ring.len() - 1) % ring.len()]);
        enc.complete_geom()?;
    }
    enc.encode()
}

/// Encodes lines; a part that starts where the previous one ended is joined to it.
pub fn line_geom(lines: &[Vec<IPt>]) -> Result<GeomData, mvt::Error> {
    let mut joined: Vec<Vec<IPt>> = Vec::new();
    for l in lines {
        match joined.last_mut() {
            Some(prev) if prev.last() == l.first() => prev.extend_from_slice(&l[1..]),
            _ => joined.push(l.clone()),
        }
    }
    let mut enc = GeomEncoder::<i32>::new(GeomType::Linestring);
    for l in &joined {
        for p in l {
            enc.add_point(p[0], p[1])?;
        }
        enc.complete_geom()?;
    }
    enc.encode()
}

/// Encodes one point.
pub fn point_geom(p: IPt) -> Result<GeomData, mvt::Error> {
    GeomEncoder::<i32>::new(GeomType::Point)
        .point(p[0], p[1])?
        .encode()
}

/// Adds a feature with its id and properties to `layer`.
pub fn add_feature(
    layer: mvt::Layer,
    geom: GeomData,
    id: u64,
    props: &[(Key, PropValue)],
) -> mvt::Layer {
    let mut f = layer.into_feature(geom);
    f.set_id(id);
    for (k, v) in props {
        match v {
            PropValue::Str(s) => f.add_tag_string(k, s),
            PropValue::Int(i) => f.add_tag_int(k, *i),
            PropValue::Float(x) => f.add_tag_double(k, *x),
            PropValue::Bool(b) => f.add_tag_bool(k, *b),
        }
    }
    f.into_layer()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rings_wound_and_collapsed() {
        // counter-clockwise on screen (y down) → reversed for an exterior
        let r = finish_ring(&[[0.0, 0.0], [0.0, 10.0], [10.0, 10.0], [10.0, 0.0]], true).unwrap();
        assert!(area2(&r) > 0);
        let h = finish_ring(&[[0.0, 0.0], [0.0, 10.0], [10.0, 10.0], [10.0, 0.0]], false).unwrap();
        assert!(area2(&h) < 0);
        // thinner than half a pixel: nothing left
        assert!(finish_ring(&[[0.0, 0.1], [10.0, 0.2], [10.0, 0.3], [0.0, 0.4]], true).is_none());
        assert_eq!(finish_line(&[[0.1, 0.1], [0.2, 0.2]]), None);
    }

    #[test]
    fn second_ring_starting_at_the_first_ones_end_keeps_its_move_to() {
        let outer = vec![[0, 0], [10, 0], [10, 10], [0, 10]];
        let inner = vec![[0, 10], [2, 5], [5, 8]];
        let g = polygon_geom(&[vec![outer, inner]]).unwrap();
        // MoveTo+2, LineTo+6, ClosePath, then MoveTo+2, LineTo+4, ClosePath: 11 + 9
        assert_eq!(g.len(), 20);
    }
}
