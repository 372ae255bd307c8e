//! Tests of the synthetic town generator (`wangge::synth`).

use std::collections::{BTreeMap, BTreeSet};

use geo::{
    Area, BooleanOps, BoundingRect, Contains, ConvexHull, Coord, Geometry, Intersects, LineString,
    MultiPolygon, Point, Polygon, Rect, Validation,
};
use geojson::{Feature, FeatureCollection};
use wangge::synth::{synth_town, SynthConfig, SynthTown};

fn town(households: u64, seed: u64, odd_shapes: bool) -> SynthTown {
    synth_town(&SynthConfig {
        households,
        seed,
        odd_shapes,
    })
}

fn geom(f: &Feature) -> Geometry<f64> {
    Geometry::try_from(f.geometry.clone().expect("geometry")).expect("convertible geometry")
}

fn multipolygon(f: &Feature) -> MultiPolygon<f64> {
    match geom(f) {
        Geometry::Polygon(p) => MultiPolygon(vec![p]),
        Geometry::MultiPolygon(mp) => mp,
        other => panic!("village is not a (multi)polygon: {other:?}"),
    }
}

fn prop_str<'a>(f: &'a Feature, key: &str) -> &'a str {
    f.property(key)
        .and_then(|v| v.as_str())
        .unwrap_or_else(|| panic!("missing string property {key}: {:?}", f.properties))
}

fn prop_u64(f: &Feature, key: &str) -> u64 {
    f.property(key)
        .and_then(|v| v.as_u64())
        .unwrap_or_else(|| panic!("missing integer property {key}: {:?}", f.properties))
}

fn total_households(t: &SynthTown) -> u64 {
    t.buildings
        .features
        .iter()
        .map(|f| prop_u64(f, "households"))
        .sum()
}

struct Village {
    code: String,
    mode: String,
    shape: MultiPolygon<f64>,
    bbox: Rect<f64>,
}

fn villages(t: &SynthTown) -> Vec<Village> {
    t.villages
        .features
        .iter()
        .map(|f| {
            let shape = multipolygon(f);
            let bbox = shape.bounding_rect().expect("non-empty village");
            Village {
                code: prop_str(f, "code").to_string(),
                mode: prop_str(f, "mode").to_string(),
                shape,
                bbox,
            }
        })
        .collect()
}

fn rects_overlap(a: &Rect<f64>, b: &Rect<f64>) -> bool {
    a.min().x <= b.max().x
        && b.min().x <= a.max().x
        && a.min().y <= b.max().y
        && b.min().y <= a.max().y
}

/// Index of the villages containing the building.
fn containing(vs: &[Village], g: &Geometry<f64>) -> Vec<usize> {
    let bb = g.bounding_rect().expect("bbox");
    vs.iter()
        .enumerate()
        .filter(|(_, v)| rects_overlap(&v.bbox, &bb))
        .filter(|(_, v)| match g {
            Geometry::Point(p) => v.shape.contains(p),
            Geometry::Polygon(p) => v.shape.contains(p),
            other => panic!("unexpected building geometry {other:?}"),
        })
        .map(|(k, _)| k)
        .collect()
}

fn signed_area(ls: &LineString<f64>) -> f64 {
    ls.0.windows(2)
        .map(|w| w[0].x * w[1].y - w[1].x * w[0].y)
        .sum::<f64>()
        / 2.0
}

fn check_polygon(p: &Polygon<f64>, what: &str) {
    assert!(
        p.is_valid(),
        "{what}: invalid polygon {:?}",
        p.check_validation()
    );
    assert!(signed_area(p.exterior()) > 0.0, "{what}: exterior not CCW");
    for h in p.interiors() {
        assert!(signed_area(h) < 0.0, "{what}: hole not CW");
    }
    for ring in std::iter::once(p.exterior()).chain(p.interiors()) {
        assert_eq!(ring.0.first(), ring.0.last(), "{what}: ring not closed");
    }
}

