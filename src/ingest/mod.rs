//! Reading and validating a planner's input directory into a [`Dataset`].
//!
//! Each layer (villages, buildings, units, groups, barriers) may be GeoJSON, a Shapefile (or a
//! zipped one), a GeoPackage table or KML ([`layer`]), in any coordinate system wangge knows
//! ([`crate::crs::source`]), with its columns mapped onto wangge's fields ([`fields`]).
//!
//! **Units and buildings together.** Given both a units and a buildings layer, units are the
//! atoms (a grid never cuts one) and the buildings inside them give their weights: each unit's
//! households, residents and `--weight` field become the sums over the buildings inside it (a
//! building counts in the first unit of its village, in file order, that contains its point), and
//! a building's figures are then counted once, through its unit. Where a unit states households or
//! residents of its own that differ from its buildings' sums, the difference is reported
//! ([`UnitDifference`], in `report.json` as `unit_figures_differ`) and the buildings' sums are
//! used. A building that lies in no unit of its village cannot be counted either way and is
//! refused, naming the building, the file and the field.
//!
//! Every problem is reported as one [`IngestError`] naming the file, the feature (index and id)
//! and the field, e.g.
//! `buildings.geojson: feature #12 (id "B0012"): field "households": must be a whole number ≥ 0, got -3`.

pub mod divisions;
pub mod fields;
pub mod geojson;
pub mod gpkg;
pub mod kml;
pub mod layer;
pub mod people;
pub mod register;
pub mod seams;
pub mod shp;

use crate::crs::source::SourceCrs;
use crate::model::{
    Barrier, BarrierClass, Building, BuildingKind, Dataset, Group, Mode, Unit, Village,
    VillageCode, Weight,
};
use crate::spatial::{box_tree, BoxTree};
use geo::{
    Contains, Geometry, InteriorPoint, Intersects, LineString, MultiPolygon, Orient, Point,
    Validation,
};
use layer::{Layer, RawGeometry, ReadOptions};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// The feature an error is about.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureRef {
    /// 0-based position in the file's `features` array.
    pub index: usize,
    /// Its `id` (or `code` for villages), when it has one.
    pub id: Option<String>,
}

/// A problem with the input, located as precisely as possible.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct IngestError {
    /// The file.
    pub file: PathBuf,
    /// The feature, if the problem is with one feature.
    pub feature: Option<FeatureRef>,
    /// The field (`geometry` for the geometry), if the problem is with one field.
    pub field: Option<String>,
    /// What is wrong.
    pub problem: String,
}

impl fmt::Display for IngestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(feat) = &self.feature {
            write!(f, ": feature #{}", feat.index)?;
            if let Some(id) = &feat.id {
                write!(f, " (id {id:?})")?;
            }
        }
        if let Some(field) = &self.field {
            write!(f, ": field {field:?}")?;
        }
        write!(f, ": {}", self.problem)
    }
}

impl IngestError {
    /// A problem with a whole file.
    pub fn file(file: &Path, problem: impl Into<String>) -> IngestError {
        IngestError {
            file: file.to_path_buf(),
            feature: None,
            field: None,
            problem: problem.into(),
        }
    }
}

/// Reads `villages.geojson`, `buildings.geojson` and the optional `units.geojson`,
/// `groups.geojson` and `barriers.geojson` from `dir` (or the same layers in the other formats,
/// see [`read_dir_with`]).
///
/// `weight` names the field the band counts; a custom field must then be present on every
/// building (or unit).
pub fn read_dir(dir: &Path, weight: &Weight) -> Result<Dataset, IngestError> {
    read_dir_with(dir, weight, &ReadOptions::default())
}

/// A layer ready to read: its features in lon/lat terms, and how its columns were renamed.
struct Loaded {
    layer: Layer,
    crs: SourceCrs,
    renames: Vec<(String, String)>,
}

