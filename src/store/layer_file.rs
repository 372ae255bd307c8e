//! Plain GeoPackage files of feature layers (not a store): what the planner's editor hands a GIS
//! office — its draft's grids and buildings — as one `.gpkg` QGIS and GDAL open. Each layer is a
//! feature table in lon/lat (EPSG:4326) registered in `gpkg_contents` and
//! `gpkg_geometry_columns` with its extent; its columns are the union of the features'
//! properties, typed by their first non-null value (whole numbers INTEGER, other numbers REAL,
//! the rest TEXT, arrays and objects as JSON text). The GeoPackage core tables are the store's own
//! ([`super::schema`]); geometries are encoded by [`crate::geom_codec`].

use super::{schema, StoreError, GPKG_APPLICATION_ID, GPKG_USER_VERSION};
use geo::BoundingRect;
use serde_json::Value;
use sqlx::{Connection, Executor, SqliteConnection};
use std::path::Path;

/// One layer to write.
pub struct FeatureLayer<'a> {
    /// Its table name (letters, digits and `_`).
    pub name: &'a str,
    /// What it holds (`gpkg_contents.description`).
    pub description: &'a str,
    /// Its features, in lon/lat.
    pub features: &'a [geojson::Feature],
}

/// A column's SQL type.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ColumnType {
    Integer,
    Real,
    Text,
}

impl ColumnType {
    fn of(v: &Value) -> Option<ColumnType> {
        match v {
            Value::Null => None,
            Value::Bool(_) => Some(ColumnType::Integer),
            Value::Number(n) if n.is_i64() || n.is_u64() => Some(ColumnType::Integer),
            Value::Number(_) => Some(ColumnType::Real),
            _ => Some(ColumnType::Text),
        }
    }

    fn sql(self) -> &'static str {
        match self {
            ColumnType::Integer => "INTEGER",
            ColumnType::Real => "REAL",
            ColumnType::Text => "TEXT",
        }
    }
}

fn invalid(what: &str, why: impl Into<String>) -> StoreError {
    StoreError::Invalid {
        what: what.to_string(),
        why: why.into(),
    }
}

/// A quoted SQL identifier.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The columns of a layer: each property name with the type of its first non-null value (a
/// column whose values disagree is TEXT).
fn columns(features: &[geojson::Feature]) -> Vec<(String, ColumnType)> {
    let mut cols: Vec<(String, Option<ColumnType>)> = Vec::new();
    for f in features {
        for (k, v) in f.properties.iter().flatten() {
            let t = ColumnType::of(v);
            match cols.iter_mut().find(|(c, _)| c == k) {
                None => cols.push((k.clone(), t)),
                Some((_, have @ None)) => *have = t,
                Some((_, Some(have))) => {
                    if t.is_some_and(|t| t != *have) {
                        let both_numbers = matches!(
                            (*have, t),
                            (ColumnType::Integer, Some(ColumnType::Real))
                                | (ColumnType::Real, Some(ColumnType::Integer))
                        );
                        *have = if both_numbers {
                            ColumnType::Real
                        } else {
                            ColumnType::Text
                        };
                    }
                }
            }
        }
    }
    cols.into_iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("fid") && !k.eq_ignore_ascii_case("geom"))
        .map(|(k, t)| (k, t.unwrap_or(ColumnType::Text)))
        .collect()
}

/// Each feature's geometry (`None`: it has none).
type Geometries = Vec<Option<geo::Geometry<f64>>>;

/// The geometries of a layer, and the GeoPackage type name they share (`GEOMETRY` if mixed).
fn geometries(layer: &FeatureLayer<'_>) -> Result<(Geometries, &'static str), StoreError> {
    let mut kinds = std::collections::BTreeSet::new();
    let mut out = Vec::with_capacity(layer.features.len());
    for (i, f) in layer.features.iter().enumerate() {
        let g = match &f.geometry {
            None => None,
            Some(g) => Some(geo::Geometry::<f64>::try_from(g.clone()).map_err(|e| {
                invalid(&format!("layer {} feature #{i}", layer.name), e.to_string())
            })?),
        };
        if let Some(g) = &g {
            kinds.insert(match g {
                geo::Geometry::Point(_) => "POINT",
                geo::Geometry::LineString(_) | geo::Geometry::Line(_) => "LINESTRING",
                geo::Geometry::Polygon(_) | geo::Geometry::Rect(_) | geo::Geometry::Triangle(_) => {
                    "POLYGON"
                }
                geo::Geometry::MultiPoint(_) => "MULTIPOINT",
                geo::Geometry::MultiLineString(_) => "MULTILINESTRING",
                geo::Geometry::MultiPolygon(_) => "MULTIPOLYGON",
                geo::Geometry::GeometryCollection(_) => "GEOMETRYCOLLECTION",
            });
        }
        out.push(g);
    }
    let kind = match kinds.len() {
        1 => kinds.into_iter().next().unwrap_or("GEOMETRY"),
        _ => "GEOMETRY",
    };
    Ok((out, kind))
}

