//! Cells: the village cut into faces by its boundary, its barriers, its group lines and either the
//! Voronoi cells of its buildings or the planner's ready-made units.
//!
//! Each face carries the figures of what lies in it (households, residents, area, the band weight),
//! and an *atom key*: faces with the same key (one unit, one villager group) move together.

use crate::model::{BarrierClass, Dataset, Mode, Village, Weight};
use crate::spatial::box_tree;
use crate::topology::{Builder, EdgeClass, FaceId, Frame, Pt, Topology};
use geo::{BoundingRect, Contains, InteriorPoint, LineString, Polygon};
use spade::{DelaunayTriangulation, Point2, Triangulation};

/// The faces of one village with their figures.
pub struct Cells {
    /// The planar topology of the village.
    pub topo: Topology,
    /// Local metric frame.
    pub frame: Frame,
    /// Per face: households.
    pub households: Vec<f64>,
    /// Per face: residents.
    pub residents: Vec<f64>,
    /// Per face: the band weight.
    pub weight: Vec<f64>,
    /// Per face: area in m².
    pub area: Vec<f64>,
    /// Per face: centroid in frame metres.
    pub xy: Vec<[f64; 2]>,
    /// Per face: indices of the buildings inside it (into `Dataset::buildings`).
    pub buildings: Vec<Vec<u32>>,
    /// Per face: indices of the units it belongs to (into `Dataset::units`).
    pub unit: Vec<Option<u32>>,
    /// Per arc: its length in metres.
    pub arc_len: Vec<f64>,
    /// Per face: the atom key (unit or villager group) that keeps faces together, if any.
    pub key: Vec<Option<u32>>,
    /// Names of the villager groups, indexed by key (rural villages without units).
    pub group_names: Vec<String>,
}

fn to_pts(ls: &LineString<f64>) -> Vec<Pt> {
    ls.0.iter().map(|c| Pt::from_lonlat(c.x, c.y)).collect()
}

fn barrier_class(c: BarrierClass) -> EdgeClass {
    match c {
        BarrierClass::River => EdgeClass::RIVER,
        BarrierClass::Rail => EdgeClass::RAIL,
        BarrierClass::Expressway => EdgeClass::EXPRESSWAY,
        BarrierClass::MajorRoad => EdgeClass::MAJOR_ROAD,
        BarrierClass::MinorRoad => EdgeClass::MINOR_ROAD,
    }
}

