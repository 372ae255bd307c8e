//! One topology for a whole town (issue 19 §2): neighbouring villages' grids share exact vertices
//! along the village border however each side was digitised; gaps and overlaps between villages
//! are found and reported (area, a point inside, the villages), and `--close-gaps` gives each gap
//! to the village with the longest border along it and each overlap to the village first in the
//! file, after which `wangge check` holds.

mod common;

use common::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::Path;

const M_PER_DEG: f64 = 6_371_008.8 * std::f64::consts::PI / 180.0;

fn village(code: &str, rings: Vec<Vec<(f64, f64)>>) -> Value {
    let rings: Vec<Vec<[f64; 2]>> = rings
        .into_iter()
        .map(|r| {
            let mut r: Vec<[f64; 2]> = r.into_iter().map(|(x, y)| [x, y]).collect();
            r.push(r[0]);
            r
        })
        .collect();
    json!({"type": "Feature", "properties": {"code": code, "name": code},
           "geometry": {"type": "Polygon", "coordinates": rings}})
}

fn fc(features: Vec<Value>) -> Value {
    json!({"type": "FeatureCollection", "features": features})
}

/// Buildings of 4 households on a jittered lattice of `step` degrees over the box, where `keep`.
fn buildings(
    prefix: &str,
    (x0, y0, x1, y1): (f64, f64, f64, f64),
    step: f64,
    keep: &dyn Fn(f64, f64) -> bool,
) -> Vec<Value> {
    let mut out = Vec::new();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut rnd = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let (nx, ny) = (((x1 - x0) / step) as usize, ((y1 - y0) / step) as usize);
    for i in 0..nx {
        for j in 0..ny {
            let x = x0 + (i as f64 + 0.2 + 0.6 * rnd()) * step;
            let y = y0 + (j as f64 + 0.2 + 0.6 * rnd()) * step;
            if keep(x, y) {
                out.push(json!({"type": "Feature",
                    "properties": {"id": format!("{prefix}-{i}-{j}"), "households": 4},
                    "geometry": {"type": "Point", "coordinates": [x, y]}}));
            }
        }
    }
    out
}

fn write(dir: &Path, villages: Vec<Value>, buildings: Vec<Value>) {
    std::fs::write(dir.join("villages.geojson"), fc(villages).to_string()).unwrap();
    std::fs::write(dir.join("buildings.geojson"), fc(buildings).to_string()).unwrap();
}

/// Every vertex of `village`'s grids within 1e-6° of the meridian `lon`.
fn vertices_on(grids: &Value, village: &str, lon: f64) -> BTreeSet<(u64, u64)> {
    let mut out = BTreeSet::new();
    for f in grids["features"].as_array().unwrap() {
        if f["properties"]["village_code"] != village {
            continue;
        }
        for p in geometry(&f["geometry"]).0 {
            for r in std::iter::once(p.exterior()).chain(p.interiors()) {
                for c in &r.0 {
                    if (c.x - lon).abs() < 1e-6 {
                        out.insert((c.x.to_bits(), c.y.to_bits()));
                    }
                }
            }
        }
    }
    out
}

fn issues_of(report: &Value, kind: &str) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for v in report["villages"].as_array().unwrap() {
        for i in v["issues"].as_array().unwrap() {
            if i["kind"] == kind {
                out.push((v["code"].as_str().unwrap().to_string(), i.clone()));
            }
        }
    }
    out
}

