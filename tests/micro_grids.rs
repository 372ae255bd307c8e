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
    let dir = tmp();
    std::fs::write(dir.path().join("villages.geojson"), village.to_string()).unwrap();
    std::fs::write(
        dir.path().join("buildings.geojson"),
        json!({"type": "FeatureCollection", "features": feats}).to_string(),
    )
    .unwrap();
    let out = dir.path().join("out");
    let rules = Rules {
        band: (300.0, 500.0),
        weight: "households",
    };
    partition_checked(dir.path(), &out, &[], &rules);

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
