//! GeoPackage feature tables (read-only, with sqlx's SQLite driver): the attributes of every
//! row, the geometry (GeoPackage binary header + WKB) and the table's SRS.

use super::layer::{Layer, RawFeature, RawGeometry};
use super::IngestError;
use crate::crs::source::SourceCrs;
use serde_json::{Map, Number, Value};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteRow};
use sqlx::{Column, ConnectOptions, Row, TypeInfo, ValueRef};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Runs `f` on a fresh single-threaded runtime in its own thread, so that it works whether or
/// not the caller is inside an async runtime.
fn block_on<T: Send>(
    f: impl std::future::Future<Output = Result<T, IngestError>> + Send,
) -> Result<T, IngestError> {
    std::thread::scope(|s| {
        s.spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| IngestError::file(Path::new("."), format!("no async runtime: {e}")))?
                .block_on(f)
        })
        .join()
        .unwrap_or_else(|_| {
            Err(IngestError::file(
                Path::new("."),
                "GeoPackage reader panicked",
            ))
        })
    })
}

async fn open(path: &Path) -> Result<SqliteConnection, IngestError> {
    SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .connect()
        .await
        .map_err(|e| IngestError::file(path, format!("is not a readable GeoPackage: {e}")))
}

fn db_err(path: &Path, e: sqlx::Error) -> IngestError {
    IngestError::file(path, format!("cannot be read as a GeoPackage: {e}"))
}

/// The feature tables of a GeoPackage, and whether it is a wangge store.
async fn tables(
    path: &Path,
    conn: &mut SqliteConnection,
) -> Result<(Vec<String>, bool), IngestError> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT table_name FROM gpkg_contents WHERE data_type = 'features' ORDER BY table_name",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| db_err(path, e))?;
    let store: i64 =
        sqlx::query_scalar("SELECT count(*) FROM sqlite_master WHERE name = 'wangge_migrations'")
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| db_err(path, e))?;
    Ok((names, store > 0))
}

/// Whether the GeoPackage `path` (not a wangge store) has a feature table `name`.
pub fn has_table(path: &Path, name: &str) -> Result<bool, IngestError> {
    block_on(async {
        let mut conn = open(path).await?;
        let (names, store) = tables(path, &mut conn).await?;
        Ok(!store && names.iter().any(|n| n == name))
    })
}

/// Whether `path` is a wangge store (a GeoPackage with wangge's tables), not a town's data.
pub fn is_store(path: &Path) -> Result<bool, IngestError> {
    block_on(async {
        let mut conn = open(path).await?;
        Ok(tables(path, &mut conn).await?.1)
    })
}

/// Reads feature table `table` of `path`, or its only feature table when `table` is `None`.
pub fn read(path: &Path, table: Option<&str>) -> Result<Layer, IngestError> {
    block_on(async {
        let mut conn = open(path).await?;
        let (names, _) = tables(path, &mut conn).await?;
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
        let table = match table {
            Some(t) => t.to_string(),
            None if names.len() == 1 => names[0].clone(),
            None => match stem.filter(|s| names.contains(s)) {
                Some(s) => s,
                None => {
                    return Err(IngestError::file(
                        path,
                        format!(
                            "has {} feature tables ({}) and none is named after the file: keep one, or name it {:?}",
                            names.len(),
                            names.join(", "),
                            path.file_stem().unwrap_or_default().to_string_lossy()
                        ),
                    ))
                }
            },
        };
        read_table(path, &mut conn, &table).await
    })
}

