//! Input layers in any of the formats towns hold: GeoJSON, Shapefile (`.shp` + `.dbf` + `.prj`, or
//! one `.zip`), GeoPackage (a table named after the layer, or a file named after it with one
//! table) and KML, found in the input folder by the layer's base name (`buildings.shp`,
//! `buildings.zip`, …). Every format is read into one [`Layer`]: attributes as JSON values,
//! geometries in the file's own coordinates, and the file's coordinate system.

use super::fields::FieldMap;
use super::{gpkg, kml, shp, IngestError};
use crate::crs::source::SourceCrs;
use geo::Geometry;
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// How a planner's files are read: a coordinate system for files that do not say theirs (or
/// that say it wrong), a DBF text encoding, column names mapped onto wangge's fields, and
/// whether to close the gaps and overlaps between villages.
#[derive(Clone, Debug, Default)]
pub struct ReadOptions {
    /// `--crs`: the coordinate system of every layer, whatever the files say.
    pub crs: Option<SourceCrs>,
    /// `--crs LAYER=CRS`: the coordinate system of one layer (over `crs` and the file), e.g. the
    /// buildings digitised on Amap (GCJ-02) beside survey Shapefiles.
    pub layer_crs: Vec<(String, SourceCrs)>,
    /// `--encoding`: the text encoding of every DBF, whatever its `.cpg` says.
    pub encoding: Option<&'static encoding_rs::Encoding>,
    /// `--field` / `--field-map`: the file's column names of wangge's fields.
    pub fields: FieldMap,
    /// `--close-gaps`: give each gap between villages to a neighbouring village and each overlap
    /// to one village ([`super::seams::close`]); without it they are only reported.
    pub close_gaps: bool,
}

/// A feature's geometry as read, before it is converted to lon/lat.
#[derive(Clone, Debug)]
pub enum RawGeometry {
    /// No geometry.
    Missing,
    /// A geometry in the layer's coordinates.
    Geo(Geometry<f64>),
    /// A geometry that cannot be read, and why.
    Bad(String),
}

/// One feature of a [`Layer`].
#[derive(Clone, Debug)]
pub struct RawFeature {
    /// Its attributes.
    pub props: Map<String, Value>,
    /// The GeoJSON `id` member (GeoJSON only).
    pub id: Option<Value>,
    /// Its geometry in the layer's coordinates.
    pub geometry: RawGeometry,
}

/// A layer read from one file, in file order.
#[derive(Clone, Debug)]
pub struct Layer {
    /// The file (for a GeoPackage table: `file.gpkg:table`), as errors name it.
    pub file: PathBuf,
    /// The coordinate system the file states, if it states one.
    pub crs: Option<SourceCrs>,
    /// The attribute names of the layer.
    pub columns: BTreeSet<String>,
    /// The features.
    pub features: Vec<RawFeature>,
}

/// The formats a layer may come in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LayerFormat {
    /// A GeoJSON FeatureCollection (`.geojson` or `.json`).
    GeoJson,
    /// A Shapefile's `.shp` with its `.dbf`, `.prj` and `.cpg` beside it.
    Shapefile,
    /// A `.zip` holding one Shapefile.
    ZippedShapefile,
    /// A table of a GeoPackage: `None` for the file's only feature table.
    GeoPackage(Option<String>),
    /// A KML document (its Placemarks).
    Kml,
}

/// File extensions tried for a layer, in this order.
const EXTENSIONS: [(&str, LayerFormat); 6] = [
    ("geojson", LayerFormat::GeoJson),
    ("json", LayerFormat::GeoJson),
    ("shp", LayerFormat::Shapefile),
    ("zip", LayerFormat::ZippedShapefile),
    ("gpkg", LayerFormat::GeoPackage(None)),
    ("kml", LayerFormat::Kml),
];

