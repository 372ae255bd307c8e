//! The tile layers of a snapshot (矢量切片图层): which features each layer of `/tiles/{layer}` holds,
//! their stable ids and properties, and the fields TileJSON advertises for them. Grids and
//! micro-grids come in one piece per village ([`grid_shapes`]), so a newly activated plan rebuilds
//! that village's pieces only; their properties are made from the map when a tile draws them
//! ([`grid_props`]), so they take no memory between tiles and a new leader needs no rebuild;
//! buildings are drawn per tile from the buildings the source returns for it ([`buildings`]).

use crate::model::BarrierClass;
use crate::snapshot::{BuildingRecord, Snapshot};
use crate::tiles::{Feature, Key, Layer, PropValue, Shapes};
use geo::{LineString, MultiLineString, MultiPolygon, Point, Polygon};

/// The layers served (their index is their bit in a cache change mask).
pub const LAYERS: [&str; 7] = [
    "villages",
    "grids",
    "micro_grids",
    "buildings",
    "roads",
    "rivers",
    "labels",
];

/// The first zoom a layer has anything at: building footprints only from street level.
pub fn min_zoom(layer: &str) -> u8 {
    match layer {
        "buildings" => 13,
        _ => 0,
    }
}

/// The fields (name, TileJSON type) of the features of `layer`.
pub fn fields(layer: &str) -> &'static [(&'static str, &'static str)] {
    match layer {
        "villages" => &[
            ("code", "String"),
            ("name", "String"),
            ("mode", "String"),
            ("plan_version", "Number"),
        ],
        "grids" => &[
            ("code", "String"),
            ("name", "String"),
            ("village_code", "String"),
            ("households", "Number"),
            ("residents", "Number"),
            ("area_m2", "Number"),
            ("polsby_popper", "Number"),
            ("leader", "String"),
            ("color", "Number"),
        ],
        "micro_grids" => &[
            ("code", "String"),
            ("grid_code", "String"),
            ("kind", "String"),
            ("households", "Number"),
            ("residents", "Number"),
            ("color", "Number"),
        ],
        "buildings" => &[
            ("id", "String"),
            ("kind", "String"),
            ("households", "Number"),
            ("residents", "Number"),
            ("address", "String"),
            ("grid_code", "String"),
        ],
        "roads" | "rivers" => &[("class", "String"), ("name", "String")],
        "labels" => &[("code", "String"), ("name", "String")],
        _ => &[],
    }
}

/// A code's digits as a feature id (grid codes are 15 digits, micro-grid codes 18: both fit).
pub fn code_id(code: &str, fallback: usize) -> u64 {
    code.parse::<u64>().unwrap_or(fallback as u64 + 1)
}

/// The display name of grid `code` of village `village`: 东风村第3网格.
pub fn grid_name(village: &str, code: &str) -> String {
    let seq = code.get(12..).unwrap_or("").trim_start_matches('0');
    format!("{village}第{seq}网格")
}

fn s(k: &'static str, v: impl Into<String>) -> (Key, PropValue) {
    (Key::Borrowed(k), PropValue::Str(v.into()))
}
fn f(k: &'static str, v: f64) -> (Key, PropValue) {
    (Key::Borrowed(k), PropValue::Float(v))
}
fn i(k: &'static str, v: i64) -> (Key, PropValue) {
    (Key::Borrowed(k), PropValue::Int(v))
}

/// Side of the square drawn for a building known only by its point, in degrees (about 8 m).
const POINT_BUILDING_DEG: f64 = 0.00004;

/// Index of `name` in [`LAYERS`].
pub fn index(name: &str) -> Option<usize> {
    LAYERS.iter().position(|l| *l == name)
}

/// The bit of layer `name` in a [`super::cache::Dirty`] mask.
pub fn bit(name: &str) -> u16 {
    index(name).map_or(0, |i| 1 << i)
}

/// Id and properties of village `k` (code, name, mode, active plan version), into `props`.
pub fn village_props(snap: &Snapshot, k: usize, props: &mut Vec<(Key, PropValue)>) -> u64 {
    let v = &snap.villages[k];
    props.extend([
        s("code", v.code.as_str()),
        s("name", v.name.as_str()),
        s("mode", v.mode.as_str()),
    ]);
    if let Some(p) = v.plan_version {
        props.push(i("plan_version", p));
    }
    code_id(v.code.as_str(), k)
}

/// The villages' outlines as one piece of tiles (their shared borders simplified once).
pub fn village_shapes(snap: &Snapshot) -> Shapes {
    let refs: Vec<&MultiPolygon<f64>> = snap.villages.iter().map(|v| &v.boundary).collect();
    Shapes::coverage(&refs)
}

/// The outlines of grids `grids` (indexes in `snap.grids`, one village's) as a piece of tiles.
pub fn grid_shapes(snap: &Snapshot, grids: &[usize]) -> Shapes {
    let refs: Vec<&MultiPolygon<f64>> = grids.iter().map(|&g| &snap.grids[g].geometry).collect();
    Shapes::coverage(&refs)
}

