//! GeoJSON FeatureCollections, with the (2008) `crs` member when a file has one.

use super::layer::{Layer, RawFeature, RawGeometry};
use super::{FeatureRef, IngestError};
use crate::crs::source::SourceCrs;
use geo::Geometry;
use serde_json::{Map, Value};
use std::path::Path;

/// Reads a GeoJSON FeatureCollection.
pub fn read(path: &Path) -> Result<Layer, IngestError> {
    let file_err = |problem: String| IngestError::file(path, problem);
    let bytes = std::fs::read(path).map_err(|e| file_err(format!("cannot be read: {e}")))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(file_err("is empty".into()));
    }
    let doc: Value = serde_json::from_slice(&bytes)
        .map_err(|e| file_err(format!("is not GeoJSON (not valid JSON: {e})")))?;
    let Value::Object(mut doc) = doc else {
        return Err(file_err(
            "is not GeoJSON: expected a FeatureCollection object".into(),
        ));
    };
    if doc.get("type").and_then(Value::as_str) != Some("FeatureCollection") {
        return Err(file_err(format!(
            "is not a GeoJSON FeatureCollection (its \"type\" is {})",
            doc.get("type")
                .map_or("missing".to_string(), |t| t.to_string())
        )));
    }
    let crs = match doc.get("crs") {
        None | Some(Value::Null) => None,
        Some(c) => {
            let name = c
                .pointer("/properties/name")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    file_err(format!("has a \"crs\" member without properties.name: {c}"))
                })?;
            Some(
                name.parse::<SourceCrs>()
                    .map_err(|e| file_err(format!("\"crs\": {e}")))?,
            )
        }
    };
    let Some(Value::Array(features)) = doc.remove("features") else {
        return Err(file_err("has no \"features\" array".into()));
    };
    let mut out = Vec::with_capacity(features.len());
    for (index, feat) in features.into_iter().enumerate() {
        let Value::Object(mut feat) = feat else {
            return Err(IngestError {
                file: path.to_path_buf(),
                feature: Some(FeatureRef { index, id: None }),
                field: None,
                problem: "is not a GeoJSON Feature object".into(),
            });
        };
        let props = match feat.remove("properties") {
            Some(Value::Object(p)) => p,
            _ => Map::new(),
        };
        let geometry = match feat.remove("geometry") {
            None | Some(Value::Null) => RawGeometry::Missing,
            Some(g) => parse_geometry(g),
        };
        out.push(RawFeature {
            props,
            id: feat.remove("id"),
            geometry,
        });
    }
    Ok(Layer {
        file: path.to_path_buf(),
        crs,
        columns: Layer::columns_of(&out),
        features: out,
    })
}

fn parse_geometry(g: Value) -> RawGeometry {
    let parsed: geojson::Geometry = match serde_json::from_value(g) {
        Ok(p) => p,
        Err(e) => return RawGeometry::Bad(format!("is not a GeoJSON geometry: {e}")),
    };
    match Geometry::try_from(&parsed.value) {
        Ok(g) => RawGeometry::Geo(g),
        Err(e) => RawGeometry::Bad(format!("cannot be read: {e}")),
    }
}