/// Finds, reads and maps layer `base` of `dir`.
fn load(
    source: &Source<'_>,
    base: &str,
    opts: &ReadOptions,
    used: &mut [bool],
) -> Result<Option<Loaded>, IngestError> {
    let found = match source {
        Source::Dir(dir) => layer::find(dir, base)?,
        Source::Package(p) => gpkg::has_table(p, base)?.then(|| {
            (
                p.to_path_buf(),
                layer::LayerFormat::GeoPackage(Some(base.into())),
            )
        }),
    };
    let Some((path, format)) = found else {
        return Ok(None);
    };
    let mut layer = format.read(&path, opts)?;
    let own = opts
        .layer_crs
        .iter()
        .find(|(l, _)| l == base)
        .map(|(_, c)| c);
    let crs = layer_crs(own.or(opts.crs.as_ref()), &layer, &format)?;
    let renames = layer.map_fields(base, &opts.fields, used);
    Ok(Some(Loaded {
        layer,
        crs,
        renames,
    }))
}

/// The coordinate system of a layer: the one given, else the file's, else lon/lat for GeoJSON
/// and KML (their specifications say so); a Shapefile or GeoPackage that states none is an error.
fn layer_crs(
    given: Option<&SourceCrs>,
    layer: &Layer,
    format: &layer::LayerFormat,
) -> Result<SourceCrs, IngestError> {
    match (given, &layer.crs, format) {
        (Some(c), _, _) => Ok(c.clone()),
        (None, Some(c), _) => Ok(c.clone()),
        (None, None, layer::LayerFormat::GeoJson | layer::LayerFormat::Kml) => {
            Ok(SourceCrs::wgs84())
        }
        (None, None, layer::LayerFormat::GeoPackage(_)) => Err(IngestError::file(
            &layer.file,
            "has no coordinate system (SRS undefined): give --crs, e.g. --crs EPSG:4490",
        )),
        (None, None, _) => Err(IngestError::file(
            &layer.file,
            "has no .prj, so its coordinate system is unknown: add the .prj, or give --crs (e.g. --crs EPSG:4527 for CGCS2000 3° zone 39, EPSG:4490 for CGCS2000 lon/lat)",
        )),
    }
}

/// Reads an uploaded layer file (`name` as the sender calls it, `bytes` its content) as
/// [`read_layer_file`] does: it is written to a scratch folder, read and removed; errors name
/// the file by `name`.
pub fn read_layer_upload(
    name: &str,
    bytes: &[u8],
    crs: Option<&SourceCrs>,
) -> Result<Vec<::geojson::Feature>, IngestError> {
    let base = Path::new(name)
        .file_name()
        .filter(|_| !name.trim().is_empty())
        .ok_or_else(|| IngestError::file(Path::new(name), "has no file name"))?;
    let io = |e: std::io::Error| {
        IngestError::file(Path::new(name), format!("cannot be stored to read: {e}"))
    };
    let dir = crate::scratch::ScratchDir::new("upload").map_err(io)?;
    let path = dir.path().join(base);
    std::fs::write(&path, bytes).map_err(io)?;
    read_layer_file(&path, crs).map_err(|mut e| {
        if let Ok(rest) = e.file.strip_prefix(dir.path()) {
            e.file = rest.to_path_buf();
        }
        e
    })
}

/// Reads one layer file of any format a town holds (`.geojson`/`.json`, a zipped Shapefile,
/// a GeoPackage with one feature table, `.kml`; a `.shp` with its `.dbf` and `.prj` beside it)
/// into GeoJSON features in lon/lat, attributes as the file has them. `crs` overrides what the
/// file states. The planner's editor brings in grid layers drawn elsewhere this way.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("wangge-doc-layer-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let f = dir.join("grids.geojson");
/// std::fs::write(&f, r#"{"type":"FeatureCollection","features":[{"type":"Feature",
///   "properties":{"code":"320583104001001"},
///   "geometry":{"type":"Polygon","coordinates":[[[120,31],[120.01,31],[120.01,31.01],[120,31]]]}}]}"#).unwrap();
/// let feats = wangge::ingest::read_layer_file(&f, None).unwrap();
/// assert_eq!(feats[0].property("code").unwrap(), "320583104001001");
/// let bad = dir.join("grids.txt");
/// std::fs::write(&bad, "x").unwrap();
/// assert!(wangge::ingest::read_layer_file(&bad, None).unwrap_err().to_string().contains("grids.txt"));
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn read_layer_file(
    path: &Path,
    crs: Option<&SourceCrs>,
) -> Result<Vec<::geojson::Feature>, IngestError> {
    let format = layer::LayerFormat::of_file(path).ok_or_else(|| {
        IngestError::file(
            path,
            "is not a layer file wangge reads: .geojson, .json, .zip (a Shapefile), .shp, .gpkg or .kml",
        )
    })?;
    let layer = format.read(path, &ReadOptions::default())?;
    let crs = layer_crs(crs, &layer, &format)?;
    let loaded = Loaded {
        layer,
        crs,
        renames: Vec::new(),
    };
    read_features(&loaded, "", |f| {
        let g = f.geometry()?;
        Ok(::geojson::Feature {
            bbox: None,
            geometry: Some(::geojson::Geometry::new(::geojson::GeometryValue::from(&g))),
            id: None,
            properties: Some(f.props.clone()),
            foreign_members: None,
        })
    })
}