#[test]
fn deterministic_for_the_same_config() {
    let a = town(20_000, 7, true);
    let b = town(20_000, 7, true);
    for (x, y) in [
        (&a.villages, &b.villages),
        (&a.buildings, &b.buildings),
        (&a.groups, &b.groups),
        (&a.barriers, &b.barriers),
    ] {
        assert_eq!(
            serde_json::to_string(x).unwrap(),
            serde_json::to_string(y).unwrap()
        );
    }
    let c = town(20_000, 8, true);
    assert_ne!(
        serde_json::to_string(&a.buildings).unwrap(),
        serde_json::to_string(&c.buildings).unwrap(),
        "another seed gives another town"
    );
}

#[test]
fn household_totals_within_two_percent() {
    for (h, seed) in [(10_000u64, 1u64), (50_000, 2), (50_000, 3)] {
        for odd in [false, true] {
            let t = town(h, seed, odd);
            let got = total_households(&t) as f64;
            let err = (got - h as f64).abs() / h as f64;
            assert!(err <= 0.02, "{h} households (odd {odd}): got {got}");
            let residents: u64 = t
                .buildings
                .features
                .iter()
                .map(|f| prop_u64(f, "residents"))
                .sum();
            let per = residents as f64 / got;
            assert!((2.4..=3.1).contains(&per), "{per} residents per household");
        }
    }
}

#[test]
fn small_and_empty_towns() {
    let t = town(300, 5, false);
    assert_eq!(t.villages.features.len(), 1);
    assert_eq!(total_households(&t), 300);
    assert!(!t.groups.features.is_empty());

    let t = town(0, 5, false);
    assert_eq!(t.villages.features.len(), 1);
    assert!(t.buildings.features.is_empty());
    assert!(t.groups.features.is_empty());
    let v = &villages(&t)[0];
    assert!(v.shape.unsigned_area() > 0.0);
}

#[test]
fn village_count_scales_with_households() {
    let small = town(10_000, 1, false).villages.features.len();
    let mid = town(100_000, 1, false).villages.features.len();
    assert!(
        (2..=8).contains(&small),
        "{small} villages for 10k households"
    );
    assert!(
        (20..=60).contains(&mid),
        "{mid} villages for 100k households"
    );
}

#[test]
fn codes_are_twelve_digits_and_unique_and_names_chinese() {
    let t = town(50_000, 11, true);
    let mut codes = BTreeSet::new();
    let mut names = BTreeSet::new();
    for f in &t.villages.features {
        let code = prop_str(f, "code");
        assert_eq!(code.len(), 12, "{code}");
        assert!(code.bytes().all(|b| b.is_ascii_digit()), "{code}");
        assert!(code.starts_with("320583"), "{code}");
        let seq: u32 = code[9..].parse().unwrap();
        let mode = prop_str(f, "mode");
        match mode {
            "town" => assert!((1..200).contains(&seq), "{code}"),
            "rural" => assert!((200..400).contains(&seq), "{code}"),
            "industrial" => assert!((400..500).contains(&seq), "{code}"),
            other => panic!("bad mode {other}"),
        }
        assert!(codes.insert(code.to_string()), "duplicate {code}");
        let name = prop_str(f, "name");
        assert!(
            name.ends_with('村') || name.ends_with("社区"),
            "unexpected name {name}"
        );
        assert!(names.insert(name.to_string()), "duplicate name {name}");
    }
    let modes: BTreeSet<&str> = t
        .villages
        .features
        .iter()
        .map(|f| prop_str(f, "mode"))
        .collect();
    assert_eq!(modes.len(), 3, "all three modes present: {modes:?}");
}

#[test]
fn every_building_inside_exactly_one_village() {
    for odd in [false, true] {
        let t = town(50_000, 4, odd);
        let vs = villages(&t);
        for f in &t.buildings.features {
            let g = geom(f);
            let inside = containing(&vs, &g);
            assert_eq!(inside.len(), 1, "building {:?} in {inside:?}", f.properties);
        }
    }
}

