//! Micro-grids: dedicated ones for schools and firms, one per workshop for big factories, parts
//! of 200–300 people for big offices, buildings over the band split by household range on one
//! footprint, and the rest 50–80 households of whole buildings.

mod common;
use common::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;

fn footprint(x: f64, y: f64) -> Value {
    let d = 0.0002;
    json!({"type": "Polygon", "coordinates": [[[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]]})
}

fn bld(id: &str, geom: Value, props: Value) -> Value {
    let mut p = props;
    p["id"] = json!(id);
    json!({"type": "Feature", "properties": p, "geometry": geom})
}

/// Micro-grids of a plan measured against 50–80 households.
struct MicroBand {
    /// Grids in the plan.
    grids: usize,
    /// Micro-grids in grids whose households divide into 50–80 (the others cannot all be in band).
    checked: usize,
    /// Those of them outside 50–80: "code households (grid code: grid households)".
    outside: Vec<String>,
}

fn micro_band(out: &std::path::Path) -> MicroBand {
    let grids = read_json(&out.join("grids.geojson"));
    let grid_households: BTreeMap<String, f64> = grids["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let p = &f["properties"];
            (
                p["code"].as_str().unwrap().to_string(),
                p["households"].as_f64().unwrap(),
            )
        })
        .collect();
    let divides = |w: f64| (1..=40).any(|k| 50.0 * k as f64 <= w && w <= 80.0 * k as f64);
    let micro = read_json(&out.join("micro_grids.geojson"));
    let mut band = MicroBand {
        grids: grid_households.len(),
        checked: 0,
        outside: Vec::new(),
    };
    for f in micro["features"].as_array().unwrap() {
        let p = &f["properties"];
        let grid = p["grid_code"].as_str().unwrap();
        if !divides(grid_households[grid]) {
            continue;
        }
        band.checked += 1;
        let h = p["households"].as_f64().unwrap();
        if !(50.0..=80.0).contains(&h) {
            band.outside.push(format!(
                "{} {h} (grid {grid}: {})",
                p["code"].as_str().unwrap(),
                grid_households[grid]
            ));
        }
    }
    band
}