fn missing_layer(dir: &Path, base: &str) -> IngestError {
    IngestError::file(
        &dir.join(format!("{base}.geojson")),
        format!(
            "cannot be read: no {base} layer in the folder ({base}.geojson, .shp, .zip, .gpkg or .kml, or a table {base:?} in a GeoPackage)"
        ),
    )
}

/// Reads the layers of `dir` in any supported format ([`layer::find`]), in the coordinate system
/// each file states (or `opts.crs`), with columns mapped by `opts.fields`.
///
/// A mapping whose column no layer has is an error naming the mapping and the columns there are.
pub fn read_dir_with(
    dir: &Path,
    weight: &Weight,
    opts: &ReadOptions,
) -> Result<Dataset, IngestError> {
    read_input_with(dir, weight, opts).map(|i| i.dataset)
}

/// [`read_dir_with`], with what it found of units and buildings given together (see the module
/// doc).
pub fn read_input_with(
    dir: &Path,
    weight: &Weight,
    opts: &ReadOptions,
) -> Result<Input, IngestError> {
    read_source(&Source::Dir(dir), weight, opts)
}

/// [`read_input_with`] with the default options: GeoJSON or any format, as the files say.
pub fn read_input(dir: &Path, weight: &Weight) -> Result<Input, IngestError> {
    read_input_with(dir, weight, &ReadOptions::default())
}

/// What [`read_input`] read: the dataset and, given both units and buildings, the units whose
/// stated figures differ from their buildings' sums.
#[derive(Debug)]
pub struct Input {
    /// The town's data, units carrying their buildings' sums.
    pub dataset: Dataset,
    /// Units whose own figures differ from their buildings' (the buildings' were used).
    pub unit_differences: Vec<UnitDifference>,
    /// Gaps and overlaps between villages, closed or not as asked ([`seams`]).
    pub seams: Vec<seams::Seam>,
}

/// A unit whose stated households (or residents, or `--weight` field) differ from the sum over
/// the buildings inside it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct UnitDifference {
    /// The units layer's file.
    pub file: PathBuf,
    /// The unit's id.
    pub unit: String,
    /// Its index in the units layer.
    pub index: usize,
    /// Index of its village.
    pub village: usize,
    /// `households`, `residents` or the `--weight` field.
    pub field: String,
    /// What the unit states.
    pub stated: f64,
    /// What its buildings hold.
    pub buildings_sum: f64,
    /// How many buildings lie in it.
    pub buildings: usize,
}

impl fmt::Display for UnitDifference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: feature #{} (id {:?}): field {:?}: states {}, but the {} buildings inside it hold {}; the buildings' figures are used",
            self.file.display(), self.index, self.unit, self.field, self.stated, self.buildings, self.buildings_sum
        )
    }
}

impl UnitDifference {
    /// The difference as an issue of its village's plan (`unit_figures_differ` in
    /// `report.json`): what the unit states, against what its buildings hold.
    pub fn issue(&self) -> crate::partition::Issue {
        crate::partition::Issue {
            code: None,
            kind: crate::partition::IssueKind::UnitFiguresDiffer,
            bound: Some(self.buildings_sum),
            value: Some(self.stated),
            reason: self.to_string(),
        }
    }
}