/// Distance in metres from a lon/lat coordinate to a segment (local equirectangular frame).
fn metres_to_segment(p: Coord<f64>, a: Coord<f64>, b: Coord<f64>) -> f64 {
    let kx = 111_320.0 * p.y.to_radians().cos();
    let ky = 110_574.0;
    let (px, py) = (0.0, 0.0);
    let (ax, ay) = ((a.x - p.x) * kx, (a.y - p.y) * ky);
    let (bx, by) = ((b.x - p.x) * kx, (b.y - p.y) * ky);
    let (dx, dy) = (bx - ax, by - ay);
    let l2 = dx * dx + dy * dy;
    let t = if l2 > 0.0 {
        (((px - ax) * dx + (py - ay) * dy) / l2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (qx, qy) = (ax + t * dx, ay + t * dy);
    (qx * qx + qy * qy).sqrt()
}

#[test]
fn buildings_keep_a_metre_from_village_borders() {
    let t = town(30_000, 17, true);
    let vs = villages(&t);
    let mut closest = f64::INFINITY;
    for f in &t.buildings.features {
        let g = geom(f);
        let k = containing(&vs, &g)[0];
        let coords: Vec<Coord<f64>> = match &g {
            Geometry::Point(p) => vec![p.0],
            Geometry::Polygon(p) => p.exterior().0.clone(),
            _ => unreachable!(),
        };
        for poly in &vs[k].shape.0 {
            for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
                for w in ring.0.windows(2) {
                    for &c in &coords {
                        closest = closest.min(metres_to_segment(c, w[0], w[1]));
                    }
                }
            }
        }
    }
    assert!(
        closest >= 1.0,
        "a building {closest} m from its village border"
    );
}

#[test]
fn villages_do_not_overlap_and_all_polygons_are_valid() {
    let t = town(30_000, 9, true);
    let vs = villages(&t);
    for (k, v) in vs.iter().enumerate() {
        for p in &v.shape.0 {
            check_polygon(p, &v.code);
        }
        assert!(v.shape.is_valid(), "{}", v.code);
        for w in &vs[k + 1..] {
            if !rects_overlap(&v.bbox, &w.bbox) {
                continue;
            }
            let overlap = v.shape.intersection(&w.shape).unsigned_area();
            let smaller = v.shape.unsigned_area().min(w.shape.unsigned_area());
            assert!(
                overlap <= 1e-6 * smaller,
                "{} and {} overlap by {overlap}",
                v.code,
                w.code
            );
        }
    }
    for f in t.buildings.features.iter().chain(&t.groups.features) {
        if let Geometry::Polygon(p) = geom(f) {
            check_polygon(&p, "building/group");
        }
    }
}

#[test]
fn neighbouring_villages_share_exact_vertices() {
    let t = town(30_000, 2, true);
    let vs = villages(&t);
    let key = |c: &Coord<f64>| ((c.x * 1e7).round() as i64, (c.y * 1e7).round() as i64);
    let rings = |v: &Village| -> Vec<LineString<f64>> {
        v.shape
            .0
            .iter()
            .flat_map(|p| {
                std::iter::once(p.exterior().clone()).chain(p.interiors().iter().cloned())
            })
            .collect()
    };
    let vertex_sets: Vec<BTreeSet<(i64, i64)>> = vs
        .iter()
        .map(|v| rings(v).iter().flat_map(|r| r.0.iter().map(key)).collect())
        .collect();
    let mut shared = 0;
    for (a, va) in vs.iter().enumerate() {
        for (b, vb) in vs.iter().enumerate() {
            if a == b || !rects_overlap(&va.bbox, &vb.bbox) {
                continue;
            }
            let rb = rings(vb);
            for ring in rings(va) {
                for c in &ring.0 {
                    let on_b = rb.iter().any(|r| {
                        r.0.windows(2)
                            .any(|w| metres_to_segment(*c, w[0], w[1]) < 0.01)
                    });
                    if on_b {
                        assert!(
                            vertex_sets[b].contains(&key(c)),
                            "{} has a vertex on the border of {} that {} lacks",
                            va.code,
                            vb.code,
                            vb.code
                        );
                        shared += 1;
                    }
                }
            }
        }
    }
    assert!(shared > 100, "{shared} shared vertices");
}

#[test]
fn footprints_do_not_overlap() {
    let t = town(20_000, 6, false);
    let polys: Vec<(Polygon<f64>, Rect<f64>)> = t
        .buildings
        .features
        .iter()
        .filter_map(|f| match geom(f) {
            Geometry::Polygon(p) => {
                let r = p.bounding_rect().unwrap();
                Some((p, r))
            }
            _ => None,
        })
        .collect();
    assert!(polys.len() > 20);
    for (k, (a, ra)) in polys.iter().enumerate() {
        for (b, rb) in &polys[k + 1..] {
            if rects_overlap(ra, rb) {
                assert!(!a.intersects(b), "footprints overlap: {a:?} {b:?}");
            }
        }
    }
}

#[test]
fn coordinates_are_rounded_to_seven_decimals() {
    let t = town(10_000, 3, false);
    let text = serde_json::to_string(&t.buildings).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut n = 0;
    for f in v["features"].as_array().unwrap().iter().take(500) {
        let g = &f["geometry"];
        let coords: Vec<f64> = match g["type"].as_str().unwrap() {
            "Point" => g["coordinates"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_f64().unwrap())
                .collect(),
            _ => g["coordinates"][0]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|c| c.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()))
                .collect(),
        };
        for c in coords {
            assert!(((c * 1e7).round() - c * 1e7).abs() < 1e-3, "{c}");
            n += 1;
        }
    }
    assert!(n > 0);
    // The town sits in southern Jiangsu.
    let b = geom(&t.villages.features[0]).bounding_rect().unwrap();
    assert!((120.0..122.0).contains(&b.min().x) && (30.5..32.0).contains(&b.min().y));
}

