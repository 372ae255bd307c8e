//! Writing a plan: `grids.geojson`, `micro_grids.geojson`, `assignment.csv`, `report.json`, and a
//! readable summary table.
//!
//! Files are written into a temporary folder beside the output and moved into place only when all
//! are complete, so a failed run leaves the output folder as it was. Output is byte-identical for
//! the same input and seed (no hash-map order, fixed float formatting).

use crate::partition::{Band, Options, Plan, VillagePlan};
use crate::topology::RingSet;
use serde_json::{json, Map, Value};
use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::Path;

fn coords(rs: &RingSet) -> Value {
    let ring = |r: &Vec<crate::topology::Pt>| -> Value {
        Value::Array(r.iter().map(|p| json!([p.lon(), p.lat()])).collect())
    };
    if rs.len() == 1 {
        json!({"type": "Polygon", "coordinates": rs[0].iter().map(ring).collect::<Vec<_>>()})
    } else {
        json!({"type": "MultiPolygon", "coordinates": rs.iter().map(|p| p.iter().map(ring).collect::<Vec<_>>()).collect::<Vec<_>>()})
    }
}

fn feature(props: Value, rs: &RingSet) -> Value {
    json!({"type": "Feature", "properties": props, "geometry": coords(rs)})
}

fn band_status(band: &Band, w: f64) -> &'static str {
    if w < band.min {
        "under"
    } else if w > band.max {
        "over"
    } else {
        "ok"
    }
}

/// The grids as a GeoJSON FeatureCollection (RFC 7946).
pub fn grids_geojson(plan: &Plan, opts: &Options) -> Value {
    let mut feats = Vec::new();
    for v in &plan.villages {
        for (i, g) in v.grids.iter().enumerate() {
            let f = &g.figures;
            feats.push(feature(
                json!({
                    "code": g.code, "village_code": v.code, "village_name": v.name, "seq": i + 1,
                    "weight": f.weight, "households": f.households, "residents": f.residents,
                    "area_m2": f.area_m2, "perimeter_m": f.perimeter_m, "polsby_popper": f.polsby_popper,
                    "buildings": f.buildings, "units": f.units, "band": band_status(&opts.band, f.weight),
                    "piece": g.piece, "label": g.label, "color": g.color,
                }),
                &g.rings,
            ));
        }
    }
    json!({"type": "FeatureCollection", "features": feats})
}