impl Input {
    /// Adds each unit difference to its village's issues in `plan` (a plan of this input), and
    /// each gap or overlap between villages to the issues of every village involved
    /// (`village_gap`, `village_overlap`).
    pub fn note_issues(&self, plan: &mut crate::partition::Plan) {
        use crate::partition::{Issue, IssueKind};
        for d in &self.unit_differences {
            plan.villages[d.village].issues.push(d.issue());
        }
        for s in &self.seams {
            let issue = Issue {
                code: None,
                kind: match s.kind {
                    seams::SeamKind::Gap => IssueKind::VillageGap,
                    seams::SeamKind::Overlap => IssueKind::VillageOverlap,
                },
                bound: None,
                value: Some((s.area_m2 * 10.0).round() / 10.0),
                reason: s.describe(&self.dataset.villages),
            };
            for &v in &s.villages {
                plan.villages[v].issues.push(issue.clone());
            }
        }
    }
}

/// Reads the layers of one GeoPackage (tables `villages`, `buildings`, … as a land office or
/// GIS software wrote them, not a wangge store) like [`read_dir_with`] reads a folder.
pub fn read_gpkg_with(
    file: &Path,
    weight: &Weight,
    opts: &ReadOptions,
) -> Result<Dataset, IngestError> {
    read_gpkg_input_with(file, weight, opts).map(|i| i.dataset)
}

/// [`read_gpkg_with`], with what [`read_input`] tells besides the dataset.
pub fn read_gpkg_input_with(
    file: &Path,
    weight: &Weight,
    opts: &ReadOptions,
) -> Result<Input, IngestError> {
    read_source(&Source::Package(file), weight, opts)
}