#[test]
fn building_schema() {
    let t = town(40_000, 12, false);
    let mut ids = BTreeSet::new();
    let mut addresses = BTreeSet::new();
    let mut kinds = BTreeMap::new();
    let mut points = 0;
    for f in &t.buildings.features {
        let id = prop_str(f, "id");
        assert!(ids.insert(id.to_string()), "duplicate id {id}");
        let address = prop_str(f, "address");
        assert!(
            addresses.insert(address.to_string()),
            "duplicate address {address}"
        );
        let kind = prop_str(f, "kind");
        *kinds.entry(kind.to_string()).or_insert(0) += 1;
        let hh = prop_u64(f, "households");
        let residents = prop_u64(f, "residents");
        match kind {
            "residential" => {
                assert!(
                    (1..=200).contains(&hh) && residents >= hh,
                    "{:?}",
                    f.properties
                );
                assert!(f.property("staff").is_none());
                if matches!(geom(f), Geometry::Point(_)) {
                    points += 1;
                    assert_eq!(hh, 1);
                    let group = prop_str(f, "group");
                    assert!(
                        group.starts_with('第') && group.ends_with("村民小组"),
                        "{group}"
                    );
                    assert!(address.contains(group), "{address}");
                }
            }
            "school" | "hospital" | "factory" | "commercial" | "office" => {
                assert_eq!(hh, 0);
                assert_eq!(residents, 0);
                assert!(prop_u64(f, "staff") > 0);
                if kind == "factory" {
                    let staff = prop_u64(f, "staff");
                    assert!((50..=2000).contains(&staff), "{staff}");
                    match f.property("workshops").and_then(|w| w.as_u64()) {
                        Some(w) => assert!((1..=8).contains(&w) && staff > 300),
                        None => assert!(staff <= 300),
                    }
                }
            }
            other => panic!("bad kind {other}"),
        }
    }
    for k in [
        "residential",
        "school",
        "hospital",
        "factory",
        "commercial",
        "office",
    ] {
        assert!(kinds.contains_key(k), "no {k} in {kinds:?}");
    }
    assert!(points > 1000, "rural houses are points");
    assert!(
        t.buildings
            .features
            .iter()
            .any(|f| { prop_str(f, "kind") == "residential" && prop_u64(f, "households") >= 40 }),
        "apartment blocks exist"
    );
}

