//! Vector tiles of a partitioned town, read back with GDAL's MVT driver (`ogrinfo`), and checked
//! for gaps between neighbouring grids on the tile's integer grid.

use geo::{
    BoundingRect, Contains, Coord, LineString, MultiLineString, MultiPolygon, Polygon, Rect,
};
use std::collections::{BTreeMap, HashMap};
use std::process::Command;
use std::sync::OnceLock;
use wangge::model::Weight;
use wangge::partition::{partition, Options};
use wangge::snapshot::Snapshot;
use wangge::synth::{synth_town, SynthConfig};
use wangge::tiles::{tiles_covering, Feature, IPt, Layer, PropValue, TileId, EXTENT};

/// A town of about 3,000 households, partitioned once for every test.
fn town() -> &'static (Snapshot, Layer) {
    static TOWN: OnceLock<(Snapshot, Layer)> = OnceLock::new();
    TOWN.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        synth_town(&SynthConfig {
            households: 3000,
            seed: 11,
            odd_shapes: false,
        })
        .write_dir(dir.path())
        .unwrap();
        let ds = wangge::ingest::read_dir(dir.path(), &Weight::Households).unwrap();
        let plan = partition(&ds, &Options::default(), &|| {});
        let snap = Snapshot::from_plan(&ds, &plan, 1);
        let layer = grids_layer(&snap);
        (snap, layer)
    })
}

fn grids_layer(snap: &Snapshot) -> Layer {
    let features = snap
        .grids
        .iter()
        .map(|g| Feature {
            id: g.code.as_str().parse().unwrap(),
            geometry: g.geometry.clone(),
            props: vec![
                ("code".into(), PropValue::Str(g.code.as_str().into())),
                (
                    "households".into(),
                    PropValue::Int(g.figures.households.round() as i64),
                ),
                ("area_m2".into(), PropValue::Float(g.figures.area_m2)),
                (
                    "village".into(),
                    PropValue::Str(snap.villages[g.village].name.clone()),
                ),
            ],
        })
        .collect();
    Layer::polygons("grids", features)
}

/// What `ogrinfo` says about one tile: layer name, feature count, and per feature its fields.
struct Ogr {
    layers: Vec<String>,
    count: usize,
    features: Vec<BTreeMap<String, String>>,
    geometry_types: Vec<String>,
}

fn ogrinfo(bytes: &[u8], t: TileId) -> Ogr {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("{}-{}-{}.mvt", t.z, t.x, t.y));
    std::fs::write(&path, bytes).unwrap();
    let out = Command::new("ogrinfo")
        .args(["-ro", "-al", "-oo"])
        .arg(format!("X={}", t.x))
        .arg("-oo")
        .arg(format!("Y={}", t.y))
        .arg("-oo")
        .arg(format!("Z={}", t.z))
        // report features that lie in the buffer only, too (GDAL clips to the tile by default)
        .args(["-oo", "CLIP=NO"])
        .arg(&path)
        .output()
        .expect("run ogrinfo");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "ogrinfo failed on {t:?}: {}{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut o = Ogr {
        layers: Vec::new(),
        count: 0,
        features: Vec::new(),
        geometry_types: Vec::new(),
    };
    for line in text.lines() {
        if let Some(n) = line.strip_prefix("Layer name: ") {
            o.layers.push(n.trim().to_string());
        } else if let Some(n) = line.strip_prefix("Feature Count: ") {
            o.count = n.trim().parse().unwrap();
        } else if line.starts_with("OGRFeature(") {
            o.features.push(BTreeMap::new());
        } else if let (Some(f), Some((k, v))) = (o.features.last_mut(), line.split_once(" = ")) {
            // "  code (String) = 330...": field name before the type in brackets
            if let Some((name, _)) = k.trim().split_once(" (") {
                f.insert(name.to_string(), v.to_string());
            }
        } else if o.features.last().is_some() {
            let g = line.trim();
            if let Some((ty, _)) = g.split_once(" (") {
                if ty.chars().all(|c| c.is_ascii_uppercase()) && !ty.is_empty() {
                    o.geometry_types.push(ty.to_string());
                }
            }
        }
    }
    o
}

