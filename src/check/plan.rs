//! A plan as the check reads it: grids, micro-grids, the building → grid assignment and the
//! report's excuses, from a plan folder (`grids.geojson`, `micro_grids.geojson`, `assignment.csv`,
//! `report.json`) or built by the caller (from a store). Nothing here is trusted: figures are
//! kept only to be compared with recomputed ones.

use super::{Item, ItemKind};
use geo::{Geometry, MultiPolygon, Point};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Figures a grid or micro-grid carries; `None` when the plan does not say.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Claimed {
    /// What the band counts.
    pub weight: Option<f64>,
    /// Households.
    pub households: Option<f64>,
    /// Residents.
    pub residents: Option<f64>,
    /// Buildings.
    pub buildings: Option<f64>,
    /// Units.
    pub units: Option<f64>,
    /// Area, m².
    pub area_m2: Option<f64>,
}

/// A grid of the plan.
#[derive(Clone, Debug)]
pub struct PlanGrid {
    /// Its code.
    pub code: String,
    /// The village code it names.
    pub village: String,
    /// Its outline.
    pub geometry: MultiPolygon<f64>,
    /// The point its label is drawn at, if the plan gives one.
    pub label: Option<Point<f64>>,
    /// Its figures.
    pub claimed: Claimed,
    /// Its map colour, if the plan gives one.
    pub color: Option<u8>,
}

/// A micro-grid of the plan.
#[derive(Clone, Debug)]
pub struct PlanMicro {
    /// Its code.
    pub code: String,
    /// The grid code it names.
    pub grid: String,
    /// Its outline (parts of one split building repeat one outline).
    pub geometry: MultiPolygon<f64>,
    /// The point its label is drawn at, if the plan gives one.
    pub label: Option<Point<f64>>,
    /// Its figures.
    pub claimed: Claimed,
    /// What the plan calls it: `residential`, `dedicated` (专属: a school, hospital, firm…) or
    /// `building_part` (one part of a split building); the band binds only residential ones.
    pub kind: String,
    /// Its map colour, if the plan gives one.
    pub color: Option<u8>,
}

/// One row of the assignment.
#[derive(Clone, Debug)]
pub struct PlanRow {
    /// The building or unit.
    pub item: Item,
    /// The village code of the row.
    pub village: String,
    /// Its grid code (empty: none).
    pub grid: String,
    /// Its micro-grid codes (several for a split building).
    pub micro: Vec<String>,
}

/// One issue of the report: what the plan says it could not do, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Excuse {
    /// The village whose report lists it.
    pub village: String,
    /// The grid or micro-grid it is about, if one.
    pub code: Option<String>,
    /// `under_band`, `over_band`, `crosses_barrier`, `split_group`, `village_pieces`, …
    pub kind: String,
    /// The bound not met.
    pub bound: Option<f64>,
    /// The value found.
    pub value: Option<f64>,
    /// Why, in words.
    pub reason: String,
}

/// A whole plan to check.
#[derive(Clone, Debug, Default)]
pub struct PlanToCheck {
    /// Grids.
    pub grids: Vec<PlanGrid>,
    /// Micro-grids.
    pub micro: Vec<PlanMicro>,
    /// The assignment.
    pub rows: Vec<PlanRow>,
    /// The report's issues; `None` when the plan has no report (a stored plan), and then a grid
    /// outside the band, a crossing or a split group needs a reason that the check finds itself.
    pub excuses: Option<Vec<Excuse>>,
}

/// Why a plan folder could not be read; names the file and what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file is not what a plan folder holds.
    #[error("{path}: {what}")]
    Bad {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the feature or line and the field.
        what: String,
    },
}