#[test]
fn groups_lie_in_their_village_hold_their_houses_and_do_not_overlap() {
    let t = town(30_000, 13, true);
    let vs = villages(&t);
    let by_code: BTreeMap<&str, &Village> = vs.iter().map(|v| (v.code.as_str(), v)).collect();
    let mut groups: BTreeMap<(String, String), Polygon<f64>> = BTreeMap::new();
    for f in &t.groups.features {
        let code = prop_str(f, "village");
        let id = prop_str(f, "id");
        let Geometry::Polygon(p) = geom(f) else {
            panic!("group not a polygon")
        };
        let v = by_code[code];
        assert_eq!(v.mode, "rural");
        assert!(v.shape.contains(&p), "group {id} outside {code}");
        assert!(groups
            .insert((code.to_string(), id.to_string()), p)
            .is_none());
    }
    let list: Vec<(&(String, String), &Polygon<f64>)> = groups.iter().collect();
    for (k, (ka, a)) in list.iter().enumerate() {
        let ra = a.bounding_rect().unwrap();
        for (kb, b) in &list[k + 1..] {
            if rects_overlap(&ra, &b.bounding_rect().unwrap()) {
                assert!(!a.intersects(*b), "groups {ka:?} and {kb:?} touch");
            }
        }
    }
    // Every rural house lies in its group polygon; group sizes are 20–120 households.
    let mut sizes: BTreeMap<(String, String), u64> = BTreeMap::new();
    for f in &t.buildings.features {
        let Some(g) = f.property("group").and_then(|g| g.as_str()) else {
            continue;
        };
        let Geometry::Point(p) = geom(f) else {
            continue;
        };
        let inside = containing(&vs, &Geometry::Point(p));
        let code = vs[inside[0]].code.clone();
        let key = (code, g.to_string());
        assert!(groups[&key].contains(&p), "house outside its group {key:?}");
        *sizes.entry(key).or_default() += 1;
    }
    assert_eq!(sizes.len(), groups.len(), "every group has houses");
    for (k, n) in &sizes {
        assert!((20..=120).contains(n), "group {k:?} has {n} households");
    }
}

