//! Bad input gets one clear error naming the file, the feature and the field, exits non-zero, and
//! leaves `--out` untouched.

mod common;
use common::*;
use serde_json::{json, Value};
use std::path::Path;

fn square(x: f64, y: f64, d: f64) -> Value {
    json!({"type": "Polygon", "coordinates": [[[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]]})
}

fn fc(features: Vec<Value>) -> Value {
    json!({"type": "FeatureCollection", "features": features})
}

fn village(code: &str, geom: Value) -> Value {
    json!({"type": "Feature", "properties": {"code": code, "name": "东风村"}, "geometry": geom})
}

fn building(id: Value, hh: Value, x: f64, y: f64) -> Value {
    json!({"type": "Feature", "properties": {"id": id, "households": hh, "residents": 3, "kind": "residential"},
           "geometry": {"type": "Point", "coordinates": [x, y]}})
}

fn good_village() -> Value {
    fc(vec![village("320583104200", square(120.0, 31.0, 0.01))])
}

fn good_buildings() -> Value {
    fc(vec![
        building(json!("B1"), json!(10), 120.005, 31.005),
        building(json!("B2"), json!(12), 120.006, 31.004),
    ])
}

/// Writes the files, runs a partition into an existing out folder, and returns stderr.
fn run_bad(files: &[(&str, String)]) -> String {
    let dir = tmp();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("grids.geojson"), "previous plan").unwrap();
    let (ok, _, stderr) = partition(dir.path(), &out, &[]);
    assert!(!ok, "bad input was accepted: {files:?}");
    assert_eq!(
        std::fs::read_to_string(out.join("grids.geojson")).unwrap(),
        "previous plan",
        "--out was touched"
    );
    assert_eq!(
        std::fs::read_dir(&out).unwrap().count(),
        1,
        "--out got new files"
    );
    assert_eq!(stderr.lines().count(), 1, "one clear error, got: {stderr}");
    stderr
}

fn with_buildings(b: Value) -> Vec<(&'static str, String)> {
    vec![
        ("villages.geojson", good_village().to_string()),
        ("buildings.geojson", b.to_string()),
    ]
}

fn assert_names(err: &str, parts: &[&str]) {
    for p in parts {
        assert!(err.contains(p), "error {err:?} does not name {p:?}");
    }
}

#[test]
fn negative_households() {
    let err = run_bad(&with_buildings(fc(vec![building(
        json!("B1"),
        json!(-3),
        120.005,
        31.005,
    )])));
    assert_names(
        &err,
        &[
            "buildings.geojson",
            "feature #0",
            "\"B1\"",
            "\"households\"",
            "-3",
        ],
    );
}

#[test]
fn missing_households() {
    let mut b = building(json!("B7"), json!(1), 120.005, 31.005);
    b["properties"]
        .as_object_mut()
        .unwrap()
        .remove("households");
    let err = run_bad(&with_buildings(fc(vec![
        building(json!("B1"), json!(1), 120.004, 31.004),
        b,
    ])));
    assert_names(
        &err,
        &[
            "buildings.geojson",
            "feature #1",
            "\"B7\"",
            "\"households\"",
            "missing",
        ],
    );
}

#[test]
fn households_of_the_wrong_type() {
    let err = run_bad(&with_buildings(fc(vec![building(
        json!("B1"),
        json!("many"),
        120.005,
        31.005,
    )])));
    assert_names(&err, &["buildings.geojson", "feature #0", "\"households\""]);
}

#[test]
fn duplicate_building_ids() {
    let err = run_bad(&with_buildings(fc(vec![
        building(json!("B1"), json!(1), 120.005, 31.005),
        building(json!("B1"), json!(2), 120.006, 31.006),
    ])));
    assert_names(
        &err,
        &[
            "buildings.geojson",
            "feature #1",
            "\"id\"",
            "duplicate",
            "also feature #0",
        ],
    );
}