#[test]
fn dedicated_workshop_and_split_building_micro_grids() {
    let (lon, lat) = (120.6, 31.3);
    let village = json!({"type": "FeatureCollection", "features": [{"type": "Feature",
        "properties": {"code": "320583104001", "name": "新华社区", "mode": "town"},
        "geometry": {"type": "Polygon", "coordinates": [[[lon, lat], [lon + 0.01, lat], [lon + 0.01, lat + 0.008], [lon, lat + 0.008], [lon, lat]]]}}]});
    let mut feats = vec![
        bld(
            "SCHOOL",
            footprint(lon + 0.001, lat + 0.001),
            json!({"households": 0, "residents": 0, "kind": "school", "staff": 120}),
        ),
        bld(
            "FACTORY",
            footprint(lon + 0.008, lat + 0.001),
            json!({"households": 0, "residents": 0, "kind": "factory", "staff": 800, "workshops": 4}),
        ),
        bld(
            "OFFICE",
            footprint(lon + 0.008, lat + 0.006),
            json!({"households": 0, "residents": 0, "kind": "office", "staff": 700}),
        ),
        bld(
            "TOWER",
            footprint(lon + 0.005, lat + 0.004),
            json!({"households": 200, "residents": 520, "kind": "residential"}),
        ),
    ];
    // 60 small homes of 10 households in a loose grid
    for i in 0..60 {
        let (x, y) = (
            lon + 0.0005 + 0.0012 * (i % 8) as f64,
            lat + 0.0006 + 0.001 * (i / 8) as f64,
        );
        let (x, y) = (
            (x * 1e7).round() / 1e7 + 0.00031,
            (y * 1e7).round() / 1e7 + 0.00017,
        );
        feats.push(bld(
            &format!("H{i}"),
            json!({"type": "Point", "coordinates": [x, y]}),
            json!({"households": 10, "residents": 25, "kind": "residential"}),
        ));
    }
    let (_dir, out) = partition_town(
        &village,
        &json!({"type": "FeatureCollection", "features": feats}),
    );

    let micro = read_json(&out.join("micro_grids.geojson"));
    let mut stacks: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    let mut plain = Vec::new();
    for f in micro["features"].as_array().unwrap() {
        match f["properties"]["stack_building"].as_str() {
            Some(b) => stacks.entry(b.to_string()).or_default().push(f),
            None => plain.push(f),
        }
    }
    // one part per workshop; ceil(700 / 300) parts for the office; ceil(200 / 80) for the tower
    assert_eq!(stacks["FACTORY"].len(), 4);
    assert_eq!(stacks["OFFICE"].len(), 3);
    assert_eq!(stacks["TOWER"].len(), 3);
    for (b, parts) in &stacks {
        let fp = &parts[0]["properties"]["footprint"];
        for (i, p) in parts.iter().enumerate() {
            assert_eq!(
                &p["properties"]["footprint"], fp,
                "{b}: parts share one footprint"
            );
            assert_eq!(
                p["geometry"], parts[0]["geometry"],
                "{b}: parts share one geometry"
            );
            assert_eq!(p["properties"]["stack_part"], json!(i + 1));
            assert_eq!(p["properties"]["stack_of"], json!(parts.len()));
        }
    }
    for p in &stacks["FACTORY"] {
        assert_eq!(p["properties"]["kind"], "dedicated");
        assert!(p["properties"]["stack_units"]
            .as_str()
            .unwrap()
            .starts_with("车间"));
    }
    // the tower's household ranges cover 1..=200 without gap or overlap
    let mut next = 1;
    let mut total = 0.0;
    for p in &stacks["TOWER"] {
        assert_eq!(p["properties"]["kind"], "building_part");
        let units = p["properties"]["stack_units"].as_str().unwrap();
        let range = units.trim_start_matches("户 ");
        let (a, b) = range.split_once('–').unwrap();
        let (a, b): (u64, u64) = (a.parse().unwrap(), b.parse().unwrap());
        assert_eq!(a, next, "ranges {units}");
        next = b + 1;
        total += p["properties"]["households"].as_f64().unwrap();
        assert!(p["properties"]["households"].as_f64().unwrap() <= 80.0);
    }
    assert_eq!(next, 201);
    assert_eq!(total, 200.0);
    // the school is one dedicated micro-grid of its own
    let school: Vec<&&Value> = plain
        .iter()
        .filter(|f| f["properties"]["kind"] == "dedicated")
        .collect();
    assert_eq!(school.len(), 1);
    assert_eq!(school[0]["properties"]["households"], 0.0);
    // homes: micro-grids of whole buildings in 50..80 households, or reported
    let report = read_json(&out.join("report.json"));
    let issues = report["villages"][0]["issues"].as_array().unwrap();
    for f in plain
        .iter()
        .filter(|f| f["properties"]["kind"] == "residential")
    {
        let hh = f["properties"]["households"].as_f64().unwrap();
        let code = f["properties"]["code"].as_str().unwrap();
        assert!(
            (50.0..=80.0).contains(&hh) || issues.iter().any(|i| i["code"] == code),
            "micro-grid {code} has {hh} households and no issue"
        );
        assert_eq!(hh % 10.0, 0.0, "whole buildings only");
    }
}