/// Where the layers are.
enum Source<'a> {
    /// A folder of files named after the layers.
    Dir(&'a Path),
    /// A GeoPackage with tables named after the layers.
    Package(&'a Path),
}

fn read_source(
    source: &Source<'_>,
    weight: &Weight,
    opts: &ReadOptions,
) -> Result<Input, IngestError> {
    let dir = match source {
        Source::Dir(d) => d,
        Source::Package(p) => *p,
    };
    let mut used = vec![false; opts.fields.rules().len()];
    let mut columns: Vec<(PathBuf, Vec<String>)> = Vec::new();
    let mut get = |base: &str| -> Result<Option<Loaded>, IngestError> {
        let l = load(source, base, opts, &mut used)?;
        if let Some(l) = &l {
            columns.push((
                l.layer.file.clone(),
                l.layer.columns.iter().cloned().collect(),
            ));
        }
        Ok(l)
    };
    let villages_l = get("villages")?.ok_or_else(|| missing_layer(dir, "villages"))?;
    let units_l = get("units")?;
    let buildings_l = get("buildings")?;
    let groups_l = get("groups")?;
    let barriers_l = get("barriers")?;
    if let Some(i) = used.iter().position(|u| !u) {
        let rule = &opts.fields.rules()[i];
        let have: Vec<String> = columns
            .iter()
            .filter(|(f, _)| {
                rule.layer.as_ref().is_none_or(|l| {
                    f.file_stem()
                        .is_some_and(|s| s.to_string_lossy() == l.as_str())
                        || f.to_string_lossy().ends_with(&format!(":{l}"))
                })
            })
            .map(|(f, c)| format!("{} has {}", f.display(), c.join(", ")))
            .collect();
        return Err(IngestError {
            file: PathBuf::from(&rule.origin),
            feature: None,
            field: Some(rule.column.clone()),
            problem: format!(
                "no {} layer has a column {:?} to read as {:?} ({})",
                rule.layer.as_deref().unwrap_or("input"),
                rule.column,
                rule.field,
                if have.is_empty() {
                    "no such layer".to_string()
                } else {
                    have.join("; ")
                }
            ),
        });
    }
    let mut villages = read_villages(&villages_l)?;
    let mut seams = seams::find(&villages);
    if opts.close_gaps {
        seams::close(&mut villages, &mut seams).map_err(|e| IngestError {
            file: villages_l.layer.file.clone(),
            feature: Some(FeatureRef {
                index: e.village,
                id: Some(villages[e.village].code.as_str().to_string()),
            }),
            field: Some("geometry".into()),
            problem: e.to_string(),
        })?;
    }
    seams::node(&mut villages);
    let index = VillageIndex::new(&villages, &seams);
    let both = units_l.is_some() && buildings_l.is_some();
    let stated = match &units_l {
        Some(l) => read_units(l, weight, &index, !both)?,
        None => Vec::new(),
    };
    let buildings = match &buildings_l {
        Some(l) => read_buildings(l, weight, &index)?,
        None if stated.is_empty() => return Err(missing_layer(dir, "buildings")),
        None => Vec::new(),
    };
    let (units, unit_differences) = match (&units_l, &buildings_l) {
        (Some(u), Some(b)) => {
            units_from_buildings(stated, &buildings, &u.layer.file, &b.layer.file, weight)?
        }
        _ => (stated.into_iter().map(|(u, _)| u).collect(), Vec::new()),
    };
    let groups = match &groups_l {
        Some(l) => read_groups(l)?,
        None => Vec::new(),
    };
    let barriers = match &barriers_l {
        Some(l) => read_barriers(l)?,
        None => Vec::new(),
    };
    Ok(Input {
        dataset: Dataset {
            villages,
            buildings,
            units,
            groups,
            barriers,
        },
        unit_differences,
        seams,
    })
}

/// Units and buildings given together: each building into the first unit of its village that
/// holds its point; each unit's figures the sums of its buildings'; differences with what a
/// unit states listed. A building in no unit is refused.
#[allow(clippy::type_complexity)]
fn units_from_buildings(
    stated: Vec<(Unit, Stated)>,
    buildings: &[Building],
    units_path: &Path,
    buildings_path: &Path,
    weight: &Weight,
) -> Result<(Vec<Unit>, Vec<UnitDifference>), IngestError> {
    let tree = box_tree(stated.iter().enumerate().map(|(i, (u, _))| (i, &u.area)));
    let mut sums = vec![(0.0f64, 0.0f64, 0.0f64, 0usize); stated.len()];
    for (bi, b) in buildings.iter().enumerate() {
        let p = b.point;
        let unit = tree
            .locate_all_at_point(&[p.x(), p.y()])
            .map(|c| c.data)
            .filter(|&u| stated[u].0.village == b.village && stated[u].0.area.contains(&p))
            .min()
            .ok_or_else(|| IngestError {
                file: buildings_path.to_path_buf(),
                feature: Some(FeatureRef {
                    index: bi,
                    id: Some(b.id.clone()),
                }),
                field: Some("geometry".into()),
                problem: format!(
                    "lies in no unit of {} ({:.7}, {:.7}): given both layers, units are the atoms and the buildings inside them give their households, so every building must lie in a unit of its village",
                    units_path.display(),
                    p.x(),
                    p.y()
                ),
            })?;
        let s = &mut sums[unit];
        s.0 += b.households as f64;
        s.1 += b.residents as f64;
        s.2 += b.custom.unwrap_or(0.0);
        s.3 += 1;
    }
    let mut diffs = Vec::new();
    let mut units = Vec::with_capacity(stated.len());
    for (index, ((mut u, st), (h, r, c, n))) in stated.into_iter().zip(sums).enumerate() {
        let mut differ = |field: &str, said: Option<f64>, sum: f64| {
            if let Some(said) = said.filter(|s| (s - sum).abs() > 1e-9) {
                diffs.push(UnitDifference {
                    file: units_path.to_path_buf(),
                    unit: u.id.clone(),
                    index,
                    village: u.village,
                    field: field.to_string(),
                    stated: said,
                    buildings_sum: sum,
                    buildings: n,
                });
            }
        };
        differ("households", st.households, h);
        differ("residents", st.residents, r);
        if let Weight::Field(name) = weight {
            differ(name, st.custom, c);
        }
        u.households = h;
        u.residents = r;
        if u.custom.is_some() || matches!(weight, Weight::Field(_)) {
            u.custom = Some(c);
        }
        units.push(u);
    }
    Ok((units, diffs))
}

/// What a unit states of its own figures (`None`: not given).
struct Stated {
    households: Option<f64>,
    residents: Option<f64>,
    custom: Option<f64>,
}

/// One parsed feature with what is needed to report on it.
struct Feat<'a> {
    file: &'a Path,
    index: usize,
    id: Option<String>,
    props: &'a Map<String, Value>,
    geometry: &'a RawGeometry,
    crs: &'a SourceCrs,
    renames: &'a [(String, String)],
}