/// Id and properties of grid `k`: code, name, village, figures, leader.
pub fn grid_props(snap: &Snapshot, k: usize, props: &mut Vec<(Key, PropValue)>) -> u64 {
    let vname = |vi: usize| snap.villages.get(vi).map(|v| v.name.as_str()).unwrap_or("");
    let vcode = |vi: usize| snap.villages.get(vi).map(|v| v.code.as_str()).unwrap_or("");
    let g = &snap.grids[k];
    props.extend([
        s("code", g.code.as_str()),
        s("name", grid_name(vname(g.village), g.code.as_str())),
        s("village_code", vcode(g.village)),
        f("households", g.figures.households),
        f("residents", g.figures.residents),
        f("area_m2", g.figures.area_m2.round()),
        f(
            "polsby_popper",
            (g.figures.polsby_popper * 1000.0).round() / 1000.0,
        ),
    ]);
    if let Some(l) = leader(&g.people) {
        props.push(s("leader", l));
    }
    if let Some(c) = g.color {
        props.push(i("color", c.into()));
    }
    code_id(g.code.as_str(), k)
}

/// The grid leader's name, what grid tiles show of a grid's people.
pub fn leader(people: &[crate::snapshot::Person]) -> Option<&str> {
    people
        .iter()
        .find(|p| p.role == crate::snapshot::Role::GridLeader)
        .map(|p| p.name.as_str())
}

/// The outlines of micro-grids `micro` (indexes in `snap.micro_grids`) as a piece of tiles.
pub fn micro_shapes(snap: &Snapshot, micro: &[usize]) -> Shapes {
    let refs: Vec<&MultiPolygon<f64>> = micro
        .iter()
        .map(|&m| &snap.micro_grids[m].geometry)
        .collect();
    Shapes::coverage(&refs)
}

/// Id and properties of micro-grid `k`.
pub fn micro_props(snap: &Snapshot, k: usize, props: &mut Vec<(Key, PropValue)>) -> u64 {
    let m = &snap.micro_grids[k];
    props.extend([
        s("code", m.code.as_str()),
        s(
            "grid_code",
            snap.grids
                .get(m.grid)
                .map(|g| g.code.as_str())
                .unwrap_or(""),
        ),
        s("kind", m.kind.as_str()),
        f("households", m.figures.households),
        f("residents", m.figures.residents),
    ]);
    if let Some(c) = m.color {
        props.push(i("color", c.into()));
    }
    code_id(m.code.as_str(), k)
}

/// A grid's label point inside it, with its code and name.
pub fn labels(snap: &Snapshot) -> Layer {
    let vname = |vi: usize| snap.villages.get(vi).map(|v| v.name.as_str()).unwrap_or("");
    Layer::points(
        "labels",
        snap.grids
            .iter()
            .enumerate()
            .map(|(k, g)| Feature {
                id: code_id(g.code.as_str(), k),
                geometry: Point::new(g.label.x(), g.label.y()),
                props: vec![
                    s("code", g.code.as_str()),
                    s("name", grid_name(vname(g.village), g.code.as_str())),
                ],
            })
            .collect(),
    )
}

/// Roads (every barrier but rivers) or rivers.
pub fn lines(snap: &Snapshot, river: bool) -> Layer {
    Layer::lines(
        if river { "rivers" } else { "roads" },
        snap.barriers
            .iter()
            .enumerate()
            .filter(|(_, b)| (b.class == BarrierClass::River) == river)
            .map(|(k, b)| {
                let mut props = vec![s("class", b.class.as_str())];
                if let Some(n) = &b.name {
                    props.push(s("name", n.as_str()));
                }
                Feature {
                    id: k as u64 + 1,
                    geometry: MultiLineString(b.lines.clone()),
                    props,
                }
            })
            .collect(),
    )
}

/// The buildings layer of one tile's buildings: footprints as given (a small square for a
/// building known by its point), the feature id the building's stable key.
pub fn buildings(records: &[BuildingRecord]) -> Layer {
    Layer::footprints(
        "buildings",
        records
            .iter()
            .map(|b| {
                let geometry = b.footprint.clone().unwrap_or_else(|| {
                    let (x, y, h) = (b.point.x(), b.point.y(), POINT_BUILDING_DEG / 2.0);
                    MultiPolygon(vec![Polygon::new(
                        LineString::from(vec![
                            (x - h, y - h),
                            (x + h, y - h),
                            (x + h, y + h),
                            (x - h, y + h),
                            (x - h, y - h),
                        ]),
                        vec![],
                    )])
                });
                let mut props = vec![
                    s("id", b.id.as_str()),
                    s("kind", b.kind.as_str()),
                    i("households", b.households as i64),
                    i("residents", b.residents as i64),
                ];
                if let Some(a) = &b.address {
                    props.push(s("address", a.as_str()));
                }
                if let Some(g) = &b.grid_code {
                    props.push(s("grid_code", g.as_str()));
                }
                Feature {
                    id: b.fid,
                    geometry,
                    props,
                }
            })
            .collect(),
    )
}