#[test]
fn odd_shapes_are_present() {
    let t = town(40_000, 21, true);
    let vs = villages(&t);
    let buildings: Vec<Geometry<f64>> = t.buildings.features.iter().map(geom).collect();
    let mut owner: Vec<Vec<usize>> = vec![Vec::new(); vs.len()];
    for (b, g) in buildings.iter().enumerate() {
        for k in containing(&vs, g) {
            owner[k].push(b);
        }
    }

    // A two-piece MultiPolygon village, each piece holding buildings.
    let multi = vs
        .iter()
        .position(|v| v.shape.0.len() >= 2)
        .expect("a MultiPolygon village");
    for piece in &vs[multi].shape.0 {
        let n = owner[multi]
            .iter()
            .filter(|&&b| match &buildings[b] {
                Geometry::Point(p) => piece.contains(p),
                Geometry::Polygon(p) => piece.contains(p),
                _ => false,
            })
            .count();
        assert!(n > 0, "an empty piece in {}", vs[multi].code);
    }

    // A village with a hole; the enclave is another village, exactly filling it.
    let holed = vs
        .iter()
        .position(|v| v.shape.0.iter().any(|p| !p.interiors().is_empty()))
        .expect("a village with a hole");
    let hole = Polygon::new(vs[holed].shape.0[0].interiors()[0].clone(), vec![]);
    let enclave = vs
        .iter()
        .position(|v| {
            (v.shape.unsigned_area() - hole.unsigned_area()).abs() < 1e-9
                && v.shape.intersects(&hole)
        })
        .expect("an enclave village filling the hole");
    assert_ne!(enclave, holed);
    assert!(!owner[enclave].is_empty() && !owner[holed].is_empty());

    // A concave (L or U) village.
    let concave = vs.iter().filter(|v| {
        v.shape.0.len() == 1
            && v.shape.unsigned_area() < 0.85 * v.shape.convex_hull().unsigned_area()
    });
    assert!(concave.count() >= 2, "L and U villages");

    // The river crosses a village fully, with buildings on both banks.
    let river: LineString<f64> = t
        .barriers
        .features
        .iter()
        .find(|f| prop_str(f, "class") == "river")
        .map(|f| match geom(f) {
            Geometry::LineString(l) => l,
            other => panic!("river is {other:?}"),
        })
        .expect("a river");
    let river_y = |x: f64| -> f64 {
        let w = river
            .0
            .windows(2)
            .find(|w| w[0].x <= x && x <= w[1].x)
            .expect("river spans the town");
        let t = (x - w[0].x) / (w[1].x - w[0].x);
        w[0].y + t * (w[1].y - w[0].y)
    };
    let first = Point::from(river.0[0]);
    let last = Point::from(*river.0.last().unwrap());
    let crossed = vs.iter().enumerate().filter(|(k, v)| {
        if !v.shape.intersects(&river) || v.shape.contains(&first) || v.shape.contains(&last) {
            return false;
        }
        let (mut north, mut south) = (0, 0);
        for &b in &owner[*k] {
            let c: Coord<f64> = match &buildings[b] {
                Geometry::Point(p) => p.0,
                Geometry::Polygon(p) => p.exterior().0[0],
                _ => continue,
            };
            if c.y > river_y(c.x) {
                north += 1;
            } else {
                south += 1;
            }
        }
        north > 0 && south > 0
    });
    assert!(
        crossed.count() >= 2,
        "the river cuts villages into two banks"
    );

    let classes: BTreeSet<&str> = t
        .barriers
        .features
        .iter()
        .map(|f| prop_str(f, "class"))
        .collect();
    for c in ["river", "rail", "expressway", "major_road", "minor_road"] {
        assert!(classes.contains(c), "no {c} barrier");
    }
}