/// Writes `layers` to a new GeoPackage at `path` (replaced if it exists), in one transaction.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use wangge::store::layer_file::{write_feature_gpkg, FeatureLayer};
/// let fc: geojson::FeatureCollection = r#"{"type":"FeatureCollection","features":[{"type":"Feature",
///   "properties":{"code":"320583104001001","households":420},
///   "geometry":{"type":"Point","coordinates":[120.6,31.3]}}]}"#.parse().unwrap();
/// let path = std::env::temp_dir().join(format!("wangge-doc-{}.gpkg", std::process::id()));
/// let layer = FeatureLayer { name: "grids", description: "grids", features: &fc.features };
/// write_feature_gpkg(&path, &[layer]).await.unwrap();
/// let back = wangge::ingest::read_layer_file(&path, None).unwrap();
/// assert_eq!(back[0].property("households").unwrap(), 420);
/// std::fs::remove_file(&path).unwrap();
/// # });
/// ```
pub async fn write_feature_gpkg(
    path: &Path,
    layers: &[FeatureLayer<'_>],
) -> Result<(), StoreError> {
    let target = path.display().to_string();
    let db = |source| StoreError::Db {
        target: target.clone(),
        source,
    };
    for l in layers {
        if l.name.is_empty()
            || !l
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(invalid(l.name, "a layer name is letters, digits and _"));
        }
    }
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(StoreError::Io {
                path: path.to_path_buf(),
                source: e,
            })
        }
        _ => {}
    }
    let mut conn = SqliteConnection::connect(&format!("sqlite://{target}?mode=rwc"))
        .await
        .map_err(db)?;
    let mut tx = conn.begin().await.map_err(db)?;
    tx.execute(sqlx::AssertSqlSafe(format!(
        "PRAGMA application_id = {GPKG_APPLICATION_ID}"
    )))
    .await
    .map_err(db)?;
    tx.execute(sqlx::AssertSqlSafe(format!(
        "PRAGMA user_version = {GPKG_USER_VERSION}"
    )))
    .await
    .map_err(db)?;
    for s in schema::gpkg_core() {
        tx.execute(sqlx::AssertSqlSafe(s)).await.map_err(db)?;
    }
    for l in layers {
        write_layer(&mut tx, l).await.map_err(|e| match e {
            LayerError::Db(e) => db(e),
            LayerError::Store(e) => e,
        })?;
    }
    tx.commit().await.map_err(db)?;
    conn.close().await.map_err(db)
}

enum LayerError {
    Db(sqlx::Error),
    Store(StoreError),
}

impl From<sqlx::Error> for LayerError {
    fn from(e: sqlx::Error) -> LayerError {
        LayerError::Db(e)
    }
}

async fn write_layer(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    l: &FeatureLayer<'_>,
) -> Result<(), LayerError> {
    let cols = columns(l.features);
    let (geoms, kind) = geometries(l).map_err(LayerError::Store)?;
    let defs: String = cols
        .iter()
        .map(|(c, t)| format!(", {} {}", ident(c), t.sql()))
        .collect();
    tx.execute(sqlx::AssertSqlSafe(format!(
        "CREATE TABLE {} (fid INTEGER PRIMARY KEY AUTOINCREMENT, geom {kind}{defs})",
        ident(l.name)
    )))
    .await?;
    let extent = geoms
        .iter()
        .flatten()
        .filter_map(|g| g.bounding_rect())
        .reduce(|a, b| {
            geo::Rect::new(
                (a.min().x.min(b.min().x), a.min().y.min(b.min().y)),
                (a.max().x.max(b.max().x), a.max().y.max(b.max().y)),
            )
        });
    let (x0, y0, x1, y1) = extent.map_or((None, None, None, None), |r| {
        (
            Some(r.min().x),
            Some(r.min().y),
            Some(r.max().x),
            Some(r.max().y),
        )
    });
    sqlx::query(
        "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, \
         min_x, min_y, max_x, max_y, srs_id) VALUES (?, 'features', ?, ?, ?, ?, ?, ?, 4326)",
    )
    .bind(l.name)
    .bind(l.name)
    .bind(l.description)
    .bind(x0)
    .bind(y0)
    .bind(x1)
    .bind(y1)
    .execute(&mut **tx)
    .await?;
    sqlx::query("INSERT INTO gpkg_geometry_columns VALUES (?, 'geom', ?, 4326, 0, 0)")
        .bind(l.name)
        .bind(kind)
        .execute(&mut **tx)
        .await?;
    let marks = "?, ".repeat(cols.len());
    let names: String = cols
        .iter()
        .map(|(c, _)| format!("{}, ", ident(c)))
        .collect();
    let insert = format!(
        "INSERT INTO {} ({names}geom) VALUES ({marks}?)",
        ident(l.name)
    );
    for (f, g) in l.features.iter().zip(&geoms) {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(insert.as_str()));
        for (c, t) in &cols {
            let v = f.properties.as_ref().and_then(|p| p.get(c));
            q = match (v, t) {
                (None | Some(Value::Null), _) => q.bind(None::<String>),
                (Some(Value::Bool(b)), ColumnType::Integer) => q.bind(i64::from(*b)),
                (Some(Value::Number(n)), ColumnType::Integer) => q.bind(n.as_i64()),
                (Some(Value::Number(n)), ColumnType::Real) => q.bind(n.as_f64()),
                (Some(Value::String(s)), _) => q.bind(s.clone()),
                (Some(other), _) => q.bind(other.to_string()),
            };
        }
        q.bind(g.as_ref().map(crate::geom_codec::to_gpkg))
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Writes `layers` as [`write_feature_gpkg`] does and returns the file's bytes (written in a
/// scratch folder, removed after).
pub async fn feature_gpkg_bytes(layers: &[FeatureLayer<'_>]) -> Result<Vec<u8>, StoreError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| StoreError::Io { path, source }
    };
    let dir = crate::scratch::ScratchDir::new("gpkg").map_err(io(&std::env::temp_dir()))?;
    let path = dir.path().join("layers.gpkg");
    write_feature_gpkg(&path, layers).await?;
    std::fs::read(&path).map_err(io(&path))
}