/// Point buildings of 1–30 households scattered over one town-mode village: every grid's
/// households divide into micro-grids of 50–80 and no building is near the band's width, so every
/// micro-grid must land in the band (before the balancing pass, about one in a hundred did not, with
/// a reason that said the buildings around it held no more).
#[test]
fn micro_grids_land_in_band_wherever_the_households_divide() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let (lon, lat, d) = (121.40, 31.20, 0.03);
    let village = json!({"type": "FeatureCollection", "features": [{"type": "Feature",
        "properties": {"code": "310101013001", "name": "点状社区", "mode": "town"},
        "geometry": {"type": "Polygon", "coordinates": [[[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]]}}]});
    let feats: Vec<Value> = (0..5000)
        .map(|i| {
            let h: u32 = rng.random_range(1..=30);
            let (x, y) = (
                lon + d * (0.002 + 0.996 * rng.random::<f64>()),
                lat + d * (0.002 + 0.996 * rng.random::<f64>()),
            );
            bld(
                &format!("P{i}"),
                json!({"type": "Point", "coordinates": [(x * 1e7).round() / 1e7, (y * 1e7).round() / 1e7]}),
                json!({"households": h, "residents": 3 * h, "kind": "residential"}),
            )
        })
        .collect();
    let (_dir, out) = partition_town(
        &village,
        &json!({"type": "FeatureCollection", "features": feats}),
    );

    let band = micro_band(&out);
    assert!(band.grids > 150, "{} grids", band.grids);
    assert!(band.checked > 900, "{} micro-grids checked", band.checked);
    assert!(
        band.outside.is_empty(),
        "micro-grids outside 50–80: {:?}",
        band.outside
    );
    let report = read_json(&out.join("report.json"));
    let micro_issues: Vec<&Value> = report["villages"][0]["issues"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"].as_str().unwrap().starts_with("micro_"))
        .collect();
    assert!(micro_issues.is_empty(), "{micro_issues:?}");
}

/// A rural village of 30 villager groups of 30–164 households (houses of 1–3 households): whole
/// groups seldom add up to 50–80 with their neighbours, so micro-grids must part groups where the
/// band needs it — but no more than that. Every micro-grid lands in the band wherever its grid's
/// households divide (before, 5–12 of about 40 did not, each with a reason that no division was
/// found), and no group is shredded: a group of `h` households lies in at most ⌈h/50⌉ + 1
/// micro-grids (the issue's 164-household group in three, its 131 in two or three).
#[test]
fn micro_grids_part_villager_groups_only_as_the_band_needs() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let (lon, lat, cw) = (120.5, 31.0, 0.004);
    let mut sizes: Vec<u32> = vec![164, 131];
    sizes.extend((0..28).map(|_| rng.random_range(30..=140)));
    let (mut groups, mut houses) = (Vec::new(), Vec::new());
    for (gi, &hh) in sizes.iter().enumerate() {
        let (x0, y0) = (lon + (gi % 6) as f64 * cw, lat + (gi / 6) as f64 * cw);
        let name = format!("第{}组", gi + 1);
        groups.push(json!({"type": "Feature", "properties": {"id": name},
            "geometry": {"type": "Polygon", "coordinates": [[[x0, y0], [x0 + cw, y0], [x0 + cw, y0 + cw], [x0, y0 + cw], [x0, y0]]]}}));
        let mut left = hh;
        while left > 0 {
            let h = left.min(rng.random_range(1..=3));
            left -= h;
            let x = x0 + cw * (0.03 + 0.94 * rng.random::<f64>());
            let y = y0 + cw * (0.03 + 0.94 * rng.random::<f64>());
            houses.push(bld(
                &format!("H{}", houses.len()),
                json!({"type": "Point", "coordinates": [(x * 1e7).round() / 1e7, (y * 1e7).round() / 1e7]}),
                json!({"households": h, "residents": 3 * h, "group": name}),
            ));
        }
    }
    let (w, h) = (6.0 * cw, 5.0 * cw);
    let village = json!({"type": "FeatureCollection", "features": [{"type": "Feature",
        "properties": {"code": "320583104201", "name": "组村", "mode": "rural"},
        "geometry": {"type": "Polygon", "coordinates": [[[lon, lat], [lon + w, lat], [lon + w, lat + h], [lon, lat + h], [lon, lat]]]}}]});
    let group_of: BTreeMap<String, (String, u32)> = houses
        .iter()
        .map(|f| {
            let p = &f["properties"];
            let id = p["id"].as_str().unwrap().to_string();
            let hh = p["households"].as_u64().unwrap() as u32;
            (id, (p["group"].as_str().unwrap().to_string(), hh))
        })
        .collect();
    let (_dir, out) = partition_layers(&[
        ("villages", &village),
        (
            "buildings",
            &json!({"type": "FeatureCollection", "features": houses}),
        ),
        (
            "groups",
            &json!({"type": "FeatureCollection", "features": groups}),
        ),
    ]);

    let band = micro_band(&out);
    assert!(band.checked >= 35, "{} micro-grids checked", band.checked);
    assert!(
        band.outside.is_empty(),
        "micro-grids outside 50–80: {:?}",
        band.outside
    );

    let mut pieces: BTreeMap<String, (u32, std::collections::BTreeSet<String>)> = BTreeMap::new();
    let assignment = std::fs::read_to_string(out.join("assignment.csv")).unwrap();
    let mut rows = csv::Reader::from_reader(assignment.as_bytes());
    let head = rows.headers().unwrap().clone();
    let col = |name: &str| head.iter().position(|h| h == name).unwrap();
    let (id_col, micro_col) = (col("id"), col("micro_grid_code"));
    for r in rows.records() {
        let r = r.unwrap();
        let (group, hh) = &group_of[&r[id_col]];
        let e = pieces.entry(group.clone()).or_default();
        e.0 += hh;
        e.1.insert(r[micro_col].to_string());
    }
    let shredded: Vec<String> = pieces
        .iter()
        .filter(|(_, (hh, micro))| micro.len() > hh.div_ceil(50) as usize + 1)
        .map(|(g, (hh, micro))| format!("{g} ({hh} households) in {micro:?}"))
        .collect();
    assert_eq!(pieces.len(), 30);
    assert!(
        shredded.is_empty(),
        "groups in more micro-grids than the band needs: {shredded:?}"
    );
}