fn read(path: &Path) -> Result<String, ReadError> {
    std::fs::read_to_string(path).map_err(|source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn bad(path: &Path, what: impl Into<String>) -> ReadError {
    ReadError::Bad {
        path: path.to_path_buf(),
        what: what.into(),
    }
}

/// The features of a GeoJSON FeatureCollection file, each with its properties and geometry.
fn features(path: &Path) -> Result<Vec<(Value, MultiPolygon<f64>)>, ReadError> {
    let text = read(path)?;
    let fc: geojson::FeatureCollection = text
        .parse::<geojson::GeoJson>()
        .map_err(|e| bad(path, e.to_string()))?
        .try_into()
        .map_err(|e: geojson::Error| bad(path, e.to_string()))?;
    let mut out = Vec::with_capacity(fc.features.len());
    for (i, f) in fc.features.into_iter().enumerate() {
        let props = Value::Object(f.properties.clone().unwrap_or_default());
        let Some(g) = f.geometry else {
            return Err(bad(path, format!("feature {i}: field geometry is missing")));
        };
        let g: Geometry<f64> = g
            .try_into()
            .map_err(|e: geojson::Error| bad(path, format!("feature {i}: geometry: {e}")))?;
        let mp = match g {
            Geometry::Polygon(p) => MultiPolygon(vec![p]),
            Geometry::MultiPolygon(m) => m,
            _ => {
                return Err(bad(
                    path,
                    format!("feature {i}: geometry must be a Polygon or MultiPolygon"),
                ))
            }
        };
        out.push((props, mp));
    }
    Ok(out)
}

fn text(path: &Path, i: usize, p: &Value, field: &str) -> Result<String, ReadError> {
    p[field].as_str().map(str::to_string).ok_or_else(|| {
        bad(
            path,
            format!("feature {i}: field {field} is missing or not text"),
        )
    })
}

fn claimed(p: &Value) -> Claimed {
    let n = |k: &str| p[k].as_f64();
    Claimed {
        weight: n("weight"),
        households: n("households"),
        residents: n("residents"),
        buildings: n("buildings"),
        units: n("units"),
        area_m2: n("area_m2"),
    }
}

fn color(p: &Value) -> Option<u8> {
    p["color"].as_u64().and_then(|c| u8::try_from(c).ok())
}

fn label(p: &Value) -> Option<Point<f64>> {
    let l = p["label"].as_array()?;
    Some(Point::new(l.first()?.as_f64()?, l.get(1)?.as_f64()?))
}

/// Reads `grids.geojson`.
pub fn read_grids(path: &Path) -> Result<Vec<PlanGrid>, ReadError> {
    features(path)?
        .into_iter()
        .enumerate()
        .map(|(i, (p, geometry))| {
            Ok(PlanGrid {
                code: text(path, i, &p, "code")?,
                village: text(path, i, &p, "village_code")?,
                label: label(&p),
                claimed: claimed(&p),
                color: color(&p),
                geometry,
            })
        })
        .collect()
}

/// Reads `micro_grids.geojson`.
pub fn read_micro(path: &Path) -> Result<Vec<PlanMicro>, ReadError> {
    features(path)?
        .into_iter()
        .enumerate()
        .map(|(i, (p, geometry))| {
            Ok(PlanMicro {
                code: text(path, i, &p, "code")?,
                grid: text(path, i, &p, "grid_code")?,
                label: label(&p),
                claimed: claimed(&p),
                kind: p["kind"].as_str().unwrap_or("residential").to_string(),
                color: color(&p),
                geometry,
            })
        })
        .collect()
}

/// Reads `assignment.csv` (`kind,id,village_code[,plan_version],grid_code,micro_grid_code`).
pub fn read_assignment(path: &Path) -> Result<Vec<PlanRow>, ReadError> {
    let text = read(path)?;
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let headers = r.headers().map_err(|e| bad(path, e.to_string()))?.clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| bad(path, format!("line 1: column {name} is missing")))
    };
    let (k, id, v, g, m) = (
        col("kind")?,
        col("id")?,
        col("village_code")?,
        col("grid_code")?,
        col("micro_grid_code")?,
    );
    let mut rows = Vec::new();
    for (i, rec) in r.records().enumerate() {
        let line = i + 2;
        let rec = rec.map_err(|e| bad(path, format!("line {line}: {e}")))?;
        let kind = match rec.get(k) {
            Some("building") => ItemKind::Building,
            Some("unit") => ItemKind::Unit,
            other => {
                return Err(bad(
                    path,
                    format!("line {line}: field kind must be building or unit, got {other:?}"),
                ))
            }
        };
        let get = |c: usize| rec.get(c).unwrap_or_default().to_string();
        rows.push(PlanRow {
            item: Item { kind, id: get(id) },
            village: get(v),
            grid: get(g),
            micro: get(m)
                .split(';')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        });
    }
    Ok(rows)
}