/// Builds the cells of village `vi` of `ds`. `building_ids` and `unit_ids` are those of the village.
pub fn build(
    ds: &Dataset,
    vi: usize,
    building_ids: &[u32],
    unit_ids: &[u32],
    weight: &Weight,
) -> Cells {
    let village: &Village = &ds.villages[vi];
    let bbox = village
        .boundary
        .bounding_rect()
        .expect("validated village has a boundary");
    let origin = Pt::from_lonlat(bbox.center().x, bbox.center().y);
    let frame = Frame::new(origin);
    let (lo, hi) = (
        Pt::from_lonlat(bbox.min().x, bbox.min().y),
        Pt::from_lonlat(bbox.max().x, bbox.max().y),
    );
    let in_box = |a: Pt, b: Pt| {
        a.x.max(b.x) >= lo.x && a.x.min(b.x) <= hi.x && a.y.max(b.y) >= lo.y && a.y.min(b.y) <= hi.y
    };

    let mut b = Builder::new();
    for poly in &village.boundary.0 {
        b.add_ring(&to_pts(poly.exterior()), EdgeClass::BOUNDARY, true);
        for hole in poly.interiors() {
            b.add_ring(&to_pts(hole), EdgeClass::BOUNDARY, true);
        }
    }
    for bar in &ds.barriers {
        let class = barrier_class(bar.class);
        for line in &bar.lines {
            let pts = to_pts(line);
            for w in pts.windows(2) {
                if in_box(w[0], w[1]) {
                    b.add_line(w, class);
                }
            }
        }
    }
    // villager groups that touch this village, with a box index for finding a face's group
    let groups: Vec<&crate::model::Group> = ds
        .groups
        .iter()
        .filter(|g| {
            g.area.bounding_rect().is_some_and(|r| {
                r.max().x >= bbox.min().x
                    && r.min().x <= bbox.max().x
                    && r.max().y >= bbox.min().y
                    && r.min().y <= bbox.max().y
            })
        })
        .collect();
    for g in &groups {
        for poly in &g.area.0 {
            b.add_ring(&to_pts(poly.exterior()), EdgeClass::GROUP, false);
        }
    }
    let group_tree = box_tree(groups.iter().enumerate().map(|(i, g)| (i, &g.area)));
    if !unit_ids.is_empty() {
        for &u in unit_ids {
            for poly in &ds.units[u as usize].area.0 {
                b.add_ring(&to_pts(poly.exterior()), EdgeClass::UNIT, false);
                for hole in poly.interiors() {
                    b.add_ring(&to_pts(hole), EdgeClass::UNIT, false);
                }
            }
        }
    } else {
        add_voronoi(&mut b, ds, building_ids, &frame, lo, hi);
    }
    let topo = b.build();
    let nf = topo.faces.len();

    // Face geometry: area, centroid, a point inside, bounding box.
    let mut area = vec![0.0; nf];
    let mut xy = vec![[0.0; 2]; nf];
    let mut polys: Vec<Polygon<f64>> = Vec::with_capacity(nf);
    for f in 0..nf {
        let rings = topo.face_rings(f as FaceId);
        let mut a = 0.0;
        let (mut cx, mut cy) = (0.0, 0.0);
        for r in &rings {
            let xy_r: Vec<[f64; 2]> = r.iter().map(|p| frame.to_xy(*p)).collect();
            for w in xy_r.windows(2) {
                let cr = w[0][0] * w[1][1] - w[1][0] * w[0][1];
                a += cr;
                cx += (w[0][0] + w[1][0]) * cr;
                cy += (w[0][1] + w[1][1]) * cr;
            }
        }
        a *= 0.5;
        area[f] = a.max(0.0);
        xy[f] = if a.abs() > 1e-12 {
            [cx / (6.0 * a), cy / (6.0 * a)]
        } else {
            frame.to_xy(rings[0][0])
        };
        let ls = |r: &Vec<Pt>| {
            LineString::from(r.iter().map(|p| (p.lon(), p.lat())).collect::<Vec<_>>())
        };
        polys.push(Polygon::new(
            ls(&rings[0]),
            rings[1..].iter().map(ls).collect(),
        ));
    }
    let tree = box_tree(polys.iter().enumerate().map(|(i, p)| (i as u32, p)));
    let locate = |p: geo::Point<f64>| -> Option<u32> {
        let mut first = None;
        for c in tree.locate_all_at_point(&[p.x(), p.y()]) {
            if polys[c.data as usize].contains(&p) {
                return Some(c.data);
            }
            first = first.or(Some(c.data)).map(|f: u32| f.min(c.data));
        }
        first
    };

    // Buildings into faces. Where the village has units, a unit's figures are its buildings'
    // sums (see `ingest`), so its buildings add none of their own: each counts once.
    let buildings_count = unit_ids.is_empty();
    let mut households = vec![0.0; nf];
    let mut residents = vec![0.0; nf];
    let mut weight_v = vec![0.0; nf];
    let mut buildings: Vec<Vec<u32>> = vec![Vec::new(); nf];
    for &bi in building_ids {
        let bld = &ds.buildings[bi as usize];
        let f = locate(bld.point).or_else(|| nearest_face(&xy, &frame, bld.point));
        if let Some(f) = f {
            let f = f as usize;
            buildings[f].push(bi);
            if !buildings_count {
                continue;
            }
            households[f] += bld.households as f64;
            residents[f] += bld.residents as f64;
            weight_v[f] += match weight {
                Weight::Households => bld.households as f64,
                Weight::Residents => bld.residents as f64,
                Weight::Field(_) => bld.custom.unwrap_or(0.0),
            };
        }
    }

    // Units and groups: which one each face lies in.
    let probes: Vec<Option<geo::Point<f64>>> = polys.iter().map(|p| p.interior_point()).collect();
    let mut unit = vec![None; nf];
    if !unit_ids.is_empty() {
        let utree = box_tree(unit_ids.iter().map(|&u| (u, &ds.units[u as usize].area)));
        for f in 0..nf {
            if let Some(p) = probes[f] {
                unit[f] = utree
                    .locate_all_at_point(&[p.x(), p.y()])
                    .map(|c| c.data)
                    .filter(|&u| ds.units[u as usize].area.contains(&p))
                    .min();
            }
        }
        // Each unit's figures spread over its faces by area.
        let mut unit_area = std::collections::HashMap::<u32, f64>::new();
        for f in 0..nf {
            if let Some(u) = unit[f] {
                *unit_area.entry(u).or_default() += area[f];
            }
        }
        for f in 0..nf {
            if let Some(u) = unit[f] {
                let share = if unit_area[&u] > 0.0 {
                    area[f] / unit_area[&u]
                } else {
                    0.0
                };
                let un = &ds.units[u as usize];
                households[f] += un.households * share;
                residents[f] += un.residents * share;
                weight_v[f] += share
                    * match weight {
                        Weight::Households => un.households,
                        Weight::Residents => un.residents,
                        Weight::Field(_) => un.custom.unwrap_or(0.0),
                    };
            }
        }
    }

    // Atom keys: units; else villager groups in the countryside.
    let mut group_names: Vec<String> = Vec::new();
    let key: Vec<Option<u32>> = if !unit_ids.is_empty() {
        unit.clone()
    } else if village.mode == Mode::Rural {
        let mut names: std::collections::BTreeMap<String, u32> = Default::default();
        let mut name_of = |s: &str| -> u32 {
            let n = names.len() as u32;
            *names.entry(s.to_string()).or_insert(n)
        };
        let mut key = vec![None; nf];
        for f in 0..nf {
            // a group polygon wins; else the group of the buildings in the face
            let from_poly = probes[f].and_then(|p| {
                group_tree
                    .locate_all_at_point(&[p.x(), p.y()])
                    .map(|c| c.data)
                    .filter(|&i| groups[i].area.contains(&p))
                    .min()
                    .map(|i| groups[i].id.clone())
            });
            let from_bld = buildings[f]
                .iter()
                .filter_map(|&b| ds.buildings[b as usize].group.clone())
                .min();
            if let Some(name) = from_poly.or(from_bld) {
                key[f] = Some(name_of(&name));
            }
        }
        let mut sorted: Vec<(String, u32)> = names.into_iter().collect();
        sorted.sort_by_key(|(_, k)| *k);
        group_names = sorted.into_iter().map(|(n, _)| n).collect();
        key
    } else {
        vec![None; nf]
    };

    let mut topo = topo;
    // Borders between different villager groups are group lines, drawn or not.
    if unit_ids.is_empty() && village.mode == Mode::Rural {
        for a in &mut topo.arcs {
            if let (Some(l), Some(r)) = (a.left, a.right) {
                if let (Some(kl), Some(kr)) = (key[l as usize], key[r as usize]) {
                    if kl != kr {
                        a.class = a.class.union(EdgeClass::GROUP);
                    }
                }
            }
        }
    }

    let arc_len = topo.arcs.iter().map(|a| frame.length(&a.points)).collect();
    Cells {
        arc_len,
        topo,
        frame,
        households,
        residents,
        weight: weight_v,
        area,
        xy,
        buildings,
        unit,
        key,
        group_names,
    }
}