impl LayerFormat {
    /// The format of a file by its extension (a GeoPackage: its only feature table).
    pub fn of_file(path: &Path) -> Option<LayerFormat> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        EXTENSIONS
            .iter()
            .find(|(e, _)| *e == ext)
            .map(|(_, f)| f.clone())
    }

    /// Reads the layer from `path` in this format.
    pub fn read(&self, path: &Path, opts: &ReadOptions) -> Result<Layer, IngestError> {
        match self {
            LayerFormat::GeoJson => super::geojson::read(path),
            LayerFormat::Shapefile => shp::read_shp(path, opts),
            LayerFormat::ZippedShapefile => shp::read_zip(path, opts),
            LayerFormat::GeoPackage(table) => gpkg::read(path, table.as_deref()),
            LayerFormat::Kml => kml::read(path),
        }
    }
}

/// Finds the file of layer `base` in `dir`: `base.geojson`, `.json`, `.shp`, `.zip`, `.gpkg` or
/// `.kml` (two of them is an error), else a table `base` in one of the folder's GeoPackages
/// (not a wangge store).
pub fn find(dir: &Path, base: &str) -> Result<Option<(PathBuf, LayerFormat)>, IngestError> {
    let found: Vec<(PathBuf, LayerFormat)> = EXTENSIONS
        .iter()
        .map(|(ext, f)| (dir.join(format!("{base}.{ext}")), f.clone()))
        .filter(|(p, _)| p.is_file())
        .collect();
    if found.len() > 1 {
        let names: Vec<String> = found.iter().map(|(p, _)| file_name(p)).collect();
        return Err(IngestError::file(
            dir,
            format!(
                "has {} files for the {base} layer ({}): keep one",
                found.len(),
                names.join(", ")
            ),
        ));
    }
    if let Some(f) = found.into_iter().next() {
        return Ok(Some(f));
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(None);
    };
    let mut packages: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("gpkg"))
        })
        .collect();
    packages.sort();
    for p in packages {
        if gpkg::has_table(&p, base)? {
            return Ok(Some((p, LayerFormat::GeoPackage(Some(base.to_string())))));
        }
    }
    Ok(None)
}

fn file_name(p: &Path) -> String {
    p.file_name().map_or_else(
        || p.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

impl Layer {
    /// The union of the features' attribute names.
    pub fn columns_of(features: &[RawFeature]) -> BTreeSet<String> {
        features
            .iter()
            .flat_map(|f| f.props.keys().cloned())
            .collect()
    }

    /// Renames the file's columns to wangge's fields as `map` says for layer `name`, and gives
    /// a column that is a field name in another case (`HOUSEHOLDS`) its lower-case name.
    /// Returns the field → column renames made, and marks the rules used in `used`.
    pub fn map_fields(
        &mut self,
        name: &str,
        map: &FieldMap,
        used: &mut [bool],
    ) -> Vec<(String, String)> {
        let mut renames = Vec::new();
        for (i, rule) in map.rules().iter().enumerate() {
            if rule.layer.as_deref().is_some_and(|l| l != name) {
                continue;
            }
            let column = self
                .columns
                .iter()
                .find(|c| **c == rule.column)
                .or_else(|| {
                    self.columns
                        .iter()
                        .find(|c| c.eq_ignore_ascii_case(&rule.column))
                })
                .cloned();
            let Some(column) = column else { continue };
            used[i] = true;
            for f in &mut self.features {
                match f.props.remove(&column) {
                    Some(v) => f.props.insert(rule.field.clone(), v),
                    None => f.props.remove(&rule.field),
                };
            }
            renames.push((rule.field.clone(), column));
        }
        let lower: Vec<String> = self
            .columns
            .iter()
            .filter(|c| c.chars().any(|ch| ch.is_ascii_uppercase()))
            .filter(|c| !self.columns.contains(&c.to_ascii_lowercase()))
            .filter(|c| !renames.iter().any(|(_, col)| col == *c))
            .cloned()
            .collect();
        for c in lower {
            let l = c.to_ascii_lowercase();
            for f in &mut self.features {
                if let Some(v) = f.props.get(&c).cloned() {
                    f.props.insert(l.clone(), v);
                }
            }
        }
        renames
    }
}