#[test]
fn gdal_reads_grid_tiles_at_z10_z13_z16() {
    let (snap, layer) = town();
    assert!(snap.grids.len() >= 5, "{} grids", snap.grids.len());
    let bounds = layer.bounds().expect("grids");
    for z in [10u8, 13, 16] {
        let mut tiles = tiles_covering(&bounds, z);
        // at z16 a handful is enough: the tiles with the most grids first
        tiles.sort_by_key(|t| std::cmp::Reverse(layer.tile_polygons(*t).len()));
        tiles.truncate(6);
        let mut seen = 0;
        for t in tiles {
            let Some(bytes) = layer.render(t) else {
                continue;
            };
            seen += 1;
            let ogr = ogrinfo(&bytes, t);
            assert_eq!(ogr.layers, vec!["grids".to_string()], "{t:?}");
            let ours = layer.tile_polygons(t);
            assert_eq!(ogr.count, ours.len(), "{t:?}");
            assert_eq!(ogr.features.len(), ours.len(), "{t:?}");
            // at most the grids whose box meets the buffered tile; at least those whose label
            // point lies inside the tile (grids are many pixels wide from z13 on)
            let q = t.buffered_bounds(wangge::tiles::BUFFER);
            let tb = t.bounds();
            let meets = snap
                .grids
                .iter()
                .filter(|g| {
                    let b = g.geometry.bounding_rect().unwrap();
                    b.min().x <= q.max().x
                        && b.max().x >= q.min().x
                        && b.min().y <= q.max().y
                        && b.max().y >= q.min().y
                })
                .count();
            let labelled = snap.grids.iter().filter(|g| tb.contains(&g.label)).count();
            assert!(ogr.count <= meets, "{t:?}: {} > {meets}", ogr.count);
            if z >= 13 {
                assert!(ogr.count >= labelled, "{t:?}: {} < {labelled}", ogr.count);
            }
            for f in &ogr.features {
                let code = &f["code"];
                assert_eq!(code.len(), 15, "{code}");
                let g = snap
                    .grids
                    .iter()
                    .find(|g| g.code.as_str() == code)
                    .unwrap_or_else(|| panic!("no grid {code}"));
                let hh: i64 = f["households"].parse().unwrap();
                assert_eq!(hh, g.figures.households.round() as i64);
                let area: f64 = f["area_m2"].parse().unwrap();
                assert!((area - g.figures.area_m2).abs() <= 1e-6 * g.figures.area_m2.max(1.0));
                assert_eq!(f["village"], snap.villages[g.village].name);
            }
            assert!(ogr
                .geometry_types
                .iter()
                .all(|g| g == "POLYGON" || g == "MULTIPOLYGON"));
            assert_eq!(ogr.geometry_types.len(), ogr.count, "{t:?}");
        }
        assert!(seen > 0, "no tile at z{z}");
    }
}