/// Reads the issues of `report.json` (`villages[].issues[]`).
pub fn read_excuses(path: &Path) -> Result<Vec<Excuse>, ReadError> {
    let v: Value = serde_json::from_str(&read(path)?).map_err(|e| bad(path, e.to_string()))?;
    let villages = v["villages"]
        .as_array()
        .ok_or_else(|| bad(path, "field villages is missing"))?;
    let mut out = Vec::new();
    for (vi, village) in villages.iter().enumerate() {
        let code = village["code"]
            .as_str()
            .ok_or_else(|| bad(path, format!("villages[{vi}]: field code is missing")))?;
        for (ii, i) in village["issues"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let kind = i["kind"].as_str().ok_or_else(|| {
                bad(
                    path,
                    format!("villages[{vi}].issues[{ii}]: field kind is missing"),
                )
            })?;
            out.push(Excuse {
                village: code.to_string(),
                code: i["code"].as_str().map(str::to_string),
                kind: kind.to_string(),
                bound: i["bound"].as_f64(),
                value: i["value"].as_f64(),
                reason: i["reason"].as_str().unwrap_or_default().to_string(),
            });
        }
    }
    Ok(out)
}

impl PlanToCheck {
    /// Reads a plan folder as `wangge partition` or `wangge export` writes it; `report.json` is
    /// optional (an export has none).
    pub fn read_dir(dir: &Path) -> Result<PlanToCheck, ReadError> {
        let report = dir.join("report.json");
        Ok(PlanToCheck {
            grids: read_grids(&dir.join("grids.geojson"))?,
            micro: read_micro(&dir.join("micro_grids.geojson"))?,
            rows: read_assignment(&dir.join("assignment.csv"))?,
            excuses: if report.exists() {
                Some(read_excuses(&report)?)
            } else {
                None
            },
        })
    }
}

/// The rules a plan was made for, as its report's `settings` state them (`weight`, `band`,
/// `micro_band`, `micro_weight`), over `base` for what they do not say. The stored `params` of a
/// plan version are the same object.
///
/// ```
/// use wangge::check::{plan::rules_from_settings, Rules};
/// let s = serde_json::json!({"weight": "residents", "band": [11300.0, 12500.0], "micro_weight": "residents"});
/// let r = rules_from_settings(&s, Rules::default());
/// assert_eq!(r.band.min, 11300.0);
/// assert_eq!(r.weight, wangge::model::Weight::Residents);
/// assert_eq!(r.micro.max, 80.0);
/// ```
pub fn rules_from_settings(settings: &Value, base: super::Rules) -> super::Rules {
    use crate::model::Weight;
    use crate::partition::Band;
    let band = |v: &Value| -> Option<Band> {
        Some(Band {
            min: v.get(0)?.as_f64()?,
            max: v.get(1)?.as_f64()?,
        })
    };
    super::Rules {
        band: band(&settings["band"]).unwrap_or(base.band),
        micro: band(&settings["micro_band"]).unwrap_or(base.micro),
        weight: settings["weight"]
            .as_str()
            .map_or(base.weight, Weight::parse),
        micro_weight: settings["micro_weight"]
            .as_str()
            .map_or(base.micro_weight, Weight::parse),
        reading_order: base.reading_order,
    }
}

/// The `settings` object of a plan folder's `report.json`, if it has one.
pub fn read_settings(dir: &Path) -> Result<Option<Value>, ReadError> {
    let path = dir.join("report.json");
    if !path.exists() {
        return Ok(None);
    }
    let v: Value = serde_json::from_str(&read(&path)?).map_err(|e| bad(&path, e.to_string()))?;
    Ok(Some(v["settings"].clone()))
}
