//! Straight grid borders (`--straighten`, issue 19): the same plan with borders drawn between the
//! same buildings, straighter, and nothing else changed.
//!
//! Each test partitions one input twice, with `--straighten 0` (borders as traced from the
//! buildings' Voronoi cells, the default) and `--straighten 30`, and compares the two plans.

mod common;
use common::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::Path;

/// Every vertex of every grid and micro-grid of a plan, as rounded coordinates.
fn vertices(out: &Path, file: &str) -> BTreeSet<(i64, i64)> {
    let mut all = BTreeSet::new();
    for f in read_json(&out.join(file))["features"].as_array().unwrap() {
        let mp = geometry(&f["geometry"]);
        for poly in &mp.0 {
            for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
                for c in &ring.0 {
                    all.insert(((c.x * 1e9).round() as i64, (c.y * 1e9).round() as i64));
                }
            }
        }
    }
    all
}

/// Each grid's (or micro-grid's) Polsby–Popper figure, by code.
fn compactness(out: &Path, file: &str) -> Vec<(String, f64)> {
    read_json(&out.join(file))["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let p = &f["properties"];
            (
                p["code"].as_str().unwrap().to_string(),
                p["polsby_popper"].as_f64().unwrap(),
            )
        })
        .collect()
}

fn mean(xs: &[(String, f64)]) -> f64 {
    xs.iter().map(|x| x.1).sum::<f64>() / xs.len() as f64
}

/// Per village: (code, grid border length, of it on lines).
fn borders(out: &Path) -> Vec<(String, f64, f64)> {
    read_json(&out.join("report.json"))["villages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            let all = v["grid_border_m"].as_f64().unwrap();
            let share = v["border_on_lines_share"].as_f64().unwrap_or(0.0);
            (v["code"].as_str().unwrap().to_string(), all, all * share)
        })
        .collect()
}

/// Partitions `input` with and without straightening; checks both plans by every rule and
/// returns the two output folders' parent (kept alive) and the folders.
fn both(input: &Path) -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let dir = tmp();
    let (traced, straight) = (dir.path().join("traced"), dir.path().join("straight"));
    let rules = Rules {
        band: (300.0, 500.0),
        weight: "households",
    };
    partition_checked(
        input,
        &traced,
        &["--straighten", "0", "--seed", "3"],
        &rules,
    );
    partition_checked(
        input,
        &straight,
        &["--straighten", "30", "--seed", "3"],
        &rules,
    );
    (dir, traced, straight)
}

/// What must hold between a traced plan and its straightened twin.
fn same_plan_straighter(traced: &Path, straight: &Path) {
    // the same buildings in the same grids and micro-grids
    assert_eq!(
        std::fs::read(traced.join("assignment.csv")).unwrap(),
        std::fs::read(straight.join("assignment.csv")).unwrap(),
        "straightening moved a building to another grid or micro-grid"
    );
    // borders run between points the traced plan already had: chords, no new corner
    for file in ["grids.geojson", "micro_grids.geojson"] {
        let (t, s) = (vertices(traced, file), vertices(straight, file));
        let new: Vec<_> = s.difference(&t).take(3).collect();
        assert!(
            new.is_empty(),
            "{file}: vertices not in the traced plan: {new:?}"
        );
        assert!(
            s.len() < t.len(),
            "{file}: {} vertices straightened from {}",
            s.len(),
            t.len()
        );
    }
    // shorter borders between grids, the same length of them on roads, rivers and group lines
    for ((code, t_all, t_on), (_, s_all, s_on)) in borders(traced).iter().zip(borders(straight)) {
        assert!(
            s_all <= t_all + 1e-6,
            "village {code}: border {t_all} m → {s_all} m"
        );
        assert!(
            (s_on - t_on).abs() <= 1e-3 * t_on.max(1.0),
            "village {code}: border on lines {t_on} m → {s_on} m"
        );
    }
    // more compact on the whole (one grid may lose a little area with its corners)
    for file in ["grids.geojson", "micro_grids.geojson"] {
        let (t, s) = (compactness(traced, file), compactness(straight, file));
        assert_eq!(t.len(), s.len());
        assert!(
            mean(&s) > mean(&t),
            "{file}: mean Polsby–Popper {} → {}",
            mean(&t),
            mean(&s)
        );
    }
}

#[test]
fn straight_borders_keep_buildings_lines_and_codes_on_a_town() {
    let input = tmp();
    wangge::synth::synth_town(&wangge::synth::SynthConfig {
        households: 6_000,
        seed: 5,
        odd_shapes: true,
    })
    .write_dir(input.path())
    .unwrap();
    let (_dir, traced, straight) = both(input.path());
    same_plan_straighter(&traced, &straight);
}

/// Buildings as points scattered over one village with no road, river or group line: the
/// borders are all open ground, which is where straightening does the most.
#[test]
fn straight_borders_on_open_ground_between_scattered_buildings() {
    let input = tmp();
    // a small deterministic stream (xorshift), so the test needs no generator of its own
    let mut s: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    let (w, h) = (0.03, 0.02);
    let village = json!({"type": "FeatureCollection", "features": [{"type": "Feature",
        "properties": {"code": "330100001200", "name": "散村"},
        "geometry": {"type": "Polygon", "coordinates": [[[120.0, 30.0], [120.0 + w, 30.0],
            [120.0 + w, 30.0 + h], [120.0, 30.0 + h], [120.0, 30.0]]]}}]});
    let buildings: Vec<Value> = (0..1500)
        .map(|i| {
            let (x, y) = (120.0 + 0.0005 + next() * (w - 0.001), 30.0 + 0.0005 + next() * (h - 0.001));
            let hh = 1 + (next() * 8.0) as u64;
            json!({"type": "Feature", "properties": {"id": format!("b{i}"), "households": hh,
                "residents": hh * 3, "kind": "residential"},
                "geometry": {"type": "Point", "coordinates": [(x * 1e7).round() / 1e7, (y * 1e7).round() / 1e7]}})
        })
        .collect();
    std::fs::write(input.path().join("villages.geojson"), village.to_string()).unwrap();
    std::fs::write(
        input.path().join("buildings.geojson"),
        json!({"type": "FeatureCollection", "features": buildings}).to_string(),
    )
    .unwrap();
    let (_dir, traced, straight) = both(input.path());
    same_plan_straighter(&traced, &straight);
    // the same seed straightens the same way
    let again = tmp();
    partition_ok(
        input.path(),
        again.path(),
        &["--straighten", "30", "--seed", "3"],
    );
    for file in ["grids.geojson", "micro_grids.geojson", "report.json"] {
        assert_eq!(
            std::fs::read(straight.join(file)).unwrap(),
            std::fs::read(again.path().join(file)).unwrap(),
            "{file} differs between two runs"
        );
    }
}

#[test]
fn a_negative_or_unreadable_straighten_is_refused() {
    let input = tmp();
    for bad in ["-5", "ten", "NaN"] {
        let flag = format!("--straighten={bad}");
        let (ok, _, err) = partition(input.path(), &input.path().join("out"), &[&flag]);
        assert!(
            !ok && err.contains("--straighten") && err.contains(bad),
            "{bad}: {err}"
        );
    }
}