/// Points digitised onto a village boundary are common: such a building belongs to the village
/// (on a border two villages share, to the first in the file), it is not "outside every village".
#[test]
fn a_building_on_a_village_boundary_is_taken_in() {
    let dir = tmp();
    let villages = fc(vec![
        village("320583104200", square(120.0, 31.0, 0.01)),
        village("320583104201", square(120.01, 31.0, 0.01)),
    ]);
    let buildings = fc(vec![
        building(json!("west-edge"), json!(10), 120.0, 31.005),
        building(json!("shared"), json!(10), 120.01, 31.004),
        building(json!("corner"), json!(10), 120.02, 31.01),
        building(json!("inside"), json!(10), 120.015, 31.002),
    ]);
    std::fs::write(dir.path().join("villages.geojson"), villages.to_string()).unwrap();
    std::fs::write(dir.path().join("buildings.geojson"), buildings.to_string()).unwrap();
    let out = dir.path().join("out");
    let (ok, _, err) = partition(dir.path(), &out, &[]);
    assert!(ok, "{err}");
    let csv = std::fs::read_to_string(out.join("assignment.csv")).unwrap();
    let village_of = |id: &str| {
        csv.lines()
            .find(|l| l.starts_with(&format!("building,{id},")))
            .and_then(|l| l.split(',').nth(2))
            .unwrap_or_else(|| panic!("{id} not in {csv}"))
            .to_string()
    };
    assert_eq!(village_of("west-edge"), "320583104200");
    assert_eq!(village_of("shared"), "320583104200");
    assert_eq!(village_of("corner"), "320583104201");
    assert_eq!(village_of("inside"), "320583104201");
}

#[test]
fn building_outside_every_village() {
    let err = run_bad(&with_buildings(fc(vec![building(
        json!("B9"),
        json!(1),
        121.0,
        31.005,
    )])));
    assert_names(
        &err,
        &[
            "buildings.geojson",
            "feature #0",
            "\"B9\"",
            "\"geometry\"",
            "outside every village",
        ],
    );
}

#[test]
fn self_intersecting_village() {
    let bowtie = json!({"type": "Polygon", "coordinates": [[[120.0, 31.0], [120.01, 31.01], [120.01, 31.0], [120.0, 31.01], [120.0, 31.0]]]});
    let err = run_bad(&[
        (
            "villages.geojson",
            fc(vec![village("320583104200", bowtie)]).to_string(),
        ),
        ("buildings.geojson", good_buildings().to_string()),
    ]);
    assert_names(
        &err,
        &[
            "villages.geojson",
            "feature #0",
            "\"320583104200\"",
            "\"geometry\"",
            "valid",
        ],
    );
}

#[test]
fn code_that_is_not_12_digits() {
    let err = run_bad(&[
        (
            "villages.geojson",
            fc(vec![village("3205831042", square(120.0, 31.0, 0.01))]).to_string(),
        ),
        ("buildings.geojson", good_buildings().to_string()),
    ]);
    assert_names(
        &err,
        &["villages.geojson", "feature #0", "\"code\"", "12-digit"],
    );
}

#[test]
fn village_that_is_a_point() {
    let err = run_bad(&[
        (
            "villages.geojson",
            fc(vec![village(
                "320583104200",
                json!({"type": "Point", "coordinates": [120.0, 31.0]}),
            )])
            .to_string(),
        ),
        ("buildings.geojson", good_buildings().to_string()),
    ]);
    assert_names(
        &err,
        &["villages.geojson", "feature #0", "\"geometry\"", "Polygon"],
    );
}

#[test]
fn empty_file() {
    let err = run_bad(&[
        ("villages.geojson", good_village().to_string()),
        ("buildings.geojson", String::new()),
    ]);
    assert_names(&err, &["buildings.geojson", "empty"]);
}

#[test]
fn file_that_is_not_geojson() {
    let err = run_bad(&[
        ("villages.geojson", "code,name\n1,a\n".into()),
        ("buildings.geojson", good_buildings().to_string()),
    ]);
    assert_names(&err, &["villages.geojson", "not GeoJSON"]);
}

#[test]
fn unknown_barrier_class() {
    let mut files = with_buildings(good_buildings());
    let bar = fc(vec![
        json!({"type": "Feature", "properties": {"class": "canal"},
        "geometry": {"type": "LineString", "coordinates": [[120.0, 31.0], [120.01, 31.01]]}}),
    ]);
    files.push(("barriers.geojson", bar.to_string()));
    let err = run_bad(&files);
    assert_names(
        &err,
        &["barriers.geojson", "feature #0", "\"class\"", "canal"],
    );
}

#[test]
fn coordinates_that_are_not_lon_lat() {
    let err = run_bad(&with_buildings(fc(vec![building(
        json!("B1"),
        json!(1),
        500000.0,
        3400000.0,
    )])));
    assert_names(
        &err,
        &["buildings.geojson", "feature #0", "\"geometry\"", "WGS84"],
    );
}

#[test]
fn good_input_is_accepted() {
    let (_dir, out) = partition_town(&good_village(), &good_buildings());
    // 22 households: one grid, reported under the band
    let report = read_json(&out.join("report.json"));
    assert_eq!(report["totals"]["grids"], 1);
    assert_eq!(report["villages"][0]["issues"][0]["kind"], "under_band");
    assert!(Path::new(&out.join("assignment.csv")).exists());
}