impl Feat<'_> {
    fn err(&self, field: Option<&str>, problem: impl Into<String>) -> IngestError {
        IngestError {
            file: self.file.to_path_buf(),
            feature: Some(FeatureRef {
                index: self.index,
                id: self.id.clone(),
            }),
            field: field.map(|f| self.column_of(f)),
            problem: problem.into(),
        }
    }

    /// How the file calls field `f`: `HS (households)` when `--field households=HS` mapped it.
    fn column_of(&self, f: &str) -> String {
        match self.renames.iter().find(|(field, _)| field == f) {
            Some((field, column)) => format!("{column} (as {field})"),
            None => f.to_string(),
        }
    }

    fn string(&self, field: &str) -> Result<Option<String>, IngestError> {
        match self.props.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(other) => Err(self.err(Some(field), format!("must be text, got {other}"))),
        }
    }

    fn required_string(&self, field: &str) -> Result<String, IngestError> {
        self.string(field)?
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| self.err(Some(field), "is missing"))
    }

    fn count(&self, field: &str) -> Result<Option<u64>, IngestError> {
        match self.props.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => {
                if let Some(u) = n.as_u64() {
                    return Ok(Some(u));
                }
                match n.as_f64() {
                    Some(f) if f >= 0.0 && f.fract() == 0.0 && f < 9e15 => Ok(Some(f as u64)),
                    _ => Err(self.err(Some(field), format!("must be a whole number ≥ 0, got {n}"))),
                }
            }
            Some(other) => Err(self.err(
                Some(field),
                format!("must be a whole number ≥ 0, got {other}"),
            )),
        }
    }

    fn number(&self, field: &str) -> Result<Option<f64>, IngestError> {
        match self.props.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => match n.as_f64() {
                Some(f) if f.is_finite() && f >= 0.0 => Ok(Some(f)),
                _ => Err(self.err(Some(field), format!("must be a number ≥ 0, got {n}"))),
            },
            Some(other) => Err(self.err(Some(field), format!("must be a number ≥ 0, got {other}"))),
        }
    }

    fn geometry(&self) -> Result<Geometry<f64>, IngestError> {
        let geom = match self.geometry {
            RawGeometry::Missing => return Err(self.err(Some("geometry"), "is missing")),
            RawGeometry::Bad(why) => return Err(self.err(Some("geometry"), why.clone())),
            RawGeometry::Geo(g) => g,
        };
        let crs = self.crs;
        let geom = geo::MapCoords::try_map_coords(geom, |c| {
            crs.to_lonlat(c.x, c.y).map(|(x, y)| geo::Coord { x, y })
        })
        .map_err(|e| self.err(Some("geometry"), e))?;
        Ok(geom)
    }

    fn area(&self) -> Result<MultiPolygon<f64>, IngestError> {
        let mp = match self.geometry()? {
            Geometry::Polygon(p) => MultiPolygon(vec![p]),
            Geometry::MultiPolygon(mp) => mp,
            other => {
                return Err(self.err(
                    Some("geometry"),
                    format!(
                        "must be a Polygon or MultiPolygon, got {}",
                        geom_type(&other)
                    ),
                ))
            }
        };
        if mp.0.is_empty() {
            return Err(self.err(Some("geometry"), "is empty"));
        }
        if let Err(e) = mp.check_validation() {
            return Err(self.err(Some("geometry"), format!("is not a valid polygon: {e}")));
        }
        Ok(mp.orient(geo::orient::Direction::Default))
    }
}

fn geom_type(g: &Geometry<f64>) -> &'static str {
    match g {
        Geometry::Point(_) => "Point",
        Geometry::Line(_) | Geometry::LineString(_) => "LineString",
        Geometry::Polygon(_) | Geometry::Rect(_) | Geometry::Triangle(_) => "Polygon",
        Geometry::MultiPoint(_) => "MultiPoint",
        Geometry::MultiLineString(_) => "MultiLineString",
        Geometry::MultiPolygon(_) => "MultiPolygon",
        Geometry::GeometryCollection(_) => "GeometryCollection",
    }
}