#[test]
fn neighbouring_villages_grids_share_exact_vertices_along_their_border() {
    let dir = tmp();
    let (w, m, e) = (121.40, 121.41, 121.42);
    let (s, n) = (31.20, 31.21);
    // A digitised its east border with three vertices on it; B its west border with two others,
    // and its corners a few ten-thousandths of a millimetre off A's.
    let a = village(
        "310101001001",
        vec![vec![
            (w, s),
            (m, s),
            (m, 31.203),
            (m, 31.2055),
            (m, 31.208),
            (m, n),
            (w, n),
        ]],
    );
    let b = village(
        "310101001002",
        vec![vec![
            (m + 3e-9, s - 2e-9),
            (e, s),
            (e, n),
            (m - 2e-9, n + 1e-9),
            (m, 31.206),
            (m, 31.202),
        ]],
    );
    let mut blds = buildings("A", (w, s, m, n), 0.0004, &|_, _| true);
    blds.extend(buildings("B", (m, s, e, n), 0.0004, &|_, _| true));
    write(dir.path(), vec![a, b], blds);
    let out = dir.path().join("out");
    partition_checked(
        dir.path(),
        &out,
        &[],
        &Rules {
            band: (300.0, 500.0),
            weight: "households",
        },
    );
    let grids = read_json(&out.join("grids.geojson"));
    let on_a = vertices_on(&grids, "310101001001", m);
    let on_b = vertices_on(&grids, "310101001002", m);
    assert!(
        on_a.len() >= 7,
        "A's grids have {} vertices on the border: {on_a:?}",
        on_a.len()
    );
    assert_eq!(
        on_a,
        on_b,
        "the grids on the two sides of the village border do not share their vertices:\n only A: {:?}\n only B: {:?}",
        on_a.difference(&on_b).collect::<Vec<_>>(),
        on_b.difference(&on_a).collect::<Vec<_>>()
    );
    // rounding of a few 10⁻⁹ degrees is not a seam
    let report = read_json(&out.join("report.json"));
    assert!(issues_of(&report, "village_gap").is_empty());
    assert!(issues_of(&report, "village_overlap").is_empty());
}

/// Three villages: B bulges 0.001° × 0.002° into A (an overlap), C below them leaves a notch of
/// 0.01° × 0.001° under their shared corner (a gap bordered by all three, longest by C), and A has a
/// lake of its own (a hole that is not a gap).
fn seams_town(dir: &Path, building_in_gap: bool) {
    let a = village(
        "310101001001",
        vec![
            vec![
                (121.40, 31.20),
                (121.41, 31.20),
                (121.41, 31.21),
                (121.40, 31.21),
            ],
            vec![
                (121.402, 31.207),
                (121.402, 31.208),
                (121.403, 31.208),
                (121.403, 31.207),
            ],
        ],
    );
    let b = village(
        "310101001002",
        vec![vec![
            (121.41, 31.20),
            (121.42, 31.20),
            (121.42, 31.21),
            (121.41, 31.21),
            (121.41, 31.204),
            (121.409, 31.204),
            (121.409, 31.202),
            (121.41, 31.202),
        ]],
    );
    let c = village(
        "310101001003",
        vec![vec![
            (121.40, 31.19),
            (121.42, 31.19),
            (121.42, 31.20),
            (121.415, 31.20),
            (121.415, 31.199),
            (121.405, 31.199),
            (121.405, 31.20),
            (121.40, 31.20),
        ]],
    );
    let lake = |x: f64, y: f64| !((121.402..121.403).contains(&x) && (31.207..31.208).contains(&y));
    let notch = |x: f64, y: f64| (121.405..121.415).contains(&x) && (31.199..31.20).contains(&y);
    let mut blds = buildings("A", (121.40, 31.20, 121.41, 31.21), 0.0004, &lake);
    blds.extend(buildings(
        "B",
        (121.41, 31.20, 121.42, 31.21),
        0.0004,
        &|_, _| true,
    ));
    blds.extend(buildings(
        "C",
        (121.40, 31.19, 121.42, 31.20),
        0.0004,
        &|x, y| !notch(x, y),
    ));
    if building_in_gap {
        blds.push(
            json!({"type": "Feature", "properties": {"id": "IN-GAP", "households": 4},
            "geometry": {"type": "Point", "coordinates": [121.412, 31.1995]}}),
        );
    }
    write(dir, vec![a, b, c], blds);
}