/// Distance from `p` to segment `a`–`b`.
fn seg_dist(p: [f64; 2], a: [f64; 2], b: [f64; 2]) -> f64 {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 {
        (((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    ((p[0] - a[0] - t * dx).powi(2) + (p[1] - a[1] - t * dy).powi(2)).sqrt()
}

/// Tile pixels of a lon/lat point (Web Mercator), independent of the library's own maths.
fn px(t: TileId, c: Coord<f64>) -> [f64; 2] {
    let n = (1u64 << t.z) as f64;
    let lat = c.y.to_radians();
    let wx = (c.x + 180.0) / 360.0;
    let wy = (1.0 - lat.tan().asinh() / std::f64::consts::PI) / 2.0;
    [
        (wx * n - t.x as f64) * EXTENT as f64,
        (wy * n - t.y as f64) * EXTENT as f64,
    ]
}

/// Directed edges of the tile's polygons that no other grid walks the other way, leaving out the
/// runs along the buffered box's edges (clipping artefacts outside the drawn tile).
fn lonely_edges(polys: &[(u64, Vec<Vec<Vec<IPt>>>)]) -> Vec<(IPt, IPt)> {
    let mut owner: HashMap<(IPt, IPt), Vec<u64>> = HashMap::new();
    for (id, ps) in polys {
        for r in ps.iter().flatten() {
            for i in 0..r.len() {
                owner
                    .entry((r[i], r[(i + 1) % r.len()]))
                    .or_default()
                    .push(*id);
            }
        }
    }
    let (lo, hi) = (-64, EXTENT as i32 + 64);
    let on_box = |a: IPt, b: IPt| {
        (a[0] == b[0] && (a[0] == lo || a[0] == hi)) || (a[1] == b[1] && (a[1] == lo || a[1] == hi))
    };
    let mut out = Vec::new();
    for (&(a, b), ids) in &owner {
        assert_eq!(
            ids.len(),
            1,
            "edge {a:?}→{b:?} walked the same way by {ids:?}"
        );
        if on_box(a, b) {
            continue;
        }
        match owner.get(&(b, a)) {
            Some(back) => assert_ne!(back[0], ids[0], "grid {} walks an edge both ways", ids[0]),
            None => out.push((a, b)),
        }
    }
    out.sort();
    out
}

#[test]
fn neighbouring_grids_share_every_edge_on_the_tile_grid() {
    let (snap, layer) = town();
    let bounds = layer.bounds().unwrap();
    // village outlines, where grid borders may be lonely (the town's edge, or a neighbouring
    // village whose vertices differ)
    let village_rings: Vec<&LineString<f64>> = snap
        .villages
        .iter()
        .flat_map(|v| v.boundary.0.iter())
        .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
        .collect();
    let mut checked = 0;
    for z in [10u8, 12, 14] {
        for t in tiles_covering(&bounds, z) {
            let polys = layer.tile_polygons(t);
            if polys.len() < 2 {
                continue;
            }
            let segs: Vec<([f64; 2], [f64; 2])> = village_rings
                .iter()
                .flat_map(|r| r.0.windows(2).map(|w| (px(t, w[0]), px(t, w[1]))))
                .collect();
            let lonely = lonely_edges(&polys);
            // every lonely edge lies on a village outline (within simplification + rounding)
            for (a, b) in &lonely {
                for p in [*a, *b] {
                    let p = [p[0] as f64, p[1] as f64];
                    let d = segs
                        .iter()
                        .map(|(s, e)| seg_dist(p, *s, *e))
                        .fold(f64::INFINITY, f64::min);
                    assert!(d <= 1.0, "z{z} {t:?}: lonely edge {a:?}→{b:?} is {d:.1} px off any village border (a gap between grids)");
                }
            }
            checked += polys.len();
        }
    }
    assert!(checked > 10, "{checked} grid pieces checked");
}

/// A district-sized coverage: `n × n` jittered cells over about 30 km, each side a wiggly line of
/// `k` points (a few metres off straight), as grids traced from Voronoi cells look.
fn district(n: usize, k: usize) -> Vec<MultiPolygon<f64>> {
    let step = 0.3 / n as f64;
    let h = |i: usize, j: usize, s: u64| {
        // a small deterministic hash in [-0.5, 0.5)
        let mut x = (i as u64)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add((j as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F))
            .wrapping_add(s.wrapping_mul(0x1656_67B1_9E37_79F9));
        x ^= x >> 31;
        x = x.wrapping_mul(0x94D0_49BB_1331_11EB);
        x ^= x >> 29;
        (x >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let corner = |i: usize, j: usize| -> (f64, f64) {
        let inner = |v: usize| v > 0 && v < n;
        let jx = if inner(i) {
            h(i, j, 1) * 0.4 * step
        } else {
            0.0
        };
        let jy = if inner(j) {
            h(i, j, 2) * 0.4 * step
        } else {
            0.0
        };
        (120.0 + i as f64 * step + jx, 30.0 + j as f64 * step + jy)
    };
    // side from corner a to corner b, generated in a canonical direction
    let side = |a: (usize, usize), b: (usize, usize)| -> Vec<(f64, f64)> {
        let (c0, c1, rev) = if a < b { (a, b, false) } else { (b, a, true) };
        let (p, q) = (corner(c0.0, c0.1), corner(c1.0, c1.1));
        let mut pts: Vec<(f64, f64)> = (1..=k)
            .map(|s| {
                let t = s as f64 / (k + 1) as f64;
                let w = h(c0.0 * 7919 + c1.0, c0.1 * 7919 + c1.1, s as u64) * 6e-5;
                (p.0 + t * (q.0 - p.0) + w, p.1 + t * (q.1 - p.1) - w)
            })
            .collect();
        if rev {
            pts.reverse();
        }
        pts
    };
    let mut out = Vec::with_capacity(n * n);
    for i in 0..n {
        for j in 0..n {
            let cs = [(i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1)];
            let mut ring = Vec::new();
            for s in 0..4 {
                let c = cs[s];
                ring.push(corner(c.0, c.1));
                ring.extend(side(c, cs[(s + 1) % 4]));
            }
            ring.push(ring[0]);
            out.push(MultiPolygon(vec![Polygon::new(
                LineString::from(ring),
                vec![],
            )]));
        }
    }
    out
}

#[test]
fn district_tiles_at_z10_to_z12_stay_small() {
    let polys = district(55, 60);
    let vertices: usize = polys.iter().map(|p| p.0[0].exterior().0.len()).sum();
    let features = polys
        .into_iter()
        .enumerate()
        .map(|(i, g)| Feature {
            id: 330_102_001_001_000 + i as u64,
            geometry: g,
            props: vec![
                (
                    "code".into(),
                    PropValue::Str(format!("{}", 330_102_001_001_000 + i as u64)),
                ),
                ("households".into(), PropValue::Int(300 + (i % 200) as i64)),
            ],
        })
        .collect();
    let layer = Layer::polygons("grids", features);
    let bounds: Rect<f64> = layer.bounds().unwrap();
    let mut worst = (0usize, None);
    for z in [10u8, 11, 12] {
        let mut total = 0;
        let mut n = 0;
        for t in tiles_covering(&bounds, z) {
            if let Some(b) = layer.render(t) {
                total += b.len();
                n += 1;
                if b.len() > worst.0 {
                    worst = (b.len(), Some(t));
                }
                assert!(b.len() <= 500_000, "{t:?}: {} bytes", b.len());
            }
        }
        eprintln!("z{z}: {n} tiles, {total} bytes in all ({vertices} input vertices)");
    }
    eprintln!("largest tile: {} bytes at {:?}", worst.0, worst.1);
    // the simplification is what keeps them small: unsimplified, the z10 tile would carry every
    // vertex; the simplified tile must carry far fewer than the input has
    let t = tiles_covering(&bounds, 10)[0];
    let pts: usize = layer
        .tile_polygons(t)
        .iter()
        .flat_map(|(_, ps)| ps.iter().flatten())
        .map(|r| r.len())
        .sum();
    assert!(
        pts * 10 < vertices,
        "{pts} points in {t:?} for {vertices} input vertices"
    );
}

#[test]
fn line_and_point_layers() {
    let (snap, grids) = town();
    let lines = Layer::lines(
        "barriers",
        snap.barriers
            .iter()
            .enumerate()
            .map(|(i, b)| Feature {
                id: i as u64 + 1,
                geometry: MultiLineString(b.lines.clone()),
                props: vec![("class".into(), PropValue::Str(format!("{:?}", b.class)))],
            })
            .collect(),
    );
    let labels = Layer::points(
        "labels",
        snap.grids
            .iter()
            .map(|g| Feature {
                id: g.code.as_str().parse().unwrap(),
                geometry: g.label,
                props: vec![
                    ("code".into(), PropValue::Str(g.code.as_str().into())),
                    ("big".into(), PropValue::Bool(g.figures.households > 400.0)),
                ],
            })
            .collect(),
    );
    let bounds = grids.bounds().unwrap();
    let t = tiles_covering(&bounds, 13)
        .into_iter()
        .max_by_key(|t| grids.tile_polygons(*t).len())
        .unwrap();
    let tb = t.bounds();
    let inside = snap.grids.iter().filter(|g| tb.contains(&g.label)).count();
    let bytes = labels.render(t).expect("labels on the busiest tile");
    let ogr = ogrinfo(&bytes, t);
    assert_eq!(ogr.layers, vec!["labels".to_string()]);
    assert!(
        ogr.count >= inside && ogr.count > 0,
        "{} < {inside}",
        ogr.count
    );
    assert!(ogr.geometry_types.iter().all(|g| g == "POINT"));
    assert!(ogr
        .features
        .iter()
        .all(|f| f["big"] == "0" || f["big"] == "1"));
    if let Some(bytes) = lines.render(t) {
        let ogr = ogrinfo(&bytes, t);
        assert_eq!(ogr.layers, vec!["barriers".to_string()]);
        assert!(ogr.count > 0);
        assert!(ogr
            .geometry_types
            .iter()
            .all(|g| g == "LINESTRING" || g == "MULTILINESTRING"));
    }
    // the same input gives the same bytes, also when tiles are rendered from several threads
    let again = grids_layer(snap);
    let tiles = tiles_covering(&bounds, 12);
    let ours: Vec<Option<Vec<u8>>> = std::thread::scope(|s| {
        let hs: Vec<_> = tiles
            .iter()
            .map(|&t| {
                let layer = &again;
                s.spawn(move || layer.render(t))
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let want: Vec<Option<Vec<u8>>> = tiles.iter().map(|&t| grids.render(t)).collect();
    assert!(want.iter().any(|b| b.is_some()));
    assert_eq!(ours, want);
    // far away: nothing
    let far = TileId::new(13, 0, 0).unwrap();
    assert!(grids.render(far).is_none() && labels.render(far).is_none());
}
