//! A black-box checker of written plans: reads the input folder and the output files back as a
//! user would and checks every rule of a plan. Shared by the integration tests.
#![allow(dead_code)]

use geo::{Area, BooleanOps, Contains, Coord, LineString, MultiPolygon, Point, Polygon};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

pub mod stores;

/// A generated town, partitioned with the default options, as the map shows it (plan version 1).
pub fn partitioned_town(households: u64, seed: u64) -> wangge::snapshot::Snapshot {
    let dir = tmp();
    wangge::synth::synth_town(&wangge::synth::SynthConfig {
        households,
        seed,
        odd_shapes: false,
    })
    .write_dir(dir.path())
    .unwrap();
    let ds = wangge::ingest::read_dir(dir.path(), &wangge::model::Weight::Households).unwrap();
    let plan = wangge::partition::partition(&ds, &wangge::partition::Options::default(), &|| {});
    wangge::snapshot::Snapshot::from_plan(&ds, &plan, 1)
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_wangge"))
}

/// Runs `wangge args…`, returning (success, stdout, stderr).
pub fn wangge(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(bin()).args(args).output().expect("run wangge");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `wangge partition <input> --out <out> --quiet <extra…>`; panics with its output unless it
/// succeeds.
pub fn partition_ok(input: &Path, out: &Path, extra: &[&str]) {
    let mut args = vec![
        "partition",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ];
    args.extend_from_slice(extra);
    let (ok, stdout, stderr) = wangge(&args);
    assert!(ok, "wangge {args:?} failed:\n{stdout}{stderr}");
}

/// [`partition_ok`], then [`check_plan`]; panics listing every rule broken.
pub fn partition_checked(input: &Path, out: &Path, extra: &[&str], rules: &Rules) {
    partition_ok(input, out, extra);
    let bad = check_plan(input, out, rules);
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

pub fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn ring(v: &Value) -> LineString<f64> {
    LineString::from(
        v.as_array()
            .unwrap()
            .iter()
            .map(|c| (c[0].as_f64().unwrap(), c[1].as_f64().unwrap()))
            .collect::<Vec<_>>(),
    )
}

fn poly(v: &Value) -> Polygon<f64> {
    let rs = v.as_array().unwrap();
    Polygon::new(ring(&rs[0]), rs[1..].iter().map(ring).collect())
}

pub fn geometry(g: &Value) -> MultiPolygon<f64> {
    match g["type"].as_str().unwrap() {
        "Polygon" => MultiPolygon(vec![poly(&g["coordinates"])]),
        "MultiPolygon" => MultiPolygon(
            g["coordinates"]
                .as_array()
                .unwrap()
                .iter()
                .map(poly)
                .collect(),
        ),
        t => panic!("unexpected geometry {t}"),
    }
}

/// Signed shoelace area of a ring (counter-clockwise positive), in degrees².
fn signed(ring: &LineString<f64>) -> f64 {
    ring.0
        .windows(2)
        .map(|w| w[0].x * w[1].y - w[1].x * w[0].y)
        .sum::<f64>()
        / 2.0
}

type Key = ((i64, i64), (i64, i64));
fn key(a: Coord<f64>, b: Coord<f64>) -> Key {
    let q = |c: Coord<f64>| ((c.x * 1e9).round() as i64, (c.y * 1e9).round() as i64);
    let (p, r) = (q(a), q(b));
    if p <= r {
        (p, r)
    } else {
        (r, p)
    }
}

/// Whether `p` lies on segment a–b within `tol` grid units (1 unit = 1e-9°, about 0.1 mm).
fn on_segment(a: (i64, i64), b: (i64, i64), p: (i64, i64)) -> bool {
    let (ax, ay, bx, by, px, py) = (
        a.0 as f64, a.1 as f64, b.0 as f64, b.1 as f64, p.0 as f64, p.1 as f64,
    );
    let (dx, dy) = (bx - ax, by - ay);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 {
        ((px - ax) * dx + (py - ay) * dy) / len2
    } else {
        0.0
    };
    let t = t.clamp(0.0, 1.0);
    let (qx, qy) = (ax + t * dx - px, ay + t * dy - py);
    (qx * qx + qy * qy).sqrt() <= 1.0
}

/// Checks that `pieces` tile `area` exactly: areas add up, no two overlap, every border segment is
/// shared by exactly two pieces with the same vertices (or lies on the outline of `area`), every
/// ring is closed and wound as RFC 7946 wants. Returns a list of problems.
pub fn check_tiling(
    what: &str,
    area: &MultiPolygon<f64>,
    pieces: &[(String, MultiPolygon<f64>)],
) -> Vec<String> {
    let mut bad = Vec::new();
    let total = area.unsigned_area();
    let sum: f64 = pieces.iter().map(|(_, p)| p.unsigned_area()).sum();
    if ((sum - total) / total).abs() > 1e-9 {
        bad.push(format!(
            "{what}: pieces' area {sum} ≠ area {total} (rel {:e})",
            (sum - total) / total
        ));
    }
    // union covers the area (no gap), up to i_overlay's snapping
    let union = pieces
        .iter()
        .fold(MultiPolygon::<f64>(vec![]), |acc, (_, p)| acc.union(p));
    let gap = area.difference(&union).unsigned_area();
    // a cross-check only: i_overlay snaps to its own grid (see CRATES.md), so allow 1e-7 here;
    // the exact checks are the area sum above and the shared segments below
    if gap / total > 1e-7 {
        bad.push(format!("{what}: gap of relative area {:e}", gap / total));
    }
    // shared edges: each segment appears twice in opposite directions, or lies on the outline
    let mut outline: Vec<((i64, i64), (i64, i64))> = Vec::new();
    for p in &area.0 {
        for r in std::iter::once(p.exterior()).chain(p.interiors()) {
            for w in r.0.windows(2) {
                outline.push(key(w[0], w[1]));
            }
        }
    }
    let mut count: HashMap<Key, Vec<(usize, bool)>> = HashMap::new();
    for (i, (code, mp)) in pieces.iter().enumerate() {
        for (pi, p) in mp.0.iter().enumerate() {
            for (ri, r) in std::iter::once(p.exterior())
                .chain(p.interiors())
                .enumerate()
            {
                if r.0.first() != r.0.last() || r.0.len() < 4 {
                    bad.push(format!("{what}: {code}: ring not closed"));
                }
                let s = signed(r);
                if (ri == 0) != (s > 0.0) {
                    bad.push(format!(
                        "{what}: {code}: polygon {pi} ring {ri} wound the wrong way"
                    ));
                }
                for w in r.0.windows(2) {
                    let k = key(w[0], w[1]);
                    let fwd = k.0 == key(w[0], w[0]).0;
                    count.entry(k).or_default().push((i, fwd));
                }
            }
        }
    }
    let mut lonely = 0;
    for (k, uses) in &count {
        match uses.len() {
            1 => {
                if !outline
                    .iter()
                    .any(|o| on_segment(o.0, o.1, k.0) && on_segment(o.0, o.1, k.1))
                {
                    lonely += 1;
                }
            }
            2 => {
                if uses[0].0 == uses[1].0 || uses[0].1 == uses[1].1 {
                    bad.push(format!(
                        "{what}: segment {k:?} used twice the same way or by one piece"
                    ));
                }
            }
            n => bad.push(format!("{what}: segment {k:?} used {n} times")),
        }
    }
    if lonely > 0 {
        bad.push(format!(
            "{what}: {lonely} border segments are not shared by a neighbour (sliver or gap)"
        ));
    }
    bad
}

/// Everything a plan must satisfy. `band` is the grid band, `weight` the field it counts.
pub struct Rules {
    pub band: (f64, f64),
    pub weight: &'static str,
}

/// A grid read back: code, geometry, properties.
type GridRow<'a> = (String, MultiPolygon<f64>, &'a Value);

/// Reads input and output and checks every rule; returns the problems found.
pub fn check_plan(input: &Path, out: &Path, rules: &Rules) -> Vec<String> {
    let mut bad = Vec::new();
    let villages = read_json(&input.join("villages.geojson"));
    let grids = read_json(&out.join("grids.geojson"));
    let micro = read_json(&out.join("micro_grids.geojson"));
    let report = read_json(&out.join("report.json"));
    let csv = std::fs::read_to_string(out.join("assignment.csv")).unwrap();

    let issues: Vec<&Value> = report["villages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|v| v["issues"].as_array().unwrap().iter())
        .collect();
    let issue_for = |code: &str, kind: &str| {
        issues
            .iter()
            .any(|i| i["code"].as_str() == Some(code) && i["kind"].as_str() == Some(kind))
    };

    let mut grids_of: BTreeMap<String, Vec<GridRow>> = BTreeMap::new();
    for f in grids["features"].as_array().unwrap() {
        let p = &f["properties"];
        let code = p["code"].as_str().unwrap().to_string();
        let vcode = p["village_code"].as_str().unwrap().to_string();
        if code.len() != 15
            || !code.starts_with(&vcode)
            || !code.bytes().all(|b| b.is_ascii_digit())
        {
            bad.push(format!("grid code {code} is not village code + 3 digits"));
        }
        if f["geometry"]["type"] != "Polygon" {
            bad.push(format!("grid {code} is not one connected polygon"));
        }
        grids_of
            .entry(vcode)
            .or_default()
            .push((code, geometry(&f["geometry"]), p));
    }
    let mut all_codes: Vec<&str> = grids["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["code"].as_str().unwrap())
        .collect();
    let n = all_codes.len();
    all_codes.sort_unstable();
    all_codes.dedup();
    if all_codes.len() != n {
        bad.push("grid codes are not unique".into());
    }

    for v in villages["features"].as_array().unwrap() {
        let vcode = v["properties"]["code"].as_str().unwrap();
        let area = geometry(&v["geometry"]);
        let Some(gs) = grids_of.get(vcode) else {
            bad.push(format!("village {vcode} has no grids"));
            continue;
        };
        let pieces: Vec<(String, MultiPolygon<f64>)> =
            gs.iter().map(|(c, g, _)| (c.clone(), g.clone())).collect();
        bad.extend(check_tiling(&format!("village {vcode}"), &area, &pieces));
        // grids never cross a village border: each grid inside its village
        for (code, g, props) in gs {
            let outside = g.difference(&area).unsigned_area();
            // boolean-op cross-check (i_overlay snaps): 1e-7; the exact tiling checks are above
            if outside / g.unsigned_area().max(1e-30) > 1e-7 {
                bad.push(format!(
                    "grid {code} sticks out of village {vcode} by relative area {:e}",
                    outside / g.unsigned_area()
                ));
            }
            let w = props["weight"].as_f64().unwrap();
            if w < rules.band.0 - 1e-6 && !issue_for(code, "under_band") {
                bad.push(format!(
                    "grid {code} has {w} < {} and no issue says why",
                    rules.band.0
                ));
            }
            if w > rules.band.1 + 1e-6 && !issue_for(code, "over_band") {
                bad.push(format!(
                    "grid {code} has {w} > {} and no issue says why",
                    rules.band.1
                ));
            }
        }
    }

    // micro-grids tile their grid; split buildings share one footprint
    let mut micro_of: BTreeMap<String, BTreeMap<String, MultiPolygon<f64>>> = BTreeMap::new();
    for f in micro["features"].as_array().unwrap() {
        let p = &f["properties"];
        let code = p["code"].as_str().unwrap();
        let gcode = p["grid_code"].as_str().unwrap();
        if code.len() != 18 || !code.starts_with(gcode) {
            bad.push(format!(
                "micro-grid code {code} is not grid code + 3 digits"
            ));
        }
        if f["geometry"]["type"] != "Polygon" {
            bad.push(format!("micro-grid {code} is not one connected polygon"));
        }
        micro_of.entry(gcode.to_string()).or_default().insert(
            p["footprint"].as_str().unwrap().to_string(),
            geometry(&f["geometry"]),
        );
    }
    for gs in grids_of.values() {
        for (code, g, _) in gs {
            match micro_of.get(code) {
                None => bad.push(format!("grid {code} has no micro-grids")),
                Some(ms) => {
                    let pieces: Vec<(String, MultiPolygon<f64>)> =
                        ms.iter().map(|(k, m)| (k.clone(), m.clone())).collect();
                    bad.extend(check_tiling(&format!("grid {code}"), g, &pieces));
                }
            }
        }
    }

    // every building or unit is assigned to a grid whose polygon holds it (buildings only)
    let assigned: HashMap<String, String> = csv
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[1].to_string(), f[3].to_string())
        })
        .collect();
    let grid_geom: HashMap<&str, &MultiPolygon<f64>> = grids_of
        .values()
        .flatten()
        .map(|(c, g, _)| (c.as_str(), g))
        .collect();
    let mut total_w = 0.0;
    let bpath = input.join("buildings.geojson");
    if bpath.exists() {
        let buildings = read_json(&bpath);
        for b in buildings["features"].as_array().unwrap() {
            let id = b["properties"]["id"].as_str().unwrap();
            total_w += b["properties"][rules.weight].as_f64().unwrap_or(0.0);
            match assigned.get(id) {
                None => bad.push(format!("building {id} is not in assignment.csv")),
                Some(g) if g.is_empty() => bad.push(format!("building {id} has no grid")),
                Some(g) => {
                    if b["geometry"]["type"] == "Point" {
                        let c = &b["geometry"]["coordinates"];
                        let pt = Point::new(c[0].as_f64().unwrap(), c[1].as_f64().unwrap());
                        if let Some(gg) = grid_geom.get(g.as_str()) {
                            if !gg.contains(&pt) && !geo::Intersects::intersects(*gg, &pt) {
                                bad.push(format!("building {id} lies outside its grid {g}"));
                            }
                        }
                    }
                }
            }
        }
    }
    let upath = input.join("units.geojson");
    if upath.exists() {
        for u in read_json(&upath)["features"].as_array().unwrap() {
            total_w += u["properties"][rules.weight].as_f64().unwrap_or(0.0);
        }
    }
    let plan_w: f64 = grids["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["weight"].as_f64().unwrap())
        .sum();
    if (plan_w - total_w).abs() > 1e-6 * total_w.max(1.0) {
        bad.push(format!(
            "grid weights add up to {plan_w}, the input holds {total_w}"
        ));
    }
    bad
}

/// A fresh empty folder under the system temp dir.
pub fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}