#[test]
fn gaps_and_overlaps_between_villages_are_reported_and_closed_on_request() {
    let rules = Rules {
        band: (300.0, 500.0),
        weight: "households",
    };
    let m2 = |dlon: f64, dlat: f64, lat: f64| {
        dlon * M_PER_DEG * lat.to_radians().cos() * dlat * M_PER_DEG
    };
    let gap_m2 = m2(0.01, 0.001, 31.1995);
    let overlap_m2 = m2(0.001, 0.002, 31.203);

    // 1. reported, and the run goes on
    let dir = tmp();
    seams_town(dir.path(), false);
    let out = dir.path().join("out");
    let (ok, stdout, stderr) = partition(dir.path(), &out, &[]);
    assert!(ok, "{stdout}{stderr}");
    assert!(
        stderr.contains("warning: a gap of") && stderr.contains("warning: villages"),
        "{stderr}"
    );
    let report = read_json(&out.join("report.json"));
    let gaps = issues_of(&report, "village_gap");
    let who: Vec<&str> = gaps.iter().map(|(v, _)| v.as_str()).collect();
    assert_eq!(who, ["310101001001", "310101001002", "310101001003"]);
    let gap = &gaps[0].1;
    let area = gap["value"].as_f64().unwrap();
    assert!(
        (area - gap_m2).abs() < gap_m2 * 0.01,
        "gap {area} m², expected {gap_m2}"
    );
    let reason = gap["reason"].as_str().unwrap();
    assert!(
        reason.contains("between villages 310101001001, 310101001002 and 310101001003")
            && reason.contains("no grid covers it")
            && reason.contains("gives it to 310101001003"),
        "{reason}"
    );
    // the point named lies in the notch
    let at: Vec<f64> = reason
        .split(" at (")
        .nth(1)
        .unwrap()
        .split(')')
        .next()
        .unwrap()
        .split(", ")
        .map(|t| t.parse().unwrap())
        .collect();
    assert!(
        (121.405..121.415).contains(&at[0]) && (31.199..31.20).contains(&at[1]),
        "{at:?}"
    );
    let overlaps = issues_of(&report, "village_overlap");
    let who: Vec<&str> = overlaps.iter().map(|(v, _)| v.as_str()).collect();
    assert_eq!(who, ["310101001001", "310101001002"], "{overlaps:?}");
    let area = overlaps[0].1["value"].as_f64().unwrap();
    assert!(
        (area - overlap_m2).abs() < overlap_m2 * 0.01,
        "overlap {area} m², expected {overlap_m2}"
    );
    // each village is tiled by its own grids all the same
    let bad = check_plan(dir.path(), &out, &rules);
    assert!(
        bad.is_empty(),
        "each village is still tiled by its own grids: {bad:?}"
    );

    // 2. a building in the gap is refused, naming it and the gap
    let dir = tmp();
    seams_town(dir.path(), true);
    let out = dir.path().join("out");
    let (ok, _, stderr) = partition(dir.path(), &out, &[]);
    assert!(!ok);
    assert!(
        stderr.contains("buildings.geojson")
            && stderr.contains("\"IN-GAP\"")
            && stderr.contains("a gap of")
            && stderr.contains("--close-gaps"),
        "{stderr}"
    );
    assert!(!out.exists(), "nothing is written");

    // 3. closed: the gap goes to C, the overlap stays with A; every rule holds
    partition_checked(dir.path(), &out, &["--close-gaps"], &rules);
    let report = read_json(&out.join("report.json"));
    assert_eq!(report["settings"]["close_gaps"], true);
    let gaps = issues_of(&report, "village_gap");
    assert_eq!(gaps.len(), 3);
    let reason = gaps[0].1["reason"].as_str().unwrap();
    assert!(reason.contains("it was given to 310101001003"), "{reason}");
    let overlaps = issues_of(&report, "village_overlap");
    let reason = overlaps[0].1["reason"].as_str().unwrap();
    assert!(
        reason.contains("counted in 310101001001")
            && reason.contains("it was cut from 310101001002"),
        "{reason}"
    );
    let assignment = std::fs::read_to_string(out.join("assignment.csv")).unwrap();
    let row = assignment
        .lines()
        .find(|l| l.starts_with("building,IN-GAP,"))
        .unwrap_or_else(|| panic!("{assignment}"));
    assert!(row.contains(",310101001003,310101001003"), "{row}");
    // the three villages' grids now tile the town: areas add up to the union, nothing missing
    let grids = read_json(&out.join("grids.geojson"));
    let polys: Vec<geo::MultiPolygon<f64>> = grids["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| geometry(&f["geometry"]))
        .collect();
    let area = |g: &geo::MultiPolygon<f64>| {
        use geo::Area;
        g.unsigned_area() * M_PER_DEG * M_PER_DEG * 31.2f64.to_radians().cos()
    };
    let sum: f64 = polys.iter().map(area).sum();
    let town = m2(0.02, 0.02, 31.2) - m2(0.001, 0.001, 31.2075);
    assert!(
        (sum - town).abs() < 5.0,
        "grids cover {sum} m², the town less A's lake is {town} m²"
    );
    // and B's grids stay out of A's share of the overlap
    let b_area: f64 = grids["features"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["properties"]["village_code"] == "310101001002")
        .map(|f| area(&geometry(&f["geometry"])))
        .sum();
    let b_expected = m2(0.01, 0.01, 31.205);
    assert!(
        (b_area - b_expected).abs() < b_expected * 0.002,
        "B's grids cover {b_area} m², B less the overlap {b_expected}"
    );
}