fn nearest_face(xy: &[[f64; 2]], frame: &Frame, p: geo::Point<f64>) -> Option<u32> {
    let q = frame.to_xy(Pt::from_lonlat(p.x(), p.y()));
    (0..xy.len())
        .min_by(|&a, &b| {
            let da = (xy[a][0] - q[0]).powi(2) + (xy[a][1] - q[1]).powi(2);
            let db = (xy[b][0] - q[0]).powi(2) + (xy[b][1] - q[1]).powi(2);
            da.total_cmp(&db)
        })
        .map(|f| f as u32)
}

/// Adds the Voronoi edges of the buildings' points: each Voronoi edge is one shared segment.
fn add_voronoi(b: &mut Builder, ds: &Dataset, building_ids: &[u32], frame: &Frame, lo: Pt, hi: Pt) {
    let mut sites: Vec<Pt> = building_ids
        .iter()
        .map(|&i| {
            let p = ds.buildings[i as usize].point;
            Pt::from_lonlat(p.x(), p.y())
        })
        .collect();
    sites.sort_unstable();
    sites.dedup();
    if sites.len() < 2 {
        return;
    }
    let (a, z) = (frame.to_xy(lo), frame.to_xy(hi));
    let (cx, cy) = ((a[0] + z[0]) / 2.0, (a[1] + z[1]) / 2.0);
    let r = 10.0 * ((z[0] - a[0]).hypot(z[1] - a[1]) + 100.0);
    let mut pts: Vec<Point2<f64>> = sites
        .iter()
        .map(|p| {
            let q = frame.to_xy(*p);
            Point2::new(q[0], q[1])
        })
        .collect();
    let n_real = pts.len();
    for i in 0..8 {
        let t = i as f64 * std::f64::consts::PI / 4.0;
        pts.push(Point2::new(cx + r * t.cos(), cy + r * t.sin()));
    }
    let Ok(dt) = DelaunayTriangulation::<Point2<f64>>::bulk_load_stable(pts) else {
        return;
    };
    for e in dt.undirected_edges() {
        let [v0, v1] = e.vertices();
        if v0.index() >= n_real && v1.index() >= n_real {
            continue;
        }
        let d = e.as_directed();
        let (Some(f0), Some(f1)) = (d.face().as_inner(), d.rev().face().as_inner()) else {
            continue;
        };
        let (c0, c1) = (f0.circumcenter(), f1.circumcenter());
        if !(c0.x.is_finite() && c0.y.is_finite() && c1.x.is_finite() && c1.y.is_finite()) {
            continue;
        }
        let (p0, p1) = (frame.to_pt([c0.x, c0.y]), frame.to_pt([c1.x, c1.y]));
        if p0.x.max(p1.x) >= lo.x
            && p0.x.min(p1.x) <= hi.x
            && p0.y.max(p1.y) >= lo.y
            && p0.y.min(p1.y) <= hi.y
        {
            b.add_line(&[p0, p1], EdgeClass::CELL);
        }
    }
}