#[test]
fn write_dir_writes_the_layers() {
    let dir = tempfile::tempdir().unwrap();
    let t = town(5_000, 1, false);
    t.write_dir(dir.path()).unwrap();
    for (name, fc) in [
        ("villages.geojson", &t.villages),
        ("buildings.geojson", &t.buildings),
        ("groups.geojson", &t.groups),
        ("barriers.geojson", &t.barriers),
    ] {
        let bytes = std::fs::read(dir.path().join(name)).unwrap();
        assert_eq!(bytes, serde_json::to_vec(fc).unwrap(), "{name}");
        let back: FeatureCollection = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(&back, fc);
    }
    let empty = town(0, 1, false);
    empty.write_dir(dir.path()).unwrap();
    assert!(!dir.path().join("groups.geojson").exists());
    assert!(dir.path().join("villages.geojson").exists());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// `cargo test --release --test synth -- --ignored --nocapture` times 1.5M households.
#[test]
#[ignore]
fn large_town_timing() {
    let cfg = SynthConfig {
        households: 1_500_000,
        seed: 1,
        odd_shapes: false,
    };
    let t0 = std::time::Instant::now();
    let t = synth_town(&cfg);
    let gen = t0.elapsed();
    let dir = tempfile::tempdir().unwrap();
    let t1 = std::time::Instant::now();
    t.write_dir(dir.path()).unwrap();
    let write = t1.elapsed();
    let hh = total_households(&t);
    eprintln!(
        "1.5M: generate {gen:?}, write {write:?}; {} villages, {} buildings, {} groups, {} barriers, {hh} households",
        t.villages.features.len(),
        t.buildings.features.len(),
        t.groups.features.len(),
        t.barriers.features.len()
    );
    for name in ["villages", "buildings", "groups", "barriers"] {
        let len = std::fs::metadata(dir.path().join(format!("{name}.geojson")))
            .unwrap()
            .len();
        eprintln!("  {name}.geojson: {:.1} MB", len as f64 / 1e6);
    }
    assert!((hh as f64 - 1.5e6).abs() <= 0.02 * 1.5e6);
    let codes: BTreeSet<&str> = t
        .villages
        .features
        .iter()
        .map(|f| prop_str(f, "code"))
        .collect();
    assert_eq!(codes.len(), t.villages.features.len());
    assert!(codes.iter().all(|c| c.len() == 12));
    let mut sizes: Vec<u64> = vec![0; t.villages.features.len()];
    let index: BTreeMap<&str, usize> = t
        .villages
        .features
        .iter()
        .enumerate()
        .map(|(k, f)| (prop_str(f, "name"), k))
        .collect();
    for f in &t.buildings.features {
        let a = prop_str(f, "address");
        let chars: Vec<(usize, char)> = a.char_indices().collect();
        let hit = (3..=8)
            .filter_map(|n| chars.get(n).map(|&(i, _)| &a[..i]))
            .find_map(|prefix| index.get(prefix));
        if let Some(&k) = hit {
            sizes[k] += prop_u64(f, "households");
        }
    }
    for mode in ["town", "industrial", "rural"] {
        let mut v: Vec<u64> = t
            .villages
            .features
            .iter()
            .zip(&sizes)
            .filter(|(f, _)| prop_str(f, "mode") == mode)
            .map(|(_, &n)| n)
            .collect();
        v.sort_unstable();
        if !v.is_empty() {
            eprintln!(
                "  {mode}: {} villages, households min {} median {} max {}",
                v.len(),
                v[0],
                v[v.len() / 2],
                v[v.len() - 1]
            );
        }
    }
    let townships: BTreeSet<&str> = codes.iter().map(|c| &c[..9]).collect();
    eprintln!("  townships: {townships:?}");
}

/// `SYNTH_OUT=dir SYNTH_HOUSEHOLDS=50000 SYNTH_ODD=1 cargo test --test synth -- --ignored sample`
/// writes a sample town for inspection.
#[test]
#[ignore]
fn sample_to_dir() {
    let Ok(dir) = std::env::var("SYNTH_OUT") else {
        return;
    };
    let env = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let t = synth_town(&SynthConfig {
        households: env("SYNTH_HOUSEHOLDS", 50_000),
        seed: env("SYNTH_SEED", 1),
        odd_shapes: env("SYNTH_ODD", 0) != 0,
    });
    t.write_dir(std::path::Path::new(&dir)).unwrap();
}

/// The invariants every generated town keeps.
fn check_invariants(t: &SynthTown, households: u64) {
    let got = total_households(t);
    let err = (got as f64 - households as f64).abs();
    assert!(err <= 0.02 * households as f64, "{households}: got {got}");
    let vs = villages(t);
    assert!(!vs.is_empty());
    for v in &vs {
        assert!(v.shape.is_valid(), "{}", v.code);
    }
    for f in &t.buildings.features {
        let g = geom(f);
        assert_eq!(containing(&vs, &g).len(), 1, "{:?}", f.properties);
    }
}

#[test]
fn many_sizes_and_seeds_keep_the_invariants() {
    for households in [1u64, 19, 20, 41, 299, 1_000, 2_999, 7_777] {
        for seed in 0..3 {
            for odd in [false, true] {
                check_invariants(&town(households, seed, odd), households);
            }
        }
    }
}

/// A wider sweep: `cargo test --release --test synth -- --ignored sweep`.
#[test]
#[ignore]
fn sweep_sizes_and_seeds() {
    for households in [12_345u64, 64_000, 99_999, 250_000, 600_000] {
        for seed in 0..4 {
            for odd in [false, true] {
                check_invariants(&town(households, seed, odd), households);
            }
        }
    }
}