/// The micro-grids as a GeoJSON FeatureCollection. Parts of one split building repeat its footprint.
pub fn micro_geojson(plan: &Plan) -> Value {
    let mut feats = Vec::new();
    for v in &plan.villages {
        for m in &v.micro_grids {
            let f = &m.figures;
            let mut props = json!({
                "code": m.code, "grid_code": v.grids[m.grid].code, "village_code": v.code,
                "kind": m.kind, "weight": f.weight, "households": f.households, "residents": f.residents,
                "area_m2": f.area_m2, "polsby_popper": f.polsby_popper, "buildings": f.buildings,
                "footprint": format!("{}-{}", v.code, m.footprint), "label": m.label,
                "color": m.color,
            });
            if let (Some(s), Value::Object(p)) = (&m.stack, &mut props) {
                p.insert("stack_building".into(), json!(s.building));
                p.insert("stack_part".into(), json!(s.part));
                p.insert("stack_of".into(), json!(s.of));
                p.insert("stack_units".into(), json!(s.units));
            }
            feats.push(feature(props, &m.rings));
        }
    }
    json!({"type": "FeatureCollection", "features": feats})
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// `kind,id,village_code,grid_code,micro_grid_code` per building or unit (micro-grid codes of a
/// split building joined by `;`).
pub fn assignment_csv(plan: &Plan) -> String {
    let mut out = String::from("kind,id,village_code,grid_code,micro_grid_code\n");
    for v in &plan.villages {
        for a in &v.assignment {
            let grid = a
                .grid
                .map(|g| v.grids[g].code.to_string())
                .unwrap_or_default();
            let micro: Vec<&str> = a
                .micro
                .iter()
                .map(|&m| v.micro_grids[m].code.as_str())
                .collect();
            let _ = writeln!(
                out,
                "{},{},{},{},{}",
                a.kind,
                csv_field(&a.id),
                v.code,
                grid,
                micro.join(";")
            );
        }
    }
    out
}

fn stats(xs: impl Iterator<Item = f64>) -> Value {
    let v: Vec<f64> = xs.collect();
    if v.is_empty() {
        return json!(null);
    }
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    json!({"min": r6(min), "mean": r6(mean), "max": r6(max)})
}

fn r6(x: f64) -> f64 {
    crate::partition::quality::round6(x)
}

fn share(v: &VillagePlan) -> Option<f64> {
    (v.grid_border_m > 0.0).then(|| r6(v.grid_border_on_lines_m / v.grid_border_m))
}

/// The report: settings, totals, quality figures per village and per grid, and every issue.
pub fn report_json(plan: &Plan, opts: &Options) -> Value {
    let grids = || plan.villages.iter().flat_map(|v| v.grids.iter());
    let border: f64 = plan.villages.iter().map(|v| v.grid_border_m).sum();
    let on: f64 = plan.villages.iter().map(|v| v.grid_border_on_lines_m).sum();
    let in_band = grids()
        .filter(|g| opts.band.violation(g.figures.weight) == 0.0)
        .count();
    let villages: Vec<Value> = plan
        .villages
        .iter()
        .map(|v| {
            let mut m = Map::new();
            m.insert("code".into(), json!(v.code));
            m.insert("name".into(), json!(v.name));
            m.insert("mode".into(), json!(v.mode));
            m.insert("pieces".into(), json!(v.pieces));
            m.insert("cells".into(), json!(v.cells));
            m.insert("grids".into(), json!(v.grids.len()));
            m.insert("micro_grids".into(), json!(v.micro_grids.len()));
            m.insert(
                "weight".into(),
                stats(v.grids.iter().map(|g| g.figures.weight)),
            );
            m.insert(
                "residents".into(),
                stats(v.grids.iter().map(|g| g.figures.residents)),
            );
            m.insert(
                "area_m2".into(),
                stats(v.grids.iter().map(|g| g.figures.area_m2)),
            );
            m.insert(
                "polsby_popper".into(),
                stats(v.grids.iter().map(|g| g.figures.polsby_popper)),
            );
            m.insert("grid_border_m".into(), json!(r6(v.grid_border_m)));
            m.insert("border_on_lines_share".into(), json!(share(v)));
            m.insert(
                "grid_figures".into(),
                Value::Array(
                    v.grids
                        .iter()
                        .map(|g| json!({"code": g.code, "figures": g.figures}))
                        .collect(),
                ),
            );
            m.insert("issues".into(), json!(v.issues));
            Value::Object(m)
        })
        .collect();
    let mut settings = opts.to_params();
    settings["micro_weight"] = json!(plan.micro_weight);
    json!({
        "settings": settings,
        "totals": {
            "villages": plan.villages.len(),
            "grids": grids().count(),
            "grids_in_band": in_band,
            "micro_grids": plan.villages.iter().map(|v| v.micro_grids.len()).sum::<usize>(),
            "weight": r6(grids().map(|g| g.figures.weight).sum::<f64>()),
            "households": r6(grids().map(|g| g.figures.households).sum::<f64>()),
            "residents": r6(grids().map(|g| g.figures.residents).sum::<f64>()),
            "issues": plan.villages.iter().map(|v| v.issues.len()).sum::<usize>(),
        },
        "quality": {
            "weight": stats(grids().map(|g| g.figures.weight)),
            "polsby_popper": stats(grids().map(|g| g.figures.polsby_popper)),
            "border_on_lines_share": if border > 0.0 { json!(r6(on / border)) } else { json!(null) },
        },
        "villages": villages,
        "colours": plan.colours,
    })
}

/// A readable table of the plan, one line per village, then the totals of `report`
/// (from [`report_json`]).
pub fn summary_table(plan: &Plan, opts: &Options, report: &Value) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<13} {:<16} {:>6} {:>10} {:>5} {:>6} {:>15} {:>6} {:>6} {:>6}",
        "village",
        "name",
        "mode",
        opts.weight.name(),
        "grids",
        "micro",
        "grid weight",
        "PP",
        "lines",
        "issues"
    );
    for v in &plan.villages {
        let w: Vec<f64> = v.grids.iter().map(|g| g.figures.weight).collect();
        let total: f64 = w.iter().sum();
        let (lo, hi) = (
            w.iter().copied().fold(f64::INFINITY, f64::min),
            w.iter().copied().fold(0.0, f64::max),
        );
        let pp = v.grids.iter().map(|g| g.figures.polsby_popper).sum::<f64>()
            / v.grids.len().max(1) as f64;
        let name: String = v.name.chars().take(8).collect();
        let _ = writeln!(
            s,
            "{:<13} {:<w$} {:>6} {:>10.0} {:>5} {:>6} {:>7.0}–{:<7.0} {:>6.3} {:>6} {:>6}",
            v.code.as_str(),
            name,
            format!("{:?}", v.mode).to_lowercase(),
            total,
            v.grids.len(),
            v.micro_grids.len(),
            lo,
            hi,
            pp,
            share(v).map_or("-".into(), |x| format!("{:.0}%", x * 100.0)),
            v.issues.len(),
            // CJK characters take two columns in a terminal
            w = 16 - name.chars().filter(|c| !c.is_ascii()).count().min(8)
        );
    }
    let t = &report["totals"];
    let q = &report["quality"];
    let _ = writeln!(
        s,
        "total: {} villages, {} grids ({} in band {}..{}), {} micro-grids, {} {}, Polsby–Popper mean {}, borders on roads/rivers/group lines {}",
        t["villages"], t["grids"], t["grids_in_band"], opts.band.min, opts.band.max, t["micro_grids"],
        t["weight"], opts.weight.name(), q["polsby_popper"]["mean"], q["border_on_lines_share"]
    );
    s
}