/// Hands each feature of a loaded layer to `f`.
fn read_features<T>(
    l: &Loaded,
    id_field: &str,
    mut f: impl FnMut(Feat<'_>) -> Result<T, IngestError>,
) -> Result<Vec<T>, IngestError> {
    let mut out = Vec::with_capacity(l.layer.features.len());
    for (index, feat) in l.layer.features.iter().enumerate() {
        let id = match feat.props.get(id_field).or(feat.id.as_ref()) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        out.push(f(Feat {
            file: &l.layer.file,
            index,
            id,
            props: &feat.props,
            geometry: &feat.geometry,
            crs: &l.crs,
            renames: &l.renames,
        })?);
    }
    Ok(out)
}

fn read_villages(l: &Loaded) -> Result<Vec<Village>, IngestError> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let villages = read_features(l, "code", |f| {
        let code_text = f.required_string("code")?;
        let code =
            VillageCode::parse(&code_text).map_err(|e| f.err(Some("code"), e.to_string()))?;
        if let Some(first) = seen.insert(code_text.clone(), f.index) {
            return Err(f.err(
                Some("code"),
                format!("duplicate village code {code_text} (also feature #{first})"),
            ));
        }
        let name = f.string("name")?.unwrap_or_default();
        let mode = match f.string("mode")? {
            None => Mode::Town,
            Some(m) => Mode::parse(&m).ok_or_else(|| {
                f.err(
                    Some("mode"),
                    format!("must be town, industrial or rural, got {m:?}"),
                )
            })?,
        };
        let boundary = f.area()?;
        Ok(Village {
            code,
            name,
            mode,
            boundary,
        })
    })?;
    if villages.is_empty() {
        return Err(IngestError::file(&l.layer.file, "has no villages"));
    }
    Ok(villages)
}

/// Finds the village a point lies in.
struct VillageIndex<'a> {
    villages: &'a [Village],
    tree: BoxTree<usize>,
    /// The seams between villages (to say a point lies in a gap).
    seams: &'a [seams::Seam],
}

impl<'a> VillageIndex<'a> {
    fn new(villages: &'a [Village], seams: &'a [seams::Seam]) -> Self {
        VillageIndex {
            villages,
            tree: box_tree(villages.iter().enumerate().map(|(i, v)| (i, &v.boundary))),
            seams,
        }
    }

    /// Why `p` is in no village: "lies outside every village (lon, lat)", or in an unclosed gap
    /// between villages.
    fn outside(&self, p: Point<f64>) -> String {
        let gap = self.seams.iter().find(|s| {
            s.kind == seams::SeamKind::Gap && s.given_to.is_none() && s.shape.intersects(&p)
        });
        match gap {
            Some(s) => format!(
                "lies outside every village ({:.7}, {:.7}), in {}",
                p.x(),
                p.y(),
                s.describe(self.villages)
            ),
            None => format!("lies outside every village ({:.7}, {:.7})", p.x(), p.y()),
        }
    }
    /// The first village (in file order) that contains `p`; for a point digitised onto a
    /// village's boundary, the first village whose boundary it lies on (on a border shared by two
    /// villages: the one first in the file).
    fn locate(&self, p: Point<f64>) -> Option<usize> {
        let near = || {
            self.tree
                .locate_all_at_point(&[p.x(), p.y()])
                .map(|c| c.data)
        };
        near()
            .filter(|&i| self.villages[i].boundary.contains(&p))
            .min()
            .or_else(|| {
                near()
                    .filter(|&i| self.villages[i].boundary.intersects(&p))
                    .min()
            })
    }
}