async fn read_table(
    path: &Path,
    conn: &mut SqliteConnection,
    table: &str,
) -> Result<Layer, IngestError> {
    let name = PathBuf::from(format!("{}:{table}", path.display()));
    let row = sqlx::query(
        "SELECT g.column_name, g.srs_id, s.organization, s.organization_coordsys_id, s.definition \
         FROM gpkg_geometry_columns g LEFT JOIN gpkg_spatial_ref_sys s ON s.srs_id = g.srs_id \
         WHERE g.table_name = ?",
    )
    .bind(table)
    .fetch_optional(&mut *conn)
    .await
    .map_err(|e| db_err(path, e))?
    .ok_or_else(|| IngestError::file(&name, "has no geometry column"))?;
    let geom_col: String = row.try_get(0).map_err(|e| db_err(path, e))?;
    let srs_id: i64 = row.try_get(1).map_err(|e| db_err(path, e))?;
    let org: Option<String> = row.try_get(2).map_err(|e| db_err(path, e))?;
    let org_id: Option<i64> = row.try_get(3).map_err(|e| db_err(path, e))?;
    let definition: Option<String> = row.try_get(4).map_err(|e| db_err(path, e))?;
    let crs = srs(srs_id, org.as_deref(), org_id, definition.as_deref())
        .map_err(|e| IngestError::file(&name, e))?;
    let quoted = format!("\"{}\"", table.replace('"', "\"\""));
    let rows: Vec<SqliteRow> = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT * FROM {quoted}" // the table name comes from gpkg_contents, quoted
    )))
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| db_err(path, e))?;
    let mut columns = BTreeSet::new();
    let mut features = Vec::with_capacity(rows.len());
    for r in &rows {
        let mut props = Map::new();
        let mut geometry = RawGeometry::Missing;
        for (i, c) in r.columns().iter().enumerate() {
            let raw = r.try_get_raw(i).map_err(|e| db_err(path, e))?;
            if c.name() == geom_col {
                if !raw.is_null() {
                    let blob: Vec<u8> = r.try_get(i).map_err(|e| db_err(path, e))?;
                    geometry = match crate::geom_codec::from_gpkg(&blob) {
                        Ok(g) => RawGeometry::Geo(g),
                        Err(e) => RawGeometry::Bad(format!("cannot be read: {e}")),
                    };
                }
                continue;
            }
            if features.is_empty() {
                columns.insert(c.name().to_string());
            }
            let kind = raw.type_info().name().to_ascii_uppercase();
            let v = if raw.is_null() {
                Value::Null
            } else if kind == "INTEGER" {
                Value::from(r.try_get::<i64, _>(i).map_err(|e| db_err(path, e))?)
            } else if kind == "REAL" {
                let f: f64 = r.try_get(i).map_err(|e| db_err(path, e))?;
                Number::from_f64(f).map_or(Value::Null, Value::Number)
            } else if kind == "TEXT" {
                Value::String(r.try_get(i).map_err(|e| db_err(path, e))?)
            } else {
                continue;
            };
            props.insert(c.name().to_string(), v);
        }
        features.push(RawFeature {
            props,
            id: None,
            geometry,
        });
    }
    Ok(Layer {
        file: name,
        crs,
        columns,
        features,
    })
}

/// The CRS of a GeoPackage SRS: by EPSG code, else by its WKT; srs_id 0 and -1 are "undefined".
fn srs(
    srs_id: i64,
    org: Option<&str>,
    org_id: Option<i64>,
    definition: Option<&str>,
) -> Result<Option<SourceCrs>, String> {
    if srs_id == 0 || srs_id == -1 {
        return Ok(None);
    }
    if org.is_some_and(|o| o.eq_ignore_ascii_case("epsg")) {
        if let Some(code) = org_id.and_then(|c| u32::try_from(c).ok()) {
            return SourceCrs::from_epsg(code)
                .map(Some)
                .map_err(|e| e.to_string());
        }
    }
    match definition.map(str::trim) {
        Some(d) if !d.is_empty() && d != "undefined" => {
            SourceCrs::from_wkt(d).map(Some).map_err(|e| e.to_string())
        }
        _ => Err(format!(
            "its SRS {srs_id} has no EPSG code or definition: give --crs"
        )),
    }
}
