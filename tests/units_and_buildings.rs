//! Units and buildings given together (issue 19 §5): units are the atoms and the buildings inside
//! them give their weights, each household counted once; a unit stating figures that differ from
//! its buildings' is reported; a building in no unit is refused, naming file, feature and field.

mod common;

use common::*;
use serde_json::{json, Value};
use std::path::Path;
use wangge::check::plan::PlanToCheck;
use wangge::check::{check, Finding, Rules};
use wangge::model::Weight;

const LON0: f64 = 120.0;
const LAT0: f64 = 30.0;
const D: f64 = 0.001;

fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> Value {
    json!({"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]})
}

fn fc(features: Vec<Value>) -> Value {
    json!({"type": "FeatureCollection", "features": features})
}

/// A village of 4 × 2 unit squares, three buildings of 20 households in each; `stated(i)` is what
/// unit i says of its households (`None`: nothing); `skip` leaves one unit out (a hole in the
/// units with its buildings still there).
fn write_input(dir: &Path, stated: &dyn Fn(usize) -> Option<f64>, skip: Option<usize>) {
    let village = json!({"type": "Feature", "properties": {"code": "320583104001", "name": "测试村"},
        "geometry": rect(LON0, LAT0, LON0 + 4.0 * D, LAT0 + 2.0 * D)});
    let mut units = Vec::new();
    let mut buildings = Vec::new();
    for i in 0..8 {
        let (x, y) = (LON0 + (i % 4) as f64 * D, LAT0 + (i / 4) as f64 * D);
        let mut props = json!({"id": format!("U{i}")});
        if let Some(h) = stated(i) {
            props["households"] = json!(h);
        }
        if skip != Some(i) {
            units.push(json!({"type": "Feature", "properties": props,
                "geometry": rect(x, y, x + D, y + D)}));
        }
        for k in 0..3 {
            let p = [
                x + D * (0.25 + 0.25 * k as f64),
                y + D * (0.3 + 0.2 * k as f64),
            ];
            buildings.push(json!({"type": "Feature",
                "properties": {"id": format!("B{i}-{k}"), "households": 20, "residents": 50},
                "geometry": {"type": "Point", "coordinates": p}}));
        }
    }
    let w = |name: &str, v: Value| std::fs::write(dir.join(name), v.to_string()).unwrap();
    w("villages.geojson", fc(vec![village]));
    w("units.geojson", fc(units));
    w("buildings.geojson", fc(buildings));
}

#[test]
fn each_household_counts_once_and_differences_are_reported() {
    let dir = tmp();
    // unit U3 says 75 households, its buildings hold 60; U5 says nothing; the rest agree
    write_input(
        dir.path(),
        &|i| match i {
            3 => Some(75.0),
            5 => None,
            _ => Some(60.0),
        },
        None,
    );
    let out = dir.path().join("out");
    partition_ok(
        dir.path(),
        &out,
        &["--band", "100..200", "--micro", "20..80"],
    );
    let report = read_json(&out.join("report.json"));
    assert_eq!(
        report["totals"]["households"],
        json!(480.0),
        "{}",
        report["totals"]
    );
    assert_eq!(report["totals"]["residents"], json!(1200.0));
    let grids = read_json(&out.join("grids.geojson"));
    let sum: f64 = grids["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["households"].as_f64().unwrap())
        .sum();
    assert_eq!(sum, 480.0);
    let differ: Vec<&Value> = report["villages"][0]["issues"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == "unit_figures_differ")
        .collect();
    assert_eq!(differ.len(), 1, "{differ:?}");
    assert_eq!(
        (differ[0]["value"].as_f64(), differ[0]["bound"].as_f64()),
        (Some(75.0), Some(60.0))
    );
    let reason = differ[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("\"U3\"") && reason.contains("households"),
        "{reason}"
    );
    // the check, recomputing from the same input, agrees with every figure the plan carries
    let ds = wangge::ingest::read_dir(dir.path(), &Weight::Households).unwrap();
    let plan = PlanToCheck::read_dir(&out).unwrap();
    let rules = Rules {
        band: wangge::partition::Band {
            min: 100.0,
            max: 200.0,
        },
        micro: wangge::partition::Band {
            min: 20.0,
            max: 80.0,
        },
        ..Rules::default()
    };
    let wrong: Vec<Finding> = check(&plan, &ds, &rules)
        .into_iter()
        .filter(|f| {
            matches!(
                f,
                Finding::FigureMismatch { .. } | Finding::OutOfBand { .. }
            )
        })
        .collect();
    assert!(wrong.is_empty(), "{wrong:?}");
    // the unit carries its buildings' sum
    let u3 = ds.units.iter().find(|u| u.id == "U3").unwrap();
    assert_eq!((u3.households, u3.residents), (60.0, 150.0));
}

#[test]
fn units_without_figures_take_their_buildings() {
    let dir = tmp();
    write_input(dir.path(), &|_| None, None);
    let input = wangge::ingest::read_input(dir.path(), &Weight::Households).unwrap();
    assert!(input.unit_differences.is_empty());
    assert!(input.dataset.units.iter().all(|u| u.households == 60.0));
}

#[test]
fn a_building_in_no_unit_is_refused_by_name() {
    let dir = tmp();
    write_input(dir.path(), &|_| Some(60.0), Some(6));
    let out = dir.path().join("out");
    let (ok, stdout, stderr) = partition(dir.path(), &out, &[]);
    assert!(!ok, "{stdout}");
    for want in [
        "buildings.geojson",
        "\"B6-0\"",
        "\"geometry\"",
        "lies in no unit",
    ] {
        assert!(stderr.contains(want), "{want}: {stderr}");
    }
    assert!(!out.exists());
}