/// Writes all four files into `out` (`report` from [`report_json`]), atomically per file set:
/// nothing in `out` changes unless all were written.
pub fn write_plan(out: &Path, plan: &Plan, opts: &Options, report: &Value) -> io::Result<()> {
    let files: [(&str, Vec<u8>); 4] = [
        ("grids.geojson", to_bytes(&grids_geojson(plan, opts))?),
        ("micro_grids.geojson", to_bytes(&micro_geojson(plan))?),
        ("assignment.csv", assignment_csv(plan).into_bytes()),
        ("report.json", {
            let mut b = serde_json::to_vec_pretty(report)?;
            b.push(b'\n');
            b
        }),
    ];
    write_files(out, &files)
}

/// Writes `files` (name, bytes) into folder `out` atomically as a set: they are written and synced
/// in a temporary folder beside `out`, then moved in; on any failure `out` is left as it was.
pub fn write_files(out: &Path, files: &[(&str, Vec<u8>)]) -> io::Result<()> {
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent)?;
    let tmp = tempdir_in(&parent)?;
    let result = (|| {
        for (name, bytes) in files {
            let mut f = std::fs::File::create(tmp.join(name))?;
            f.write_all(bytes)?;
            f.sync_all()?;
        }
        std::fs::create_dir_all(out)?;
        for (name, _) in files {
            std::fs::rename(tmp.join(name), out.join(name))?;
        }
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&tmp);
    result
}

/// A JSON value as compact bytes with a final newline.
pub fn to_bytes(v: &Value) -> io::Result<Vec<u8>> {
    let mut b = serde_json::to_vec(v)?;
    b.push(b'\n');
    Ok(b)
}

fn tempdir_in(parent: &Path) -> io::Result<std::path::PathBuf> {
    for i in 0..1000u32 {
        let p = parent.join(format!(".wangge-tmp-{}-{i}", std::process::id()));
        match std::fs::create_dir(&p) {
            Ok(()) => return Ok(p),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other("cannot create a temporary folder"))
}