fn read_buildings(
    l: &Loaded,
    weight: &Weight,
    villages: &VillageIndex<'_>,
) -> Result<Vec<Building>, IngestError> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    read_features(l, "id", |f| {
        let id = f.required_string("id")?;
        if let Some(first) = seen.insert(id.clone(), f.index) {
            return Err(f.err(
                Some("id"),
                format!("duplicate building id {id:?} (also feature #{first})"),
            ));
        }
        let households = f
            .count("households")?
            .ok_or_else(|| f.err(Some("households"), "is missing"))?;
        let residents = f.count("residents")?.unwrap_or(0);
        let kind = match f.string("kind")? {
            None => BuildingKind::Residential,
            Some(k) => BuildingKind::parse(&k).ok_or_else(|| {
                f.err(
                    Some("kind"),
                    format!("must be residential, school, hospital, factory, commercial or office, got {k:?}"),
                )
            })?,
        };
        let custom = match weight {
            Weight::Field(name) => Some(
                f.number(name)?
                    .ok_or_else(|| f.err(Some(name), "is missing (it is the --weight field)"))?,
            ),
            _ => None,
        };
        let (point, footprint) = match f.geometry()? {
            Geometry::Point(p) => (p, None),
            g @ (Geometry::Polygon(_) | Geometry::MultiPolygon(_)) => {
                if let Err(e) = g.check_validation() {
                    return Err(f.err(Some("geometry"), format!("is not a valid polygon: {e}")));
                }
                let p = g
                    .interior_point()
                    .ok_or_else(|| f.err(Some("geometry"), "is empty"))?;
                let fp = match g {
                    Geometry::Polygon(p) => MultiPolygon::new(vec![p]),
                    Geometry::MultiPolygon(m) => m,
                    _ => unreachable!("matched above"),
                };
                (p, Some(fp))
            }
            other => {
                return Err(f.err(
                    Some("geometry"),
                    format!("must be a Point or Polygon, got {}", geom_type(&other)),
                ))
            }
        };
        let village = villages
            .locate(point)
            .ok_or_else(|| f.err(Some("geometry"), villages.outside(point)))?;
        Ok(Building {
            id,
            point,
            footprint,
            households,
            residents,
            kind,
            address: f.string("address")?,
            group: f.string("group")?,
            staff: f.count("staff")?,
            workshops: f.count("workshops")?,
            custom,
            village,
        })
    })
}

/// Reads the units layer; `need_weight`: the `--weight` field must be given (no buildings to
/// give it).
fn read_units(
    l: &Loaded,
    weight: &Weight,
    villages: &VillageIndex<'_>,
    need_weight: bool,
) -> Result<Vec<(Unit, Stated)>, IngestError> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    read_features(l, "id", |f| {
        let id = f.required_string("id")?;
        if let Some(first) = seen.insert(id.clone(), f.index) {
            return Err(f.err(
                Some("id"),
                format!("duplicate unit id {id:?} (also feature #{first})"),
            ));
        }
        let households = f.number("households")?;
        let residents = f.number("residents")?;
        let custom = match weight {
            Weight::Field(name) if need_weight => Some(
                f.number(name)?
                    .ok_or_else(|| f.err(Some(name), "is missing (it is the --weight field)"))?,
            ),
            Weight::Field(name) => f.number(name)?,
            _ => None,
        };
        match weight {
            _ if !need_weight => {}
            Weight::Households if households.is_none() => {
                return Err(f.err(Some("households"), "is missing (it is the --weight field)"))
            }
            Weight::Residents if residents.is_none() => {
                return Err(f.err(Some("residents"), "is missing (it is the --weight field)"))
            }
            _ => {}
        }
        let area = f.area()?;
        let probe = area
            .interior_point()
            .ok_or_else(|| f.err(Some("geometry"), "is empty"))?;
        let village = villages
            .locate(probe)
            .ok_or_else(|| f.err(Some("geometry"), villages.outside(probe)))?;
        Ok((
            Unit {
                id,
                area,
                households: households.unwrap_or(0.0),
                residents: residents.unwrap_or(0.0),
                custom,
                village,
            },
            Stated {
                households,
                residents,
                custom,
            },
        ))
    })
}

fn read_groups(l: &Loaded) -> Result<Vec<Group>, IngestError> {
    read_features(l, "id", |f| {
        Ok(Group {
            id: f.required_string("id")?,
            area: f.area()?,
        })
    })
}

fn read_barriers(l: &Loaded) -> Result<Vec<Barrier>, IngestError> {
    read_features(l, "id", |f| {
        let class_text = f.required_string("class")?;
        let class = BarrierClass::parse(&class_text).ok_or_else(|| {
            f.err(
                Some("class"),
                format!(
                    "must be river, rail, expressway, major_road or minor_road, got {class_text:?}"
                ),
            )
        })?;
        let lines: Vec<LineString<f64>> = match f.geometry()? {
            Geometry::LineString(l) => vec![l],
            Geometry::MultiLineString(ml) => ml.0,
            other => {
                return Err(f.err(
                    Some("geometry"),
                    format!(
                        "must be a LineString or MultiLineString, got {}",
                        geom_type(&other)
                    ),
                ))
            }
        };
        Ok(Barrier {
            class,
            name: f.string("name")?,
            lines,
        })
    })
}
