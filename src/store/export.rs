//! Export from a store: a folder of GeoJSON and CSV (the plans, and the town's data in the
//! partition input format, so an export can be partitioned again), or a standalone GeoPackage.
//! Both are written atomically: a temporary folder or file beside the target, then a rename.

use super::read::{PlanInfo, VillagePlanRecord};
use super::{Base, PlanMeta, Result, Store, StoreError};
use crate::model::Dataset;
use geo::Geometry;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::Path;

/// What an export wrote.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Exported {
    /// Plans written.
    pub plans: usize,
    /// Grids written.
    pub grids: usize,
    /// Buildings written.
    pub buildings: usize,
}

fn geometry(g: &Geometry<f64>) -> Value {
    serde_json::to_value(geojson::Geometry::new(geojson::GeometryValue::from(g)))
        .expect("a geometry serialises")
}

fn collection(features: Vec<Value>) -> Value {
    json!({"type": "FeatureCollection", "features": features})
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The town's data to export: all of it, or only `village`'s (with every barrier), which is all
/// that is read from the store then.
async fn dataset_for(store: &Store, village: Option<&str>) -> Result<Dataset> {
    let Some(v) = village else {
        return store.dataset().await;
    };
    let ds = store.dataset_of(&BTreeSet::from([v.to_string()])).await?;
    if ds.villages.is_empty() {
        return Err(StoreError::NotFound(format!("village {v}")));
    }
    Ok(ds)
}

/// The plans to export: one version of one village, or every (or one) village's active plan.
async fn chosen(
    store: &Store,
    village: Option<&str>,
    version: Option<i64>,
) -> Result<Vec<(PlanInfo, VillagePlanRecord)>> {
    match (village, version) {
        (Some(v), Some(n)) => Ok(vec![store.load_plan(v, n).await?]),
        (None, Some(_)) => Err(StoreError::Invalid {
            what: "export".into(),
            why: "--plan needs --village: versions are numbered per village".into(),
        }),
        (_, None) => {
            let mut out = Vec::new();
            for p in store.plans(village).await?.into_iter().filter(|p| p.active) {
                out.push(store.load_plan(&p.village, p.version).await?);
            }
            Ok(out)
        }
    }
}

/// Writes `grids.geojson`, `micro_grids.geojson`, `assignment.csv`, `plans.json` and the input
/// files `villages.geojson`, `buildings.geojson`, `barriers.geojson` (and `units.geojson`,
/// `groups.geojson` when the town has them) into folder `out`.
pub async fn export_dir(
    store: &Store,
    out: &Path,
    village: Option<&str>,
    version: Option<i64>,
) -> Result<Exported> {
    let ds = dataset_for(store, village).await?;
    let plans = chosen(store, village, version).await?;
    let people = store.people().await?;
    let mut grids = Vec::new();
    let mut micro = Vec::new();
    let mut csv = String::from("kind,id,village_code,plan_version,grid_code,micro_grid_code\n");
    let mut infos = Vec::new();
    for (info, p) in &plans {
        for g in &p.grids {
            let f = &g.figures;
            grids.push(json!({
                "type": "Feature",
                "properties": {
                    "code": g.code, "village_code": p.village, "plan_version": info.version,
                    "weight": f.weight, "households": f.households, "residents": f.residents,
                    "area_m2": f.area_m2, "perimeter_m": f.perimeter_m,
                    "polsby_popper": f.polsby_popper, "buildings": f.buildings,
                    "label": [g.label.x(), g.label.y()],
                    "people": people.get(&g.code).map(|p| p.as_slice()).unwrap_or(&[]),
                    "color": g.color,
                },
                "geometry": geometry(&Geometry::MultiPolygon(g.geometry.clone())),
            }));
        }
        for m in &p.micro_grids {
            let f = &m.figures;
            micro.push(json!({
                "type": "Feature",
                "properties": {
                    "code": m.code, "grid_code": m.grid_code, "village_code": p.village,
                    "plan_version": info.version, "kind": m.kind, "households": f.households,
                    "residents": f.residents, "buildings": f.buildings,
                    "stack_building": m.stack.as_ref().map(|s| &s.building),
                    "stack_units": m.stack.as_ref().map(|s| &s.units),
                    "color": m.color,
                },
                "geometry": geometry(&Geometry::MultiPolygon(m.geometry.clone())),
            }));
        }
        for a in &p.assignment {
            let row = [
                a.kind.as_str(),
                a.id.as_str(),
                p.village.as_str(),
                &info.version.to_string(),
                a.grid.as_deref().unwrap_or(""),
                &a.micro.join(";"),
            ]
            .map(csv_field)
            .join(",");
            csv.push_str(&row);
            csv.push('\n');
        }
        infos.push(info.clone());
    }
    let villages: Vec<Value> = ds
        .villages
        .iter()
        .map(|v| {
            json!({"type": "Feature",
                "properties": {"code": v.code, "name": v.name, "mode": v.mode.as_str()},
                "geometry": geometry(&Geometry::MultiPolygon(v.boundary.clone()))})
        })
        .collect();
    let buildings: Vec<Value> = ds
        .buildings
        .iter()
        .map(|b| {
            let g = match &b.footprint {
                Some(fp) => Geometry::MultiPolygon(fp.clone()),
                None => Geometry::Point(b.point),
            };
            json!({"type": "Feature",
                "properties": {"id": b.id, "households": b.households, "residents": b.residents,
                    "kind": b.kind.as_str(), "address": b.address, "group": b.group,
                    "staff": b.staff, "workshops": b.workshops},
                "geometry": geometry(&g)})
        })
        .collect();
    let barriers: Vec<Value> = ds
        .barriers
        .iter()
        .map(|b| {
            json!({"type": "Feature",
                "properties": {"class": b.class.as_str(), "name": b.name},
                "geometry": geometry(&Geometry::MultiLineString(geo::MultiLineString::new(b.lines.clone())))})
        })
        .collect();
    let units: Vec<Value> = ds
        .units
        .iter()
        .map(|u| {
            json!({"type": "Feature",
                "properties": {"id": u.id, "households": u.households, "residents": u.residents},
                "geometry": geometry(&Geometry::MultiPolygon(u.area.clone()))})
        })
        .collect();
    let groups: Vec<Value> = ds
        .groups
        .iter()
        .map(|g| {
            json!({"type": "Feature", "properties": {"id": g.id},
                "geometry": geometry(&Geometry::MultiPolygon(g.area.clone()))})
        })
        .collect();
    let summary = Exported {
        plans: plans.len(),
        grids: grids.len(),
        buildings: buildings.len(),
    };
    let b = |v: &Value| crate::output::to_bytes(v).map_err(io_err(out));
    let mut files: Vec<(&str, Vec<u8>)> = vec![
        ("grids.geojson", b(&collection(grids))?),
        ("micro_grids.geojson", b(&collection(micro))?),
        ("assignment.csv", csv.into_bytes()),
        ("plans.json", b(&json!(infos))?),
        ("villages.geojson", b(&collection(villages))?),
        ("buildings.geojson", b(&collection(buildings))?),
        ("barriers.geojson", b(&collection(barriers))?),
    ];
    // Optional inputs, written when the town has them (a partition run reads them if present).
    if !units.is_empty() {
        files.push(("units.geojson", b(&collection(units))?));
    }
    if !groups.is_empty() {
        files.push(("groups.geojson", b(&collection(groups))?));
    }
    crate::output::write_files(out, &files).map_err(io_err(out))?;
    Ok(summary)
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Writes a standalone GeoPackage at `out` with the town's data, the chosen plans (each saved as
/// version 1 there, with its codes) and the people of their grids.
pub async fn export_gpkg(
    store: &Store,
    out: &Path,
    village: Option<&str>,
    version: Option<i64>,
) -> Result<Exported> {
    let ds = dataset_for(store, village).await?;
    let plans = chosen(store, village, version).await?;
    let tmp = out.with_extension(format!("gpkg.tmp-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let result = async {
        let target = Store::open(tmp.to_str().ok_or_else(|| StoreError::Invalid {
            what: out.display().to_string(),
            why: "path is not UTF-8".into(),
        })?)
        .await?;
        target.import(&ds, &mut |_, _| {}).await?;
        let meta = PlanMeta {
            author: "wangge export".into(),
            reason: format!("exported from {}", store.target()),
            params: String::new(),
        };
        let recs: Vec<VillagePlanRecord> = plans.iter().map(|(_, p)| p.clone()).collect();
        target.save_plans(&recs, &meta, &Base::default()).await?;
        // The people of the exported grids (their codes are kept: the new store issued none).
        let exported: std::collections::HashSet<&str> = recs
            .iter()
            .flat_map(|r| r.grids.iter().map(|g| g.code.as_str()))
            .collect();
        let people: std::collections::BTreeMap<String, Vec<crate::snapshot::Person>> = store
            .people()
            .await?
            .into_iter()
            .filter(|(code, p)| !p.is_empty() && exported.contains(code.as_str()))
            .collect();
        target.set_people_many(&people).await?;
        target.close().await;
        // Fold the write-ahead log back into the file, so it is one self-contained file; leaving
        // WAL mode takes the only connection.
        {
            use sqlx::{Connection, Executor};
            let mut c = sqlx::AnyConnection::connect(&format!("sqlite://{}", tmp.display()))
                .await
                .map_err(|e| target.db(e))?;
            c.execute("PRAGMA journal_mode = DELETE")
                .await
                .map_err(|e| target.db(e))?;
            c.close().await.map_err(|e| target.db(e))?;
        }
        Ok::<_, StoreError>(Exported {
            plans: recs.len(),
            grids: recs.iter().map(|r| r.grids.len()).sum(),
            buildings: ds.buildings.len(),
        })
    }
    .await;
    match result {
        Ok(s) => {
            std::fs::rename(&tmp, out).map_err(io_err(out))?;
            Ok(s)
        }
        Err(e) => {
            for ext in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{ext}", tmp.display()));
            }
            Err(e)
        }
    }
}
